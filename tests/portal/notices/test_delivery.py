"""民間送達: copies only of the kinds consented, only after consent, each once; withdrawal stops them;
every delivery is shown to the resident and is an access event."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.audit import events_for
from openmyna.core.crypto import KeyRing
from openmyna.portal.notices.delivery import DELIVERED_ACTION
from tests.portal.sessions import log_in
from tests.portal.world import csrf_of, organisation, person, send, subject_of, worker_of


def _fetch(client: TestClient, headers: dict[str, str], limit: int = 100):
    return client.post("/api/delivery/copies", json={"limit": limit}, headers=headers)


def _consent(client: TestClient, code: str, kinds: list[str], csrf: str | None = None):
    csrf = csrf if csrf is not None else csrf_of(client, "/portal/notices/delivery")
    return client.post(f"/portal/notices/delivery/{code}", data={"kinds": kinds, "csrf": csrf}, follow_redirects=False)


def test_copies_follow_consent(client: TestClient, town_headers, db: Session, keys: KeyRing) -> None:
    courier = organisation(client, db, keys, code="post-digital", kind="delivery")
    other = organisation(client, db, keys, code="other-box", kind="delivery")
    resident, neighbour = person(client, town_headers, given="花子"), person(client, town_headers, given="次郎")
    to = {"kind": "residents", "resident_ids": [resident["id"], neighbour["id"]]}
    worker = worker_of(client.app)

    send(client, town_headers, to=to, kind="decision", title="同意前の決定通知")
    worker.drain()
    assert _fetch(client, courier.headers).json() == {"copies": []}  # no consent yet

    log_in(client, resident_id=resident["id"])
    page = client.get("/portal/notices/delivery")
    assert page.status_code == 200 and "post-digital" in page.text
    reference = re.search(r'id="svc-post-digital".*?<code>([0-9a-f]+)</code>', page.text, re.S)
    assert reference
    assert _consent(client, "post-digital", ["decision"]).status_code == 303

    for kind, title in (("decision", "児童手当の認定"), ("payment_request", "納付のお願い")):
        send(client, town_headers, to=to, kind=kind, title=title)
    worker.drain()
    batch = _fetch(client, courier.headers).json()["copies"]
    assert [(c["kind"], c["title"]) for c in batch] == [("decision", "児童手当の認定")]  # not before consent either
    assert batch[0]["recipient"] == reference.group(1) and batch[0]["sender"] == "131016"
    assert "my_number" not in batch[0] and resident["my_number"] not in str(batch[0])
    assert _fetch(client, courier.headers).json() == {"copies": []}  # each copy once
    assert _fetch(client, other.headers).json() == {"copies": []}  # another service got no consent

    subject = subject_of(db, resident["id"])
    events = [e for e in events_for(db, subject) if e.action == DELIVERED_ACTION]
    assert len(events) == 1 and events[0].actor_org == "post-digital"
    shown = client.get("/portal/notices/delivery").text
    assert 'id="deliveries"' in shown and "児童手当の認定" in shown

    assert _consent(client, "post-digital", []).status_code == 303  # withdraw everything
    send(client, town_headers, to=to, kind="decision", title="撤回後の決定通知")
    worker.drain()
    assert _fetch(client, courier.headers).json() == {"copies": []}


def test_consent_refusals(client: TestClient, town_headers, db: Session, keys: KeyRing) -> None:
    courier = organisation(client, db, keys, code="post-digital", kind="delivery")
    resident = person(client, town_headers)
    log_in(client, resident_id=resident["id"])
    csrf = csrf_of(client, "/portal/notices/delivery")
    assert _consent(client, "post-digital", ["decision"], csrf="forged").status_code == 403
    assert _consent(client, "post-digital", ["decision"], csrf="").status_code == 403
    assert _consent(client, "no-such-service", ["decision"], csrf=csrf).status_code == 404
    assert _consent(client, "131016", ["decision"], csrf=csrf).status_code == 404  # a town is no delivery service
    assert _consent(client, "post-digital", ["advertising"], csrf=csrf).status_code == 400
    assert _consent(client, "bad code!", ["decision"], csrf=csrf).status_code == 422
    send(client, town_headers, to={"kind": "residents", "resident_ids": [resident["id"]]})
    worker_of(client.app).drain()
    assert _fetch(client, courier.headers).json() == {"copies": []}  # none of the refused consents counted

    client.cookies.clear()
    page = client.post("/portal/notices/delivery/post-digital", data={"kinds": ["decision"]}, follow_redirects=False)
    assert page.status_code in (303, 401)


def test_the_delivery_api_refuses(client: TestClient, town_headers, db: Session, keys: KeyRing) -> None:
    courier = organisation(client, db, keys, code="post-digital", kind="delivery")
    assert _fetch(client, {}).status_code == 401
    forbidden = _fetch(client, town_headers)
    assert forbidden.status_code == 403 and forbidden.json()["required_scope"] == "notices:deliver"
    for bad in ({"limit": 0}, {"limit": 501}, {"limit": "5"}, {"limit": 5, "since": 1}):
        assert client.post("/api/delivery/copies", json=bad, headers=courier.headers).status_code == 422
