"""Fixtures of the provider's in-process tests: a linked site, a resident born through the registry API, a login."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.portal.oidc import service
from tests.portal.oidc.flow import REDIRECT_URI
from tests.portal.sessions import log_in

BIRTH = {
    "kind": "birth",
    "family_name": "山田",
    "given_name": "太郎",
    "family_name_kana": "ヤマダ",
    "given_name_kana": "タロウ",
    "birth_date": "2024-04-01",
    "sex": "male",
    "event_date": "2024-04-01",
    "address": {"postal_code": "102-0072", "town": "飯田橋三丁目", "block": "5番1号"},
}


@pytest.fixture(autouse=True)
def _plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """TestClient speaks to ``http://testserver``; authlib requires https except on loopback (the live tests)."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def rp(db: Session, keys: KeyRing) -> service.NewRelyingParty:
    created = service.register_relying_party(
        db,
        keys=keys,
        name="テスト銀行",
        redirect_uris=[REDIRECT_URI],
        post_logout_redirect_uris=["https://rp.example/bye"],
    )
    db.commit()
    return created


@pytest.fixture
def resident_id(client: TestClient, town_headers: dict[str, str]) -> int:
    created = client.post("/api/registry/residents", json=BIRTH, headers=town_headers)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


@pytest.fixture
def logged_in(client: TestClient, resident_id: int) -> int:
    log_in(client, resident_id=resident_id)
    return resident_id
