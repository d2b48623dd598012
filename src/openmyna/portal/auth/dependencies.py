"""FastAPI dependencies for portal routes: the logged-in resident, or a redirect to the login page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from openmyna.core import sessions
from openmyna.core.errors import problem
from openmyna.portal.auth.service import LoginRequired, PortalUser, user_of

LOGIN_PAGE = "/portal/login"


def optional_user(request: Request) -> PortalUser | None:
    """The resident logged in on this request, if any (``core.sessions.load`` ran before)."""
    return user_of(sessions.current(request))


def require_user(request: Request) -> PortalUser:
    """The logged-in resident; otherwise :class:`LoginRequired` (a redirect for pages, 401 for APIs)."""
    user = optional_user(request)
    if user is None:
        raise LoginRequired("This page needs a portal login with the My Number Card.")
    return user


OptionalUser = Annotated[PortalUser | None, Depends(optional_user)]
CurrentUser = Annotated[PortalUser, Depends(require_user)]


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if _wants_html(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PAGE}?{urlencode({'next': target})}", status_code=303)
    return problem(status=exc.status, slug=exc.slug, title=exc.title_en, title_ja=exc.title_ja, detail=exc.detail)


def install(app: FastAPI) -> None:
    """Pages that need a login redirect to it; APIs answer 401 problem+json."""
    app.add_exception_handler(LoginRequired, _login_required)
