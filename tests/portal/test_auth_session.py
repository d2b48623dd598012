"""The portal's resident session: pages redirect to the login, APIs answer 401, a login is an event."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.audit import events_for
from openmyna.core.web import UnitOfWorkRoute
from openmyna.portal.auth.dependencies import CurrentUser
from openmyna.portal.auth.service import LOGIN_ACTION
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


def _probe_routes(client: TestClient) -> None:
    router = APIRouter(route_class=UnitOfWorkRoute)

    @router.get("/portal/probe")
    def page(user: CurrentUser) -> dict[str, object]:
        return {"resident_id": user.resident_id, "subject": user.subject, "method": user.method}

    @router.get("/api/portal/probe")
    def api(user: CurrentUser) -> dict[str, object]:
        return {"resident_id": user.resident_id}

    client.app.include_router(router)  # type: ignore[attr-defined]


def test_pages_redirect_to_login_apis_answer_401_and_a_login_is_an_event(
    client: TestClient, town_headers: dict[str, str], db: Session
) -> None:
    _probe_routes(client)
    page = client.get("/portal/probe?x=1", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/portal/login?next=%2Fportal%2Fprobe%3Fx%3D1"
    api = client.get("/api/portal/probe")
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["type"].endswith("login-required")

    created = client.post("/api/registry/residents", json=BIRTH, headers=town_headers)
    assert created.status_code == 201, created.text
    resident_id = created.json()["id"]
    log_in(client, resident_id=resident_id)
    me = client.get("/portal/probe", headers={"accept": "text/html"})
    assert me.status_code == 200
    assert me.json()["resident_id"] == resident_id and me.json()["method"] == "card"
    assert any(e.action == LOGIN_ACTION for e in events_for(db, me.json()["subject"]))
