"""The register of every number ever issued, held only as keyed hashes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class IssuedNumber(Base):
    """A number once issued is never issued again, even after its holder's death."""

    __tablename__ = "numbers_issued"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class NumberKeyState(Base):
    """Which key generation protects My Numbers at rest (one row): ``current`` for writes, and while a
    rotation runs, ``previous`` for the rows it has not reached yet (see ``numbers.protection``)."""

    __tablename__ = "numbers_key_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    current: Mapped[int] = mapped_column(Integer)
    previous: Mapped[int | None] = mapped_column(Integer, nullable=True)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
