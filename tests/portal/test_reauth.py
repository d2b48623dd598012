"""RecentCardAuth: a sensitive menu asks for the card again, then returns to where it was."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from openmyna.core import clock
from openmyna.core.web import UnitOfWorkRoute
from openmyna.portal.auth.dependencies import RecentCardAuth
from openmyna.portal.auth.service import PortalUser
from tests.portal.conftest import Holder, card_login, card_login_body, challenge, csrf_of

HTML = {"accept": "text/html"}


@pytest.fixture(autouse=True)
def _sensitive(app: FastAPI) -> None:
    router = APIRouter(route_class=UnitOfWorkRoute)

    @router.get("/portal/sensitive")
    def page(user: RecentCardAuth) -> dict[str, int]:
        return {"resident_id": user.resident_id}

    @router.post("/api/portal/sensitive")
    def api(user: RecentCardAuth) -> dict[str, int]:
        return {"resident_id": user.resident_id}

    app.include_router(router)


def _reauth(client: TestClient, holder: Holder, next_path: str) -> object:
    csrf, page = csrf_of(client, f"/portal/reauth?next={next_path}")
    assert "再度認証" in page
    body = card_login_body(holder, challenge(client, csrf, purpose="reauth"), next_path=next_path)
    return client.post("/api/portal/login/card", json=body, headers={"X-CSRF-Token": csrf})


def test_an_old_card_authentication_sends_the_page_to_the_card_and_back(
    client: TestClient, holder: Callable[..., Holder]
) -> None:
    me, someone = holder(), holder()
    card_login(client, me)
    assert client.get("/portal/sensitive").json() == {"resident_id": me.resident_id}
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=11)):
        page = client.get("/portal/sensitive?x=1", headers=HTML, follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == "/portal/reauth?next=%2Fportal%2Fsensitive%3Fx%3D1"
        api = client.post("/api/portal/sensitive")
        assert api.status_code == 401 and api.json()["type"].endswith("reauthentication-required")
        assert api.json()["reauthenticate"] == "/portal/reauth"
        wrong = _reauth(client, someone, "/portal/sensitive?x=1")
        assert wrong.status_code == 401 and "resident who is logged in" in wrong.json()["detail"]  # type: ignore[attr-defined]
        assert client.post("/api/portal/sensitive").status_code == 401
        done = _reauth(client, me, "/portal/sensitive?x=1")
        assert done.status_code == 200 and done.json() == {"next": "/portal/sensitive?x=1"}  # type: ignore[attr-defined]
        assert client.post("/api/portal/sensitive").json() == {"resident_id": me.resident_id}


def test_the_window_is_a_setting(holder: Callable[..., Holder]) -> None:
    user = PortalUser(1, 1, "person:x", "card", clock.now() - dt.timedelta(seconds=30))
    assert user.authenticated_within(dt.timedelta(seconds=60))
    assert not user.authenticated_within(dt.timedelta(seconds=10))
