"""Back-office pages: a reviewer's queue, one application item (signature, fetched data, amount) and the decision."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openmyna.core import clock
from openmyna.core.errors import DomainError
from openmyna.core.timefmt import as_utc
from openmyna.core.validation import IdParam
from openmyna.core.web import DbSession, ReadSession, UnitOfWorkRoute, check_csrf, render, render_error
from openmyna.eservice import office, reminders
from openmyna.eservice.api import config_of
from openmyna.eservice.models import Application, ApplicationItem
from openmyna.eservice.web import CatalogueDep, TableDep
from openmyna.orgs.dependencies import staff_or_login
from openmyna.orgs.service import Caller

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


def when(value: dt.datetime | None) -> str:
    return "" if value is None else as_utc(value).astimezone(clock.JST).strftime("%Y-%m-%d %H:%M")


def _name(catalogue: Any, application: Application, item: ApplicationItem) -> str:
    entry = catalogue.get(application.municipality_code, item.procedure_code)
    return entry.procedure.name_ja if entry else item.procedure_code


@router.get("/staff/eservice", response_class=HTMLResponse)
def queue_page(request: Request, session: ReadSession, catalogue: CatalogueDep) -> Response:
    caller = staff_or_login(request)
    if isinstance(caller, Response):
        return caller
    rows = [
        {**office.item_view(item, application), "procedure_name": _name(catalogue, application, item)}
        for item, application in office.queue(session, caller=caller)
    ]
    departments = office.departments_of(session, caller)
    return render(request, "eservice/office/queue.html", {"rows": rows, "departments": departments})


def _item_page(
    request: Request,
    session: DbSession,
    caller: Caller,
    catalogue: Any,
    item_id: int,
    *,
    problem: str = "",
    status: int = 200,
) -> Response:
    try:
        with office.refusal_recorded(session, caller):
            review = office.open_item(
                session, caller=caller, item_id=item_id, config=config_of(request), today=clock.today()
            )
    except DomainError as exc:
        return render_error(request, exc)
    item, application = review.item, review.application
    pension = None
    if item.procedure_code == reminders.PENSION_PROCEDURE:
        income = office.latest_income(review.fetches)
        pension = None if income is None else reminders.qualifies_for_exemption(*income)
    context = {
        "item": item,
        "application": application,
        "procedure_name": _name(catalogue, application, item),
        "signature": review.signature,
        "fetches": review.fetches,
        "amount": review.amount,
        "pension": pension,
        "data": application.data.get(item.procedure_code, {}),
        "open": item.status in office.OPEN_STATUSES,
        "when": when,
        "problem": problem,
    }
    return render(request, "eservice/office/item.html", context, status_code=status)


@router.get("/staff/eservice/items/{item_id}", response_class=HTMLResponse)
def item_page(item_id: IdParam, request: Request, session: DbSession, catalogue: CatalogueDep) -> Response:
    """Opening an item is an access event the resident sees (hence a writing session)."""
    caller = staff_or_login(request)
    if isinstance(caller, Response):
        return caller
    return _item_page(request, session, caller, catalogue, item_id)


@router.post("/staff/eservice/items/{item_id}/fetch", response_class=HTMLResponse)
def fetch(
    item_id: IdParam,
    request: Request,
    session: DbSession,
    catalogue: CatalogueDep,
    table: TableDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    caller = staff_or_login(request)
    if isinstance(caller, Response):
        return caller
    try:
        check_csrf(request, csrf)
        with office.refusal_recorded(session, caller):
            office.fetch(
                session,
                caller=caller,
                item_id=item_id,
                keys=request.app.state.keys,
                catalogue=catalogue,
                table=table,
                providers=request.app.state.network_providers,
            )
    except DomainError as exc:
        return render_error(request, exc)
    return RedirectResponse(f"/staff/eservice/items/{item_id}", status_code=303)


@router.post("/staff/eservice/items/{item_id}/decide", response_class=HTMLResponse)
def decide(
    item_id: IdParam,
    request: Request,
    session: DbSession,
    catalogue: CatalogueDep,
    decision: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    caller = staff_or_login(request)
    if isinstance(caller, Response):
        return caller
    try:
        check_csrf(request, csrf)
    except DomainError as exc:
        return render_error(request, exc)
    try:
        with office.refusal_recorded(session, caller):
            office.decide(
                session,
                caller=caller,
                item_id=item_id,
                decision=decision,
                reason=reason,
                catalogue=catalogue,
                today=clock.today(),
            )
    except (office.ReasonRequired, office.AlreadyDecided) as exc:
        return _item_page(request, session, caller, catalogue, item_id, problem=exc.detail, status=exc.status)
    except DomainError as exc:
        return render_error(request, exc)
    return RedirectResponse(f"/staff/eservice/items/{item_id}", status_code=303)
