"""The proxy grants: who may act for whom, over which menus, until when; the invitation kept as a digest."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class ProxyGrant(Base):
    """One grant by a principal (本人) to a proxy (代理人).

    Made with the proxy's name and date of birth as the principal typed them and a one-time invitation
    code (only its SHA-256 is kept); the proxy's resident id and pseudonym are filled in when the proxy,
    logged in with their own card, accepts the code and their registry record matches the name and date.
    Rights hold from acceptance to the end of ``ends_on`` (Japan time) unless withdrawn or resigned first.
    """

    __tablename__ = "portal_proxy_grants"
    __table_args__ = (
        Index("ix_portal_proxy_grants_principal", "principal_resident_id"),
        Index("ix_portal_proxy_grants_proxy", "proxy_resident_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_resident_id: Mapped[int] = mapped_column(Integer)
    principal_subject: Mapped[str] = mapped_column(String(64))
    proxy_family_name: Mapped[str] = mapped_column(String(50))
    proxy_given_name: Mapped[str] = mapped_column(String(50))
    proxy_birth_date: Mapped[dt.date] = mapped_column(Date)
    proxy_resident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    proxy_subject: Mapped[str | None] = mapped_column(String(64), nullable=True)
    menus: Mapped[str] = mapped_column(String(200))  # space-separated menu keys (service.MENUS)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    invitation_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True, nullable=True)
    invitation_expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_by: Mapped[str] = mapped_column(String(16), default="")  # principal (withdrawn) | proxy (resigned)
