"""Kiosk fixtures: an open hour on the one clock, a resident with a card, a seal and a tax assessment, a store."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from openmyna.card.models import Card
from openmyna.card.reader import VirtualReader
from openmyna.core import clock
from openmyna.core.config import Settings
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import Responder
from openmyna.kiosk import centre, clients, documents, rules, runtime, terminal
from openmyna.kiosk.demo import DEFAULT_STORE, ensure_stores
from openmyna.localtax import service as localtax
from openmyna.orgs.service import Caller
from openmyna.registry import seals
from tests.card.conftest import AUTH_PIN, _configured, active_card, resident  # noqa: F401  (fixtures)
from tests.jpki.conftest import authorities, ca_config, rsa_keys  # noqa: F401  (fixtures)

JST = clock.JST


def open_instant(real: dt.datetime | None = None) -> dt.datetime:
    """The earliest instant at or after ``real`` (default: now) when the demo town's stores issue.

    Never before the real time: the test CAs were made at the real time, and their certificates must be valid.
    """
    at = (real or dt.datetime.now(dt.UTC)).astimezone(JST).replace(microsecond=0)
    town = runtime.participating(Settings())["131016"]
    while True:
        day = at.date()
        if not (rules.year_end(day) or day in town.maintenance_days) and at.time() < rules.CLOSES:
            return max(at, dt.datetime.combine(day, rules.OPENS, JST))
        at = dt.datetime.combine(day + dt.timedelta(days=1), rules.OPENS, JST)


@pytest.fixture
def open_now() -> Iterator[dt.datetime]:
    """Freeze the one clock at a time stores are open (close to the real time, for outside checkers)."""
    at = open_instant()
    with clock.frozen_at(at):
        yield at


@dataclass
class Person:
    card: Card
    reader: VirtualReader
    resident_id: int


@pytest.fixture
def person(
    db: Session,
    session_factory: sessionmaker[Session],
    ca_config: CaConfig,  # noqa: F811
    active_card: Callable[..., Card],  # noqa: F811
    resident: Callable[..., int],  # noqa: F811
    clerk: Caller,
    open_now: dt.datetime,
) -> Callable[..., Person]:
    """A resident with a card in use (PIN ``AUTH_PIN``), a registered seal and a tax assessment, committed."""

    def make(**overrides: object) -> Person:
        rid = resident(**overrides)
        card = active_card(resident_id=rid)
        with contextlib.suppress(seals.SealNotAllowed):
            seals.register(db, resident_id=rid, seal_png=seals.demo_seal_png("山田"), caller=clerk)
        year = open_now.year
        localtax.record_assessment(
            db, resident_id=rid, assessment=localtax.assess(fiscal_year=year, income=4_200_000, dependants=1)
        )
        ensure_stores(db, keys=ca_config.keys)
        db.commit()
        return Person(card, VirtualReader(session_factory, ca_config.keys, card.id), rid)

    return make


@pytest.fixture
def kiosk_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
def in_process_centre(
    session_factory: sessionmaker[Session],
    kiosk_settings: Settings,
    ca_config: CaConfig,  # noqa: F811
) -> clients.InProcessCentre:
    responder = Responder(session_factory, ca_config)
    return clients.InProcessCentre(
        responder=responder,
        municipalities=runtime.participating(kiosk_settings),
        client=clients.InProcessMunicipality(
            config=ca_config, caller=runtime.centre_caller(kiosk_settings), base_url=ca_config.base_url
        ),
        caller=runtime.centre_caller(kiosk_settings),
    )


def card_request(
    person: Person,
    *,
    kind: str = "juminhyo",
    pin: str = AUTH_PIN,
    copies: int = 1,
    options: documents.Options | None = None,
    tendered: int | None = None,
    request_key: str | None = None,
    store: str = DEFAULT_STORE,
) -> centre.CardRequest:
    """What a terminal sends once the card signed (the chip counts the PIN)."""
    key = request_key or terminal.new_request_key()
    signed = terminal.sign_with_card(person.reader, pin=pin, store=store, request_key=key, kind=kind, copies=copies)
    return centre.CardRequest(
        store=store,
        request_key=key,
        signed_at=signed.signed_at,
        kind=kind,
        options=options or documents.Options(),
        copies=copies,
        tendered=tendered,
        certificate=signed.certificate,
        signature=signed.signature,
    )
