"""Every refusal of the send and job APIs: a 4xx problem, and nothing stored or queued."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.portal.notices.models import NoticeMessage, SendJob
from tests.conftest import bearer_for
from tests.portal.world import organisation, person, send, worker_of

NOTICE = {"kind": "decision", "title": "決定通知", "body": "本文"}


def _nothing_stored(db: Session, client: TestClient) -> None:
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(SendJob)) == 0
    assert db.scalar(select(func.count()).select_from(NoticeMessage)) == 0
    assert worker_of(client.app).drain() == 0


def _problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if slug:
        assert body["type"].endswith("/" + slug), body
    return body


def test_unauthenticated_and_wrong_scope(client: TestClient, town, db: Session, keys: KeyRing) -> None:
    to = {"kind": "residents", "resident_ids": [1]}
    _problem(
        client.post("/api/notices/sends", json={"notice": NOTICE, "to": to}, headers={"Idempotency-Key": "k" * 16}), 401
    )
    _problem(client.get("/api/notices/sends"), 401)
    reader = bearer_for(client, "131016", town.private_key_pem, scope="registry:read")
    body = _problem(send(client, reader, to=to), 403)
    assert body["required_scope"] == "notices:send"
    courier = organisation(client, db, keys, code="courier", kind="delivery")
    _problem(send(client, courier.headers, to=to), 403)
    _problem(client.get("/api/notices/sends/1", headers=courier.headers), 403)
    _nothing_stored(db, client)


def test_unknown_residents_and_another_town(client: TestClient, town_headers, db: Session) -> None:
    resident = person(client, town_headers)
    body = _problem(
        send(client, town_headers, to={"kind": "residents", "resident_ids": [resident["id"], 2_000_000]}),
        404,
        "resident-not-found",
    )
    assert body["missing"] == [2_000_000]
    _problem(send(client, town_headers, to={"kind": "town", "municipality_code": "271004"}), 403)
    with_child = {"kind": "households_with_child", "municipality_code": "271004", "under_age": 15}
    _problem(send(client, town_headers, to=with_child), 403)
    _nothing_stored(db, client)


@pytest.mark.parametrize(
    ("notice", "to"),
    [
        ({**NOTICE, "title": "x" * 201}, {"kind": "residents", "resident_ids": [1]}),
        ({**NOTICE, "body": "x" * 4001}, {"kind": "residents", "resident_ids": [1]}),
        ({**NOTICE, "title": "制御\x00文字"}, {"kind": "residents", "resident_ids": [1]}),
        ({**NOTICE, "kind": "advertisement"}, {"kind": "residents", "resident_ids": [1]}),
        ({**NOTICE, "colour": "red"}, {"kind": "residents", "resident_ids": [1]}),
        (NOTICE, {"kind": "residents", "resident_ids": []}),
        (NOTICE, {"kind": "residents", "resident_ids": list(range(1, 10_002))}),
        (NOTICE, {"kind": "residents", "resident_ids": ["1"]}),
        (NOTICE, {"kind": "residents", "resident_ids": [2**31]}),
        (NOTICE, {"kind": "everyone"}),
        (NOTICE, {"kind": "households_with_child", "municipality_code": "131016", "under_age": 0}),
        (NOTICE, {"kind": "town", "municipality_code": "13101"}),
    ],
)
def test_malformed_or_oversized_sends_are_422(client: TestClient, town_headers, db: Session, notice, to) -> None:
    _problem(
        client.post(
            "/api/notices/sends",
            json={"notice": notice, "to": to},
            headers={**town_headers, "Idempotency-Key": "key-12345678"},
        ),
        422,
        "validation",
    )
    _nothing_stored(db, client)


def test_idempotency_key_missing_bad_or_reused(client: TestClient, town_headers, db: Session) -> None:
    resident = person(client, town_headers)
    to = {"kind": "residents", "resident_ids": [resident["id"]]}
    body = {"notice": NOTICE, "to": to}
    _problem(client.post("/api/notices/sends", json=body, headers=town_headers), 422)
    for bad in ("short", "x" * 129, "has space in it"):
        _problem(client.post("/api/notices/sends", json=body, headers={**town_headers, "Idempotency-Key": bad}), 422)
    _problem(
        client.post(
            "/api/notices/sends",
            content=b'{"notice": ',
            headers={**town_headers, "Idempotency-Key": "k" * 16, "content-type": "application/json"},
        ),
        422,
    )
    _nothing_stored(db, client)

    first = send(client, town_headers, to=to, key="reuse-key-0001")
    assert first.status_code == 202
    again = send(client, town_headers, to=to, key="reuse-key-0001")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    changed = send(client, town_headers, to=to, key="reuse-key-0001", title="別の件名")
    _problem(changed, 422, "idempotency-key-reused")
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(SendJob)) == 1


def test_jobs_of_another_organisation_are_not_found(
    client: TestClient, town_headers, db: Session, keys: KeyRing
) -> None:
    resident = person(client, town_headers)
    job = send(client, town_headers, to={"kind": "residents", "resident_ids": [resident["id"]]}).json()
    ministry = organisation(client, db, keys, code="mhlw", kind="ministry")
    _problem(client.get(f"/api/notices/sends/{job['id']}", headers=ministry.headers), 404, "send-job-not-found")
    assert client.get("/api/notices/sends", headers=ministry.headers).json() == []
    _problem(client.get("/api/notices/sends/0", headers=town_headers), 422)
    _problem(client.get("/api/notices/sends?status=lost", headers=town_headers), 422)


def test_the_resident_api_needs_a_login(client: TestClient) -> None:
    _problem(client.get("/api/portal/notices/unread-count"), 401, "login-required")
    page = client.get("/portal/notices", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/portal/login?next=")
