"""A life registered only through the registry's HTTP API, asked about only through the network's: a move
in and a birth, a move within, a move out, a death. Each answer carries the person's record as the town
keeps it at that moment; each enrolment is an access event the person sees; each exchange is in their
history."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.audit import events_for
from openmyna.core.crypto import KeyRing
from openmyna.network import log
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry
from tests.network.conftest import World, register
from tests.network.test_enrolment import CHIYODA, MOVER_NUMBER, ask, code_of, number_of, town_record
from tests.registry.test_api import BASE, mover, newborn


def _subject(db: Session, resident_id: int) -> str:
    resident = registry.find_resident(db, resident_id=resident_id)
    assert resident is not None
    return registry.subject_of(resident)


def _history(client: TestClient, keys: KeyRing, subject: str) -> list[dict]:
    token = orgs.issue_access_token(keys, org_code=subject, scopes={"self"}, issuer="http://testserver", ttl_seconds=60)
    page = client.get(
        "/api/network/history", params={"limit": 100}, headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert page.status_code == 200, page.text
    return page.json()["items"]


def test_a_life_through_the_registry_api_is_answered_on_the_network(
    client: TestClient, db: Session, keys: KeyRing, world: World, town_headers: dict[str, str]
) -> None:
    mother = register(client, town_headers, mover())
    household = client.get(f"{BASE}/residents/{mother}", headers=town_headers).json()["household_id"]
    baby_body = newborn(
        family_name="山田",
        event_date="2025-05-01",
        birth_date="2025-05-01",
        address=None,
        household={"household_id": household, "relationship": "child"},
    )
    baby = register(client, town_headers, baby_body)
    numbers = {mother: MOVER_NUMBER, baby: number_of(db, keys, baby)}
    codes = {rid: code_of(client, world, "nenkin", number) for rid, number in numbers.items()}

    # registered: answered at once, with the household as the town keeps it
    first = {rid: ask(client, world, code) for rid, code in codes.items()}
    assert first[mother]["result"] == "answered" and first[baby]["result"] == "answered"
    assert first[mother]["data"]["household_size"] == 2 and first[mother]["data"]["relationship"] == "head"
    assert first[baby]["data"]["relationship"] == "child" and first[baby]["data"]["resident_since"] == "2025-05-01"
    assert sorted(m["relationship"] for m in first[baby]["data"]["household"]) == ["child", "head"]

    # a move within the town, the household with her: the same record answers, at the new address
    moved = client.post(
        f"{BASE}/residents/{mother}/move-within",
        json={
            "event_date": "2025-07-01",
            "address": {"postal_code": "102-0072", "town": "飯田橋三丁目", "block": "9番9号"},
            "with_household": True,
        },
        headers=town_headers,
    )
    assert moved.status_code == 200, moved.text
    assert town_record(db, keys, MOVER_NUMBER) == mother
    within = ask(client, world, codes[mother])
    assert within["data"]["status"] == "resident" and within["data"]["household_size"] == 2

    # the baby dies; the mother moves out: each answer says so, with the date, from the removed record
    died = client.post(f"{BASE}/residents/{baby}/death", json={"event_date": "2025-08-01"}, headers=town_headers)
    assert died.status_code == 200, died.text
    alone = ask(client, world, codes[mother])
    assert alone["data"]["household_size"] == 1 and alone["data"]["household"][0]["relationship"] == "head"
    body = {"event_date": "2025-09-01", "destination": "大阪府大阪市北区梅田一丁目1番1号"}
    left = client.post(f"{BASE}/residents/{mother}/move-out", json=body, headers=town_headers)
    assert left.status_code == 200, left.text
    last = {rid: ask(client, world, code)["data"] for rid, code in codes.items()}
    assert (last[mother]["status"], last[mother]["removed_on"]) == ("moved_out", "2025-09-01")
    assert (last[baby]["status"], last[baby]["removed_on"]) == ("deceased", "2025-08-01")
    assert "household" not in last[mother] and "household" not in last[baby]

    # each enrolment is an access event the person sees, with who and why
    for rid, kind in ((mother, "move_in"), (baby, "birth")):
        issued = [
            (e.actor_org, e.purpose) for e in events_for(db, _subject(db, rid)) if e.action == "network.code_issued"
        ]
        assert sorted(issued) == sorted(
            [(CHIYODA, f"code obtained on registration ({kind})"), ("nenkin", "agency-specific code obtained")]
        )
    # and each exchange about them is in their own history, proven under the next head
    log.publish(db, keys=keys)
    db.commit()
    asked = {mother: 4, baby: 2}
    for rid, count in asked.items():
        items = _history(client, keys, _subject(db, rid))
        assert len(items) == count
        assert all(i["requester"]["code"] == "nenkin" and i["provider"]["code"] == CHIYODA for i in items)
        assert all(r["status"] == "included" for i in items for r in i["records"])
