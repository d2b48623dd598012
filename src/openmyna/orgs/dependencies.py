"""FastAPI dependencies that say who is calling and whether they may."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import audit, sessions
from openmyna.core.errors import DomainError, Forbidden, Unauthorized
from openmyna.core.web import check_csrf, get_keys, render_error
from openmyna.orgs.models import Organisation
from openmyna.orgs.service import Caller, staff_caller, verify_access_token

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def staff_of(request: Request) -> Caller | None:
    """The staff member whose live session this request carries (``core.sessions.load`` found it)."""
    active = sessions.current(request)
    return staff_caller(active.data) if active is not None and active.kind == "staff" else None


def to_login(request: Request) -> Response:
    """Send a visitor to the login page, to come back to exactly this page (query included)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/staff/login?" + urlencode({"next": target}), status_code=303)


def staff_or_login(request: Request, scope: str | None = None) -> Caller | Response:
    """The staff member of this request, or the way to the login page (and back here) for a visitor without a
    staff session or, with ``scope``, without that right."""
    caller = staff_of(request)
    if caller is None or (scope is not None and not caller.allows(scope)):
        return to_login(request)
    return caller


def record_refusal(session: Session, caller: Caller, *, operation: str, error: DomainError) -> None:
    """A counter operation refused (no right, another town, bad input): an access event of the staff account.

    Recorded after the refused operation's changes were rolled back, so the trail keeps the attempt only.
    """
    audit.record_access(
        session,
        subject=caller.actor[:64],
        actor_org=caller.org_code,
        actor=caller.actor,
        action="counter.refused",
        purpose=f"{operation}: {error.slug}"[:256],
    )


def town_staff(request: Request, session: Session, scope: str, *, operation: str) -> Caller | Response:
    """The logged-in staff member of this town holding ``scope``, or the page to show instead.

    Not logged in: the login page. Staff of another organisation (another municipality, an agency) or
    without the role's scope: a 403 page, and the refusal is recorded against the staff account.
    """
    caller = staff_of(request)
    if caller is None:
        return to_login(request)
    municipality = request.app.state.settings.municipality_code
    refusal: Forbidden | None = None
    if caller.org_code != municipality:
        refusal = Forbidden(f"{caller.actor} works for {caller.org_code}, not for the municipality {municipality}")
    elif not caller.allows(scope):
        refusal = Forbidden(f"{caller.actor} lacks the scope {scope}", required_scope=scope)
    if refusal is not None:
        record_refusal(session, caller, operation=operation, error=refusal)
        return render_error(request, refusal)
    return caller


def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _session: sessions.CurrentSession,
) -> Caller:
    """A bearer token wins; otherwise a live staff session (with a CSRF header on writes)."""
    if credentials is not None:
        return verify_access_token(get_keys(request), credentials.credentials)
    staff = staff_of(request)
    if staff is not None:
        if request.method not in _SAFE_METHODS:
            check_csrf(request, request.headers.get("X-CSRF-Token"))
        return staff
    raise Unauthorized("send an access token (Authorization: Bearer …) or log in as staff")


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def require_scope(scope: str) -> Callable[[Caller], Caller]:
    """A dependency that admits only callers holding ``scope``."""

    def _check(caller: CurrentCaller) -> Caller:
        if not caller.allows(scope):
            raise Forbidden(f"{caller.actor} lacks the scope {scope}", required_scope=scope)
        return caller

    return _check


def require_town_scope(scope: str, *, other_kinds_may_read: bool = False) -> Callable[..., Caller]:
    """:func:`require_scope` for this town's own records: the caller must also be this municipality.

    A clerk or a system of another town holds the same scope for its own registry and cards, not for these.
    With ``other_kinds_may_read`` an organisation that is not a municipality (J-LIS, an agency) holding the
    scope is admitted too; only another municipality is refused (its kind read from the organisations).
    """
    check = require_scope(scope)

    def _check_town(caller: CurrentCaller, request: Request) -> Caller:
        check(caller)
        municipality = request.app.state.settings.municipality_code
        if caller.org_code != municipality and not (other_kinds_may_read and not _is_municipality(request, caller)):
            raise Forbidden(f"{caller.actor} works for {caller.org_code}, not for the municipality {municipality}")
        return caller

    return _check_town


def _is_municipality(request: Request, caller: Caller) -> bool:
    with request.app.state.read_session_factory() as session:
        kind = session.scalar(select(Organisation.kind).where(Organisation.code == caller.org_code))
    return kind in (None, "municipality")  # an organisation since removed is refused as well
