"""A sandbox acquirer on a real loopback port, and a platform app configured to pay through it."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from openmyna.portal.payments import setup
from openmyna.portal.payments.config import PaymentSettings
from openmyna.portal.payments.sandbox import create_sandbox_app
from tests.live import free_port

SANDBOX_KEY = "sk_test_suite_" + "0" * 16
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"openmyna-test-webhook-secret-32b").decode()
BIRTH = {
    "kind": "birth",
    "family_name": "山田",
    "given_name": "花子",
    "family_name_kana": "ヤマダ",
    "given_name_kana": "ハナコ",
    "birth_date": "1990-04-01",
    "sex": "female",
    "event_date": "1990-04-01",
    "address": {"postal_code": "102-0072", "town": "飯田橋三丁目", "block": "5番1号"},
}
GOOD_CARD = {"card_number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": "2099", "cvc": "123"}


@dataclass(frozen=True)
class Sandbox:
    """The sandbox acquirer running under uvicorn: where, and how to ask it what it saw."""

    url: str
    app: FastAPI

    def get(self, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {SANDBOX_KEY}"}
        return httpx.get(self.url + path, headers=headers, params=params, trust_env=False)

    def post(self, path: str, body: dict[str, Any] | None = None, key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {SANDBOX_KEY}"} | ({"Idempotency-Key": key} if key else {})
        return httpx.post(self.url + path, headers=headers, json=body, trust_env=False)

    def payments_with_reference(self, reference: str) -> list[dict[str, Any]]:
        ledger = self.app.state.ledger
        from sqlalchemy import select

        from openmyna.portal.payments.sandbox_store import payments

        rows = ledger.read(lambda c: c.execute(select(payments).where(payments.c.reference == reference)).all())
        return [dict(row._mapping) for row in rows]

    def events_for(self, payment_id: str) -> list[dict[str, Any]]:
        return [e for e in self.get("/v1/events", limit=100).json()["data"] if payment_id in e["body"]]

    def signed(self, event_id: str) -> dict[str, Any]:
        answer = self.post(f"/v1/events/{event_id}/signed")
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh acquirer per test (the platform's ids restart when each test's transaction is rolled back)."""
    database = tmp_path / "sandbox.db"
    app = create_sandbox_app(database=database, api_key=SANDBOX_KEY, webhook_secret=WEBHOOK_SECRET, webhook_url=None)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app=app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="sandbox-acquirer", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/healthz", trust_env=False).status_code == 200:
                break
        except httpx.HTTPError:
            threading.Event().wait(0.05)
    yield Sandbox(url, app)
    server.should_exit = True
    thread.join(timeout=10)
    app.state.ledger.dispose()


def payment_settings(sandbox: Sandbox, **changes: Any) -> PaymentSettings:
    return PaymentSettings(
        acquirer_url=sandbox.url, api_key=SANDBOX_KEY, webhook_secret=WEBHOOK_SECRET, sandbox=False, **changes
    )


@pytest.fixture
def pay_client(client: TestClient, sandbox: Sandbox) -> TestClient:
    """The platform's test client, paying through the sandbox on its loopback port."""
    setup.configure(client.app, payment_settings(sandbox))  # type: ignore[arg-type]
    return client


@pytest.fixture
def resident_id(pay_client: TestClient, town_headers: dict[str, str]) -> int:
    created = pay_client.post("/api/registry/residents", json=BIRTH, headers=town_headers)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def request_body(resident_id: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resident_id": resident_id,
        "kind": "tax",
        "purpose": "令和8年度 住民税 第1期",
        "amount": 12_300,
        "due_date": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
    }
    return body | changes


def create(client: TestClient, headers: dict[str, str], body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return client.post(
        "/api/payments/requests", json=body, headers=headers | {"Idempotency-Key": key or secrets.token_hex(8)}
    )


def pay_form(client: TestClient, request_id: int, **changes: str) -> dict[str, str]:
    """The fields the pay page's form carries (CSRF token and the attempt key included), plus a card."""
    page = client.get(f"/portal/payments/{request_id}")
    assert page.status_code == 200, page.text
    import re

    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert csrf and key, "the pay form is not shown"
    return {"csrf": csrf.group(1), "key": key.group(1)} | GOOD_CARD | changes


def pay(client: TestClient, request_id: int, form: dict[str, str]) -> httpx.Response:
    return client.post(f"/portal/payments/{request_id}/pay", data=form, follow_redirects=False)
