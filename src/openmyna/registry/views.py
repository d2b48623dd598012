"""Back-office pages: find a resident, read the record with its history and household; the counter (窓口) 届出.

The counter pages take the 届出 municipal staff take today by API (birth, move-in, move-out, move within the
town) through the same service functions the API calls; every change is an access event of the resident
naming the staff member, and a refusal is one of the staff account (``orgs.dependencies.record_refusal``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.errors import DomainError, Forbidden, InvalidInput
from openmyna.core.i18n import translate
from openmyna.core.validation import IdParam, SafeText
from openmyna.core.web import (
    DbSession,
    FieldError,
    Keys,
    Language,
    UnitOfWorkRoute,
    check_csrf,
    form_errors,
    render,
    render_error,
)
from openmyna.numbers import formats
from openmyna.orgs.dependencies import record_refusal, staff_of, to_login, town_staff
from openmyna.orgs.service import Caller
from openmyna.registry import service
from openmyna.registry.models import RESIDENT, Resident
from openmyna.registry.schemas import MoveOut, MoveWithin, ResidentCreate

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


def _staff(request: Request) -> Caller | None:
    return staff_of(request)


def relationship_label(code: str, sex: str, lang: str) -> str:
    """続柄 as the certificate writes it: 妻/夫 and 父/母 by sex."""
    specific = f"relationship.{code}.{sex}"
    text = translate(specific, lang)
    return text if text != specific else translate(f"relationship.{code}", lang)


@router.get("/staff/residents", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: DbSession,
    lang: Language,
    name: Annotated[SafeText, Query(max_length=50)] = "",
    kana: Annotated[SafeText, Query(max_length=100)] = "",
    birth_date: Annotated[str, Query(max_length=10)] = "",
    status: Literal["resident", "moved_out", "deceased", "any"] = "resident",
) -> Response:
    caller = _staff(request)
    if caller is None:
        return to_login(request)
    context: dict[str, object] = {
        "query": {"name": name, "kana": kana, "birth_date": birth_date, "status": status},
        "results": None,
        "total": 0,
        "error": None,
    }
    if name or kana or birth_date:
        try:
            born = dt.date.fromisoformat(birth_date) if birth_date else None
            total, residents = service.search(
                session,
                caller=caller,
                name=name or None,
                kana=kana or None,
                birth_date=born,
                status=None if status == "any" else status,
                limit=50,
            )
            context.update(results=residents, total=total)
        except ValueError:
            context["error"] = translate("registry.search.birth_date", lang) + ": YYYY-MM-DD"
        except DomainError as exc:
            context["error"] = exc.detail
    context["relationship_label"] = lambda r: relationship_label(r.relationship_code, r.sex, lang)
    return render(request, "registry/search.html", context)


@router.get("/staff/residents/{resident_id}", response_class=HTMLResponse)
def resident_page(resident_id: IdParam, request: Request, session: DbSession, keys: Keys, lang: Language) -> Response:
    caller = _staff(request)
    if caller is None:
        return to_login(request)
    try:
        resident = service.get_resident(session, resident_id=resident_id, caller=caller, purpose="back-office view")
    except DomainError as exc:
        return render_error(request, exc)
    members = list(resident.household.members) if resident.household else []
    return render(
        request,
        "registry/resident.html",
        {
            "resident": resident,
            "masked_my_number": formats.mask_my_number(service.my_number_of(keys, resident)),
            "members": members,
            "relationship_label": lambda r: relationship_label(r.relationship_code, r.sex, lang),
        },
    )


# The counter (窓口) ---------------------------------------------------------------------------------------------

COUNTER_SCOPE = "registry:write"
REGISTRY_COUNTER_ACTIONS = {  # access-event action → the counter operation it records
    "registry.register:birth": "birth",
    "registry.register:move_in": "move_in",
    "registry.move_out": "move_out",
    "registry.move_within": "move_within",
}
BIRTH_RELATIONSHIPS = ("child", "grandchild", "other_relative")
MOVE_IN_RELATIONSHIPS = ("head", "spouse", "child", "parent", "grandchild", "sibling", "other_relative", "cohabitant")
Text = Annotated[str, Form(max_length=300)]


def _refused(
    request: Request,
    session: Session,
    caller: Caller,
    operation: str,
    error: DomainError,
    page: Callable[..., Response],
) -> Response:
    """Undo whatever the refused operation wrote, record the refusal, and show the form again with the errors."""
    session.rollback()
    record_refusal(session, caller, operation=operation, error=error)
    return page(status_code=error.status)


def _invalid(
    request: Request, session: Session, caller: Caller, operation: str, page: Callable[..., Response]
) -> Response:
    session.rollback()
    record_refusal(session, caller, operation=operation, error=InvalidInput("the form broke its schema"))
    return page(status_code=422)


def csrf_refusal(request: Request, session: Session, caller: Caller, operation: str, submitted: str) -> Response | None:
    """The 403 page for a form without this session's CSRF token (recorded as a refusal), or None."""
    try:
        check_csrf(request, submitted)
    except Forbidden as exc:
        record_refusal(session, caller, operation=operation, error=exc)
        return render_error(request, exc)
    return None


def _pick(
    session: Session, caller: Caller, *, resident_id: int | None, name: str, kana: str, purpose: str
) -> tuple[Resident | None, list[Resident], str | None]:
    """The resident the clerk chose (an access event), or the residents matching the search, or an error."""
    if resident_id is not None:
        try:
            return service.get_resident(session, resident_id=resident_id, caller=caller, purpose=purpose), [], None
        except DomainError as exc:
            return None, [], exc.detail
    if not (name or kana):
        return None, [], None
    try:
        _total, found = service.search(session, caller=caller, name=name or None, kana=kana or None, limit=20)
    except DomainError as exc:
        return None, [], exc.detail
    return None, found, None


def _counter_page(
    request: Request,
    template: str,
    lang: str,
    *,
    form: dict[str, str],
    errors: list[FieldError] | None = None,
    status_code: int = 200,
    **context: object,
) -> Response:
    return render(
        request,
        template,
        {
            "form": form,
            "errors": errors or [],
            "error_of": {e.field: e.message for e in errors or [] if e.field},
            "relationship_label": lambda r: relationship_label(r.relationship_code, r.sex, lang),
            **context,
        },
        status_code=status_code,
    )


def _address(form: dict[str, str]) -> dict[str, str] | None:
    if not (form["postal_code"] or form["block"]):
        return None
    return {
        "postal_code": form["postal_code"],
        "town": form["town"] or None,  # type: ignore[dict-item]
        "block": form["block"],
        "building": form["building"],
    }


def _optional(value: str) -> str | None:
    return value or None


@router.get("/staff/counter/birth", response_class=HTMLResponse)
def birth_page(
    request: Request,
    session: DbSession,
    lang: Language,
    parent: Annotated[IdParam | None, Query()] = None,
    name: Annotated[SafeText, Query(max_length=50)] = "",
    kana: Annotated[SafeText, Query(max_length=100)] = "",
) -> Response:
    """出生届: choose a parent (whose household the child joins), then the child's facts."""
    caller = town_staff(request, session, COUNTER_SCOPE, operation="birth")
    if isinstance(caller, Response):
        return caller
    chosen, found, error = _pick(session, caller, resident_id=parent, name=name, kana=kana, purpose="counter: birth")
    form = {"relationship": "child", "sex": "", "notified_on": clock.today().isoformat()}
    return _counter_page(
        request,
        "registry/counter/birth.html",
        lang,
        form=form,
        parent=chosen,
        found=found,
        search_error=error,
        query={"name": name, "kana": kana},
        relationships=BIRTH_RELATIONSHIPS,
    )


@router.post("/staff/counter/birth", response_class=HTMLResponse)
def register_birth(
    request: Request,
    session: DbSession,
    keys: Keys,
    lang: Language,
    parent: Annotated[IdParam, Form()],
    relationship: Annotated[str, Form(max_length=32)] = "child",
    family_name: Text = "",
    given_name: Text = "",
    family_name_kana: Text = "",
    given_name_kana: Text = "",
    birth_date: Text = "",
    sex: Text = "",
    notified_on: Text = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    caller = town_staff(request, session, COUNTER_SCOPE, operation="birth")
    if isinstance(caller, Response):
        return caller
    if (refused := csrf_refusal(request, session, caller, "birth", csrf)) is not None:
        return refused
    form = {
        "relationship": relationship,
        "family_name": family_name,
        "given_name": given_name,
        "family_name_kana": family_name_kana,
        "given_name_kana": given_name_kana,
        "birth_date": birth_date,
        "sex": sex,
        "notified_on": notified_on,
    }

    def page(errors: list[FieldError], status_code: int) -> Response:
        chosen = None
        with contextlib.suppress(DomainError):
            chosen = service.get_resident(session, resident_id=parent, caller=caller, purpose="counter: birth")
        return _counter_page(
            request,
            "registry/counter/birth.html",
            lang,
            form=form,
            errors=errors,
            status_code=status_code,
            parent=chosen,
            found=[],
            search_error=None,
            query={"name": "", "kana": ""},
            relationships=BIRTH_RELATIONSHIPS,
        )

    try:
        chosen = service.get_resident(session, resident_id=parent, caller=caller, purpose="counter: birth")
        if chosen.status != RESIDENT or chosen.household_id is None:
            raise service.NotAResident(f"resident {parent} is not a current resident here", field="parent")
        data = ResidentCreate.model_validate(
            {
                "kind": "birth",
                "family_name": family_name,
                "given_name": given_name,
                "family_name_kana": family_name_kana,
                "given_name_kana": given_name_kana,
                "birth_date": birth_date,
                "sex": sex,
                "event_date": birth_date,
                "notified_on": _optional(notified_on),
                "household": {"household_id": chosen.household_id, "relationship": relationship},
            }
        )
        child = service.create_resident(session, keys=keys, municipality_code=caller.org_code, data=data, caller=caller)
    except ValidationError as exc:
        errors = form_errors(exc, lang)
        return _invalid(request, session, caller, "birth", lambda status_code: page(errors, status_code))
    except DomainError as exc:
        errors = form_errors(exc, lang)
        return _refused(request, session, caller, "birth", exc, lambda status_code: page(errors, status_code))
    return RedirectResponse(f"/staff/counter/done/{child.id}?op=birth", status_code=303)


@router.get("/staff/counter/move-in", response_class=HTMLResponse)
def move_in_page(request: Request, session: DbSession, lang: Language) -> Response:
    """転入届: someone moving in from another municipality (with the 転出証明書's My Number, if any)."""
    caller = town_staff(request, session, COUNTER_SCOPE, operation="move_in")
    if isinstance(caller, Response):
        return caller
    today = clock.today().isoformat()
    form = {"relationship": "head", "sex": "", "event_date": today, "notified_on": today}
    return _counter_page(request, "registry/counter/move_in.html", lang, form=form, relationships=MOVE_IN_RELATIONSHIPS)


@router.post("/staff/counter/move-in", response_class=HTMLResponse)
def register_move_in(
    request: Request,
    session: DbSession,
    keys: Keys,
    lang: Language,
    family_name: Text = "",
    given_name: Text = "",
    family_name_kana: Text = "",
    given_name_kana: Text = "",
    birth_date: Text = "",
    sex: Text = "",
    my_number: Annotated[str, Form(max_length=20)] = "",
    previous_address: Text = "",
    event_date: Text = "",
    notified_on: Text = "",
    household_id: Annotated[str, Form(max_length=12)] = "",
    relationship: Annotated[str, Form(max_length=32)] = "head",
    postal_code: Text = "",
    town: Text = "",
    block: Text = "",
    building: Text = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    caller = town_staff(request, session, COUNTER_SCOPE, operation="move_in")
    if isinstance(caller, Response):
        return caller
    if (refused := csrf_refusal(request, session, caller, "move_in", csrf)) is not None:
        return refused
    form = {
        "family_name": family_name,
        "given_name": given_name,
        "family_name_kana": family_name_kana,
        "given_name_kana": given_name_kana,
        "birth_date": birth_date,
        "sex": sex,
        "previous_address": previous_address,
        "event_date": event_date,
        "notified_on": notified_on,
        "household_id": household_id,
        "relationship": relationship,
        "postal_code": postal_code,
        "town": town,
        "block": block,
        "building": building,
    }  # the My Number is never sent back into the page

    def page(errors: list[FieldError], status_code: int) -> Response:
        return _counter_page(
            request,
            "registry/counter/move_in.html",
            lang,
            form=form,
            errors=errors,
            status_code=status_code,
            relationships=MOVE_IN_RELATIONSHIPS,
        )

    try:
        data = ResidentCreate.model_validate(
            {
                "kind": "move_in",
                "family_name": family_name,
                "given_name": given_name,
                "family_name_kana": family_name_kana,
                "given_name_kana": given_name_kana,
                "birth_date": birth_date,
                "sex": sex,
                "event_date": event_date,
                "notified_on": _optional(notified_on),
                "my_number": _optional(my_number.strip()),
                "previous_address": previous_address,
                "address": None if household_id else _address(form),
                "household": {"household_id": _optional(household_id), "relationship": relationship},
            }
        )
        resident = service.create_resident(
            session, keys=keys, municipality_code=caller.org_code, data=data, caller=caller
        )
    except ValidationError as exc:
        errors = form_errors(exc, lang)
        return _invalid(request, session, caller, "move_in", lambda status_code: page(errors, status_code))
    except DomainError as exc:
        errors = form_errors(exc, lang)
        return _refused(request, session, caller, "move_in", exc, lambda status_code: page(errors, status_code))
    return RedirectResponse(f"/staff/counter/done/{resident.id}?op=move_in", status_code=303)


def _chosen_page(
    request: Request,
    session: Session,
    lang: Language,
    caller: Caller,
    *,
    operation: str,
    template: str,
    resident_id: int | None,
    name: str,
    kana: str,
    form: dict[str, str],
) -> Response:
    chosen, found, error = _pick(
        session, caller, resident_id=resident_id, name=name, kana=kana, purpose=f"counter: {operation}"
    )
    return _counter_page(
        request,
        template,
        lang,
        form=form,
        resident=chosen,
        found=found,
        search_error=error,
        query={"name": name, "kana": kana},
    )


@router.get("/staff/counter/move-out", response_class=HTMLResponse)
def move_out_page(
    request: Request,
    session: DbSession,
    lang: Language,
    resident: Annotated[IdParam | None, Query()] = None,
    name: Annotated[SafeText, Query(max_length=50)] = "",
    kana: Annotated[SafeText, Query(max_length=100)] = "",
) -> Response:
    """転出届: the resident (or the whole household) leaves the town; the result is the 転出証明書's data."""
    caller = town_staff(request, session, COUNTER_SCOPE, operation="move_out")
    if isinstance(caller, Response):
        return caller
    today = clock.today().isoformat()
    return _chosen_page(
        request,
        session,
        lang,
        caller,
        operation="move_out",
        template="registry/counter/move_out.html",
        resident_id=resident,
        name=name,
        kana=kana,
        form={"event_date": today, "notified_on": today},
    )


@router.post("/staff/counter/move-out", response_class=HTMLResponse)
def register_move_out(
    request: Request,
    session: DbSession,
    lang: Language,
    resident: Annotated[IdParam, Form()],
    event_date: Text = "",
    notified_on: Text = "",
    destination: Text = "",
    destination_country: Annotated[str, Form(max_length=2)] = "",
    with_household: Annotated[str, Form(max_length=3)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    caller = town_staff(request, session, COUNTER_SCOPE, operation="move_out")
    if isinstance(caller, Response):
        return caller
    if (refused := csrf_refusal(request, session, caller, "move_out", csrf)) is not None:
        return refused
    form = {
        "event_date": event_date,
        "notified_on": notified_on,
        "destination": destination,
        "destination_country": destination_country,
        "with_household": with_household,
    }

    def page(errors: list[FieldError], status_code: int) -> Response:
        chosen, _found, _error = _pick(
            session, caller, resident_id=resident, name="", kana="", purpose="counter: move_out"
        )
        return _counter_page(
            request,
            "registry/counter/move_out.html",
            lang,
            form=form,
            errors=errors,
            status_code=status_code,
            resident=chosen,
            found=[],
            search_error=None,
            query={"name": "", "kana": ""},
        )

    try:
        data = MoveOut.model_validate(
            {
                "event_date": event_date,
                "notified_on": _optional(notified_on),
                "destination": destination,
                "destination_country": _optional(destination_country.strip().upper()),
                "with_household": with_household == "yes",
            }
        )
        service.move_out(session, resident_id=resident, data=data, caller=caller)
    except ValidationError as exc:
        errors = form_errors(exc, lang)
        return _invalid(request, session, caller, "move_out", lambda status_code: page(errors, status_code))
    except DomainError as exc:
        errors = form_errors(exc, lang)
        return _refused(request, session, caller, "move_out", exc, lambda status_code: page(errors, status_code))
    return RedirectResponse(f"/staff/counter/done/{resident}?op=move_out", status_code=303)


@router.get("/staff/counter/move-within", response_class=HTMLResponse)
def move_within_page(
    request: Request,
    session: DbSession,
    lang: Language,
    resident: Annotated[IdParam | None, Query()] = None,
    name: Annotated[SafeText, Query(max_length=50)] = "",
    kana: Annotated[SafeText, Query(max_length=100)] = "",
) -> Response:
    """転居届: a move inside the town, alone (to a new household) or with the whole household."""
    caller = town_staff(request, session, COUNTER_SCOPE, operation="move_within")
    if isinstance(caller, Response):
        return caller
    today = clock.today().isoformat()
    return _chosen_page(
        request,
        session,
        lang,
        caller,
        operation="move_within",
        template="registry/counter/move_within.html",
        resident_id=resident,
        name=name,
        kana=kana,
        form={"event_date": today, "notified_on": today, "with_household": "yes"},
    )


@router.post("/staff/counter/move-within", response_class=HTMLResponse)
def register_move_within(
    request: Request,
    session: DbSession,
    lang: Language,
    resident: Annotated[IdParam, Form()],
    event_date: Text = "",
    notified_on: Text = "",
    postal_code: Text = "",
    town: Text = "",
    block: Text = "",
    building: Text = "",
    with_household: Annotated[str, Form(max_length=3)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    caller = town_staff(request, session, COUNTER_SCOPE, operation="move_within")
    if isinstance(caller, Response):
        return caller
    if (refused := csrf_refusal(request, session, caller, "move_within", csrf)) is not None:
        return refused
    form = {
        "event_date": event_date,
        "notified_on": notified_on,
        "postal_code": postal_code,
        "town": town,
        "block": block,
        "building": building,
        "with_household": with_household,
    }

    def page(errors: list[FieldError], status_code: int) -> Response:
        chosen, _found, _error = _pick(
            session, caller, resident_id=resident, name="", kana="", purpose="counter: move_within"
        )
        return _counter_page(
            request,
            "registry/counter/move_within.html",
            lang,
            form=form,
            errors=errors,
            status_code=status_code,
            resident=chosen,
            found=[],
            search_error=None,
            query={"name": "", "kana": ""},
        )

    try:
        data = MoveWithin.model_validate(
            {
                "event_date": event_date,
                "notified_on": _optional(notified_on),
                "address": _address(form) or {},
                "with_household": with_household == "yes",
            }
        )
        service.move_within(session, resident_id=resident, municipality_code=caller.org_code, data=data, caller=caller)
    except ValidationError as exc:
        errors = form_errors(exc, lang)
        return _invalid(request, session, caller, "move_within", lambda status_code: page(errors, status_code))
    except DomainError as exc:
        errors = form_errors(exc, lang)
        return _refused(request, session, caller, "move_within", exc, lambda status_code: page(errors, status_code))
    return RedirectResponse(f"/staff/counter/done/{resident}?op=move_within", status_code=303)


@router.get("/staff/counter/done/{resident_id}", response_class=HTMLResponse)
def done_page(
    resident_id: IdParam,
    request: Request,
    session: DbSession,
    keys: Keys,
    lang: Language,
    op: Literal["birth", "move_in", "move_out", "move_within"] = "birth",
) -> Response:
    """What was recorded, with the masked My Number, and what happens next (for move-out: the 転出証明書's data)."""
    caller = town_staff(request, session, COUNTER_SCOPE, operation=op)
    if isinstance(caller, Response):
        return caller
    try:
        resident = service.get_resident(session, resident_id=resident_id, caller=caller, purpose=f"counter: {op}")
    except DomainError as exc:
        return render_error(request, exc)
    if resident.municipality_code != caller.org_code:
        return render_error(request, Forbidden(f"resident {resident_id} is not on this town's registry"))
    head = service.household_head(resident.household) if resident.household else None
    return render(
        request,
        "registry/counter/done.html",
        {
            "op": op,
            "resident": resident,
            "head": head,
            "masked_my_number": formats.mask_my_number(service.my_number_of(keys, resident)),
            "relationship_label": lambda r: relationship_label(r.relationship_code, r.sex, lang),
        },
    )
