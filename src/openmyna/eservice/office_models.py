"""The back office's own records: who reviews which department, what was fetched for an item, reminders sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class Reviewer(Base):
    """A staff member of an organisation assigned to a department's queue (one row per department)."""

    __tablename__ = "eservice_reviewers"
    __table_args__ = (UniqueConstraint("username", "department"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_code: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(64), index=True)
    department: Mapped[str] = mapped_column(String(32))
    assigned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ItemFetch(Base):
    """One data item the deciding organisation fetched over the exchange network for an application item."""

    __tablename__ = "eservice_item_fetches"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("eservice_application_items.id"), index=True)
    requester: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    data_item: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(16))  # answered | no_data | refused
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    exchange_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the network log's id
    actor: Mapped[str] = mapped_column(String(128))
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ReminderSent(Base):
    """A reminder of one periodic procedure for one period to one person: sent once."""

    __tablename__ = "eservice_reminders"
    __table_args__ = (UniqueConstraint("procedure_code", "period", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_code: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
