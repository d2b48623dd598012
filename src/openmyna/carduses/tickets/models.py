"""Tables of events, tickets bound to a holder's per-organiser pseudonym, and the venue's read log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class Event(Base):
    """A concert (or any event) an organiser sells tickets for, at one venue."""

    __tablename__ = "carduses_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    venue: Mapped[str] = mapped_column(String(200))
    organiser_org: Mapped[str] = mapped_column(String(32), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    """One ticket, bound to its holder's pseudonym at the organiser (never the My Number or a certificate serial)."""

    __tablename__ = "carduses_tickets"
    __table_args__ = (UniqueConstraint("event_id", "holder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    event_id: Mapped[int] = mapped_column(Integer, index=True)
    seat: Mapped[str] = mapped_column(String(32), default="")
    holder: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # valid | listed (for the official resale) | used
    bound_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    transfers: Mapped[int] = mapped_column(Integer, default=0)


class TicketRead(Base):
    """Every read at a venue's door, admitted or refused, with the reason."""

    __tablename__ = "carduses_ticket_reads"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_code: Mapped[str] = mapped_column(String(20), index=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    admitted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(300), default="")
    ticket_number: Mapped[str] = mapped_column(String(16), default="")
