"""Inquiries sent from the portal's form, kept for the staff inbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class Inquiry(Base):
    """One inquiry: its topic and text, how to answer, whose it is (when sent logged in) and whether handled."""

    __tablename__ = "portal_inquiries"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    reply_email: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(64), default="", index=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    handled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    handled_by: Mapped[str] = mapped_column(String(128), default="")
