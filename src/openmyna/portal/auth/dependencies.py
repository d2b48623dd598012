"""FastAPI dependencies for portal routes: the logged-in resident, or a redirect to the login page."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from openmyna.core import sessions
from openmyna.core.db import unit_of_work
from openmyna.core.errors import problem
from openmyna.portal.auth import service
from openmyna.portal.auth.service import LoginRequired, PortalUser, ReauthenticationRequired, user_of
from openmyna.portal.proxy import service as proxy

LOGIN_PAGE = "/portal/login"
REAUTH_PAGE = "/portal/reauth"


def _forget_acting(request: Request, user: PortalUser) -> None:
    """The grant ended: the session goes back to the proxy's own (the refusal page says why)."""
    with unit_of_work(request.app.state.session_factory) as db:
        service.set_acting(db, session_id=user.session_id, acting=None)
    active = sessions.current(request)
    if active is not None:
        data = {k: v for k, v in active.data.items() if k != service.ACTING_KEY}
        request.state.web_session = replace(active, data=data)


def _proxy_checked(request: Request, user: PortalUser | None) -> PortalUser | None:
    """While a proxy acts for someone, every request checks the grant again (end date, withdrawal) and the
    menu of the page, and is recorded as an access event of the principal with the proxy as actor."""
    if user is None or user.proxy is None or getattr(request.state, "proxy_checked", False):
        return user
    path = request.url.path
    refused: proxy.ProxyMenuNotGranted | None = None
    try:
        with unit_of_work(request.app.state.read_session_factory) as db:
            proxy.check_use(
                db,
                grant_id=user.proxy.grant_id,
                proxy_resident_id=user.proxy.resident_id,
                principal_resident_id=user.resident_id,
                path=path,
            )
    except proxy.ProxyRightsEnded:
        _forget_acting(request, user)
        raise
    except proxy.ProxyMenuNotGranted as exc:
        refused = exc  # the attempt is shown to the principal too
    with unit_of_work(request.app.state.session_factory) as db:
        proxy.record_use(
            db,
            principal_subject=user.subject,
            proxy_subject=user.proxy.subject,
            grant_id=user.proxy.grant_id,
            method=request.method,
            path=path,
            refused=refused is not None,
        )
    if refused is not None:
        raise refused
    request.state.proxy_checked = True
    return user


def optional_user(request: Request) -> PortalUser | None:
    """The resident logged in on this request, if any (``core.sessions.load`` ran before); while a proxy
    acts for someone, the principal, after the grant and the page's menu were checked for this request."""
    return _proxy_checked(request, user_of(sessions.current(request)))


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
