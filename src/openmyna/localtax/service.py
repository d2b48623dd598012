"""Reading and computing municipal tax assessments (a simplified 住民税 所得割 + 均等割)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from openmyna.localtax.models import TaxAssessment

MUNICIPAL_RATE = 0.06
PREFECTURAL_RATE = 0.04
PER_CAPITA_MUNICIPAL = 3_500
PER_CAPITA_PREFECTURAL = 1_500
BASIC_DEDUCTION = 430_000
DEPENDANT_DEDUCTION = 330_000
NON_TAXABLE_LIMIT = 450_000


@dataclass(frozen=True)
class Assessment:
    fiscal_year: int
    income: int
    taxable_income: int
    municipal_tax: int
    prefectural_tax: int
    dependants: int

    @property
    def taxed(self) -> bool:
        return self.municipal_tax + self.prefectural_tax > 0


def assess(*, fiscal_year: int, income: int, dependants: int) -> Assessment:
    """Assess one year: income below the non-taxable limit (adjusted for dependants) pays nothing."""
    limit = NON_TAXABLE_LIMIT + DEPENDANT_DEDUCTION * dependants
    if income <= limit:
        return Assessment(fiscal_year, income, 0, 0, 0, dependants)
    taxable = max(0, income - BASIC_DEDUCTION - DEPENDANT_DEDUCTION * dependants) // 1000 * 1000
    municipal = int(taxable * MUNICIPAL_RATE) // 100 * 100 + PER_CAPITA_MUNICIPAL
    prefectural = int(taxable * PREFECTURAL_RATE) // 100 * 100 + PER_CAPITA_PREFECTURAL
    return Assessment(fiscal_year, income, taxable, municipal, prefectural, dependants)


_ASSESSMENTS = (
    select(
        TaxAssessment.fiscal_year,
        TaxAssessment.income,
        TaxAssessment.taxable_income,
        TaxAssessment.municipal_tax,
        TaxAssessment.prefectural_tax,
        TaxAssessment.dependants,
    )
    .where(TaxAssessment.resident_id == bindparam("resident_id"))
    .order_by(TaxAssessment.fiscal_year.desc())
    .limit(bindparam("limit"))
)


def assessments_for(session: Session, *, resident_id: int, limit: int = 2) -> list[Assessment]:
    """The resident's newest assessments, newest first (a hot path of the exchange network: plain Core)."""
    rows = session.connection().execute(_ASSESSMENTS, {"resident_id": resident_id, "limit": limit})
    return [Assessment(*row) for row in rows]


def record_assessment(session: Session, *, resident_id: int, assessment: Assessment) -> None:
    session.add(
        TaxAssessment(
            resident_id=resident_id,
            fiscal_year=assessment.fiscal_year,
            income=assessment.income,
            taxable_income=assessment.taxable_income,
            municipal_tax=assessment.municipal_tax,
            prefectural_tax=assessment.prefectural_tax,
            dependants=assessment.dependants,
        )
    )
