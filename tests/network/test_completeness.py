"""Completeness the citizen can check: the history served, walked page by page, against the signed head and
person map, by an independent client (``completeness_client.py``) and by ``openmyna network verify-person``'s
checker. Omitting, hiding, reordering and serving a stale head are each tried."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.network import log, person_check
from openmyna.network import verify as verifier
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry
from tests.network import completeness_client
from tests.network.conftest import World, obtain_code

Pages = list[dict[str, Any]]


def _ask(client: TestClient, world: World, code: str, purpose: str, item: str = "local_tax") -> None:
    response = client.post(
        "/api/network/queries",
        json={
            "business": "national_pension_premium",
            "provider": "131016",
            "item": item,
            "subject_code": code,
            "purpose_reference": purpose,
        },
        headers=world.headers(client, "nenkin"),
    )
    assert response.status_code == 200, response.text


def _pseudonym(db: Session, world: World, person: str) -> str:
    resident = registry.find_resident(db, resident_id=world.residents[person])
    assert resident is not None
    return registry.subject_of(resident)


def _pages(client: TestClient, keys: KeyRing, pseudonym: str, limit: int = 2) -> Pages:
    token = orgs.issue_access_token(
        keys, org_code=pseudonym, scopes={"self"}, issuer="http://testserver", ttl_seconds=300
    )
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    pages: Pages = []
    while True:
        page = client.get(
            "/api/network/history", params={"limit": limit, "offset": limit * len(pages)}, headers=headers
        )
        assert page.status_code == 200, page.text
        pages.append(page.json())
        if limit * len(pages) >= pages[-1]["total"]:
            return pages


def _public(client: TestClient) -> Ed25519PublicKey:
    key = load_pem_public_key(client.get("/api/network/sth/key").text.encode())
    assert isinstance(key, Ed25519PublicKey)
    return key


@pytest.fixture
def history(client: TestClient, world: World, db: Session, keys: KeyRing) -> tuple[str, Pages]:
    """The parent: five exchanges over two heads, interleaved with the elder's, one more still pending."""
    parent, elder = obtain_code(client, world, "nenkin", "parent"), obtain_code(client, world, "nenkin", "elder")
    for i in range(3):
        _ask(client, world, parent, f"P-{i}")
        _ask(client, world, elder, f"E-{i}")
    log.publish(db, keys=keys)
    _ask(client, world, parent, "P-3", item="resident_record")
    _ask(client, world, parent, "P-4")
    log.publish(db, keys=keys)
    _ask(client, world, parent, "PENDING")
    db.commit()
    pseudonym = _pseudonym(db, world, "parent")
    return pseudonym, _pages(client, keys, pseudonym)


def _both(pages: Pages, pseudonym: str, public: Ed25519PublicKey, latest: dict[str, Any]) -> tuple[bool, bool]:
    """(independent client accepts, verify-person's checker accepts)."""
    try:
        completeness_client.check(pages, pseudonym, public, latest)
        independent = True
    except Exception:  # any failure is a refusal
        independent = False
    return independent, person_check.check_history(pages, citizen=pseudonym, public=public, known=latest).ok


def test_a_complete_history_is_proven_complete(
    client: TestClient, db: Session, keys: KeyRing, world: World, history: tuple[str, Pages]
) -> None:
    pseudonym, pages = history
    latest = client.get("/api/network/sth").json()
    public = _public(client)
    assert len(pages) == 3 and pages[0]["items"][0]["records"][0]["status"] == "pending"
    assert completeness_client.check(pages, pseudonym, public, latest) == 10
    report = person_check.check_history(pages, citizen=pseudonym, public=public, known=latest)
    assert report.ok and report.records == 10, report
    child = _pseudonym(db, world, "child")  # no exchanges: the map proves the absence
    assert completeness_client.check(_pages(client, keys, child), child, public, latest) == 0
    assert person_check.check_history(_pages(client, keys, child), citizen=child, public=public, known=latest).ok


def _drop_item(pages: Pages) -> None:
    pages[1]["items"].pop()


def _drop_element(pages: Pages) -> None:
    for page in pages:
        page["completeness"]["segment"].pop(0)


def _reorder_segment(pages: Pages) -> None:
    for page in pages:
        segment = page["completeness"]["segment"]
        segment[0], segment[1] = segment[1], segment[0]


def _reorder_records(pages: Pages) -> None:
    first, second = pages[1]["items"][0]["records"], pages[2]["items"][0]["records"]
    first[0], second[0] = second[0], first[0]


def _last_page_gone(pages: Pages) -> None:
    pages.pop()


def _someone_elses_record(pages: Pages) -> None:
    pages[1]["items"][0]["records"][1]["entry"] = pages[1]["items"][0]["records"][1]["entry"].replace(
        "person:", "person:0"
    )


EDITS: dict[str, Callable[[Pages], None]] = {
    "item_left_out": _drop_item,
    "chain_record_left_out": _drop_element,
    "chain_reordered": _reorder_segment,
    "records_swapped_between_pages": _reorder_records,
    "oldest_page_withheld": _last_page_gone,
    "record_edited": _someone_elses_record,
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_thinned_or_reordered_history_is_caught(client: TestClient, history: tuple[str, Pages], edit: str) -> None:
    pseudonym, pages = history
    latest = client.get("/api/network/sth").json()
    thinned = copy.deepcopy(pages)
    EDITS[edit](thinned)
    assert _both(thinned, pseudonym, _public(client), latest) == (False, False)


_OLDEST_OF_PERSON = "(SELECT min(id) FROM network_exchange_records WHERE citizen = :c)"
_NEWEST_REQUEST = (
    "(SELECT max(id) FROM network_exchange_records "
    "WHERE citizen = :c AND leaf_index IS NOT NULL AND side = 'requester')"
)


@pytest.mark.parametrize(
    "change",
    [
        f"UPDATE network_exchange_records SET citizen = 'person:0' WHERE id = {_OLDEST_OF_PERSON}",
        f"DELETE FROM network_exchange_records WHERE id = {_NEWEST_REQUEST}",
        f"UPDATE network_exchange_records SET side = 'provider' WHERE id = {_OLDEST_OF_PERSON}",
    ],
    ids=["citizen-column-changed", "record-deleted", "side-column-changed"],
)
def test_a_record_hidden_in_the_database_is_caught_by_the_person(
    client: TestClient, db: Session, keys: KeyRing, history: tuple[str, Pages], change: str
) -> None:
    """An insider edits the store behind the API: the pages the API then serves fail the person's check."""
    pseudonym, _pages_before = history
    db.execute(text(change), {"c": pseudonym})
    db.expire_all()
    pages = _pages(client, keys, pseudonym)
    latest = client.get("/api/network/sth").json()
    assert _both(pages, pseudonym, _public(client), latest) == (False, False)
    assert not verifier.verify(db, keys=keys).ok


def test_a_stale_head_is_caught(
    client: TestClient, world: World, db: Session, keys: KeyRing, history: tuple[str, Pages]
) -> None:
    """Pages served under an older head (before the newest record) fail against the newer head published."""
    pseudonym, stale = history
    log.publish(db, keys=keys)  # the pending record is now in a newer head
    db.commit()
    latest = client.get("/api/network/sth").json()
    assert latest["tree_size"] > stale[0]["tree_head"]["tree_size"]
    assert _both(stale, pseudonym, _public(client), latest) == (False, False)
    fresh = _pages(client, keys, pseudonym)
    assert _both(fresh, pseudonym, _public(client), latest) == (True, True)


def test_a_forged_map_root_is_caught(client: TestClient, history: tuple[str, Pages]) -> None:
    pseudonym, pages = history
    latest = client.get("/api/network/sth").json()
    forged = copy.deepcopy(pages)
    for page in forged:
        page["completeness"]["map_siblings"][0] = page["completeness"]["map_terminal"]["digest"]
    assert _both(forged, pseudonym, _public(client), latest) == (False, False)
