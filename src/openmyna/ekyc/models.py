"""Tables of the platform operator: registered businesses, challenges, verifications and the use log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class Business(Base):
    """A private business registered with a platform operator, and the facts it may receive."""

    __tablename__ = "ekyc_businesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # its organisation code (kind ``business``)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # bank | securities | phone | other
    operator_org: Mapped[str] = mapped_column(String(32), index=True)
    facts: Mapped[str] = mapped_column(String(64))  # space-separated subset of name birth_date sex address
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Challenge(Base):
    """A single-use challenge naming the business and the purpose (account opening or login)."""

    __tablename__ = "ekyc_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    business: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Verification(Base):
    """An account opening the operator verified: the business keeps ``ref`` to ask about the certificate later."""

    __tablename__ = "ekyc_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    business: Mapped[str] = mapped_column(String(32), index=True)
    serial: Mapped[str] = mapped_column(String(40))  # the signing certificate's serial (hex)
    subject: Mapped[str] = mapped_column(String(64))  # the holder's pseudonym, for their access events
    facts: Mapped[str] = mapped_column(String(64))  # the facts released
    application_hash: Mapped[bytes] = mapped_column(LargeBinary(32))  # SHA-256 of the signed application text
    verified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Use(Base):
    """Every request of a business, answered or refused (the business's log at the operator)."""

    __tablename__ = "ekyc_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    business: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(16))  # verification | status | login
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ok: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(64))  # "ok" or the refusal's slug
    detail: Mapped[str] = mapped_column(String(300), default="")
    verification_ref: Mapped[str] = mapped_column(String(40), default="")
