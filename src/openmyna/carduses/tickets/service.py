"""Ticketless entry (チケットレス): an organiser binds tickets to card holders; the venue's door matches the card.

A ticket is bound to its holder's pseudonym at the organiser: an HMAC over the platform's pseudonym of the
person under the organiser's sector (``numbers.protection.pairwise_subject``, the one the portal's OpenID
provider uses for linked sites), never the My Number or a certificate serial. It survives a renewed or
re-issued card, and two organisers cannot match their customers by it. Every step is the holder proving the
card: the authentication key signs a single-use challenge that names the purpose and the event
(``openmyna ticket v1|<purpose>:<event>|<token>``), after the PIN; signature and certificate go through the
platform's validity service (the gates' code, ``carduses.service``). Binding (purchase), listing for the
official resale (by the holder), transfer (to the buyer, who proves their card: the ticket is re-bound)
and entry at the door. A second entry, a listed ticket, someone else's ticket, a replayed read and a
revoked card are refused; every door read is logged, and each step is an access event the holder sees.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.carduses import service as gates
from openmyna.carduses.models import GateChallenge
from openmyna.carduses.tickets.models import Event, Ticket, TicketRead
from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from openmyna.jpki.ocsp import Responder
from openmyna.numbers.protection import pairwise_subject
from openmyna.orgs import service as orgs

PREFIX = b"openmyna ticket v1|"
PURPOSES = ("bind", "resale", "transfer", "enter")
ORGANISER_KIND = "organiser"
VALID, LISTED, USED = "valid", "listed", "used"
BIND_ACTION, RESALE_ACTION = "carduses.ticket.bind", "carduses.ticket.resale"
TRANSFER_ACTION, ENTER_ACTION = "carduses.ticket.transfer", "carduses.ticket.enter"
MAX_CAPACITY = 1_000_000


class EventNotFound(NotFound):
    slug = "ticket-event-not-found"
    title_ja = "公演が見つかりません"
    title_en = "No such event"


class TicketNotFound(NotFound):
    slug = "ticket-not-found"
    title_ja = "チケットが見つかりません"
    title_en = "No such ticket"


class NotAnOrganiser(Forbidden):
    slug = "ticket-not-an-organiser"
    title_ja = "チケットを発行できる主催者ではありません"
    title_en = "This organisation is not an event organiser"


class CardRefused(DomainError):
    """The card did not prove its holder: a bad or revoked certificate, a card not in use, a foreign challenge."""

    slug = "ticket-card-refused"
    status = 401
    title_ja = "カードを確認できません"
    title_en = "The card was refused"


class TicketRefused(Forbidden):
    slug = "ticket-refused"
    title_ja = "このチケットでは入場・手続きできません"
    title_en = "The ticket does not allow this"


class TicketUsed(Conflict):
    slug = "ticket-used"
    title_ja = "このチケットは使用済みです（再入場はできません）"
    title_en = "This ticket was already used (no second entry)"


class TicketConflict(Conflict):
    slug = "ticket-conflict"
    title_ja = "チケットの状態と合いません"
    title_en = "The ticket's state does not allow this"


@dataclass(frozen=True)
class Proof:
    """What the card gave: the challenge it signed, its authentication certificate (DER) and the signature."""

    challenge: bytes
    certificate: bytes
    signature: bytes


@dataclass(frozen=True)
class Admission:
    read_id: int
    event: str
    ticket: str
    seat: str

    def as_json(self) -> dict[str, Any]:
        return {
            "admitted": True,
            "reason": "admitted",
            "event": self.event,
            "ticket": self.ticket,
            "seat": self.seat,
            "entry_id": self.read_id,
        }


@dataclass(frozen=True)
class Refused:
    """A refused door read, already in the log: the caller commits, then raises ``error``."""

    error: DomainError
    read_id: int


def holder_of(keys: KeyRing, *, organiser: str, subject: str) -> str:
    """The person's pseudonym at ``organiser``: stable across their cards, unlinkable across organisers."""
    return pairwise_subject(keys, sector=f"ticket-organiser:{organiser}", person=subject)


def _code(value: str, field: str) -> str:
    if not 1 <= len(value) <= 20 or not value.isascii() or not value.replace("-", "").isalnum():
        raise InvalidInput(f"a {field} is 1–20 letters, digits or '-'", field=field)
    return value


def _organiser(session: Session, code: str) -> orgs.Organisation:
    found = orgs.get_organisation(session, code)
    if found.kind != ORGANISER_KIND or not found.active:
        raise NotAnOrganiser(f"{code} is a {found.kind}; tickets come from event organisers")
    return found


def add_event(
    session: Session, *, organiser: str, code: str, name: str, venue: str, starts_at: dt.datetime, capacity: int
) -> Event:
    """A new event of ``organiser`` with ``capacity`` tickets."""
    _organiser(session, organiser)
    _code(code, "code")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidInput(f"the capacity is 1–{MAX_CAPACITY}", field="capacity")
    if session.scalar(select(Event.id).where(Event.code == code)) is not None:
        raise Conflict(f"event {code} already exists")
    event = Event(
        code=code,
        name=name,
        venue=venue,
        organiser_org=organiser,
        starts_at=starts_at.astimezone(dt.UTC),  # SQLite keeps the wall time only: always UTC, as clock.now()
        capacity=capacity,
    )
    session.add(event)
    session.flush()
    return event


def doors_open(event: Event) -> dt.datetime:
    """When the doors open, in Japan time (SQLite hands the stored UTC back naive)."""
    value = event.starts_at if event.starts_at.tzinfo else event.starts_at.replace(tzinfo=dt.UTC)
    return value.astimezone(clock.JST)


def get_event(session: Session, code: str) -> Event:
    event = session.scalar(select(Event).where(Event.code == code))
    if event is None:
        raise EventNotFound(f"no event {code!r}")
    return event


def list_events(session: Session, *, organiser: str | None = None) -> list[Event]:
    query = select(Event).order_by(Event.starts_at, Event.code)
    return list(session.scalars(query.where(Event.organiser_org == organiser) if organiser else query))


def get_ticket(session: Session, number: str) -> tuple[Ticket, Event]:
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None:
        raise TicketNotFound(f"no ticket {number!r}")
    return ticket, session.get_one(Event, ticket.event_id)


def sold(session: Session, event: Event) -> int:
    """How many tickets of ``event`` exist (sold, listed or used)."""
    return session.scalar(select(func.count()).select_from(Ticket).where(Ticket.event_id == event.id)) or 0


def tickets_of(session: Session, *, event: str) -> list[Ticket]:
    found = get_event(session, event)
    return list(session.scalars(select(Ticket).where(Ticket.event_id == found.id).order_by(Ticket.id)))


def open_challenge(session: Session, *, event: str, purpose: str) -> tuple[bytes, dt.datetime]:
    """A fresh single-use challenge (one minute) naming ``purpose`` and the event, for the card to sign."""
    if purpose not in PURPOSES:
        raise InvalidInput(f"the purpose is one of {', '.join(PURPOSES)}", field="purpose")
    get_event(session, event)
    return gates.issue_challenge(session, prefix=PREFIX, place=f"{purpose}:{event}")


def _prove(
    session: Session, *, responder: Responder, event: str, purpose: str, proof: Proof
) -> tuple[GateChallenge, cards.Card]:
    """The challenge row and the card in use that signed it for ``purpose`` at ``event`` (CardRefused if not)."""
    row = gates.find_challenge(
        session, prefix=PREFIX, place=f"{purpose}:{event}", challenge=proof.challenge, refused=CardRefused
    )
    card = gates.verified_card(
        session,
        responder=responder,
        challenge=proof.challenge,
        certificate=proof.certificate,
        signature=proof.signature,
        refused=CardRefused,
    )
    return row, card


def _refuse_second(session: Session, event: Event, holder: str) -> None:
    if session.scalar(select(Ticket.id).where(Ticket.event_id == event.id, Ticket.holder == holder)) is not None:
        raise TicketConflict(f"the holder already has a ticket for {event.code}", reason="already-holds")


def _record(session: Session, *, subject: str, event: Event, action: str, purpose: str) -> None:
    audit.record_access(
        session,
        subject=subject,
        actor_org=event.organiser_org,
        actor=f"organiser:{event.organiser_org}",
        action=action,
        purpose=purpose[:256],
    )


def bind(session: Session, *, keys: KeyRing, responder: Responder, event: str, proof: Proof, seat: str = "") -> Ticket:
    """Sell a ticket to the card's holder: a new ticket bound to their pseudonym at the organiser."""
    row, card = _prove(session, responder=responder, event=event, purpose="bind", proof=proof)
    ticket = issue(session, keys=keys, event=event, subject=card.subject, seat=seat)
    gates.use_challenge(session, row)
    return ticket


def issue(session: Session, *, keys: KeyRing, event: str, subject: str, seat: str = "") -> Ticket:
    """A ticket of ``event`` for the person ``subject`` (whose card proved them, or the demo's persona)."""
    found = get_event(session, event)
    holder = holder_of(keys, organiser=found.organiser_org, subject=subject)
    _refuse_second(session, found, holder)
    if sold(session, found) >= found.capacity:
        raise TicketConflict(f"{found.code} is sold out ({found.capacity} tickets)", reason="sold-out")
    ticket = Ticket(
        number="T" + secrets.token_hex(5).upper(),
        event_id=found.id,
        seat=seat,
        holder=holder,
        status=VALID,
        bound_at=clock.now(),
        transfers=0,
    )
    session.add(ticket)
    session.flush()
    _record(session, subject=subject, event=found, action=BIND_ACTION, purpose=f"{ticket.number}: {found.name}")
    return ticket


def _owned(session: Session, number: str, organiser: str) -> tuple[Ticket, Event]:
    ticket, event = get_ticket(session, number)
    if event.organiser_org != organiser:
        raise TicketNotFound(f"{organiser} has no ticket {number!r}")
    return ticket, event


def list_for_resale(
    session: Session, *, keys: KeyRing, responder: Responder, organiser: str, number: str, proof: Proof
) -> Ticket:
    """The holder, proving the card, puts the ticket up for the organiser's official resale (公式リセール)."""
    ticket, event = _owned(session, number, organiser)
    row, card = _prove(session, responder=responder, event=event.code, purpose="resale", proof=proof)
    if holder_of(keys, organiser=organiser, subject=card.subject) != ticket.holder:
        raise TicketRefused("the card's holder does not hold this ticket", reason="not-holder")
    if ticket.status != VALID:
        raise TicketConflict(f"the ticket is {ticket.status}; only a valid ticket can be listed", reason=ticket.status)
    gates.use_challenge(session, row)
    ticket.status = LISTED
    _record(session, subject=card.subject, event=event, action=RESALE_ACTION, purpose=f"{number}: {event.name}")
    return ticket


def transfer(
    session: Session, *, keys: KeyRing, responder: Responder, organiser: str, number: str, proof: Proof
) -> Ticket:
    """The official resale: the buyer proves the card and the listed ticket is re-bound to them."""
    ticket, event = _owned(session, number, organiser)
    row, card = _prove(session, responder=responder, event=event.code, purpose="transfer", proof=proof)
    if ticket.status != LISTED:
        raise TicketConflict(
            "only a ticket its holder listed for the official resale can change hands", reason=ticket.status
        )
    holder = holder_of(keys, organiser=organiser, subject=card.subject)
    _refuse_second(session, event, holder)
    gates.use_challenge(session, row)
    ticket.holder, ticket.status, ticket.transfers = holder, VALID, ticket.transfers + 1
    _record(session, subject=card.subject, event=event, action=TRANSFER_ACTION, purpose=f"{number}: {event.name}")
    return ticket


def _log(session: Session, *, event: str, admitted: bool, reason: str, number: str = "") -> int:
    row = TicketRead(
        event_code=event[:20], occurred_at=clock.now(), admitted=admitted, reason=reason[:300], ticket_number=number
    )
    session.add(row)
    session.flush()
    return row.id


def enter(session: Session, *, keys: KeyRing, responder: Responder, event: str, proof: Proof) -> Admission | Refused:
    """Admit or refuse one card read at the door of ``event``; logged either way, a refusal changes nothing else."""
    subject, number, found = "", "", None
    try:
        found = get_event(session, event)
        row, card = _prove(session, responder=responder, event=event, purpose="enter", proof=proof)
        subject = card.subject
        holder = holder_of(keys, organiser=found.organiser_org, subject=subject)
        ticket = session.scalar(select(Ticket).where(Ticket.event_id == found.id, Ticket.holder == holder))
        if ticket is None:
            raise TicketRefused(f"no ticket for {event} is bound to this card's holder", reason="no-ticket")
        number = ticket.number
        if ticket.status == LISTED:
            raise TicketRefused("the ticket is listed for the official resale", reason="listed")
        if ticket.status == USED:
            raise TicketUsed(f"ticket {number} was used already: a second entry is refused", reason="already-used")
        gates.use_challenge(session, row)
        used = session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.status == VALID)
            .values(status=USED, used_at=clock.now())
            .returning(Ticket.id),
            execution_options={"synchronize_session": False},
        ).first()
        if used is None:
            raise TicketUsed(f"ticket {number} was used already: a second entry is refused", reason="already-used")
    except DomainError as error:
        read = _log(session, event=event, admitted=False, reason=error.detail, number=number)
        if subject and found is not None:
            _record(session, subject=subject, event=found, action=ENTER_ACTION, purpose=f"refused: {error.detail}")
        return Refused(error, read)
    read = _log(session, event=event, admitted=True, reason="admitted", number=number)
    _record(session, subject=subject, event=found, action=ENTER_ACTION, purpose=f"admitted: {number} {found.name}")
    return Admission(read, event, number, ticket.seat)


def reads(session: Session, *, event: str, limit: int = 20) -> list[TicketRead]:
    query = select(TicketRead).where(TicketRead.event_code == event).order_by(TicketRead.id.desc()).limit(limit)
    return list(session.scalars(query))
