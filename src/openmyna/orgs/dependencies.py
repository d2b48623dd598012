"""FastAPI dependencies that say who is calling and whether they may."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from openmyna.core import sessions
from openmyna.core.errors import Forbidden, Unauthorized
from openmyna.core.web import check_csrf, get_keys
from openmyna.orgs.service import Caller, staff_caller, verify_access_token

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def staff_of(request: Request) -> Caller | None:
    """The staff member whose live session this request carries (``core.sessions.load`` found it)."""
    active = sessions.current(request)
    return staff_caller(active.data) if active is not None and active.kind == "staff" else None


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
