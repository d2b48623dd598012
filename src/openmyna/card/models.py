"""Tables of the card: one row per card with its sealed chip, and every lifecycle event of it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openmyna.core.db import Base


class Card(Base):
    """A My Number Card (個人番号カード) from application to expiry or revocation."""

    __tablename__ = "card_cards"
    __table_args__ = (Index("ix_card_cards_resident_state", "resident_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(Integer)
    resident_code: Mapped[str] = mapped_column(String(11))
    subject: Mapped[str] = mapped_column(String(64))
    municipality_code: Mapped[str] = mapped_column(String(6))
    state: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    employer_code: Mapped[str] = mapped_column(String(32), default="")
    applied_on: Mapped[dt.date] = mapped_column(Date)
    issued_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    expires_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    with_signing: Mapped[bool] = mapped_column(Boolean)
    chip_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    auth_serial: Mapped[str | None] = mapped_column(String(40), nullable=True)
    sign_serial: Mapped[str | None] = mapped_column(String(40), nullable=True)
    abroad_since: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # kept after a move abroad
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    events: Mapped[list[CardEvent]] = relationship(back_populates="card", order_by="CardEvent.id")


class CardEvent(Base):
    """One auditable step of a card's life: who did what, from which state to which."""

    __tablename__ = "card_events"
    __table_args__ = (
        Index("ix_card_events_event_on", "event", "on"),
        Index("ix_card_events_card_id", "card_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card_cards.id"))
    event: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    on: Mapped[dt.date] = mapped_column(Date)
    actor_org: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(String(300), default="")

    card: Mapped[Card] = relationship(back_populates="events")
