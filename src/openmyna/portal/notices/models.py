"""Notices, the send jobs that fan them out, their e-mail announcements, and delivery-service consents.

A notice is addressed to the person's pseudonym (``registry.subject_of``), never to a My Number or a
record id: the same key their access events use, stable across every record the person ever had.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base

NOTICE_KINDS = ("deadline_reminder", "decision", "payment_request", "general")

JOB_QUEUED = "queued"
JOB_RUNNING = "running"
JOB_DONE = "done"
JOB_FAILED = "failed"

MAIL_PENDING = "pending"
MAIL_SENT = "sent"
MAIL_FAILED = "failed"


class NoticeMessage(Base):
    """What a send says (one row however many people receive it): sender, kind, title, body, due date."""

    __tablename__ = "notice_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_org: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    due_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SendJob(Base):
    """One send request: who asked, to whom (a selection), how far the fan-out has come and how it ended.

    ``(org_code, idempotency_key)`` is unique, so a retried request finds its first job; ``cursor`` is
    the last resident id fanned out, committed with that chunk's notices, so a retried job continues
    where it stopped and never creates a notice twice.
    """

    __tablename__ = "notice_send_jobs"
    __table_args__ = (UniqueConstraint("org_code", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_code: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request_digest: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int] = mapped_column(ForeignKey("notice_messages.id"))
    selection: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=JOB_QUEUED, index=True)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    mail_count: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Notice(Base):
    """One message for one person: unread until opened, in the inbox until archived."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("message_id", "subject"),
        Index("ix_notices_subject_id", "subject", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("notice_messages.id"))
    subject: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class NoticeMail(Base):
    """An e-mail saying that a notice waits (never its content), sent once: pending until the mailer sends it."""

    __tablename__ = "notice_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), unique=True)
    address: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default=MAIL_PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DeliveryConsent(Base):
    """A resident's consent that a delivery service (民間送達) receive copies of one kind of notice."""

    __tablename__ = "notice_delivery_consents"
    __table_args__ = (Index("ix_notice_delivery_consents_org_subject", "org_code", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    org_code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(24))
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Delivery(Base):
    """One copy of one notice handed to one delivery service; the resident sees every one."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (UniqueConstraint("notice_id", "org_code"), Index("ix_notice_deliveries_org_id", "org_code", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    org_code: Mapped[str] = mapped_column(String(32))
    consent_id: Mapped[int] = mapped_column(ForeignKey("notice_delivery_consents.id"))
    delivered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
