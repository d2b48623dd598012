"""The venue's door page (チケットレス入場): for the organiser's ushers, one event at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from openmyna.carduses.tickets import service
from openmyna.carduses.tickets.schemas import CODE
from openmyna.core.errors import Forbidden
from openmyna.core.headers import allow_connect
from openmyna.core.web import AppSettings, ReadSession, UnitOfWorkRoute, render
from openmyna.orgs.dependencies import staff_or_login

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


@router.get("/venue")
def venues(request: Request, db: ReadSession) -> Response:
    """The usher's events."""
    staff = staff_or_login(request, "tickets:operate")
    if isinstance(staff, Response):
        return staff
    events = [(e, service.doors_open(e)) for e in service.list_events(db, organiser=staff.org_code)]
    return render(request, "carduses/venues.html", {"events": events})


@router.get("/venue/{code}")
def venue(
    code: Annotated[str, Path(pattern=CODE)], request: Request, db: ReadSession, settings: AppSettings
) -> Response:
    """Hold the card to the reader, type the PIN: the ticket bound to the holder is matched and used."""
    staff = staff_or_login(request, "tickets:operate")
    if isinstance(staff, Response):
        return staff
    event = service.get_event(db, code)
    if event.organiser_org != staff.org_code:
        raise Forbidden(f"event {code} belongs to another organiser")
    response = render(
        request,
        "carduses/venue.html",
        {
            "event": event,
            "starts": service.doors_open(event),
            "reader_url": settings.portal_card_reader_url.rstrip("/"),
            "reads": service.reads(db, event=code),
            "sold": service.sold(db, event),
        },
    )
    return allow_connect(response, settings.portal_card_reader_url)
