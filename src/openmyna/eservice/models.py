"""Applications, their per-procedure items (the one-stop fan-out), status history, attachments and drafts.

An :class:`Application` is one signed submission by one resident (``subject`` is the person's pseudonym,
the key of their access events). It fans out into one :class:`ApplicationItem` per procedure, each routed
to its handling department and decided on its own. Every change of status is a :class:`StatusChange`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openmyna.core.db import Base

# Statuses of an application and of each item (the back office moves items; the application follows).
SUBMITTED = "submitted"
IN_REVIEW = "in_review"
RETURNED = "returned"  # sent back for correction
APPROVED = "approved"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
STATUSES = (SUBMITTED, IN_REVIEW, RETURNED, APPROVED, REJECTED, WITHDRAWN)


class Application(Base):
    """One submission: the signed canonical content, the CMS signature, the receipt and who applied."""

    __tablename__ = "eservice_applications"
    __table_args__ = (
        UniqueConstraint("subject", "content_hash"),  # the same content twice is the same application
        UniqueConstraint("subject", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    resident_id: Mapped[int] = mapped_column(Integer, index=True)
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    life_event: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=SUBMITTED)
    receipt_number: Mapped[str] = mapped_column(String(32), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    receipt_date: Mapped[dt.date] = mapped_column(Date)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    content: Mapped[bytes] = mapped_column(LargeBinary)  # the exact signed bytes (canonical JSON)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # DER CMS SignedData, detached
    signer_serial: Mapped[str | None] = mapped_column(String(40), nullable=True)
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # the form data, as signed
    via: Mapped[str] = mapped_column(String(16))  # web | cli | api
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    items: Mapped[list[ApplicationItem]] = relationship(back_populates="application", order_by="ApplicationItem.id")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="application", order_by="Attachment.id")
    history: Mapped[list[StatusChange]] = relationship(back_populates="application", order_by="StatusChange.id")


class ApplicationItem(Base):
    """One procedure of an application, routed to its department (a life event fans out to several)."""

    __tablename__ = "eservice_application_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("eservice_applications.id"), index=True)
    procedure_code: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(32), index=True)
    business: Mapped[str | None] = mapped_column(String(64), nullable=True)  # exchange-table business it feeds
    status: Mapped[str] = mapped_column(String(16), default=SUBMITTED)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    application: Mapped[Application] = relationship(back_populates="items")


class StatusChange(Base):
    """One step in an application's (or one item's) life, shown to the resident on the status page."""

    __tablename__ = "eservice_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("eservice_applications.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("eservice_application_items.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")

    application: Mapped[Application] = relationship(back_populates="history")


class Attachment(Base):
    """A file the resident uploaded (never one the network can fetch); its digest is in the signed content.

    Held by a draft until the draft is submitted, then by the application.
    """

    __tablename__ = "eservice_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("eservice_applications.id"), nullable=True, index=True
    )
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("eservice_drafts.id"), nullable=True, index=True)
    procedure_code: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    application: Mapped[Application | None] = relationship(back_populates="attachments")


class Draft(Base):
    """A form saved before signing; ``subject`` is set for a logged-in resident, else the browser holds the id.

    ``prepared`` keeps the CMS template (placeholder signature) and content of a browser signature in progress.
    """

    __tablename__ = "eservice_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    subject: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    municipality_code: Mapped[str] = mapped_column(String(6))
    procedure_codes: Mapped[list[str]] = mapped_column(JSON)
    life_event: Mapped[str | None] = mapped_column(String(32), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prepared: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
