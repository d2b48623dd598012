"""The payee API: creating requests (idempotent, by resident id or pseudonym), reading status, and every refusal."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.audit import events_for
from openmyna.core.crypto import KeyRing
from openmyna.orgs import service as orgs
from tests.conftest import bearer_for
from tests.portal.payments.conftest import create, request_body


def test_a_request_is_created_once_per_key_and_the_person_sees_it(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, db: Session
) -> None:
    body = request_body(resident_id)
    first = create(pay_client, town_headers, body, key="tax-2026-1")
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["status"] == "open" and created["amount"] == 12_300 and created["payee"] == "131016"
    assert created["subject"].startswith("person:") and created["receipt_number"] is None

    again = create(pay_client, town_headers, body, key="tax-2026-1")
    assert again.status_code == 201 and again.json()["id"] == created["id"]
    assert again.headers["Idempotent-Replayed"] == "true"

    changed = create(pay_client, town_headers, body | {"amount": 12_301}, key="tax-2026-1")
    assert changed.status_code == 422
    assert changed.json()["type"].endswith("idempotency-key-reused")

    listed = pay_client.get("/api/payments/requests", headers=town_headers).json()
    assert [r["id"] for r in listed] == [created["id"]]
    events = [e.action for e in events_for(db, created["subject"])]
    assert events.count("payments.requested") == 1


def test_a_person_can_be_named_by_pseudonym_but_never_by_my_number(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int
) -> None:
    subject = create(pay_client, town_headers, request_body(resident_id)).json()["subject"]
    by_pseudonym = request_body(resident_id) | {"subject": subject}
    del by_pseudonym["resident_id"]
    answer = create(pay_client, town_headers, by_pseudonym)
    assert answer.status_code == 201, answer.text
    assert answer.json()["subject"] == subject

    unknown = create(pay_client, town_headers, by_pseudonym | {"subject": "person:" + "0" * 32})
    assert unknown.status_code == 404
    my_number = create(pay_client, town_headers, by_pseudonym | {"my_number": "621498320257"})
    assert my_number.status_code == 422
    both = create(pay_client, town_headers, request_body(resident_id) | {"subject": subject})
    assert both.status_code == 422


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 0},
        {"amount": -100},
        {"amount": 1.5},
        {"amount": "1000"},
        {"amount": 100_000_000},
        {"amount": True},
        {"purpose": ""},
        {"purpose": "x" * 201},
        {"purpose": "税\u0000"},
        {"kind": "bribe"},
        {"due_date": "2026-02-30"},
        {"due_date": "1800-01-01"},
        {"resident_id": 2**31},
        {"resident_id": "1"},
        {"subject": "person:XYZ"},
    ],
)
def test_malformed_requests_are_422_and_create_nothing(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, change: dict[str, object]
) -> None:
    answer = create(pay_client, town_headers, request_body(resident_id) | change)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert pay_client.get("/api/payments/requests", headers=town_headers).json() == []


def test_idempotency_key_is_required_and_bounded(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int
) -> None:
    body = request_body(resident_id)
    missing = pay_client.post("/api/payments/requests", json=body, headers=town_headers)
    assert missing.status_code == 422
    long = pay_client.post("/api/payments/requests", json=body, headers=town_headers | {"Idempotency-Key": "k" * 129})
    assert long.status_code == 422
    spaced = pay_client.post("/api/payments/requests", json=body, headers=town_headers | {"Idempotency-Key": "a b"})
    assert spaced.status_code == 422
    oversized = pay_client.post(
        "/api/payments/requests",
        content=b'{"purpose": "' + b"x" * (2 << 20) + b'"}',
        headers=town_headers | {"Idempotency-Key": "big", "content-type": "application/json"},
    )
    assert oversized.status_code == 413
    assert pay_client.get("/api/payments/requests", headers=town_headers).json() == []


def test_only_organisations_holding_the_scope_may_create_and_each_sees_only_its_own(
    pay_client: TestClient, town_headers: dict[str, str], resident_id: int, db: Session, keys: KeyRing
) -> None:
    body = request_body(resident_id)
    assert create(pay_client, {}, body).status_code == 401
    clinic = orgs.add_organisation(db, keys=keys, code="clinic-1", name="診療所", kind="medical_institution")
    pension = orgs.add_organisation(db, keys=keys, code="nenkin-t", name="年金事務所", kind="pension_office")
    db.commit()
    refused = create(pay_client, bearer_for(pay_client, "clinic-1", clinic.private_key_pem), body)
    assert refused.status_code == 403
    made = create(pay_client, town_headers, body).json()
    pension_headers = bearer_for(pay_client, "nenkin-t", pension.private_key_pem)
    assert pay_client.get(f"/api/payments/requests/{made['id']}", headers=pension_headers).status_code == 404
    assert pay_client.get("/api/payments/requests", headers=pension_headers).json() == []
    refund = pay_client.post(
        f"/api/payments/requests/{made['id']}/refunds",
        json={"amount": 1, "reason": "x"},
        headers=pension_headers | {"Idempotency-Key": "r1"},
    )
    assert refund.status_code == 404
