"""Every lifecycle step of the card and every refusal, through the card service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.card.chip import BadPinFormat
from openmyna.card.models import Card, CardEvent
from openmyna.core import clock
from openmyna.core.audit import events_for
from openmyna.core.errors import Conflict, Forbidden, InvalidInput
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.service import Caller
from tests.card.conftest import SIGN_PIN


def status(db: Session, serial: str | None) -> str:
    assert serial
    return jpki.certificate(db, serial=serial).status


def test_application_to_hand_over_records_each_step(
    db: Session, ca_config: CaConfig, clerk: Caller, active_card: Callable[..., Card]
) -> None:
    card = active_card()
    steps = [
        (e.event, e.from_state, e.to_state) for e in db.scalars(select(CardEvent).where(CardEvent.card_id == card.id))
    ]
    assert steps == [
        ("applied", "new", "applied"),
        ("shipped", "applied", "manufactured"),
        ("setup", "manufactured", "ready"),
        ("handed_over", "ready", "active"),
    ]
    assert card.with_signing and status(db, card.auth_serial) == "good" and status(db, card.sign_serial) == "good"
    assert card.expires_on == jpki.nth_birthday_after(dt.date(1990, 2, 3), clock.today(), 10)
    chip = cards.open_chip(ca_config.keys, card)
    assert chip.read_face("1234")["name"] == "山田 花子" and len(chip.read_face("1234")["my_number"]) == 12
    assert "card.handed_over" in {e.action for e in events_for(db, card.subject)}
    assert card.chip_sealed is not None and b"my_number" not in card.chip_sealed  # sealed at rest


def test_out_of_order_steps_and_bad_inputs_are_refused(
    db: Session, ca_config: CaConfig, clerk: Caller, resident: Callable[..., int]
) -> None:
    rid = resident()
    card = cards.apply(db, resident_id=rid, caller=clerk)
    with pytest.raises(cards.WrongState):
        cards.setup(db, config=ca_config, card_id=card.id, caller=clerk)
    with pytest.raises(Conflict):
        cards.apply(db, resident_id=rid, caller=clerk)  # one live card per person
    with pytest.raises(InvalidInput):
        cards.apply(db, resident_id=resident(), caller=clerk, channel="employer")  # no employer named
    cards.manufacture(db, keys=ca_config.keys, card_id=card.id, caller=clerk)
    with pytest.raises(cards.WrongState):
        cards.manufacture(db, keys=ca_config.keys, card_id=card.id, caller=clerk)
    cards.setup(db, config=ca_config, card_id=card.id, caller=clerk)
    with pytest.raises(Forbidden):
        cards.hand_over(
            db,
            keys=ca_config.keys,
            card_id=card.id,
            caller=clerk,
            auth_pin="1234",
            sign_pin=SIGN_PIN,
            identity_checked=False,
        )
    with pytest.raises(BadPinFormat):
        cards.hand_over(
            db,
            keys=ca_config.keys,
            card_id=card.id,
            caller=clerk,
            auth_pin="12a4",
            sign_pin=SIGN_PIN,
            identity_checked=True,
        )
    with pytest.raises(BadPinFormat):
        cards.hand_over(
            db,
            keys=ca_config.keys,
            card_id=card.id,
            caller=clerk,
            auth_pin="1234",
            sign_pin="abc12",
            identity_checked=True,
        )
    with pytest.raises(InvalidInput):
        cards.hand_over(
            db,
            keys=ca_config.keys,
            card_id=card.id,
            caller=clerk,
            auth_pin="1234",
            sign_pin=SIGN_PIN,
            identity_checked=True,
            delivery="post",
        )
    assert card.state == "ready"
    with pytest.raises(cards.CardNotFound):
        cards.manufacture(db, keys=ca_config.keys, card_id=999999, caller=clerk)


def test_bulk_application_through_an_employer(db: Session, clerk: Caller, resident: Callable[..., int]) -> None:
    ids = [resident(), resident()]
    made = cards.apply_bulk(db, resident_ids=ids, employer_code="T8000012345678", caller=clerk)
    assert [(c.channel, c.employer_code, c.state) for c in made] == [("employer", "T8000012345678", "applied")] * 2
    with pytest.raises(InvalidInput):
        cards.apply_bulk(db, resident_ids=[ids[0], ids[0]], employer_code="X", caller=clerk)


def test_children_get_no_signing_certificate_and_a_five_year_card(
    db: Session, active_card: Callable[..., Card], resident: Callable[..., int]
) -> None:
    born = clock.today().replace(year=clock.today().year - 10, day=1)
    card = active_card(resident(birth_date=born.isoformat(), event_date=clock.today().isoformat()))
    assert not card.with_signing and card.sign_serial is None and status(db, card.auth_serial) == "good"
    assert card.expires_on == jpki.nth_birthday_after(born, clock.today(), 5)


def test_lost_card_is_suspended_with_certificates_on_hold_then_resumed(
    db: Session, ca_config: CaConfig, clerk: Caller, active_card: Callable[..., Card]
) -> None:
    card = active_card()
    cards.report_lost(db, config=ca_config, card_id=card.id, caller=clerk, via="hotline")
    assert card.state == "suspended" and {status(db, card.auth_serial), status(db, card.sign_serial)} == {"on_hold"}
    with pytest.raises(cards.WrongState):
        cards.use_chip(db, keys=ca_config.keys, card_id=card.id, operation=lambda chip: chip.certificate("auth"))
    with pytest.raises(cards.WrongState):
        cards.report_lost(db, config=ca_config, card_id=card.id, caller=clerk)
    cards.resume(db, config=ca_config, card_id=card.id, caller=clerk)
    assert card.state == "active" and {status(db, card.auth_serial), status(db, card.sign_serial)} == {"good"}
    cards.report_lost(db, config=ca_config, card_id=card.id, caller=clerk)
    cards.revoke_card(db, config=ca_config, card_id=card.id, reason="loss_confirmed", caller=clerk)
    assert (
        card.state == "revoked"
        and jpki.certificate(db, serial=card.auth_serial or "").revocation_reason == "key_compromise"
    )
    with pytest.raises(cards.WrongState):
        cards.resume(db, config=ca_config, card_id=card.id, caller=clerk)


def test_pin_reset_at_the_counter(
    db: Session, ca_config: CaConfig, clerk: Caller, active_card: Callable[..., Card]
) -> None:
    card = active_card()
    with pytest.raises(Forbidden):
        cards.reset_pin(
            db, keys=ca_config.keys, card_id=card.id, app="auth", new_pin="9999", identity_checked=False, caller=clerk
        )
    cards.reset_pin(
        db, keys=ca_config.keys, card_id=card.id, app="auth", new_pin="9999", identity_checked=True, caller=clerk
    )
    chip = cards.open_chip(ca_config.keys, card)
    chip.verify_pin("auth", "9999")


def test_renewal_opens_three_months_before_expiry(
    db: Session, ca_config: CaConfig, clerk: Caller, active_card: Callable[..., Card]
) -> None:
    card = active_card()
    with pytest.raises(cards.WrongState, match="renewal opens"):
        cards.renew(db, config=ca_config, card_id=card.id, caller=clerk)
    old_auth, old_sign = card.auth_serial, card.sign_serial
    not_after = jpki.aware(jpki.certificate(db, serial=old_auth or "").not_after)
    with clock.frozen_at(not_after - dt.timedelta(days=30)):
        cards.renew(db, config=ca_config, card_id=card.id, caller=clerk)
        assert card.auth_serial != old_auth and card.sign_serial != old_sign
        assert (
            status(db, old_auth) == "revoked"
            and jpki.certificate(db, serial=old_auth or "").revocation_reason == "superseded"
        )
        assert status(db, card.auth_serial) == "good"
        chip = cards.open_chip(ca_config.keys, card)
        assert chip.certificate("auth") == jpki.certificate(db, serial=card.auth_serial or "").der


def test_cards_expire_after_their_date(
    db: Session, ca_config: CaConfig, clerk: Caller, active_card: Callable[..., Card]
) -> None:
    card = active_card()
    assert card.expires_on
    with clock.frozen_at(dt.datetime.combine(card.expires_on + dt.timedelta(days=1), dt.time(9))):
        expired = cards.expire_due(db, config=ca_config, caller=clerk)
    assert card in expired and card.state == "expired" and status(db, card.auth_serial) == "revoked"


def test_free_space_holds_issuer_applications(
    db: Session, ca_config: CaConfig, active_card: Callable[..., Card]
) -> None:
    card = active_card()
    chip = cards.open_chip(ca_config.keys, card)
    chip.install_app("employee-id", issuer="T8000012345678", data={"employee": "E-1024"})
    assert chip.read_app("employee-id")["data"] == {"employee": "E-1024"}
    with pytest.raises(Conflict):
        chip.remove_app("employee-id", issuer="someone-else")
    chip.remove_app("employee-id", issuer="T8000012345678")


def test_the_chip_refuses_a_certificate_for_another_key(
    db: Session, ca_config: CaConfig, active_card: Callable[..., Card]
) -> None:
    first, second = active_card(), active_card()
    chip = cards.open_chip(ca_config.keys, first)
    with pytest.raises(Conflict):
        chip.install_certificate("auth", jpki.certificate(db, serial=second.auth_serial or "").der)
    assert x509.load_der_x509_certificate(chip.certificate("auth")).serial_number == int(first.auth_serial or "0", 16)
