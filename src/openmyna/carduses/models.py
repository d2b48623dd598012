"""Tables of employee IDs on cards, gates, gate challenges and the entry log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class Badge(Base):
    """An employee ID an employer wrote into a card's free space (社員証, or a ministry's 身分証)."""

    __tablename__ = "carduses_badges"
    __table_args__ = (UniqueConstraint("employer_org", "employee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    employer_org: Mapped[str] = mapped_column(String(32))
    employee_id: Mapped[str] = mapped_column(String(32))
    card_id: Mapped[int] = mapped_column(Integer, index=True)
    subject: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # active | revoked
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Gate(Base):
    """An entrance of an employer's building (入退館ゲート); it admits that employer's badges."""

    __tablename__ = "carduses_gates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    employer_org: Mapped[str] = mapped_column(String(32), index=True)


class GateChallenge(Base):
    """A single-use challenge a gate had the card sign (a replayed read finds it used)."""

    __tablename__ = "carduses_gate_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    gate_code: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Entry(Base):
    """Every read at a gate, admitted or refused, with the reason."""

    __tablename__ = "carduses_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    gate_code: Mapped[str] = mapped_column(String(32), index=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    admitted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(300), default="")
    employee_id: Mapped[str] = mapped_column(String(32), default="")
    subject: Mapped[str] = mapped_column(String(64), default="")
