"""FastAPI dependencies for portal routes: the logged-in resident, or a redirect to the login page."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from openmyna.core import sessions
from openmyna.core.errors import problem
from openmyna.portal.auth.service import LoginRequired, PortalUser, ReauthenticationRequired, user_of

LOGIN_PAGE = "/portal/login"
REAUTH_PAGE = "/portal/reauth"


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


def require_recent_card(request: Request, user: CurrentUser) -> PortalUser:
    """The resident, if the card was used within ``Settings.portal_reauth_seconds``; else
    :class:`ReauthenticationRequired` (pages go to the card again and come back, APIs answer 401)."""
    window = dt.timedelta(seconds=request.app.state.settings.portal_reauth_seconds)
    if not user.authenticated_within(window):
        raise ReauthenticationRequired(
            "This menu needs your card again: the last card authentication is older than "
            f"{int(window.total_seconds())} seconds.",
            reauthenticate=REAUTH_PAGE,
        )
    return user


RecentCardAuth = Annotated[PortalUser, Depends(require_recent_card)]
"""Put on sensitive routes (proxy grants, linked-site consent, payment): a fresh card authentication."""


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _target(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired | ReauthenticationRequired)
    if _wants_html(request):
        page = REAUTH_PAGE if isinstance(exc, ReauthenticationRequired) else LOGIN_PAGE
        return RedirectResponse(f"{page}?{urlencode({'next': _target(request)})}", status_code=303)
    return problem(
        status=exc.status, slug=exc.slug, title=exc.title_en, title_ja=exc.title_ja, detail=exc.detail, **exc.extensions
    )


def install(app: FastAPI) -> None:
    """Pages that need a login redirect to it; APIs answer 401 problem+json."""
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(ReauthenticationRequired, _login_required)
