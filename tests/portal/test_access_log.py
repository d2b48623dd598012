"""The access log: every access event about me, and only mine, newest first, paged without gaps or repeats."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core.audit import AccessEvent
from openmyna.portal.history.service import READ_ACTION
from openmyna.registry import service as registry
from tests.network.conftest import World, world  # noqa: F401  (fixture)
from tests.portal.sessions import log_in

HTML = {"accept": "text/html"}


def _subject(db: Session, resident_id: int) -> str:
    resident = registry.find_resident(db, resident_id=resident_id)
    assert resident is not None
    return registry.subject_of(resident)


def _all(client: TestClient) -> list[dict[str, object]]:
    """Every entry of my access log, following ``older`` page by page."""
    items: list[dict[str, object]] = []
    before: object = None
    while True:
        answer = client.get("/api/portal/history/access", params={} if before is None else {"before": before})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["items"]) <= 50
        items += body["items"]
        before = body["older"]
        if before is None:
            return items


def test_my_access_log_is_mine_whole_and_in_order(
    client: TestClient,
    db: Session,
    world: World,  # noqa: F811
) -> None:
    parent = world.residents["parent"]
    log_in(client, resident_id=parent)
    for _ in range(53):  # each reading of the history is an access event about me: more than a page of them
        assert client.get("/api/portal/history").status_code == 200
    listed = _all(client)
    subject = _subject(db, parent)
    db.expire_all()
    stored = db.scalars(
        select(AccessEvent)
        .where(AccessEvent.subject == subject)
        .order_by(AccessEvent.occurred_at.desc(), AccessEvent.id.desc())
    ).all()
    assert [item["id"] for item in listed] == [event.id for event in stored]  # all, once each, newest first
    assert sum(item["action"] == READ_ACTION for item in listed) >= 53


def test_another_residents_events_are_not_in_my_log(
    client: TestClient,
    db: Session,
    world: World,  # noqa: F811
) -> None:
    log_in(client, resident_id=world.residents["elder"])
    assert client.get("/api/portal/history").status_code == 200
    elders = {item["id"] for item in _all(client)}
    assert elders
    log_in(client, resident_id=world.residents["parent"])
    assert client.get("/api/portal/history").status_code == 200
    mine = {item["id"] for item in _all(client)}
    assert mine and not (mine & elders)
    # a "before" of someone else's event does not page into their log: it is ignored
    foreign = max(elders)
    paged = client.get("/api/portal/history/access", params={"before": foreign}).json()["items"]
    assert {item["id"] for item in paged} <= mine


def test_the_page_in_japanese_and_english_and_the_links_to_it(
    client: TestClient,
    world: World,  # noqa: F811
) -> None:
    log_in(client, resident_id=world.residents["parent"])
    client.get("/api/portal/history")
    page = client.get("/portal/history/access", headers=HTML)
    assert page.status_code == 200
    assert "アクセス記録" in page.text and READ_ACTION in page.text and "マイナポータル" in page.text
    english = client.get("/portal/history/access", params={"lang": "en"}, headers=HTML)
    assert "Access log" in english.text and "Mynaportal" in english.text
    assert 'href="/portal/history/access"' in client.get("/portal/history", headers=HTML).text
    assert 'href="/portal/history/access"' in client.get("/portal", headers=HTML).text
    assert client.get("/portal/history/access", params={"before": 0}, headers=HTML).status_code in (400, 422)


def test_logged_out_no_log(client: TestClient) -> None:
    answer = client.get("/api/portal/history/access")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
