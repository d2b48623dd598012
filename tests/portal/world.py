"""The notice menus' test world: an SMTP sink, residents made through the registry API, a worker, helpers.

Everything is built through public interfaces: residents through ``POST /api/registry/residents``,
organisations through ``orgs.service`` (as the CLI does), sends through the notice API, and the
background work by the same :class:`~openmyna.portal.notices.worker.Worker` the server runs.
"""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.orgs import service as orgs
from openmyna.portal.notices.worker import Worker
from openmyna.registry import service as registry
from openmyna.registry.models import Resident
from tests.conftest import bearer_for
from tests.live import free_port


@dataclass
class Sink:
    """Every message the local SMTP server received: envelope recipients and the parsed message."""

    messages: list[tuple[list[str], email.message.EmailMessage]] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [message for rcpts, message in self.messages if address in rcpts]

    def text(self, message: email.message.EmailMessage) -> str:
        body = message.get_body(("plain",))
        assert body is not None
        return str(body.get_content())


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    """A real SMTP server (aiosmtpd) on a free loopback port, for the portal's SMTP client to talk to."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()


def notice_settings(settings: Settings, sink: Sink, **more: Any) -> Settings:
    """The suite's settings with SMTP at the sink and no worker threads: tests run the worker themselves."""
    update = {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "notice_worker_threads": 0}
    return settings.model_copy(update={**update, **more})


def worker_of(app: FastAPI, **options: Any) -> Worker:
    return Worker(
        session_factory=app.state.session_factory, settings=app.state.settings, queue=app.state.notice_queue, **options
    )


def person(
    client: TestClient,
    headers: dict[str, str],
    *,
    given: str = "太郎",
    birth_date: str = "1985-04-01",
    household: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Register a resident through the registry API (a birth, or a move-in for an adult)."""
    body: dict[str, Any] = {
        "kind": "move_in",
        "family_name": "山田",
        "given_name": given,
        "family_name_kana": "ヤマダ",
        "given_name_kana": "タロウ",
        "birth_date": birth_date,
        "sex": "male",
        "event_date": "2025-04-01",
        "previous_address": "大阪府大阪市北区梅田一丁目1番1号",
        "address": {"postal_code": "102-0072", "town": "飯田橋三丁目", "block": "5番1号"},
    }
    if household is not None:
        body["household"] = household
        body["address"] = None
    response = client.post("/api/registry/residents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def subject_of(db: Session, resident_id: int) -> str:
    resident = db.get(Resident, resident_id)
    assert resident is not None
    return registry.subject_of(resident)


def send(
    client: TestClient,
    headers: dict[str, str],
    *,
    to: dict[str, Any],
    kind: str = "decision",
    title: str = "児童手当の認定について",
    body: str = "認定しました。",
    key: str | None = None,
) -> httpx.Response:
    return client.post(
        "/api/notices/sends",
        json={"notice": {"kind": kind, "title": title, "body": body}, "to": to},
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path, headers={"accept": "text/html"})
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, f"no CSRF token on {path}: {page.status_code}"
    return match.group(1)


@dataclass(frozen=True)
class Org:
    code: str
    headers: dict[str, str]


def organisation(client: TestClient, db: Session, keys: KeyRing, *, code: str, kind: str, **options: Any) -> Org:
    """Register an organisation (as ``openmyna org add`` does) and get it a token through the real grant."""
    created = orgs.add_organisation(db, keys=keys, code=code, name=f"{code} 株式会社", kind=kind, **options)
    db.commit()
    return Org(code, bearer_for(client, code, created.private_key_pem))


LINK = re.compile(r"(http://testserver/portal/settings/email/verify\?token=\S+)")


def verification_link(sink: Sink, address: str) -> str:
    """The link of the newest verification mail the sink received for ``address``."""
    mails = sink.to(address)
    assert mails, f"no mail to {address}"
    match = LINK.search(sink.text(mails[-1]))
    assert match, sink.text(mails[-1])
    return match.group(1).removeprefix("http://testserver")


def ask_verification(client: TestClient, address: str) -> httpx.Response:
    csrf = csrf_of(client, "/portal/settings")
    return client.post("/portal/settings/email", data={"email": address, "csrf": csrf}, follow_redirects=False)


def verify_email(client: TestClient, sink: Sink, address: str) -> None:
    """The logged-in resident registers ``address`` and opens the link the sink received."""
    assert ask_verification(client, address).status_code == 303
    opened = client.get(verification_link(sink, address))
    assert opened.status_code == 200 and "verify-ok" in opened.text, opened.text
