"""Staff login and logout pages for the back office."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openmyna.core.errors import Forbidden, Unauthorized
from openmyna.core.i18n import translate
from openmyna.core.web import DbSession, Language, UnitOfWorkRoute, check_csrf, render, render_error
from openmyna.orgs import service

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
DEFAULT_LANDING = "/staff/residents"


def _safe_next(target: str | None) -> str:
    """Only same-site paths may be redirect targets (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return DEFAULT_LANDING


@router.get("/staff/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "orgs/login.html", {"next": _safe_next(next), "error": None})


@router.post("/staff/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: DbSession,
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
    try:
        user = service.authenticate_staff(session, username=username, password=password)
    except Unauthorized:
        context = {"next": _safe_next(next), "error": translate("login.failed", lang), "username": username}
        return render(request, "orgs/login.html", context, status_code=401)
    request.session.clear()
    request.session["staff"] = {
        "username": user.username,
        "name": user.display_name,
        "role": user.role,
        "org": user.organisation.code,
        "org_name": user.organisation.name,
    }
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/staff/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    try:
        check_csrf(request, csrf)
    except Forbidden as exc:
        return render_error(request, exc)
    request.session.clear()
    return RedirectResponse("/", status_code=303)
