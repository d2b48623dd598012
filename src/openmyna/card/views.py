"""Card pages: the statistics (the seed's table 申請・発行・交付状況, live, for any period) and the card counter.

The counter (窓口) pages hand a card over with the holder setting the PINs, reset a PIN, suspend and resume a
card, through the same service functions the card API calls; ``/staff/counter`` links them with the registry's
届出 pages and lists what this staff member did last.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from openmyna.card import service, stats
from openmyna.card.api import Config, period
from openmyna.card.models import Card
from openmyna.core import audit
from openmyna.core.errors import DomainError, Forbidden
from openmyna.core.timefmt import local_time
from openmyna.core.validation import IdParam, SafeText
from openmyna.core.web import (
    DbSession,
    FieldError,
    Keys,
    Language,
    ReadSession,
    UnitOfWorkRoute,
    form_errors,
    render,
    render_error,
)
from openmyna.orgs.dependencies import town_staff
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.views import REGISTRY_COUNTER_ACTIONS, csrf_refusal, pick_resident, refuse

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


@router.get("/card/stats", response_class=HTMLResponse)
def stats_page(
    request: Request, db: ReadSession, span: Annotated[tuple[dt.date, dt.date], Depends(period)]
) -> HTMLResponse:
    rows = stats.table(db, start=span[0], end=span[1])
    return render(request, "card/stats.html", {"rows": rows, "start": span[0], "end": span[1]})


# The card counter (窓口) ---------------------------------------------------------------------------------------

COUNTER_SCOPE = "card:write"
CARD_COUNTER_ACTIONS = {  # access-event action → the counter operation it records
    "card.handed_over": "hand_over",
    "card.pin_reset": "pin_reset",
    "card.suspended": "suspend",
    "card.resumed": "resume",
}
PIN_APPS = ("auth", "face", "sign")
Pin = Annotated[str, Form(max_length=64)]


def _card_of_town(session: Session, caller: Caller, card_id: int) -> Card:
    """The card, if it was issued by this staff member's municipality (another town's card is refused)."""
    card = service.get_card(session, card_id=card_id)
    if card.municipality_code != caller.org_code:
        raise Forbidden(f"card {card_id} belongs to the municipality {card.municipality_code}")
    return card


def _card_page(
    request: Request,
    session: Session,
    caller: Caller,
    lang: str,
    card_id: int,
    *,
    errors: list[FieldError] | None = None,
    status_code: int = 200,
    done: str = "",
) -> Response:
    try:
        card = _card_of_town(session, caller, card_id)
        holder = registry.get_resident(session, resident_id=card.resident_id, caller=caller, purpose="counter: card")
    except DomainError as exc:
        return render_error(request, exc)
    return render(
        request,
        "card/counter/card.html",
        {
            "card": card,
            "holder": holder,
            "events": list(reversed(card.events))[:10],
            "errors": errors or [],
            "error_of": {e.field: e.message for e in errors or [] if e.field},
            "done": done,
            "apps": PIN_APPS if card.with_signing else PIN_APPS[:2],
            "lang": lang,
        },
        status_code=status_code,
    )


@router.get("/staff/counter", response_class=HTMLResponse)
def counter_index(request: Request, session: DbSession) -> Response:
    """The counter's start page: each 届出 and card operation, and this staff member's recent ones."""
    caller = town_staff(request, session, "registry:write", operation="index")
    if isinstance(caller, Response):
        return caller
    operations = {**REGISTRY_COUNTER_ACTIONS, **CARD_COUNTER_ACTIONS, "counter.refused": "refused"}
    recent = audit.events_by(session, caller.actor, actions=operations, limit=20)
    records = registry.record_ids_by_subject(session, [e.subject for e in recent])
    rows = [
        {"at": e.occurred_at, "operation": operations[e.action], "record": records.get(e.subject), "purpose": e.purpose}
        for e in recent
    ]
    return render(request, "card/counter/index.html", {"recent": rows, "when": local_time})


@router.get("/staff/counter/cards", response_class=HTMLResponse)
def cards_page(
    request: Request,
    session: DbSession,
    lang: Language,
    resident: Annotated[IdParam | None, Query()] = None,
    name: Annotated[SafeText, Query(max_length=50)] = "",
    kana: Annotated[SafeText, Query(max_length=100)] = "",
) -> Response:
    """The card counter: find the holder, then their cards with what can be done to each."""
    caller = town_staff(request, session, COUNTER_SCOPE, operation="cards")
    if isinstance(caller, Response):
        return caller
    holder, found, error = pick_resident(
        session, caller, resident_id=resident, name=name, kana=kana, purpose="counter: card"
    )
    mine = service.list_cards(session, resident_id=holder.id) if holder is not None else []
    cards = [c for c in mine if c.municipality_code == caller.org_code]
    return render(
        request,
        "card/counter/cards.html",
        {
            "holder": holder,
            "found": found,
            "search_error": error,
            "cards": cards,
            "query": {"name": name, "kana": kana},
        },
    )


@router.get("/staff/counter/cards/{card_id}", response_class=HTMLResponse)
def card_page(
    card_id: IdParam,
    request: Request,
    session: DbSession,
    lang: Language,
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    caller = town_staff(request, session, COUNTER_SCOPE, operation="card")
    if isinstance(caller, Response):
        return caller
    return _card_page(
        request, session, caller, lang, card_id, done=done if done in CARD_COUNTER_ACTIONS.values() else ""
    )


def _operate(
    request: Request,
    session: Session,
    lang: str,
    card_id: int,
    csrf: str,
    operation: str,
    run: Callable[[Caller], object],
) -> Response:
    """Check the staff member and the form, run the card service's operation, and show the card again.

    A refusal (bad PIN, wrong state, no identity check, another town's card) leaves the card as it was:
    the operation's writes are rolled back, and the refusal is recorded against the staff account.
    """
    caller = town_staff(request, session, COUNTER_SCOPE, operation=operation)
    if isinstance(caller, Response):
        return caller
    if (refused := csrf_refusal(request, session, caller, operation, csrf)) is not None:
        return refused
    try:
        _card_of_town(session, caller, card_id)
        run(caller)
    except DomainError as exc:
        errors = form_errors(exc, lang)
        refuse(session, caller, operation, exc)
        if not errors[0].field:
            errors = [FieldError(f"{operation}-form", errors[0].message)]
        return _card_page(request, session, caller, lang, card_id, errors=errors, status_code=exc.status)
    return RedirectResponse(f"/staff/counter/cards/{card_id}?done={operation}", status_code=303)


def _checked(value: str) -> bool:
    return value == "yes"


@router.post("/staff/counter/cards/{card_id}/hand-over", response_class=HTMLResponse)
def hand_over(
    card_id: IdParam,
    request: Request,
    session: DbSession,
    keys: Keys,
    lang: Language,
    auth_pin: Pin = "",
    face_pin: Pin = "",
    sign_pin: Pin = "",
    identity_checked: Annotated[str, Form(max_length=3)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """交付: the holder, identity checked, sets the PINs (4 digits; signing 6–16 A–Z 0–9); the card is in use."""
    return _operate(
        request,
        session,
        lang,
        card_id,
        csrf,
        "hand_over",
        lambda caller: service.hand_over(
            session,
            keys=keys,
            card_id=card_id,
            caller=caller,
            auth_pin=auth_pin,
            face_pin=face_pin or None,
            sign_pin=sign_pin or None,
            identity_checked=_checked(identity_checked),
        ),
    )


@router.post("/staff/counter/cards/{card_id}/pin-reset", response_class=HTMLResponse)
def pin_reset(
    card_id: IdParam,
    request: Request,
    session: DbSession,
    keys: Keys,
    lang: Language,
    app: Annotated[str, Form(max_length=8)] = "",
    new_pin: Pin = "",
    identity_checked: Annotated[str, Form(max_length=3)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """暗証番号の初期化: after an identity check the chip's lock is lifted and a new PIN set."""
    return _operate(
        request,
        session,
        lang,
        card_id,
        csrf,
        "pin_reset",
        lambda caller: service.reset_pin(
            session,
            keys=keys,
            card_id=card_id,
            app=app,
            new_pin=new_pin,
            identity_checked=_checked(identity_checked),
            caller=caller,
        ),
    )


@router.post("/staff/counter/cards/{card_id}/{step}", response_class=HTMLResponse)
def suspend_or_resume(
    card_id: IdParam,
    step: Literal["suspend", "resume"],
    request: Request,
    session: DbSession,
    config: Config,
    lang: Language,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """一時停止 (the holder reports the card lost: its certificates go on hold) and its lifting when it is found."""

    def run(caller: Caller) -> Card:
        if step == "suspend":
            return service.report_lost(session, config=config, card_id=card_id, caller=caller, via="holder")
        return service.resume(session, config=config, card_id=card_id, caller=caller)

    return _operate(request, session, lang, card_id, csrf, step, run)
