"""Tables of convenience-store issuance: signing keys, certificates issued, kiosk sales and refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class DocumentSigner(Base):
    """A key that signs issued documents (a municipality's) or time-stamps them (the centre's TSA).

    The private key is sealed under the master key; its certificate comes from the platform's
    organisation CA (``jpki``, kind ``org``), which answers OCSP for it and lists it in the CRL.
    """

    __tablename__ = "kiosk_signers"
    __table_args__ = (Index("ix_kiosk_signers_owner_role", "owner", "role", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(32))  # organisation code (municipality) or "tsa"
    role: Mapped[str] = mapped_column(String(16))  # municipality | tsa
    serial: Mapped[str] = mapped_column(String(40), unique=True)  # of its certificate (lower-case hex)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class IssuedCertificate(Base):
    """One certificate a municipality issued through the centre: what it certified, never the PDF's text.

    ``summary`` holds what the public check page shows (kind, holder's name, date); ``request_key`` with
    ``store`` makes a retried request return the same document instead of issuing a second one.
    """

    __tablename__ = "kiosk_issued"
    __table_args__ = (
        UniqueConstraint("store", "request_key"),
        Index("ix_kiosk_issued_kind_time", "kind", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    municipality: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))  # the person's pseudonym (access events, history)
    store: Mapped[str] = mapped_column(String(32))
    request_key: Mapped[str] = mapped_column(String(64))
    copies: Mapped[int] = mapped_column(Integer)
    fee: Mapped[int] = mapped_column(Integer)  # yen, all copies
    signer_serial: Mapped[str] = mapped_column(String(40))
    pdf_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)  # kept for the retry of the same request only
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Sale(Base):
    """The terminal's side: the fee taken for one request (never twice for one request key)."""

    __tablename__ = "kiosk_sales"
    __table_args__ = (UniqueConstraint("store", "request_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store: Mapped[str] = mapped_column(String(32))
    request_key: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(16))
    fee: Mapped[int] = mapped_column(Integer)
    tendered: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))  # cash | emoney
    sold_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Refusal(Base):
    """A refused request, as the terminal, the centre or the municipality refused it (the log of refusals)."""

    __tablename__ = "kiosk_refusals"
    __table_args__ = (Index("ix_kiosk_refusals_time", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store: Mapped[str] = mapped_column(String(32))
    request_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))  # the problem slug
    detail: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(64), default="")  # when the person was known
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
