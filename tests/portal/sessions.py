"""A logged-in portal browser for tests of the menus, without going through a login method.

The login methods themselves (card, QR) are tested through HTTP and in the browser in their own tests; the
menus' tests only need a resident's session, started by the same ``portal.auth.service.begin`` a login calls
and put in the same signed cookie Starlette's SessionMiddleware reads.
"""

from __future__ import annotations

import base64
import json

from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy.orm import Session, sessionmaker

from openmyna.core import sessions
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.core.db import unit_of_work
from openmyna.portal.auth import service as portal_auth
from openmyna.registry import service as registry
from openmyna.registry.models import Resident

SESSION_COOKIE = "openmyna_session"


def portal_cookie(
    factory: sessionmaker[Session],
    *,
    settings: Settings,
    keys: KeyRing,
    resident_id: int,
    method: portal_auth.LoginMethod = "card",
    address: str = "127.0.0.1",
) -> tuple[str, str]:
    """A fresh portal session of ``resident_id``: the signed cookie value and the session token."""
    with unit_of_work(factory) as session:
        resident = session.get(Resident, resident_id)
        assert resident is not None, f"no resident {resident_id}"
        token = portal_auth.begin(
            session,
            resident_id=resident_id,
            subject=registry.subject_of(resident),
            method=method,
            address=address,
            timeouts=sessions.Timeouts.from_settings(settings),
        )
    payload = base64.b64encode(json.dumps({sessions.COOKIE_KEY: token}).encode())
    return TimestampSigner(keys.session_secret).sign(payload).decode(), token


def log_in(client: TestClient, *, resident_id: int, method: portal_auth.LoginMethod = "card") -> str:
    """Give ``client`` a live portal session of ``resident_id``; returns the session token."""
    state = client.app.state  # type: ignore[attr-defined]
    cookie, token = portal_cookie(
        state.session_factory,
        settings=state.settings,
        keys=state.keys,
        resident_id=resident_id,
        method=method,
        address="testclient",
    )
    client.cookies.set(SESSION_COOKIE, cookie)
    return token
