"""The card abroad, tried at its edges through HTTP: a second reissue abroad (a plain replacement is
`superseded`, and a verifier is pointed at the newest certificate), a card on hold when its holder leaves,
and a removed record that cannot leave again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.card.test_abroad import (  # noqa: F401 (fixtures)
    ABROAD,
    _move_abroad,
    _ocsp,
    _pem,
    _serial,
    _validity,
    bank,
    holder,
)
from tests.registry.test_api import assert_problem


def _reissue(client: TestClient, headers: dict[str, str], card_id: int) -> str:
    reissued = client.post(f"/api/cards/{card_id}/reissue-signing", headers=headers)
    assert reissued.status_code == 200, reissued.text
    return _pem(client, headers, card_id, "sign")


def test_a_second_reissue_abroad_supersedes_and_verifiers_get_the_newest(
    client: TestClient,
    town_headers: dict[str, str],
    bank: dict[str, str],  # noqa: F811
    holder: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    card_id = holder["id"]
    original = _pem(client, town_headers, card_id, "sign")
    _move_abroad(client, town_headers, holder["resident_id"])
    first = _reissue(client, town_headers, card_id)
    second = _reissue(client, town_headers, card_id)  # nothing about the holder changed in between
    newest = format(_serial(second), "x")
    moved = _validity(client, bank, original)
    assert moved["status"] == "revoked" and moved["reason"] == "affiliation_changed"  # the move abroad
    assert moved["replaced_by"]["serial"] == newest  # not the intermediate one, itself revoked since
    replaced = _validity(client, bank, first)
    assert replaced["status"] == "revoked" and replaced["reason"] == "superseded", replaced
    assert replaced["replaced_by"]["serial"] == newest
    assert "Reason: superseded" in _ocsp(client, tmp_path, "sign", first)
    current = _validity(client, bank, second)
    assert current["status"] == "good" and current["replaced_by"] is None
    assert current["holder_abroad_since"] == ABROAD["event_date"]


def test_a_card_on_hold_when_its_holder_leaves_resumes_with_authentication_only(
    client: TestClient,
    town_headers: dict[str, str],
    bank: dict[str, str],  # noqa: F811
    holder: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    card_id = holder["id"]
    auth, sign = _pem(client, town_headers, card_id, "auth"), _pem(client, town_headers, card_id, "sign")
    lost = client.post(f"/api/cards/{card_id}/report-lost", json={"via": "hotline"}, headers=town_headers)
    assert lost.status_code == 200 and lost.json()["state"] == "suspended", lost.text
    _move_abroad(client, town_headers, holder["resident_id"])
    assert _validity(client, bank, auth)["status"] == "suspended"
    on_hold = _validity(client, bank, sign)
    assert on_hold["status"] == "revoked" and on_hold["reason"] == "affiliation_changed"  # hold → revoked
    resumed = client.post(f"/api/cards/{card_id}/resume", headers=town_headers)
    assert resumed.status_code == 200 and resumed.json()["state"] == "active", resumed.text
    assert _validity(client, bank, auth)["status"] == "good" and "cert: good" in _ocsp(client, tmp_path, "auth", auth)
    assert _validity(client, bank, sign)["status"] == "revoked"  # a resume lifts a hold, never a revocation
    assert _validity(client, bank, _reissue(client, town_headers, card_id))["status"] == "good"


def test_a_removed_record_cannot_leave_again(
    client: TestClient,
    town_headers: dict[str, str],
    holder: dict[str, Any],  # noqa: F811
) -> None:
    rid = holder["resident_id"]
    _move_abroad(client, town_headers, rid)
    again = client.post(f"/api/registry/residents/{rid}/move-out", json=ABROAD, headers=town_headers)
    assert_problem(again, 409)
    card = client.get(f"/api/cards/{holder['id']}", headers=town_headers).json()
    assert card["state"] == "active" and card["abroad_since"] == ABROAD["event_date"]
