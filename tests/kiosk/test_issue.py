"""The whole path in one process: kiosk → centre → municipality, with the rules and refusals of the issue."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from openmyna.card import service as cards
from openmyna.card.chip import PinLocked, WrongPin
from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing, private_key_pem
from openmyna.core.errors import DomainError
from openmyna.jpki.authority import CaConfig
from openmyna.kiosk import centre, clients, documents, municipality, rules, terminal
from openmyna.kiosk.models import IssuedCertificate, Refusal, Sale
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.schemas import MoveOut
from tests.kiosk.conftest import JST, Person, card_request
from tests.live import free_port


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_a_resident_prints_a_juminhyo_and_sees_it_in_their_history(
    db: Session, session_factory: sessionmaker[Session], person: Callable[..., Person], in_process_centre
) -> None:
    holder = person()
    printed = terminal.issue(session_factory, centre_client=in_process_centre, request=card_request(holder))
    assert printed.pdf.startswith(b"%PDF") and printed.charged == 300 and printed.fee == 300
    text = text_of(printed.pdf)
    assert "住民票の写し" in text and "相違ないことを証明する" in text and printed.number in text
    assert "令和" in text  # the date in the Japanese era
    found = municipality.verify(db, number=printed.number)
    assert found is not None and found.genuine and found.summary["kind"] == "juminhyo"
    subject = registry.find_resident(db, resident_id=holder.resident_id).pseudonym  # type: ignore[union-attr]
    events = [e for e in audit.events_for(db, subject) if e.action == municipality.ISSUE_ACTION]
    assert len(events) == 1 and printed.number in events[0].purpose


@pytest.mark.parametrize(
    "kind, words", [("inkan", "印鑑登録証明書"), ("tax", "所得・課税証明書"), ("juminhyo_kisai", "記載されている")]
)
def test_each_kind_the_town_offers(
    session_factory: sessionmaker[Session], person: Callable[..., Person], in_process_centre, kind: str, words: str
) -> None:
    printed = terminal.issue(
        session_factory, centre_client=in_process_centre, request=card_request(person(), kind=kind)
    )
    assert words in text_of(printed.pdf)


def test_a_retried_request_is_neither_charged_nor_issued_twice(
    db: Session, session_factory: sessionmaker[Session], person: Callable[..., Person], in_process_centre
) -> None:
    holder = person()
    first = terminal.issue(session_factory, centre_client=in_process_centre, request=card_request(holder))
    again = card_request(holder, request_key=first_key(db, first.number))
    second = terminal.issue(session_factory, centre_client=in_process_centre, request=again)
    assert second.number == first.number and second.pdf == first.pdf
    assert second.replayed and second.charged == 0
    assert count(db, IssuedCertificate) == 1 and count(db, Sale) == 1


def first_key(db: Session, number: str) -> str:
    return db.scalar(select(IssuedCertificate.request_key).where(IssuedCertificate.number == number)) or ""


def test_the_my_number_only_on_request_and_never_in_the_log(
    session_factory: sessionmaker[Session],
    person: Callable[..., Person],
    in_process_centre,
    keys: KeyRing,
    db: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    holder = person()
    number = registry.my_number_of(keys, registry.find_resident(db, resident_id=holder.resident_id))  # type: ignore[arg-type]
    spaced = f"{number[:4]} {number[4:8]} {number[8:]}"
    caplog.set_level(logging.DEBUG)
    plain = terminal.issue(session_factory, centre_client=in_process_centre, request=card_request(holder))
    assert spaced not in text_of(plain.pdf) and "個人番号の記載は省略" in text_of(plain.pdf)
    asked = documents.Options(household=False, my_number=True)
    shown = terminal.issue(
        session_factory, centre_client=in_process_centre, request=card_request(holder, options=asked)
    )
    assert spaced in text_of(shown.pdf)
    assert number not in caplog.text and spaced not in caplog.text
    stored = db.scalar(select(IssuedCertificate.summary).where(IssuedCertificate.number == shown.number))
    assert number not in str(stored)


def refused(
    session_factory: sessionmaker[Session], client: object, request: centre.CardRequest, error: type[DomainError]
) -> DomainError:
    with pytest.raises(error) as caught:
        terminal.issue(session_factory, centre_client=client, request=request)  # type: ignore[arg-type]
    return caught.value


def test_out_of_hours_year_end_and_maintenance_days_are_refused_and_logged(
    db: Session,
    session_factory: sessionmaker[Session],
    person: Callable[..., Person],
    in_process_centre,
    open_now: dt.datetime,
) -> None:
    holder = person()
    day = open_now.date()
    town = in_process_centre.municipalities["131016"]
    maintenance = next((d for d in town.maintenance_days if d > day + dt.timedelta(days=1)), None)  # the YAML's
    cases = [
        (dt.datetime.combine(day, dt.time(23, 0), JST), rules.OutOfHours),
        (dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6, 29), JST), rules.OutOfHours),
        (dt.datetime(day.year, 12, 30, 12, 0, tzinfo=JST), rules.ClosedDay),
        (dt.datetime(day.year + 1, 1, 3, 12, 0, tzinfo=JST), rules.ClosedDay),
    ]
    if maintenance is not None:
        cases.append((dt.datetime.combine(maintenance, dt.time(12, 0), JST), rules.ClosedDay))
    for instant, error in cases:
        with clock.frozen_at(max(instant, open_now)):
            refused(session_factory, in_process_centre, card_request(holder), error)
    with clock.frozen_at(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6, 30), JST)):
        assert terminal.issue(session_factory, centre_client=in_process_centre, request=card_request(holder)).number
    assert count(db, Refusal) == len(cases) and count(db, Sale) == 1
    assert {r.reason for r in db.scalars(select(Refusal))} == {"kiosk-out-of-hours", "kiosk-closed-day"}


def test_an_unpaid_fee_issues_nothing(db: Session, session_factory, person, in_process_centre) -> None:
    holder = person()
    refused(session_factory, in_process_centre, card_request(holder, tendered=200), centre.FeeUnpaid)
    refused(session_factory, in_process_centre, card_request(holder, copies=2, tendered=300), centre.FeeUnpaid)
    assert count(db, IssuedCertificate) == 0 and count(db, Sale) == 0
    change = terminal.issue(
        session_factory, centre_client=in_process_centre, request=card_request(holder, tendered=1000)
    )
    assert change.charged == 300 and change.change == 700


def test_wrong_pins_are_counted_on_the_chip_until_it_locks(session_factory, person, db: Session) -> None:
    holder = person()
    for tries_left in (2, 1):
        with pytest.raises(WrongPin):
            card_request(holder, pin="9999")
        assert holder.reader.tries_left("auth") == tries_left
    with pytest.raises((WrongPin, PinLocked)):
        card_request(holder, pin="9999")
    with pytest.raises(PinLocked):
        card_request(holder)  # the right PIN no longer opens a locked chip


def test_a_revoked_card_is_refused_with_the_reason(
    db: Session, session_factory, person, in_process_centre, ca_config: CaConfig, clerk: Caller
) -> None:
    holder = person()
    request = card_request(holder)  # signed while the card was in use
    cards.revoke_card(db, config=ca_config, card_id=holder.card.id, reason="loss_confirmed", caller=clerk)
    db.commit()
    error = refused(session_factory, in_process_centre, request, DomainError)
    assert error.status in (401, 403) and ("revoked" in error.detail or "not in use" in error.detail)


def test_a_resident_who_moved_out_is_refused(db: Session, session_factory, person, in_process_centre, clerk) -> None:
    holder = person()
    request = card_request(holder)
    registry.move_out(
        db,
        resident_id=holder.resident_id,
        data=MoveOut(event_date=clock.today(), destination="大阪府大阪市北区梅田一丁目1番1号"),
        caller=clerk,
    )
    db.commit()
    error = refused(session_factory, in_process_centre, request, DomainError)
    assert error.status in (401, 403, 404, 409)
    assert count(db, IssuedCertificate) == 0


def test_under_15_is_refused(session_factory, person, in_process_centre, open_now: dt.datetime) -> None:
    child = person(birth_date=(open_now.date() - dt.timedelta(days=365 * 14)).isoformat())
    refused(session_factory, in_process_centre, card_request(child), rules.TooYoung)


def test_the_municipality_server_down_charges_nothing(
    db: Session, session_factory, person, in_process_centre, kiosk_settings
) -> None:
    holder = person()
    key = ec.generate_private_key(ec.SECP256R1())
    down = clients.InProcessCentre(
        responder=in_process_centre.responder,
        municipalities=in_process_centre.municipalities,
        client=clients.HttpMunicipality(
            base_url=f"http://127.0.0.1:{free_port()}", centre_org="jlis", private_pem=private_key_pem(key), timeout=1
        ),
        caller=in_process_centre.caller,
    )
    error = refused(session_factory, down, card_request(holder), centre.MunicipalityDown)
    assert "nothing was charged" in error.title_en
    assert count(db, Sale) == 0 and count(db, IssuedCertificate) == 0
    assert db.scalar(select(Refusal.reason)) == "kiosk-municipality-down"
