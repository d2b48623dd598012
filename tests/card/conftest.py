"""Card fixtures: residents from the registry service, and cards taken through their lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from openmyna.card import handlers
from openmyna.card import service as cards
from openmyna.card.models import Card
from openmyna.core.crypto import KeyRing
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.schemas import ResidentCreate
from tests.jpki.conftest import authorities, ca_config, rsa_keys  # noqa: F401  (fixtures)
from tests.registry.test_api import mover

AUTH_PIN, SIGN_PIN = "1234", "ABC123"


@pytest.fixture(autouse=True)
def _configured(authorities: None, ca_config: CaConfig) -> None:  # noqa: F811
    handlers.configure(ca_config)


@pytest.fixture
def resident(db: Session, keys: KeyRing, clerk: Caller) -> Callable[..., int]:
    def make(**overrides: Any) -> int:
        data = ResidentCreate(**mover(my_number=None, **overrides))
        person = registry.create_resident(db, keys=keys, municipality_code="131016", data=data, caller=clerk)
        db.flush()
        return person.id

    return make


@pytest.fixture
def active_card(db: Session, ca_config: CaConfig, clerk: Caller, resident: Callable[..., int]) -> Callable[..., Card]:  # noqa: F811
    def make(resident_id: int | None = None, **apply: Any) -> Card:
        rid = resident_id or resident()
        card = cards.apply(db, resident_id=rid, caller=clerk, **apply)
        cards.manufacture(db, keys=ca_config.keys, card_id=card.id, caller=clerk)
        cards.setup(db, config=ca_config, card_id=card.id, caller=clerk)
        sign_pin = SIGN_PIN if card.with_signing else None
        cards.hand_over(
            db,
            keys=ca_config.keys,
            card_id=card.id,
            caller=clerk,
            auth_pin=AUTH_PIN,
            sign_pin=sign_pin,
            identity_checked=True,
        )
        db.flush()
        return card

    return make
