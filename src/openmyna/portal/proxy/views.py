"""``/portal/proxy``: grant a proxy (with the card again), accept an invitation, switch to a principal and
back, withdraw or resign; and who did what as a proxy. Refusals of a proxy are pages or problem+json."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.errors import DomainError, InvalidInput, problem
from openmyna.core.validation import IdParam
from openmyna.core.web import DbSession, ReadSession, UnitOfWorkRoute, check_csrf, language, render
from openmyna.portal.auth import service as auth
from openmyna.portal.auth.dependencies import CurrentUser, RecentCardAuth
from openmyna.portal.auth.service import PortalUser
from openmyna.portal.auth.views import jst
from openmyna.portal.proxy import service
from openmyna.portal.proxy.models import ProxyGrant

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
PAGE = "/portal/proxy"
DEFAULT_DAYS = 90
MenuKeys = Annotated[list[str] | None, Form(max_length=16)]
CsrfField = Annotated[str, Form(max_length=128)]


def grant_view(session: Session, grant: ProxyGrant, *, as_proxy: bool) -> dict[str, Any]:
    """A grant for a page or the API: names, menus, dates and state (no invitation code: it is never kept)."""
    return {
        "id": grant.id,
        "state": service.state(grant),
        "menus": service.menus_of(grant),
        "ends_on": grant.ends_on.isoformat(),
        "proxy_name": f"{grant.proxy_family_name} {grant.proxy_given_name}",
        "principal_name": service.principal_name(session, grant) if as_proxy else "",
        "created_at": jst(grant.created_at)["text"],
        "accepted_at": jst(grant.accepted_at)["text"] if grant.accepted_at else "",
    }


def _event_view(event: Any, names: dict[str, str]) -> dict[str, Any]:
    return {
        **jst(event.occurred_at),
        "action": event.action,
        "actor": names.get(event.actor, ""),
        "purpose": event.purpose,
    }


def page_context(session: Session, user: PortalUser) -> dict[str, Any]:
    """The proxy page of the person logged in (while acting: the proxy's own page, not the principal's)."""
    given = service.grants_given(session, principal_resident_id=user.person_id)
    held = service.grants_held(session, proxy_resident_id=user.person_id)
    names = {g.proxy_subject: f"{g.proxy_family_name} {g.proxy_given_name}" for g in given if g.proxy_subject}
    uses = service.uses_by_proxies(session, principal_subject=user.person_subject, grants=given)
    own = service.own_proxy_history(session, subject=user.person_subject)
    return {
        "given": [grant_view(session, g, as_proxy=False) for g in given],
        "held": [grant_view(session, g, as_proxy=True) for g in held],
        "uses": [_event_view(e, names) for e in uses],
        "own": [_event_view(e, {}) for e in own],
        "acting": user.proxy,
        "menus": service.MENUS,
    }


def _page(request: Request, session: Session, user: PortalUser, **extra: Any) -> Response:
    status = extra.pop("status_code", 200)
    return render(request, "portal/proxy/index.html", {**page_context(session, user), **extra}, status_code=status)


def _message(request: Request, error: DomainError) -> str:
    title = error.title_en if language(request) == "en" else error.title_ja
    return f"{title}: {error.detail}"


@router.get("/portal/proxy", response_class=HTMLResponse)
def proxy_page(request: Request, session: ReadSession, user: CurrentUser, done: str = "") -> Response:
    """Grants I made and hold, the switch to a principal, the invitation form, and the lists of uses."""
    return _page(request, session, user, done=done if done in DONE else "")


DONE = ("granted", "accepted", "withdrawn", "resigned", "returned")


@router.get("/portal/proxy/new", response_class=HTMLResponse)
def new_grant(request: Request, user: RecentCardAuth) -> Response:
    """The grant form (the card again first: granting rights is a sensitive menu)."""
    return _form(request, {})


@router.get("/portal/proxy/grants", include_in_schema=False)
def grants_get(user: CurrentUser) -> Response:
    """Where a re-authentication returns after a grant form was posted: the form again."""
    return RedirectResponse("/portal/proxy/new", status_code=303)


def _form(request: Request, values: dict[str, Any], *, error: str = "", status: int = 200) -> Response:
    today = clock.today()
    context = {
        "values": values,
        "error": error,
        "menus": service.MENUS,
        "today": today.isoformat(),
        "max_end": (today + dt.timedelta(days=service.MAX_DAYS)).isoformat(),
        "default_end": (today + dt.timedelta(days=DEFAULT_DAYS)).isoformat(),
    }
    return render(request, "portal/proxy/new.html", context, status_code=status)


def _date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{field} is not a date (YYYY-MM-DD)", field=field) from None


@router.post("/portal/proxy/grants", response_class=HTMLResponse)
def create(
    request: Request,
    session: DbSession,
    user: RecentCardAuth,
    csrf: Annotated[str, Form(max_length=128)] = "",
    family_name: Annotated[str, Form(max_length=200)] = "",
    given_name: Annotated[str, Form(max_length=200)] = "",
    birth_date: Annotated[str, Form(max_length=32)] = "",
    ends_on: Annotated[str, Form(max_length=32)] = "",
    menus: MenuKeys = None,
) -> Response:
    """Make the grant; the invitation code is shown once, to hand to the proxy in person."""
    values = {"family_name": family_name, "given_name": given_name, "birth_date": birth_date, "ends_on": ends_on}
    values["menus"] = menus or []
    try:
        check_csrf(request, csrf)
        made = service.create_grant(
            session,
            principal_resident_id=user.resident_id,
            principal_subject=user.subject,
            family_name=family_name,
            given_name=given_name,
            birth_date=_date(birth_date, "birth_date"),
            menus=menus or [],
            ends_on=_date(ends_on, "ends_on"),
        )
    except DomainError as exc:
        return _form(request, values, error=_message(request, exc), status=exc.status)
    context = {"grant": grant_view(session, made.grant, as_proxy=False), "code": made.code}
    page = render(request, "portal/proxy/invitation.html", context, status_code=201)
    page.headers["cache-control"] = "no-store"
    return page


def _act(request: Request, session: Session, user: PortalUser, csrf: str, action: Any, done: str) -> Response:
    try:
        check_csrf(request, csrf)
        action()
    except DomainError as exc:
        session.rollback()
        return _page(request, session, user, error=_message(request, exc), status_code=exc.status)
    return RedirectResponse(f"{PAGE}?done={done}", status_code=303)


@router.post("/portal/proxy/grants/{grant_id}/withdraw")
def withdraw(
    request: Request, grant_id: IdParam, session: DbSession, user: CurrentUser, csrf: CsrfField = ""
) -> Response:
    """The principal withdraws a grant: from the proxy's next request on, it opens nothing."""
    run = partial(service.withdraw, session, grant_id=grant_id, principal_resident_id=user.resident_id)
    return _act(request, session, user, csrf, run, "withdrawn")


@router.post("/portal/proxy/grants/{grant_id}/resign")
def resign(
    request: Request, grant_id: IdParam, session: DbSession, user: CurrentUser, csrf: CsrfField = ""
) -> Response:
    """The proxy gives the rights back."""
    run = partial(service.resign, session, grant_id=grant_id, proxy_resident_id=user.resident_id)
    return _act(request, session, user, csrf, run, "resigned")


@router.post("/portal/proxy/accept")
def accept(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    csrf: CsrfField = "",
    code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The proxy, logged in with their own card, enters the invitation code the principal gave them."""
    run = partial(service.accept, session, code=code, resident_id=user.resident_id, subject=user.subject)
    return _act(request, session, user, csrf, run, "accepted")


def switch_to(session: Session, user: PortalUser, grant_id: int) -> dict[str, Any]:
    """Put "acting for the principal" into the server session (the person's own card logged in)."""
    grant = service.usable(session, grant_id=grant_id, proxy_resident_id=user.person_id)
    acting = {
        "grant_id": grant.id,
        "resident_id": grant.principal_resident_id,
        "subject": grant.principal_subject,
        "name": service.principal_name(session, grant),
    }
    if user.proxy is not None:
        back = session.get(ProxyGrant, user.proxy.grant_id)
        if back is not None:
            service.record_switch(session, grant=back, back=True)
    auth.set_acting(session, session_id=user.session_id, acting=acting)
    service.record_switch(session, grant=grant)
    return acting


def switch_back(session: Session, user: PortalUser) -> None:
    if user.proxy is None:
        return
    grant = session.get(ProxyGrant, user.proxy.grant_id)
    if grant is not None:
        service.record_switch(session, grant=grant, back=True)
    auth.set_acting(session, session_id=user.session_id, acting=None)


@router.post("/portal/proxy/switch/{grant_id}")
def switch(
    request: Request,
    grant_id: IdParam,
    session: DbSession,
    user: CurrentUser,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """代理で利用する: from now on the menus show the principal's data, within the grant."""
    try:
        check_csrf(request, csrf)
        switch_to(session, user, grant_id)
    except DomainError as exc:
        session.rollback()
        return _page(request, session, user, error=_message(request, exc), status_code=exc.status)
    return RedirectResponse("/portal", status_code=303)


@router.post("/portal/proxy/return")
def return_to_self(
    request: Request, session: DbSession, user: CurrentUser, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    """Stop acting for the principal: the proxy's own My Page again."""
    try:
        check_csrf(request, csrf)
    except DomainError as exc:
        return _page(request, session, user, error=_message(request, exc), status_code=exc.status)
    switch_back(session, user)
    return RedirectResponse(f"{PAGE}?done=returned", status_code=303)


async def _refused(request: Request, exc: Exception) -> Response:
    """A proxy's refusal: a page with the way back for people, problem+json for programs."""
    assert isinstance(exc, DomainError)
    wants_html = not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")
    if wants_html:
        lang = language(request)
        title = exc.title_en if lang == "en" else exc.title_ja
        context = {"title": title, "detail": exc.detail, "ended": isinstance(exc, service.ProxyRightsEnded)}
        return render(request, "portal/proxy/refused.html", context, status_code=exc.status)
    return problem(
        status=exc.status, slug=exc.slug, title=exc.title_en, title_ja=exc.title_ja, detail=exc.detail, **exc.extensions
    )


def install(app: FastAPI) -> None:
    """Refusals of a proxy (rights ended, menu not granted) as pages for browsers."""
    app.add_exception_handler(service.ProxyRightsEnded, _refused)
    app.add_exception_handler(service.ProxyMenuNotGranted, _refused)
