"""Concurrent submissions against a real server paying through its mounted sandbox over HTTP: one charge only.

The server is ``openmyna`` under uvicorn on a loopback port, on the suite's database (SQLite or PostgreSQL);
its payments go over HTTP to the sandbox mounted in the same server, whose signed webhook then comes back
over HTTP to the platform and settles the payment.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from itsdangerous import TimestampSigner
from joserfc.jwk import ECKey
from sqlalchemy import Engine, func, select

from openmyna.app import migrate
from openmyna.core import sessions
from openmyna.core.audit import AccessEvent
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.core.db import make_engine, session_factory, unit_of_work
from openmyna.orgs import service as orgs
from openmyna.portal.auth import service as portal_auth
from openmyna.portal.payments.config import PaymentSettings, resolve
from tests.conftest import PG_URL, TEST_MASTER_KEY, _worker_database, drop_database
from tests.live import free_port, running
from tests.portal.payments.conftest import BIRTH, GOOD_CARD, request_body


def _token(base_url: str, code: str, private_pem: bytes) -> dict[str, str]:
    endpoint = base_url + "/oauth/token"
    assertion = private_key_jwt_sign(ECKey.import_key(private_pem), code, endpoint, alg="ES256")
    form = {
        "grant_type": "client_credentials",
        "client_assertion": assertion,
        "client_id": code,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    answer = httpx.post(endpoint, data=form, trust_env=False)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _portal_cookie(engine: Engine, keys: KeyRing, settings: Settings, resident_id: int, subject: str) -> str:
    with unit_of_work(session_factory(engine)) as session:
        token = portal_auth.begin(
            session,
            resident_id=resident_id,
            subject=subject,
            method="card",
            address="127.0.0.1",
            timeouts=sessions.Timeouts.from_settings(settings),
        )
    payload = base64.b64encode(json.dumps({sessions.COOKIE_KEY: token}).encode())
    return TimestampSigner(keys.session_secret).sign(payload).decode()


def _form(client: httpx.Client, request_id: int) -> dict[str, str]:
    page = client.get(f"/portal/payments/{request_id}")
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert csrf and key
    return {"csrf": csrf.group(1), "key": key.group(1)} | GOOD_CARD


def _submit_together(base_url: str, cookie: str, request_id: int, forms: list[dict[str, str]]) -> list[int]:
    barrier = threading.Barrier(len(forms))
    statuses: list[int] = [0] * len(forms)

    def submit(index: int) -> None:
        with httpx.Client(base_url=base_url, cookies={"openmyna_session": cookie}, trust_env=False, timeout=30) as c:
            barrier.wait()
            statuses[index] = c.post(f"/portal/payments/{request_id}/pay", data=forms[index]).status_code

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(forms))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def _post_together(url: str, calls: list[tuple[dict[str, object], dict[str, str]]]) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(calls))
    answers: list[tuple[int, dict]] = [(0, {})] * len(calls)

    def send(index: int) -> None:
        body, headers = calls[index]
        with httpx.Client(trust_env=False, timeout=30) as client:
            barrier.wait()
            answer = client.post(url, json=body, headers=headers)
            answers[index] = (answer.status_code, answer.json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


@pytest.fixture
def live_database(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A database of this test's own on the suite's backend: the server commits, and nothing it leaves behind
    may change another test's counts."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'live.db'}"
    else:
        assert PG_URL
        url = _worker_database(PG_URL, os.environ.get("PYTEST_XDIST_WORKER", "main") + "_payments")
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield url, engine
    engine.dispose()
    if not database_url.startswith("sqlite"):
        drop_database(url)


def test_concurrent_and_double_submissions_pay_once_and_the_webhook_settles(
    live_database: tuple[str, Engine], tmp_path: Path, keys: KeyRing
) -> None:
    database_url, engine = live_database
    port = free_port()
    settings = Settings(
        database_url=database_url,
        var_dir=tmp_path / "var",
        data_key=base64.b64encode(TEST_MASTER_KEY).decode(),
        base_url=f"http://127.0.0.1:{port}",
        network_publish_seconds=0,
    )
    code = settings.municipality_code  # the payee is the town (a fresh database): it registers the resident
    with unit_of_work(session_factory(engine)) as session:
        payee = orgs.add_organisation(session, keys=keys, code=code, name="千代田区", kind="municipality")
    acquirer_key = resolve(PaymentSettings(), settings, keys).api_key
    with running(settings, port) as base_url:
        headers = _token(base_url, code, payee.private_key_pem)
        resident = httpx.post(base_url + "/api/registry/residents", json=BIRTH, headers=headers, trust_env=False)
        assert resident.status_code == 201, resident.text
        resident_id = int(resident.json()["id"])
        ids = []
        for n in range(2):
            made = httpx.post(
                base_url + "/api/payments/requests",
                json=request_body(resident_id, purpose=f"手数料 {n}"),
                headers=headers | {"Idempotency-Key": f"{code}-{n}"},
                trust_env=False,
            )
            assert made.status_code == 201, made.text
            ids.append(int(made.json()["id"]))
        subject = made.json()["subject"]
        cookie = _portal_cookie(engine, keys, settings, resident_id, subject)
        with httpx.Client(base_url=base_url, cookies={"openmyna_session": cookie}, trust_env=False) as browser:
            double = _form(browser, ids[0])
            two_tabs = [_form(browser, ids[1]), _form(browser, ids[1])]
            assert two_tabs[0]["key"] != two_tabs[1]["key"]

        # One form submitted three times at once (a double click), then two tabs' forms at once.
        same_key = _submit_together(base_url, cookie, ids[0], [double, double, double])
        assert set(same_key) == {303}, same_key
        tabs = _submit_together(base_url, cookie, ids[1], two_tabs)
        assert sorted(tabs)[0] == 303 and set(tabs) <= {303, 409}, tabs

        acquirer = {"Authorization": f"Bearer {acquirer_key}"}
        for request_id in ids:
            charges = httpx.get(
                base_url + "/sandbox-acquirer/v1/payments",
                params={"reference": f"payment-request-{request_id}"},
                headers=acquirer,
                trust_env=False,
            ).json()["data"]
            assert [c["status"] for c in charges] == ["captured"], charges
        deadline = time.monotonic() + 15
        settled: list[object] = []
        while time.monotonic() < deadline:
            settled = [
                httpx.get(f"{base_url}/api/payments/requests/{i}", headers=headers, trust_env=False).json()[
                    "settled_at"
                ]
                for i in ids
            ]
            if all(settled):
                break
            time.sleep(0.2)
        assert all(settled), "the sandbox's signed webhooks did not settle the payments"
        # Concurrent creations with one key make one request; concurrent refunds never exceed the payment.
        creations = _post_together(
            base_url + "/api/payments/requests",
            [(request_body(resident_id, purpose="同時作成"), headers | {"Idempotency-Key": f"{code}-same"})] * 4,
        )
        assert {status for status, _ in creations} == {201} and len({body["id"] for _, body in creations}) == 1
        refunds = _post_together(
            f"{base_url}/api/payments/requests/{ids[0]}/refunds",
            [({"amount": 8_000, "reason": "重複"}, headers | {"Idempotency-Key": f"refund-{n}"}) for n in range(3)],
        )
        assert sorted(status for status, _ in refunds) == [201, 409, 409], refunds
        state = httpx.get(f"{base_url}/api/payments/requests/{ids[0]}", headers=headers, trust_env=False).json()
        assert state["refunded_amount"] == 8_000 and len(state["refunds"]) == 1
    with unit_of_work(session_factory(engine)) as session:
        paid = session.scalar(
            select(func.count()).where(AccessEvent.subject == subject, AccessEvent.action == "payments.paid")
        )
    assert paid == 2
