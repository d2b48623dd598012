"""A logged-in portal browser for tests of the menus, without going through a login method.

The login methods themselves (card, QR) are tested through HTTP in their own tests; the menus' tests only
need a resident's session, started by the same ``portal.auth.service.begin`` a login calls and put in the
same signed cookie Starlette's SessionMiddleware reads.
"""

from __future__ import annotations

import base64
import json

from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from openmyna.core import sessions
from openmyna.core.db import unit_of_work
from openmyna.portal.auth import service as portal_auth
from openmyna.registry import service as registry
from openmyna.registry.models import Resident

SESSION_COOKIE = "openmyna_session"


def log_in(client: TestClient, *, resident_id: int, method: portal_auth.LoginMethod = "card") -> str:
    """Give ``client`` a live portal session of ``resident_id``; returns the session token."""
    app = client.app
    with unit_of_work(app.state.session_factory) as session:  # type: ignore[attr-defined]
        resident = session.get(Resident, resident_id)
        assert resident is not None, f"no resident {resident_id}"
        token = portal_auth.begin(
            session,
            resident_id=resident_id,
            subject=registry.subject_of(resident),
            method=method,
            address="testclient",
            timeouts=sessions.Timeouts.from_settings(app.state.settings),  # type: ignore[attr-defined]
        )
    payload = base64.b64encode(json.dumps({sessions.COOKIE_KEY: token}).encode())
    signed = TimestampSigner(app.state.keys.session_secret).sign(payload)  # type: ignore[attr-defined]
    client.cookies.set(SESSION_COOKIE, signed.decode())
    return token
