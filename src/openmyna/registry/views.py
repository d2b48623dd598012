"""Back-office pages: find a resident, read the record with its history and household; the counter (窓口) 届出.

The counter pages take the 届出 municipal staff take today by API (birth, move-in, move-out, move within the
town) through the same service functions the API calls; every change is an access event of the resident
naming the staff member, and a refusal is one of the staff account (``orgs.dependencies.record_refusal``).
"""

from __future__ import annotations

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
Choice = Annotated[str, Form(max_length=32)]
Csrf = Annotated[str, Form(max_length=128)]


def csrf_refusal(request: Request, session: Session, caller: Caller, operation: str, submitted: str) -> Response | None:
    """The 403 page for a form without this session's CSRF token (recorded as a refusal), or None."""
    try:
        check_csrf(request, submitted)
    except Forbidden as exc:
        record_refusal(session, caller, operation=operation, error=exc)
        return render_error(request, exc)
    return None


def refuse(session: Session, caller: Caller, operation: str, error: DomainError) -> None:
    """Undo whatever the refused operation wrote, and record the refusal against the staff account."""
    session.rollback()
    record_refusal(session, caller, operation=operation, error=error)


def _submit(
    request: Request,
    session: Session,
    lang: str,
    caller: Caller,
    *,
    operation: str,
    csrf: str,
    run: Callable[[], int],
    form: dict[str, str],
    chosen: int | None = None,
) -> Response:
    """One 届出: the CSRF check, then ``run`` (schema + service); its resident's result page, or the form again
    (as filled in, with ``chosen`` the person it was about).

    A refusal leaves nothing behind: the unit of work is rolled back before the refusal is recorded.
    """
    if (refused := csrf_refusal(request, session, caller, operation, csrf)) is not None:
        return refused
    try:
        resident_id = run()
    except ValidationError as exc:
        errors, status, error = form_errors(exc, lang), 422, InvalidInput("the form broke its schema")
    except DomainError as exc:
        errors, status, error = form_errors(exc, lang), exc.status, exc
    else:
        return RedirectResponse(f"/staff/counter/done/{resident_id}?op={operation}", status_code=303)
    refuse(session, caller, operation, error)
    return _counter_page(
        request, session, lang, caller, operation=operation, form=form, errors=errors, status_code=status, chosen=chosen
    )


def pick_resident(
    session: Session, caller: Caller, *, resident_id: int | None, name: str, kana: str, purpose: str
) -> tuple[Resident | None, list[Resident], str | None]:
    """The resident the clerk chose (an access event), or the residents matching the search, or an error."""
    try:
        if resident_id is not None:
            return service.get_resident(session, resident_id=resident_id, caller=caller, purpose=purpose), [], None
        if name or kana:
            return None, service.search(session, caller=caller, name=name or None, kana=kana or None, limit=20)[1], None
    except DomainError as exc:
        return None, [], exc.detail
    return None, [], None


def _counter_page(
    request: Request,
    session: Session,
    lang: str,
    caller: Caller,
    *,
    operation: str,
    form: dict[str, str],
    errors: list[FieldError] | None = None,
    status_code: int = 200,
    chosen: int | None = None,
    name: str = "",
    kana: str = "",
) -> Response:
    """A 届出 form; for those about someone on the registry, with that person chosen (or the search to choose)."""
    resident, found, search_error = pick_resident(
        session, caller, resident_id=chosen, name=name, kana=kana, purpose=f"counter: {operation}"
    )
    return render(
        request,
        f"registry/counter/{operation}.html",
        {
            "form": form,
            "errors": errors or [],
            "error_of": {e.field: e.message for e in errors or [] if e.field},
            "relationship_label": lambda r: relationship_label(r.relationship_code, r.sex, lang),
            "resident": resident,
            "found": found,
            "search_error": search_error,
            "query": {"name": name, "kana": kana},
            "relationships": BIRTH_RELATIONSHIPS if operation == "birth" else MOVE_IN_RELATIONSHIPS,
        },
        status_code=status_code,
    )


def _address(form: dict[str, str]) -> dict[str, str | None] | None:
    """The address fields as the schema takes them; None when none was entered."""
    if not (form["postal_code"] or form["block"]):
        return None
    return {**form, "town": form["town"] or None}


def _optional(value: str) -> str | None:
    return value or None


def _form_page(operation: str) -> Callable[..., Response]:
    """The GET handler of a 届出 form: the staff check, then the form with today's dates (and the person chosen:
    ``?parent=`` for a birth, ``?resident=`` for a move out or within, or ``?name=``/``?kana=`` to search)."""

    def page(
        request: Request,
        session: DbSession,
        lang: Language,
        parent: Annotated[IdParam | None, Query()] = None,
        resident: Annotated[IdParam | None, Query()] = None,
        name: Annotated[SafeText, Query(max_length=50)] = "",
        kana: Annotated[SafeText, Query(max_length=100)] = "",
    ) -> Response:
        caller = town_staff(request, session, COUNTER_SCOPE, operation=operation)
        if isinstance(caller, Response):
            return caller
        today = clock.today().isoformat()
        form = {"relationship": "child" if operation == "birth" else "head", "sex": "", "event_date": today}
        form |= {"notified_on": today, "with_household": "yes" if operation == "move_within" else ""}
        chosen = parent if operation == "birth" else resident
        return _counter_page(
            request, session, lang, caller, operation=operation, form=form, chosen=chosen, name=name, kana=kana
        )

    page.__name__ = f"{operation}_page"
    return page


router.get("/staff/counter/birth", response_class=HTMLResponse)(_form_page("birth"))
router.get("/staff/counter/move-in", response_class=HTMLResponse)(_form_page("move_in"))
router.get("/staff/counter/move-out", response_class=HTMLResponse)(_form_page("move_out"))
router.get("/staff/counter/move-within", response_class=HTMLResponse)(_form_page("move_within"))


@router.post("/staff/counter/birth", response_class=HTMLResponse)
def register_birth(
    request: Request,
    session: DbSession,
    keys: Keys,
    lang: Language,
    parent: Annotated[IdParam, Form()],
    relationship: Choice = "child",
    family_name: Text = "",
    given_name: Text = "",
    family_name_kana: Text = "",
    given_name_kana: Text = "",
    birth_date: Text = "",
    sex: Choice = "",
    notified_on: Text = "",
    csrf: Csrf = "",
) -> Response:
    """出生届: the child joins the chosen parent's household and gets a new My Number (``create_resident``)."""
    caller = town_staff(request, session, COUNTER_SCOPE, operation="birth")
    if isinstance(caller, Response):
        return caller
    person = {
        "family_name": family_name,
        "given_name": given_name,
        "family_name_kana": family_name_kana,
        "given_name_kana": given_name_kana,
        "birth_date": birth_date,
        "sex": sex,
    }
    form = {**person, "relationship": relationship, "notified_on": notified_on}

    def run() -> int:
        mother_or_father = service.get_resident(session, resident_id=parent, caller=caller, purpose="counter: birth")
        if mother_or_father.status != RESIDENT or mother_or_father.household_id is None:
            raise service.NotAResident(f"resident {parent} is not a current resident here", field="parent")
        household = {"household_id": mother_or_father.household_id, "relationship": relationship}
        data = ResidentCreate.model_validate(
            {**person, "kind": "birth", "event_date": birth_date, "notified_on": _optional(notified_on)}
            | {"household": household}
        )
        return service.create_resident(
            session, keys=keys, municipality_code=caller.org_code, data=data, caller=caller
        ).id

    return _submit(request, session, lang, caller, operation="birth", csrf=csrf, run=run, form=form, chosen=parent)


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
    sex: Choice = "",
    my_number: Annotated[str, Form(max_length=20)] = "",
    previous_address: Text = "",
    event_date: Text = "",
    notified_on: Text = "",
    household_id: Annotated[str, Form(max_length=12)] = "",
    relationship: Choice = "head",
    postal_code: Text = "",
    town: Text = "",
    block: Text = "",
    building: Text = "",
    csrf: Csrf = "",
) -> Response:
    """転入届: a new record with the 転出証明書's My Number (or a new one), in a new or an existing household."""
    caller = town_staff(request, session, COUNTER_SCOPE, operation="move_in")
    if isinstance(caller, Response):
        return caller
    person = {
        "family_name": family_name,
        "given_name": given_name,
        "family_name_kana": family_name_kana,
        "given_name_kana": given_name_kana,
        "birth_date": birth_date,
        "sex": sex,
        "previous_address": previous_address,
        "event_date": event_date,
    }
    address = {"postal_code": postal_code, "town": town, "block": block, "building": building}
    form = {**person, **address, "notified_on": notified_on, "household_id": household_id, "relationship": relationship}
    # the My Number is never sent back into the page

    def run() -> int:
        data = ResidentCreate.model_validate(
            {**person, "kind": "move_in", "notified_on": _optional(notified_on)}
            | {
                "my_number": _optional(my_number.strip()),
                "address": None if household_id else _address(address),
                "household": {"household_id": _optional(household_id), "relationship": relationship},
            }
        )
        return service.create_resident(
            session, keys=keys, municipality_code=caller.org_code, data=data, caller=caller
        ).id

    return _submit(request, session, lang, caller, operation="move_in", csrf=csrf, run=run, form=form)


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
    csrf: Csrf = "",
) -> Response:
    """転出届: the record (or the household's) becomes a removed record; the result page is the 転出証明書's data."""
    caller = town_staff(request, session, COUNTER_SCOPE, operation="move_out")
    if isinstance(caller, Response):
        return caller
    form = {
        "event_date": event_date,
        "notified_on": notified_on,
        "destination": destination,
        "destination_country": destination_country,
        "with_household": with_household,
    }

    def run() -> int:
        data = MoveOut.model_validate(
            form
            | {
                "notified_on": _optional(notified_on),
                "destination_country": _optional(destination_country.strip().upper()),
                "with_household": with_household == "yes",
            }
        )
        return service.move_out(session, resident_id=resident, data=data, caller=caller).id

    return _submit(request, session, lang, caller, operation="move_out", csrf=csrf, run=run, form=form, chosen=resident)


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
    csrf: Csrf = "",
) -> Response:
    """転居届: a new address inside the town, for the person alone (a new household) or the whole household."""
    caller = town_staff(request, session, COUNTER_SCOPE, operation="move_within")
    if isinstance(caller, Response):
        return caller
    address = {"postal_code": postal_code, "town": town, "block": block, "building": building}
    form = {**address, "event_date": event_date, "notified_on": notified_on, "with_household": with_household}

    def run() -> int:
        data = MoveWithin.model_validate(
            {
                "event_date": event_date,
                "notified_on": _optional(notified_on),
                "address": _address(address) or {},
                "with_household": with_household == "yes",
            }
        )
        return service.move_within(
            session, resident_id=resident, municipality_code=caller.org_code, data=data, caller=caller
        ).id

    return _submit(
        request, session, lang, caller, operation="move_within", csrf=csrf, run=run, form=form, chosen=resident
    )


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
