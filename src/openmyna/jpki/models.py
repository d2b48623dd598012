"""Tables of the certificate authority: the two CAs, every certificate issued, and the CRLs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base

GOOD = "good"
REVOKED = "revoked"
ON_HOLD = "on_hold"


class Authority(Base):
    """One CA (one per certificate kind) with its delegated OCSP responder."""

    __tablename__ = "jpki_authorities"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), unique=True)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    signer_ref: Mapped[str] = mapped_column(String(500))
    responder_certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    responder_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    name_hash_sha1: Mapped[bytes] = mapped_column(LargeBinary(20))
    key_hash_sha1: Mapped[bytes] = mapped_column(LargeBinary(20))
    crl_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Certificate(Base):
    """An issued end-entity certificate, its status, and its pre-signed OCSP answer."""

    __tablename__ = "jpki_certificates"
    __table_args__ = (
        Index("ix_jpki_certificates_authority_serial", "authority_id", "serial", unique=True),
        Index("ix_jpki_certificates_holder_ref", "holder_ref"),
        Index("ix_jpki_certificates_serial", "serial"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("jpki_authorities.id"))
    kind: Mapped[str] = mapped_column(String(8))
    serial: Mapped[str] = mapped_column(String(40))  # lower-case hex
    issue_id: Mapped[str] = mapped_column(String(32), unique=True)
    holder_ref: Mapped[str] = mapped_column(String(64))  # opaque: the card that holds the key
    subject: Mapped[str] = mapped_column(String(64))  # the holder's key for access events
    der: Mapped[bytes] = mapped_column(LargeBinary)
    not_before: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    not_after: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(8), default=GOOD)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    replaced_by_serial: Mapped[str | None] = mapped_column(String(40), nullable=True)
    holder_abroad_since: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # the holder lives abroad
    ocsp_der: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    ocsp_produced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Crl(Base):
    """A CRL as published; the newest number per authority is the current one."""

    __tablename__ = "jpki_crls"
    __table_args__ = (Index("ix_jpki_crls_authority_number", "authority_id", "number", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("jpki_authorities.id"))
    number: Mapped[int] = mapped_column(Integer)
    this_update: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_update: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    der: Mapped[bytes] = mapped_column(LargeBinary)
