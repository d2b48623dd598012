"""The gate's page (入退館ゲート): for the employer's guards, one gate at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from openmyna.carduses import service
from openmyna.carduses.service import GATE_CODE
from openmyna.core.errors import Forbidden
from openmyna.core.headers import allow_connect
from openmyna.core.web import AppSettings, ReadSession, UnitOfWorkRoute, render
from openmyna.orgs.dependencies import staff_or_login

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


@router.get("/gates")
def gates(request: Request, db: ReadSession) -> Response:
    """The guard's gates."""
    staff = staff_or_login(request, "gates:operate")
    if isinstance(staff, Response):
        return staff
    return render(request, "carduses/gates.html", {"gates": service.list_gates(db, employer=staff.org_code)})


@router.get("/gates/{code}")
def gate(
    code: Annotated[str, Path(pattern=GATE_CODE)], request: Request, db: ReadSession, settings: AppSettings
) -> Response:
    """Hold the card to the reader, type the PIN, and the gate opens or says why not."""
    staff = staff_or_login(request, "gates:operate")
    if isinstance(staff, Response):
        return staff
    found = service.get_gate(db, code)
    if found.employer_org != staff.org_code:
        raise Forbidden(f"gate {code} belongs to another organisation")
    response = render(
        request,
        "carduses/gate.html",
        {
            "gate": found,
            "app_name": service.app_name(found.employer_org),
            "reader_url": settings.portal_card_reader_url.rstrip("/"),
            "entries": service.entries(db, gate=code),
        },
    )
    return allow_connect(response, settings.portal_card_reader_url)
