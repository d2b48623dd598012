"""Staff login and logout pages for the back office (throttled password login, server-side sessions)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openmyna.core import sessions, throttle
from openmyna.core.errors import Forbidden
from openmyna.core.i18n import translate
from openmyna.core.web import AppSettings, DbSession, Language, UnitOfWorkRoute, check_csrf, render, render_error
from openmyna.orgs import accounts

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
DEFAULT_LANDING = "/staff/residents"


def _safe_next(target: str | None) -> str:
    """Only same-site paths may be redirect targets (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return DEFAULT_LANDING


def _client_address(request: Request) -> str:
    """The caller's address as uvicorn reports it (``X-Forwarded-For`` of the proxies it trusts)."""
    return request.client.host if request.client else "unknown"


@router.get("/staff/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "orgs/login.html", {"next": _safe_next(next), "error": None})


@router.post("/staff/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    lang: Language,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = DEFAULT_LANDING,
) -> Response:
    try:
        check_csrf(request, csrf)
    except Forbidden as exc:
        return render_error(request, exc)
    previous = request.session.get(sessions.COOKIE_KEY)
    outcome = accounts.log_in(
        session,
        username=username,
        password=password,
        address=_client_address(request),
        policy=throttle.Policy.from_settings(settings),
        timeouts=sessions.Timeouts.from_settings(settings),
    )
    if outcome.token is None:
        locked = outcome.retry_after is not None
        error = translate("login.locked" if locked else "login.failed", lang)
        context = {"next": _safe_next(next), "error": error, "username": username}
        page = render(request, "orgs/login.html", context, status_code=429 if locked else 401)
        if locked:
            page.headers["Retry-After"] = str(outcome.retry_after)
        return page
    if isinstance(previous, str):
        accounts.log_out(session, token=previous)
    request.session.clear()
    request.session[sessions.COOKIE_KEY] = outcome.token
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/staff/logout")
def logout(request: Request, session: DbSession, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session in the database, so that no copy of the cookie opens it again."""
    token = request.session.get(sessions.COOKIE_KEY)
    if sessions.current(request) is not None and isinstance(token, str):
        try:
            check_csrf(request, csrf)
        except Forbidden as exc:
            return render_error(request, exc)
        accounts.log_out(session, token=token)
    request.session.clear()
    return RedirectResponse("/", status_code=303)
