"""Helpers the login pages and APIs share: safe redirect targets, the browser's login secrets, the QR image."""

from __future__ import annotations

import base64
import io
from typing import Any

import segno
from fastapi import Request
from fastapi.responses import Response

from openmyna.core import sessions
from openmyna.core.config import Settings
from openmyna.portal.auth import service
from openmyna.portal.auth.login import CardRefused, Identity

HOME = "/portal"
QR_MASK = 3
BROWSER_KEY = "portal_login"  # in the signed session cookie: {"qr": [token, secret], "card": [token, secret]}


def safe_next(target: str | None, default: str = HOME) -> str:
    """Only same-site paths may be redirect targets: no scheme, no ``//host``, no backslash tricks."""
    if (
        target
        and len(target) <= 2000
        and target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and "\\" not in target
        and all(" " < ch != "\x7f" for ch in target)
    ):
        return target
    return default


def remember(request: Request, kind: str, token: str, secret: str) -> None:
    held: dict[str, Any] = dict(request.session.get(BROWSER_KEY) or {})
    held[kind] = [token, secret]
    request.session[BROWSER_KEY] = held


def held(request: Request, kind: str) -> tuple[str, str] | None:
    """The token and secret of this browser's transaction of ``kind`` (``qr``, ``card``), if any."""
    value = (request.session.get(BROWSER_KEY) or {}).get(kind)
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    return None


def forget(request: Request, kind: str) -> None:
    value = dict(request.session.get(BROWSER_KEY) or {})
    value.pop(kind, None)
    request.session[BROWSER_KEY] = value


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def qr_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/portal/qr/{token}"


def qr_image(url: str) -> str:
    """The QR code as an SVG data URI (``img-src data:`` is allowed by the page policy; no script).

    A fixed mask pattern: any of the eight is a valid code, and choosing the best-scoring one costs five
    times the rest of the encoding (about 10 ms a page).
    """
    buffer = io.BytesIO()
    segno.make(url, error="m", mask=QR_MASK).save(buffer, kind="svg", scale=5, border=4, xmldecl=False, svgns=True)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def finish(request: Request, db: Any, identity: Identity, *, settings: Settings) -> None:
    """Start the resident's session (a login) or refresh its card time (a re-authentication)."""
    user = service.user_of(sessions.current(request))
    if identity.purpose == "reauth":
        if user is None or user.person_id != identity.resident_id:
            raise CardRefused("re-authentication needs the card of the resident who is logged in")
        service.reauthenticated(db, user=user)
        return
    previous = request.session.get(sessions.COOKIE_KEY)
    if isinstance(previous, str):
        service.end(db, token=previous)
    token = service.begin(
        db,
        resident_id=identity.resident_id,
        subject=identity.subject,
        method=identity.method,  # type: ignore[arg-type]
        address=address(request),
        timeouts=sessions.Timeouts.from_settings(settings),
    )
    request.session.clear()  # a new cookie for a new session (no fixation)
    request.session[sessions.COOKIE_KEY] = token


def reader_policy(response: Response, settings: Settings) -> Response:
    """The page policy plus ``connect-src`` to the local card reader, for the pages that use it."""
    from openmyna.core.headers import PAGE_POLICY

    reader = settings.portal_card_reader_url.rstrip("/")
    response.headers["content-security-policy"] = PAGE_POLICY + f"; connect-src 'self' {reader}"
    return response
