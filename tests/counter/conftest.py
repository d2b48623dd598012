"""Counter fixtures: the town's staff (clerk, viewer), a clerk of another town, residents made by the API's path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.card import handlers
from openmyna.core.crypto import KeyRing
from openmyna.jpki.authority import CaConfig
from openmyna.orgs import service as orgs
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.schemas import ResidentCreate
from tests.jpki.conftest import authorities, ca_config, rsa_keys  # noqa: F401  (fixtures)
from tests.orgs.conftest import staff  # noqa: F401  (fixture)
from tests.orgs.web import PASSWORD, log_in
from tests.registry.test_api import mover

TOWN = "131016"
OTHER_TOWN = "011002"  # 札幌市中央区


@pytest.fixture(autouse=True)
def _configured(authorities: None, ca_config: CaConfig) -> None:  # noqa: F811
    handlers.configure(ca_config)


@pytest.fixture
def other_town_clerk(db: Session, keys: KeyRing, staff: None) -> None:  # noqa: F811
    """A clerk (the same role) of another municipality: the counter must refuse them."""
    orgs.add_organisation(db, keys=keys, code=OTHER_TOWN, name="札幌市中央区", kind="municipality")
    orgs.add_staff(db, org_code=OTHER_TOWN, username="sapporo", password=PASSWORD, display_name="札幌", role="clerk")
    db.commit()


@pytest.fixture
def clerk_client(client: TestClient, staff: None) -> TestClient:  # noqa: F811
    assert log_in(client).status_code == 303
    return client


@pytest.fixture
def town_clerk() -> Caller:
    return Caller(
        org_code=TOWN,
        actor="staff:api-clerk",
        scopes=frozenset(orgs.STAFF_ROLES["clerk"]),
        via="session",
    )


@pytest.fixture
def resident(db: Session, keys: KeyRing, town_clerk: Caller) -> Callable[..., int]:
    """A resident moved in through the registry service (as the API does); their id."""

    def make(**overrides: Any) -> int:
        data = ResidentCreate(**mover(my_number=None, **overrides))
        person = registry.create_resident(db, keys=keys, municipality_code=TOWN, data=data, caller=town_clerk)
        db.commit()
        return person.id

    return make
