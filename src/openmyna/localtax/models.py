"""Municipal tax assessments, one row per resident and fiscal year."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class TaxAssessment(Base):
    """住民税の課税情報: the income a resident's tax was assessed on and the tax itself, in yen."""

    __tablename__ = "localtax_assessments"
    __table_args__ = (UniqueConstraint("resident_id", "fiscal_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("registry_residents.id"), index=True)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    income: Mapped[int] = mapped_column(BigInteger)
    taxable_income: Mapped[int] = mapped_column(BigInteger)
    municipal_tax: Mapped[int] = mapped_column(BigInteger)
    prefectural_tax: Mapped[int] = mapped_column(BigInteger)
    dependants: Mapped[int] = mapped_column(Integer)
