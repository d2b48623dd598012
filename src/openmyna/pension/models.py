"""Pension members and entitlements, keyed by the pension office's own member number."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class PensionMember(Base):
    """A person on the pension rolls (年金の加入者情報); ``member_number`` is the office's own number."""

    __tablename__ = "pension_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_number: Mapped[str] = mapped_column(String(10), unique=True)
    category: Mapped[str] = mapped_column(String(16))
    enrolled_on: Mapped[dt.date] = mapped_column(Date)


class PensionEntitlement(Base):
    """A pension being paid (年金給付関係情報): kind and yearly amount in yen."""

    __tablename__ = "pension_entitlements"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("pension_members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    annual_amount: Mapped[int] = mapped_column(BigInteger)
    since: Mapped[dt.date] = mapped_column(Date)
