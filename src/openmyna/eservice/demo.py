"""The demo's back office: the town's clerk reviews its departments, a pension-office clerk the exemptions."""

from __future__ import annotations

from sqlalchemy.orm import Session

from openmyna.eservice import office
from openmyna.orgs import service as orgs

PENSION_OFFICE = "nenkin"
PENSION_CLERK = "nenkin-clerk"
TOWN_DEPARTMENTS = ("kodomo-shien", "hoiku", "kuminka", "hoken-nenkin", "boshi-hoken")


def seed_reviewers(session: Session, *, municipality_code: str, password: str) -> None:
    """Assign the town's demo clerk to every department's queue; add the pension office's clerk."""
    for department in TOWN_DEPARTMENTS:
        office.assign(session, org_code=municipality_code, username="clerk", department=department)
    orgs.add_staff(
        session,
        org_code=PENSION_OFFICE,
        username=PENSION_CLERK,
        password=password,
        display_name="日本年金機構 年金事務所職員",
        role="clerk",
    )
    office.assign(session, org_code=PENSION_OFFICE, username=PENSION_CLERK, department="hoken-nenkin")
