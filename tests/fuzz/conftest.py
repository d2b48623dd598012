"""Fixtures of the fuzz harness: long-lived tokens (a soak outlives the default five minutes) and the world."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from tests.fuzz import world


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"access_token_ttl_seconds": 24 * 3600})


@pytest.fixture
def fuzz_world(client: TestClient, db: Session, keys: KeyRing, tmp_path: Path) -> world.World:
    return world.build(client, db, keys, tmp_path)
