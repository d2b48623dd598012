"""Menu A, やりとり履歴: my exchanges only, newest first, filtered and paged, with proofs that check."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.audit import AccessEvent
from openmyna.core.crypto import KeyRing
from openmyna.network import enrolment, log, service
from openmyna.network.person_check import check_head, check_page
from openmyna.network.table import load_table
from openmyna.portal.history.service import READ_ACTION
from openmyna.registry import service as registry
from tests.network.conftest import World, world  # noqa: F401  (fixture)
from tests.portal.sessions import log_in

HTML = {"accept": "text/html"}
DATA = re.compile(r'<script type="application/json" id="history-data">(.*?)</script>', re.DOTALL)


def _exchanges(db: Session, keys: KeyRing, world: World) -> str:  # noqa: F811
    """Eleven answered exchanges about the parent, one about the elder, a signed head, one more pending."""
    table, providers = load_table(), {}
    mine = enrolment.issue_code(db, keys=keys, agency="nenkin", my_number=world.numbers["parent"])
    theirs = enrolment.issue_code(db, keys=keys, agency="nenkin", my_number=world.numbers["elder"])
    for i in range(11):
        query = service.Query("national_pension_premium", "131016", "local_tax", mine, f"A-{i}")
        service.ask(db, keys=keys, table=table, requester="nenkin", providers=providers, query=query)
    query = service.Query("national_pension_premium", "131016", "local_tax", theirs, "ELDER")
    service.ask(db, keys=keys, table=table, requester="nenkin", providers=providers, query=query)
    log.publish(db, keys=keys)
    query = service.Query("national_pension_premium", "131016", "resident_record", mine, "LATEST")
    service.ask(db, keys=keys, table=table, requester="nenkin", providers=providers, query=query)
    db.commit()
    resident = registry.find_resident(db, resident_id=world.residents["parent"])
    assert resident is not None
    return registry.subject_of(resident)


def _data(page_html: str) -> dict[str, object]:
    found = DATA.search(page_html)
    assert found
    return json.loads(html.unescape(found.group(1)) if "&#34;" in found.group(1) else found.group(1))


def test_my_history_in_plain_japanese_with_proofs_that_check(
    client: TestClient,
    db: Session,
    keys: KeyRing,
    world: World,  # noqa: F811
) -> None:
    citizen = _exchanges(db, keys, world)
    assert client.get("/portal/history", headers=HTML, follow_redirects=False).status_code == 303
    assert client.get("/api/portal/history").status_code == 401
    log_in(client, resident_id=world.residents["parent"])

    page = client.get("/portal/history", headers=HTML)
    assert page.status_code == 200
    assert "提供されました。" in page.text and "国民年金法" in page.text
    assert 'class="verify"' in page.text and 'id="verify-page"' in page.text
    data = _data(page.text)
    assert data["total"] == 12 and data["citizen"] == citizen
    assert [i["purpose_reference"] for i in data["items"]][:3] == ["LATEST", "A-10", "A-9"]  # type: ignore[index]
    assert all(i["purpose_reference"] != "ELDER" for i in data["items"])  # type: ignore[union-attr]
    check_head(data["tree_head"], keys.log_signing_key.public_key(), None)  # type: ignore[arg-type]
    segment, shown = check_page(data, citizen)
    assert shown and set(segment) >= shown

    second = client.get("/api/portal/history", params={"page": 2}).json()
    assert second["page"] == 2 and len(second["items"]) == 2 and second["head_signature_checked_by_server"] is True
    check_page(second, citizen)
    events = db.scalars(select(AccessEvent).where(AccessEvent.subject == citizen, AccessEvent.action == READ_ACTION))
    assert len(list(events)) == 2  # reading the history is itself an access event


def test_filters_by_period_and_agency(client: TestClient, db: Session, keys: KeyRing, world: World) -> None:  # noqa: F811
    _exchanges(db, keys, world)
    log_in(client, resident_id=world.residents["parent"])
    today = clock.today()
    assert client.get("/api/portal/history", params={"agency": "nenkin"}).json()["total"] == 12
    assert client.get("/api/portal/history", params={"agency": "mhlw"}).json()["total"] == 0
    assert client.get("/api/portal/history", params={"since": today.isoformat()}).json()["total"] == 12
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert client.get("/api/portal/history", params={"since": tomorrow}).json()["total"] == 0
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert client.get("/api/portal/history", params={"until": yesterday}).json()["total"] == 0
    page = client.get("/portal/history", params={"agency": "nenkin"}, headers=HTML)
    assert 'value="nenkin" selected' in page.text
    for bad in ({"page": 0}, {"page": 10**9}, {"since": "yesterday"}, {"agency": "a' OR 1=1"}, {"agency": "x" * 40}):
        assert client.get("/api/portal/history", params=bad).status_code == 422, bad
