"""The ticket API: the organiser's sales, resale and door systems (scope ``tickets:operate``) or its ushers."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy.orm import Session

from openmyna.carduses.api import OcspResponder, refused_problem
from openmyna.carduses.tickets import service
from openmyna.carduses.tickets.models import Event, Ticket
from openmyna.carduses.tickets.schemas import CODE, BindIn, ChallengeIn, EventIn, EventOut, ProofIn, TicketOut
from openmyna.core.errors import Forbidden, InvalidInput
from openmyna.core.web import DbSession, Keys, ReadSession, UnitOfWorkRoute
from openmyna.orgs.dependencies import require_scope
from openmyna.orgs.service import Caller

router = APIRouter(route_class=UnitOfWorkRoute, tags=["tickets"])
Organiser = Annotated[Caller, Depends(require_scope("tickets:operate"))]
EventCode = Annotated[str, Path(pattern=CODE, description="The event's code")]
TicketNumber = Annotated[str, Path(pattern=r"^[A-Z0-9]{1,16}$", description="The ticket's number")]


def _own(db: Session, code: str, caller: Caller) -> Event:
    event = service.get_event(db, code)
    if event.organiser_org != caller.org_code:
        raise Forbidden(f"event {code} belongs to another organiser")
    return event


def _proof(body: ProofIn) -> service.Proof:
    try:
        data = [base64.b64decode(getattr(body, f), validate=True) for f in ("challenge", "certificate", "signature")]
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("challenge, certificate and signature are base64") from exc
    return service.Proof(*data)


def _event_out(event: Event) -> EventOut:
    return EventOut(
        code=event.code,
        name=event.name,
        venue=event.venue,
        organiser=event.organiser_org,
        starts_at=service.doors_open(event),
        capacity=event.capacity,
    )


def _ticket_out(ticket: Ticket, event: str) -> TicketOut:
    return TicketOut(
        number=ticket.number,
        event=event,
        seat=ticket.seat,
        status=ticket.status,  # type: ignore[arg-type]
        holder=ticket.holder,
        transfers=ticket.transfers,
    )


@router.get("/api/tickets/events", summary="Events with ticketless entry")
def events(db: ReadSession) -> list[EventOut]:
    return [_event_out(e) for e in service.list_events(db)]


@router.post("/api/tickets/events", status_code=201, summary="A new event of the calling organiser")
def add_event(body: EventIn, db: DbSession, caller: Organiser) -> EventOut:
    return _event_out(
        service.add_event(
            db,
            organiser=caller.org_code,
            code=body.code,
            name=body.name,
            venue=body.venue,
            starts_at=body.starts_at,
            capacity=body.capacity,
        )
    )


@router.post("/api/tickets/events/{code}/challenge", summary="A fresh challenge for the card (one minute)")
def challenge(code: EventCode, body: ChallengeIn, db: DbSession, caller: Organiser) -> dict[str, str]:
    _own(db, code, caller)
    data, expires = service.open_challenge(db, event=code, purpose=body.purpose)
    return {"challenge": base64.b64encode(data).decode(), "expires_at": expires.isoformat(), "event": code}


@router.get("/api/tickets/events/{code}/tickets", summary="The event's tickets (holders by pseudonym)")
def tickets(code: EventCode, db: ReadSession, caller: Organiser) -> list[TicketOut]:
    _own(db, code, caller)
    return [_ticket_out(t, code) for t in service.tickets_of(db, event=code)]


@router.post("/api/tickets/events/{code}/tickets", status_code=201, summary="Sell a ticket bound to the card's holder")
def bind(code: EventCode, body: BindIn, db: DbSession, caller: Organiser, keys: Keys, ocsp: OcspResponder) -> TicketOut:
    _own(db, code, caller)
    ticket = service.bind(db, keys=keys, responder=ocsp, event=code, proof=_proof(body), seat=body.seat)
    return _ticket_out(ticket, code)


@router.post("/api/tickets/{number}/resale", summary="The holder lists the ticket for the official resale")
def resale(
    number: TicketNumber, body: ProofIn, db: DbSession, caller: Organiser, keys: Keys, ocsp: OcspResponder
) -> TicketOut:
    ticket = service.list_for_resale(
        db, keys=keys, responder=ocsp, organiser=caller.org_code, number=number, proof=_proof(body)
    )
    return _ticket_out(ticket, service.get_ticket(db, number)[1].code)


@router.post("/api/tickets/{number}/transfer", summary="The buyer's card: the listed ticket is re-bound to them")
def transfer(
    number: TicketNumber, body: ProofIn, db: DbSession, caller: Organiser, keys: Keys, ocsp: OcspResponder
) -> TicketOut:
    ticket = service.transfer(
        db, keys=keys, responder=ocsp, organiser=caller.org_code, number=number, proof=_proof(body)
    )
    return _ticket_out(ticket, service.get_ticket(db, number)[1].code)


@router.post("/api/tickets/events/{code}/enter", summary="Admit or refuse the card just read at the door")
def enter(
    code: EventCode, body: ProofIn, db: DbSession, caller: Organiser, keys: Keys, ocsp: OcspResponder
) -> dict[str, Any]:
    """``{"admitted": true, …}``, or problem+json with ``admitted: false`` and a ``reason``; each read is logged."""
    _own(db, code, caller)
    try:
        proof = _proof(body)
    except InvalidInput as exc:
        raise refused_problem(exc) from exc
    outcome = service.enter(db, keys=keys, responder=ocsp, event=code, proof=proof)
    db.commit()
    if isinstance(outcome, service.Refused):
        raise refused_problem(outcome.error)
    return outcome.as_json()
