"""The card counter's pages over HTTP: hand-over with the PINs, PIN reset, suspension and resume, and refusals."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.card.chip import PinLocked, WrongPin
from openmyna.card.models import Card
from openmyna.core import audit
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.service import Caller
from tests.orgs.web import csrf_of, log_in

AUTH_PIN, SIGN_PIN = "1234", "ABC123"


@pytest.fixture
def ready_card(
    db: Session, ca_config: CaConfig, town_clerk: Caller, resident: Callable[..., int]
) -> Callable[..., int]:
    """A card applied for, made and set up through the card service (the API's path): ready for hand-over."""

    def make(resident_id: int | None = None) -> int:
        card = cards.apply(db, resident_id=resident_id or resident(), caller=town_clerk)
        cards.manufacture(db, keys=ca_config.keys, card_id=card.id, caller=town_clerk)
        cards.setup(db, config=ca_config, card_id=card.id, caller=town_clerk)
        db.commit()
        return card.id

    return make


def state(db: Session, card_id: int) -> str:
    db.expire_all()
    return db.get(Card, card_id).state


def hand_over(client: TestClient, card_id: int, **overrides: str):
    csrf = csrf_of(client, f"/staff/counter/cards/{card_id}")
    form = {"csrf": csrf, "identity_checked": "yes", "auth_pin": AUTH_PIN, "face_pin": "", "sign_pin": SIGN_PIN}
    form.update(overrides)
    return client.post(f"/staff/counter/cards/{card_id}/hand-over", data=form, follow_redirects=False)


def chip_verifies(db: Session, keys, card_id: int, app: str, pin: str) -> bool:
    def verify(chip) -> None:
        chip.verify_pin(app, pin)

    try:
        cards.use_chip(db, keys=keys, card_id=card_id, operation=verify)
    except WrongPin:
        return False
    return True


def test_the_card_counter_finds_the_holder_and_lists_their_cards(
    clerk_client: TestClient, db: Session, resident: Callable[..., int], ready_card: Callable[..., int]
) -> None:
    person = resident(family_name="伊藤", family_name_kana="イトウ")
    card_id = ready_card(person)
    found = clerk_client.get("/staff/counter/cards?kana=いとう")
    assert f"/staff/counter/cards?resident={person}" in found.text
    listed = clerk_client.get(f"/staff/counter/cards?resident={person}")
    assert f"/staff/counter/cards/{card_id}" in listed.text and "交付前設定済み" in listed.text
    page = clerk_client.get(f"/staff/counter/cards/{card_id}")
    assert page.status_code == 200 and "交付（暗証番号の設定）" in page.text
    assert 'type="password"' in page.text and 'autocomplete="off"' in page.text


def test_hand_over_sets_the_pins_and_the_card_is_in_use(
    clerk_client: TestClient, db: Session, keys, ready_card: Callable[..., int]
) -> None:
    card_id = ready_card()
    done = hand_over(clerk_client, card_id, face_pin="5678")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/staff/counter/cards/{card_id}?done=hand_over"
    assert "カードを交付しました" in clerk_client.get(done.headers["location"]).text
    assert state(db, card_id) == "active"
    assert chip_verifies(db, keys, card_id, "auth", AUTH_PIN)
    assert chip_verifies(db, keys, card_id, "face", "5678")
    assert chip_verifies(db, keys, card_id, "sign", SIGN_PIN)
    card = db.get(Card, card_id)
    events = audit.events_for(db, card.subject)
    assert any(e.action == "card.handed_over" and e.actor == "staff:clerk" for e in events)
    assert "カード交付" in clerk_client.get("/staff/counter").text


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"identity_checked": ""}, 403, "identity checked"),
        ({"auth_pin": "12345"}, 400, "暗証番号"),
        ({"auth_pin": "abcd"}, 400, "暗証番号"),
        ({"sign_pin": "abc12"}, 400, "暗証番号"),
        ({"sign_pin": ""}, 400, "signing PIN"),
        ({"face_pin": "12"}, 400, "暗証番号"),
    ],
    ids=["no-identity-check", "five-digits", "letters", "short-sign-pin", "no-sign-pin", "short-face-pin"],
)
def test_a_bad_hand_over_leaves_the_card_ready(
    clerk_client: TestClient, db: Session, ready_card: Callable[..., int], overrides: dict, status: int, message: str
) -> None:
    card_id = ready_card()
    page = hand_over(clerk_client, card_id, **overrides)
    assert page.status_code == status, page.text
    assert message in page.text and 'role="alert"' in page.text
    assert state(db, card_id) == "ready"
    assert any(e.action == "counter.refused" for e in audit.events_for(db, "staff:clerk"))


def test_pin_reset_lifts_the_lock_after_an_identity_check(
    clerk_client: TestClient, db: Session, keys, ready_card: Callable[..., int]
) -> None:
    card_id = ready_card()
    assert hand_over(clerk_client, card_id).status_code == 303
    for _ in range(3):  # the holder forgets the PIN: the chip locks it
        with pytest.raises((WrongPin, PinLocked)):
            cards.use_chip(db, keys=keys, card_id=card_id, operation=lambda chip: chip.verify_pin("auth", "0000"))
        db.commit()
    with pytest.raises(PinLocked):
        cards.use_chip(db, keys=keys, card_id=card_id, operation=lambda chip: chip.verify_pin("auth", AUTH_PIN))
    db.commit()

    csrf = csrf_of(clerk_client, f"/staff/counter/cards/{card_id}")
    form = {"csrf": csrf, "app": "auth", "new_pin": "4321", "identity_checked": ""}
    unchecked = clerk_client.post(f"/staff/counter/cards/{card_id}/pin-reset", data=form)
    assert unchecked.status_code == 403
    bad = clerk_client.post(
        f"/staff/counter/cards/{card_id}/pin-reset", data={**form, "identity_checked": "yes", "new_pin": "43210"}
    )
    assert bad.status_code == 400
    wrong_app = clerk_client.post(
        f"/staff/counter/cards/{card_id}/pin-reset", data={**form, "identity_checked": "yes", "app": "root"}
    )
    assert wrong_app.status_code == 400
    db.expire_all()
    with pytest.raises(PinLocked):
        cards.use_chip(db, keys=keys, card_id=card_id, operation=lambda chip: chip.verify_pin("auth", "4321"))
    db.rollback()

    done = clerk_client.post(
        f"/staff/counter/cards/{card_id}/pin-reset", data={**form, "identity_checked": "yes"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?done=pin_reset")
    db.expire_all()
    assert chip_verifies(db, keys, card_id, "auth", "4321")
    card = db.get(Card, card_id)
    assert any(e.action == "card.pin_reset" and e.actor == "staff:clerk" for e in audit.events_for(db, card.subject))


def test_suspension_puts_the_certificates_on_hold_and_resume_lifts_it(
    clerk_client: TestClient, db: Session, ready_card: Callable[..., int]
) -> None:
    card_id = ready_card()
    assert hand_over(clerk_client, card_id).status_code == 303
    csrf = csrf_of(clerk_client, f"/staff/counter/cards/{card_id}")
    early = clerk_client.post(f"/staff/counter/cards/{card_id}/resume", data={"csrf": csrf})
    assert early.status_code == 409 and "カードの状態がこの操作を許しません" in early.text
    done = clerk_client.post(f"/staff/counter/cards/{card_id}/suspend", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert state(db, card_id) == "suspended"
    card = db.get(Card, card_id)
    assert jpki.certificate(db, serial=card.auth_serial).status == "on_hold"
    page = clerk_client.get(done.headers["location"])
    assert "一時停止しました" in page.text and "/resume" in page.text and "/pin-reset" not in page.text
    twice = clerk_client.post(f"/staff/counter/cards/{card_id}/suspend", data={"csrf": csrf})
    assert twice.status_code == 409
    resumed = clerk_client.post(f"/staff/counter/cards/{card_id}/resume", data={"csrf": csrf}, follow_redirects=False)
    assert resumed.status_code == 303
    assert state(db, card_id) == "active"
    assert jpki.certificate(db, serial=card.auth_serial).status == "good"
    actions = [e.action for e in audit.events_for(db, card.subject) if e.actor == "staff:clerk"]
    assert {"card.suspended", "card.resumed", "card.handed_over"} <= set(actions)


@pytest.mark.parametrize("operation", ["hand-over", "pin-reset", "suspend", "resume"])
def test_card_forms_without_the_csrf_token_are_refused(
    clerk_client: TestClient, db: Session, ready_card: Callable[..., int], operation: str
) -> None:
    card_id = ready_card()
    form = {"identity_checked": "yes", "auth_pin": AUTH_PIN, "sign_pin": SIGN_PIN, "app": "auth", "new_pin": "1111"}
    for data in (form, {**form, "csrf": "forged"}):
        assert clerk_client.post(f"/staff/counter/cards/{card_id}/{operation}", data=data).status_code == 403
    assert state(db, card_id) == "ready"


@pytest.mark.parametrize("operation", ["hand-over", "suspend"])
def test_the_card_counter_refuses_a_viewer_and_a_clerk_of_another_town(
    client: TestClient, db: Session, other_town_clerk: None, ready_card: Callable[..., int], operation: str
) -> None:
    card_id = ready_card()
    for username in ("viewer", "sapporo"):
        client.cookies.clear()
        log_in(client, username)
        assert client.get(f"/staff/counter/cards/{card_id}").status_code == 403
        assert client.get("/staff/counter/cards").status_code == 403
        csrf = csrf_of(client, "/staff/residents")
        form = {"csrf": csrf, "identity_checked": "yes", "auth_pin": AUTH_PIN, "sign_pin": SIGN_PIN}
        assert client.post(f"/staff/counter/cards/{card_id}/{operation}", data=form).status_code == 403
    assert state(db, card_id) == "ready"


def test_a_card_of_another_town_is_refused_to_this_towns_clerk(
    clerk_client: TestClient, db: Session, ready_card: Callable[..., int]
) -> None:
    card_id = ready_card()
    db.get(Card, card_id).municipality_code = "011002"  # issued elsewhere (the holder moved here since)
    db.commit()
    assert clerk_client.get(f"/staff/counter/cards/{card_id}").status_code == 403
    csrf = csrf_of(clerk_client, "/staff/counter")
    refused = clerk_client.post(f"/staff/counter/cards/{card_id}/suspend", data={"csrf": csrf})
    assert refused.status_code == 403
    assert state(db, card_id) == "ready"


def test_unknown_card_is_a_404_page(clerk_client: TestClient) -> None:
    page = clerk_client.get("/staff/counter/cards/999999")
    assert page.status_code == 404 and "カードが見つかりません" in page.text
    assert re.search(r"<html lang=\"ja\">", page.text)
