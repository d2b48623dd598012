"""Proxy tests: a principal and a proxy made through the registry service, each with a browser of their own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core import clock
from tests.card.conftest import resident  # noqa: F401  (fixture)
from tests.portal.conftest import csrf_of
from tests.portal.sessions import log_in

PRINCIPAL = {
    "family_name": "鈴木",
    "family_name_kana": "スズキ",
    "given_name": "一郎",
    "given_name_kana": "イチロウ",
    "birth_date": "1948-11-23",
    "sex": "male",
}
PROXY = {
    "family_name": "高橋",
    "family_name_kana": "タカハシ",
    "given_name": "健太",
    "given_name_kana": "ケンタ",
    "birth_date": "1992-07-07",
    "sex": "male",
}


@dataclass
class Browser:
    """One person's logged-in browser and the session's CSRF token (for forms and ``X-CSRF-Token``)."""

    client: TestClient
    resident_id: int

    @cached_property
    def csrf(self) -> str:
        return csrf_of(self.client, "/portal")[0]  # the session's token: the same for the whole session

    def api(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(path, json=body, headers={"X-CSRF-Token": self.csrf})

    def form(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, data={"csrf": self.csrf, **(data or {})}, follow_redirects=False, **kwargs)


@dataclass
class Pair:
    principal: Browser
    proxy: Browser

    def grant(self, *, menus: tuple[str, ...] = ("history", "notices"), days: int = 30, **who: Any) -> dict[str, Any]:
        body = {
            "family_name": who.get("family_name", "高橋"),
            "given_name": who.get("given_name", "健太"),
            "birth_date": who.get("birth_date", "1992-07-07"),
            "menus": list(menus),
            "ends_on": (clock.today() + dt.timedelta(days=days)).isoformat(),
        }
        made = self.principal.api("/api/portal/proxy/grants", body)
        assert made.status_code == 201, made.text
        return made.json()  # type: ignore[no-any-return]

    def accepted(self, **grant: Any) -> int:
        made = self.grant(**grant)
        taken = self.proxy.api("/api/portal/proxy/accept", {"code": made["invitation_code"]})
        assert taken.status_code == 200, taken.text
        return int(taken.json()["id"])

    def acting(self, **grant: Any) -> int:
        grant_id = self.accepted(**grant)
        switched = self.proxy.api(f"/api/portal/proxy/switch/{grant_id}")
        assert switched.status_code == 200, switched.text
        return grant_id


@pytest.fixture
def pair(
    app: FastAPI,
    client: TestClient,
    db: Session,
    resident: Callable[..., int],  # noqa: F811
) -> Iterator[Pair]:
    """鈴木 一郎 (the principal) and 高橋 健太 (the proxy), both logged in, each in their own browser."""
    principal_id = resident(**PRINCIPAL)
    proxy_id = resident(**PROXY)
    db.commit()
    with TestClient(app) as other:
        log_in(client, resident_id=principal_id)
        log_in(other, resident_id=proxy_id)
        yield Pair(Browser(client, principal_id), Browser(other, proxy_id))
