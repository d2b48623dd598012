"""Portal fixtures: a resident with a card in use, the card's virtual reader, and a browser's login steps."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from openmyna.card.models import Card
from openmyna.card.reader import VirtualReader
from openmyna.jpki.authority import CaConfig
from tests.card.conftest import AUTH_PIN, _configured, active_card, resident  # noqa: F401  (fixtures)
from tests.jpki.conftest import authorities, ca_config, rsa_keys  # noqa: F401  (fixtures)

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LOGIN_URL = re.compile(r'<code id="login-url">([^<]+)</code>')


@dataclass
class Holder:
    card: Card
    reader: VirtualReader

    @property
    def resident_id(self) -> int:
        return self.card.resident_id


@pytest.fixture
def holder(
    db: Session,
    session_factory: sessionmaker[Session],
    ca_config: CaConfig,  # noqa: F811
    active_card: Callable[..., Card],  # noqa: F811
) -> Callable[..., Holder]:
    """A resident holding a card in use (PIN ``AUTH_PIN``), committed so the app's sessions see it."""

    def make(**apply: object) -> Holder:
        card = active_card(**apply)
        db.commit()
        return Holder(card, VirtualReader(session_factory, ca_config.keys, card.id))

    return make


def csrf_of(client: TestClient, path: str = "/portal/login") -> tuple[str, str]:
    """Open a page as a browser; its CSRF token and the page."""
    page = client.get(path, headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found, "no CSRF token on the page"
    return found.group(1), page.text


def challenge(client: TestClient, csrf: str, purpose: str = "login") -> bytes:
    answer = client.post(
        "/api/portal/login/card/challenge", params={"purpose": purpose}, headers={"X-CSRF-Token": csrf}
    )
    assert answer.status_code == 200, answer.text
    return base64.b64decode(answer.json()["challenge"])


def card_login_body(holder: Holder, data: bytes, *, pin: str = AUTH_PIN, next_path: str = "/portal") -> dict[str, str]:
    return {
        "challenge": base64.b64encode(data).decode(),
        "certificate": base64.b64encode(holder.reader.certificate("auth")).decode(),
        "signature": base64.b64encode(holder.reader.sign("auth", pin, data=data)).decode(),
        "next": next_path,
    }


def card_login(client: TestClient, holder: Holder, *, next_path: str = "/portal") -> str:
    """The whole card login as the page's script does it; returns where the browser goes next."""
    csrf, _page = csrf_of(client)
    body = card_login_body(holder, challenge(client, csrf), next_path=next_path)
    answer = client.post("/api/portal/login/card", json=body, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    return answer.json()["next"]
