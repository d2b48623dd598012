"""The register of every number ever issued, held only as keyed hashes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class IssuedNumber(Base):
    """A number once issued is never issued again, even after its holder's death."""

    __tablename__ = "numbers_issued"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
