"""Demo cards: every persona holds a card in use with known PINs; a few dozen others at each lifecycle step.

Key pairs are generated on each virtual chip (about 50 ms per RSA-2048 pair), so only a small share of
the town gets a chip; the rest of the statistics come from earlier steps, spread over the last two weeks.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.card import service
from openmyna.card.chip import KeySource, new_key
from openmyna.card.models import Card
from openmyna.core import clock
from openmyna.jpki.authority import CaConfig, ensure_authorities
from openmyna.orgs.service import Caller

AUTH_PIN = "1234"
SIGN_PIN = "OPENMYNA1"
DAYS = 14
CHIP_KEYS = 49  # the pairs seed_cards makes for a town of a hundred residents or more (counted)


@dataclass(frozen=True)
class DemoCard:
    persona: str
    card_id: int
    state: str
    auth_pin: str
    sign_pin: str | None


def _clerk(municipality_code: str) -> Caller:
    return Caller(org_code=municipality_code, actor="staff:demo-seed", scopes=frozenset({"card:write"}), via="seed")


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10, 0), clock.JST)


def _through(
    session: Session, config: CaConfig, card: Card, caller: Caller, last: str, day: dt.date, new_key: KeySource
) -> None:
    steps = ("shipped", "setup", "handed_over")
    for offset, step in enumerate(steps[: steps.index(last) + 1] if last != "applied" else ()):
        when = day + dt.timedelta(days=offset * 2)
        while when.weekday() >= 5:
            when += dt.timedelta(days=1)
        with clock.frozen_at(_at(min(when, clock.today()))):
            if step == "shipped":
                service.manufacture(session, keys=config.keys, card_id=card.id, caller=caller)
            elif step == "setup":
                service.setup(session, config=config, card_id=card.id, caller=caller, new_key=new_key)
            else:
                service.hand_over(
                    session,
                    keys=config.keys,
                    card_id=card.id,
                    caller=caller,
                    auth_pin=AUTH_PIN,
                    sign_pin=SIGN_PIN if card.with_signing else None,
                    identity_checked=True,
                )


def seed_cards(
    session: Session,
    *,
    config: CaConfig,
    municipality_code: str,
    personas: dict[str, int],
    others: list[int],
    seed: int,
    new_key: KeySource = new_key,
) -> list[DemoCard]:
    """Cards in use for the personas; ``others`` spread over application, shipment, setup and hand-over.

    ``new_key`` makes the chips' pairs: :data:`CHIP_KEYS` of them, made ahead by
    :class:`~openmyna.card.chip.KeysAhead` in ``seed_world`` while the town is loaded.
    """
    ensure_authorities(session, config=config)
    caller = _clerk(municipality_code)
    rng = random.Random(seed)
    today = clock.today()
    made = []
    for key, resident_id in personas.items():
        with clock.frozen_at(_at(today - dt.timedelta(days=DAYS))):
            card = service.apply(session, resident_id=resident_id, caller=caller)
        _through(session, config, card, caller, "handed_over", today - dt.timedelta(days=DAYS), new_key)
        made.append(DemoCard(key, card.id, card.state, AUTH_PIN, SIGN_PIN if card.with_signing else None))
    for index, resident_id in enumerate(others):
        day = today - dt.timedelta(days=rng.randrange(DAYS))
        with clock.frozen_at(_at(day)):
            channel = ("self", "employer", "municipal_visit")[index % 3]
            card = service.apply(
                session,
                resident_id=resident_id,
                caller=caller,
                channel=channel,
                employer_code="T8000012345678" if channel == "employer" else "",
            )
        _through(session, config, card, caller, ("applied", "shipped", "setup", "handed_over")[index % 4], day, new_key)
    session.flush()
    return made


def find_cards(session: Session, *, personas: dict[str, int]) -> list[DemoCard]:
    """The personas' cards of an already seeded database."""
    found = []
    for key, resident_id in personas.items():
        card = session.scalars(select(Card).where(Card.resident_id == resident_id).order_by(Card.id.desc())).first()
        if card is not None:
            found.append(DemoCard(key, card.id, card.state, AUTH_PIN, SIGN_PIN if card.with_signing else None))
    return found
