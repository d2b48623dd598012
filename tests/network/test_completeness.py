"""Completeness the citizen can check: the history served, walked page by page, against the signed head and
person map, by an independent client (``completeness_client.py``) and by ``openmyna network verify-person``'s
checker. Omitting, hiding, reordering and serving a stale head are each tried."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.network import log, person_check
from openmyna.network import verify as verifier
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry
from tests.network import completeness_client
from tests.network.conftest import World, obtain_code
from tests.network.test_verify_tampering import _cli

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
_PERSONS_MAP_LEAF = "(SELECT path FROM network_map_nodes WHERE leaf_key = :key)"
HIDING = {  # how an insider with SQL hides a record from the person it concerns
    "citizen-column-changed": (
        f"UPDATE network_exchange_records SET citizen = 'person:0' WHERE id = {_OLDEST_OF_PERSON}"
    ),
    "moved-to-another-citizen": (
        f"UPDATE network_exchange_records SET citizen = :elder WHERE id = {_OLDEST_OF_PERSON}"
    ),
    "record-deleted": f"DELETE FROM network_exchange_records WHERE id = {_NEWEST_REQUEST}",
    "side-column-changed": f"UPDATE network_exchange_records SET side = 'provider' WHERE id = {_OLDEST_OF_PERSON}",
    "dropped-from-the-chain": f"UPDATE network_exchange_records SET leaf_index = NULL WHERE id = {_OLDEST_OF_PERSON}",
    "map-leaf-rewritten": f"UPDATE network_map_nodes SET digest = :zero WHERE path = {_PERSONS_MAP_LEAF}",
}


@pytest.fixture
def verify_person(
    settings: Settings, session_factory: sessionmaker[Session], keys: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str]]:
    """``openmyna network verify-person …`` on the test's database."""
    return lambda *args: _cli(monkeypatch, settings, session_factory, keys, "verify-person", *args)


@pytest.mark.parametrize("change", sorted(HIDING))
def test_a_record_hidden_in_the_database_is_caught_by_the_person(
    client: TestClient,
    db: Session,
    keys: KeyRing,
    world: World,
    history: tuple[str, Pages],
    change: str,
    verify_person: Callable[..., tuple[int, str]],
) -> None:
    """An insider edits the store behind the API: the pages the API then serves fail the person's check, in
    the independent client and in ``openmyna network verify-person``; ``openmyna network verify`` fails too."""
    pseudonym, _pages_before = history
    assert verify_person(str(world.residents["parent"]))[0] == 0
    elder = _pseudonym(db, world, "elder")
    key = hashlib.sha256(pseudonym.encode()).digest()
    db.execute(text(HIDING[change]), {"c": pseudonym, "elder": elder, "key": key, "zero": bytes(32)})
    db.expire_all()
    pages = _pages(client, keys, pseudonym)
    latest = client.get("/api/network/sth").json()
    assert _both(pages, pseudonym, _public(client), latest) == (False, False)
    for person in (str(world.residents["parent"]), pseudonym):
        code, output = verify_person(person)
        assert code == 1 and "INCOMPLETE:" in output, output
    assert not verifier.verify(db, keys=keys).ok


def test_the_cli_proves_a_whole_history_and_an_empty_one(
    world: World, db: Session, history: tuple[str, Pages], verify_person: Callable[..., tuple[int, str]]
) -> None:
    code, output = verify_person(str(world.residents["parent"]))
    assert code == 0 and "ok: 10 records, complete as of the head of size" in output, output
    code, output = verify_person(str(world.residents["child"]))
    assert code == 0 and "ok: 0 records" in output, output
    assert verify_person("999999")[0] == 1  # no such resident: a message, no traceback


def test_an_older_head_served_again_is_caught_by_a_client_that_saw_the_newer(
    client: TestClient,
    db: Session,
    keys: KeyRing,
    world: World,
    history: tuple[str, Pages],
    tmp_path: Path,
    verify_person: Callable[..., tuple[int, str]],
) -> None:
    """The operator drops the newest head, to serve the history as of an older one: a client remembering the
    newer head refuses it as stale. (Here the map kept moving on, so even a client without memory refuses;
    an operator who also rolled the map back would need a client that remembers, or gossip: see the docs.)"""
    pseudonym, _pages_before = history
    seen = client.get("/api/network/sth").json()
    remembered = tmp_path / "head.json"
    remembered.write_text(json.dumps(seen), encoding="utf-8")
    db.execute(text("DELETE FROM network_tree_heads WHERE tree_size = :size"), {"size": seen["tree_size"]})
    db.expire_all()
    pages = _pages(client, keys, pseudonym)
    assert pages[0]["tree_head"]["tree_size"] < seen["tree_size"]
    assert _both(pages, pseudonym, _public(client), seen) == (False, False)
    code, output = verify_person(str(world.residents["parent"]), "--known", str(remembered))
    assert code == 1 and "stale head" in output, output
    code, output = verify_person(str(world.residents["parent"]))
    assert code == 1 and "INCOMPLETE: the chain served does not end at the person's head in the map" in output, output
    assert not verifier.verify(db, keys=keys).ok  # the records beyond the remaining head are named
    remembered.write_text("{}", encoding="utf-8")
    code, output = verify_person(str(world.residents["parent"]), "--known", str(remembered))
    assert code == 2 and "not a signed tree head" in output, output


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


def _as_if_empty(pages: Pages, pseudonym: str) -> Pages:
    """The operator's forged absence: no records, and the person's own map leaf passed off as someone else's
    (a neighbour's key, sharing the walk's prefix) so that the siblings still fold to the signed map root."""
    proof = copy.deepcopy(pages[0]["completeness"])
    key = int.from_bytes(base64.b64decode(proof["map_key"]), "big")
    proof.update(chain_length=0, segment_start=0, segment=[], chain_before=base64.b64encode(bytes(32)).decode())
    proof["map_terminal"]["key"] = base64.b64encode((key ^ 1).to_bytes(32, "big")).decode()
    return [{**pages[0], "total": 0, "items": [], "completeness": proof}]


def test_a_forged_proof_of_absence_is_caught(client: TestClient, history: tuple[str, Pages]) -> None:
    """A person with records cannot be shown an empty history: an absence proof must end at an empty subtree
    or at a leaf the client hashes itself from another person's key, count and chain head."""
    pseudonym, pages = history
    latest = client.get("/api/network/sth").json()
    assert _both(_as_if_empty(pages, pseudonym), pseudonym, _public(client), latest) == (False, False)


def test_the_independent_client_uses_nothing_of_the_server() -> None:
    """The completeness client and its RFC 6962 verifier import no openmyna code: they stand for a phone."""
    import ast
    from pathlib import Path

    for name in ("completeness_client.py", "rfc6962.py"):
        tree = ast.parse((Path(__file__).parent / name).read_text(encoding="utf-8"))
        imported = {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not {m for m in imported if m and m.startswith("openmyna")}, (name, imported)
