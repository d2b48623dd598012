"""The login transactions of the portal: one per card or QR login attempt, single use and short-lived."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base

PENDING, SIGNED, DONE, FAILED = "pending", "signed", "done", "failed"


class LoginTransaction(Base):
    """A challenge handed to one browser; only hashes of its token and of the browser's secret are kept.

    ``pending`` until a card signs it, ``signed`` (the resident is known) until the browser that started
    it continues, then ``done``; ``failed`` when the card's PIN locked. Expired rows are dropped as new ones
    are made.
    """

    __tablename__ = "portal_login_transactions"
    __table_args__ = (Index("ix_portal_login_transactions_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    browser_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    method: Mapped[str] = mapped_column(String(8))  # card | qr
    purpose: Mapped[str] = mapped_column(String(8))  # login | reauth
    state: Mapped[str] = mapped_column(String(8), default=PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    resident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subject: Mapped[str | None] = mapped_column(String(64), nullable=True)
    card_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failure: Mapped[str] = mapped_column(String(32), default="")  # the app's last report: wrong-pin, locked
    tries_left: Mapped[int | None] = mapped_column(Integer, nullable=True)
