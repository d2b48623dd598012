"""Statistics of convenience-store issuance: the seed's yearly counts by type, this platform's own counts,
and the covered population (the participating municipalities' residents)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.kiosk.models import IssuedCertificate
from openmyna.kiosk.municipalities import Municipality
from openmyna.registry import service as registry

# 年度別コンビニ交付通数（平成28年12月15日時点）, the seed's table: fiscal years 2013–2016 (平成25–28年度).
SEED_YEARS = (2013, 2014, 2015, 2016)
SEED_COUNTS: dict[str, tuple[int, int, int, int]] = {
    "juminhyo": (259_500, 360_944, 432_348, 408_639),
    "juminhyo_kisai": (228, 1_260, 2_213, 2_935),
    "inkan": (215_581, 326_237, 393_904, 371_508),
    "tax": (12_478, 31_075, 46_253, 61_361),
    "koseki": (12_433, 20_518, 24_643, 24_468),
    "koseki_fuhyo": (1_241, 2_103, 2_951, 2_544),
}
SEED_TOTALS = (501_461, 742_137, 902_312, 871_455)
# コンビニ交付サービス対象人口: participating bodies and their population.
SEED_COVERAGE = (
    {"as_of": "2017-01-04", "municipalities": 306, "population": 61_230_000},
    {"as_of": "2017-03-31 (forecast)", "municipalities": 383, "population": 72_320_000},
)


def fiscal_year(day: dt.date) -> int:
    """The Japanese fiscal year (April to March) a day falls in."""
    return day.year if day.month >= 4 else day.year - 1


def issued_by_year(session: Session) -> dict[int, dict[str, int]]:
    """Copies issued here, by fiscal year (Japan time) and kind."""
    rows = session.execute(
        select(IssuedCertificate.kind, IssuedCertificate.issued_at, IssuedCertificate.copies).order_by(
            IssuedCertificate.issued_at
        )
    )
    years: dict[int, dict[str, int]] = {}
    for kind, issued_at, copies in rows:
        aware = issued_at if issued_at.tzinfo else issued_at.replace(tzinfo=dt.UTC)
        year = fiscal_year(aware.astimezone(clock.JST).date())
        years.setdefault(year, {})
        years[year][kind] = years[year].get(kind, 0) + copies
    return years


def summary(session: Session, *, municipalities: dict[str, Municipality]) -> dict[str, Any]:
    """The page's and the JSON's content."""
    here = issued_by_year(session)
    codes = sorted(municipalities)
    return {
        "seed": {
            "years": list(SEED_YEARS),
            "counts": {kind: list(values) for kind, values in SEED_COUNTS.items()},
            "totals": list(SEED_TOTALS),
            "coverage": list(SEED_COVERAGE),
        },
        "platform": {
            "years": sorted(here),
            "counts": {str(year): counts for year, counts in sorted(here.items())},
            "total": sum(sum(c.values()) for c in here.values()),
            "issued_certificates": session.scalar(select(func.count()).select_from(IssuedCertificate)) or 0,
        },
        "coverage": {
            "municipalities": codes,
            "population": registry.count_residents(session, municipality_codes=codes),
        },
    }
