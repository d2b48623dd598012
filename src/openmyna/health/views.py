"""The reception terminal's page (受付端末): for a medical institution's reception staff."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from openmyna.core.headers import allow_connect
from openmyna.core.web import AppSettings, ReadSession, UnitOfWorkRoute, render
from openmyna.health import service
from openmyna.orgs.dependencies import staff_or_login

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
PATH = "/health/reception"


@router.get(PATH)
def reception(request: Request, db: ReadSession, settings: AppSettings) -> Response:
    """Read the patient's card and show the clearing house's answer; staff of a clinic only."""
    staff = staff_or_login(request, "health:check")
    if isinstance(staff, Response):
        return staff
    clinic = service.require_clinic(db, staff.org_code)
    response = render(
        request,
        "health/reception.html",
        {
            "clinic": clinic,
            "reader_url": settings.portal_card_reader_url.rstrip("/"),
            "checks": service.checks_of_clinic(db, clinic=clinic.code),
        },
    )
    return allow_connect(response, settings.portal_card_reader_url)
