"""Proxy use (代理人): grant, accept, switch, use within the grant, return, withdraw, resign, expiry."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.audit import AccessEvent
from openmyna.portal.proxy import service
from openmyna.portal.proxy.models import ProxyGrant
from openmyna.registry.models import Resident
from tests.portal.proxy.conftest import Pair

HTML = {"accept": "text/html"}


def _problem(response: object, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert str(body["type"]).endswith("/" + slug), body
    assert body["title"] and body["title_ja"]
    return body


def _subject(db: Session, resident_id: int) -> str:
    found = db.get(Resident, resident_id)
    assert found is not None
    return found.pseudonym


def test_a_proxy_accepts_switches_uses_a_granted_menu_and_everything_is_shown_to_the_principal(
    pair: Pair, db: Session
) -> None:
    made = pair.grant(menus=("history", "notices"))
    assert made["grant"]["state"] == "pending" and len(made["invitation_code"]) == 19
    stored = db.scalars(select(ProxyGrant)).one()
    assert made["invitation_code"].encode() not in (stored.invitation_hash or b"")  # only a digest is kept

    taken = pair.proxy.api("/api/portal/proxy/accept", {"code": made["invitation_code"].lower().replace("-", " ")})
    assert taken.status_code == 200 and taken.json()["state"] == "active", taken.text
    assert taken.json()["principal_name"] == "鈴木 一郎"
    grant_id = taken.json()["id"]

    page = pair.proxy.client.get("/portal/proxy", headers=HTML)
    assert f'id="switch-{grant_id}"' in page.text and "鈴木 一郎さんの代理で利用する" in page.text
    switched = pair.proxy.form(f"/portal/proxy/switch/{grant_id}")
    assert switched.status_code == 303 and switched.headers["location"] == "/portal"

    mypage = pair.proxy.client.get("/portal", headers=HTML)
    assert 'id="proxy-banner"' in mypage.text and "鈴木 一郎さんの代理で利用中" in mypage.text
    assert 'id="menu-a"' in mypage.text and 'id="menu-b"' not in mypage.text  # only the granted menus link
    assert 'href="/portal/settings"' not in mypage.text

    history = pair.proxy.client.get("/api/portal/history")
    assert history.status_code == 200 and history.json()["citizen"] == _subject(db, pair.principal.resident_id)
    assert pair.proxy.client.get("/portal/notices", headers=HTML).status_code == 200

    refused = pair.proxy.client.get("/portal/mydata", headers=HTML)
    assert refused.status_code == 403 and "この機能は代理で利用できません" in refused.text
    assert 'id="proxy-banner"' in refused.text  # still acting: the way back is on the page
    english = pair.proxy.client.get("/portal/mydata?lang=en", headers=HTML)
    assert english.status_code == 403 and "This menu is not open to you as a proxy" in english.text

    back = pair.proxy.form("/portal/proxy/return")
    assert back.status_code == 303
    own = pair.proxy.client.get("/portal", headers=HTML)
    assert 'id="proxy-banner"' not in own.text and 'id="menu-b"' in own.text
    assert pair.proxy.client.get("/api/portal/history").json()["citizen"] == _subject(db, pair.proxy.resident_id)

    principal_subject = _subject(db, pair.principal.resident_id)
    proxy_subject = _subject(db, pair.proxy.resident_id)
    events = db.scalars(select(AccessEvent).where(AccessEvent.subject == principal_subject)).all()
    by_proxy = [e for e in events if e.actor == proxy_subject]
    actions = {e.action for e in by_proxy}
    assert {service.ACCEPTED, service.SWITCH, service.USE, "portal.history.read", service.RETURN} <= actions
    assert any(e.action == service.USE and e.purpose.endswith("GET /portal/mydata (refused)") for e in by_proxy)
    history_reads = [e for e in events if e.action == "portal.history.read"]
    assert history_reads and all(e.actor == proxy_subject for e in history_reads)  # labelled, not "self"

    shown = pair.principal.client.get("/portal/proxy", headers=HTML)
    assert 'id="proxy-uses"' in shown.text and "代理人: 高橋 健太" in shown.text
    assert "GET /api/portal/history" in shown.text
    logins = pair.principal.client.get("/portal/settings/logins", headers=HTML)
    assert "代理人がご自身のカードで代理利用を開始" in logins.text
    mine = pair.proxy.client.get("/portal/proxy?lang=ja", headers=HTML)
    assert 'id="proxy-own"' in mine.text and "代理での利用を開始" in mine.text and "代理での利用を終了" in mine.text


def test_a_proxy_cannot_grant_change_settings_consent_or_accept_for_the_principal(pair: Pair, db: Session) -> None:
    pair.acting(menus=("history", "mydata", "notices", "payments"))
    before = db.scalar(select(ProxyGrant.id).order_by(ProxyGrant.id.desc()))
    body = {
        "family_name": "誰",
        "given_name": "か",
        "birth_date": "1990-01-01",
        "menus": ["history"],
        "ends_on": clock.today().isoformat(),
    }
    _problem(pair.proxy.api("/api/portal/proxy/grants", body), 403, "proxy-menu-not-granted")
    assert pair.proxy.client.get("/portal/proxy/new", headers=HTML).status_code == 403
    assert pair.proxy.form("/portal/settings/nickname", {"nickname": "x"}).status_code == 403
    assert pair.proxy.form("/portal/settings/email", {"email": "x@example.jp"}).status_code == 403
    assert pair.proxy.client.get("/portal/settings/logins", headers=HTML).status_code == 403
    assert pair.proxy.client.get("/portal/linked-sites", headers=HTML).status_code == 403
    assert pair.proxy.client.get("/oidc/authorize?client_id=x", headers=HTML).status_code == 403
    assert pair.proxy.client.get("/portal/notices/delivery", headers=HTML).status_code == 403
    _problem(pair.proxy.api("/api/portal/proxy/accept", {"code": "AAAA"}), 403, "proxy-menu-not-granted")
    assert db.scalar(select(ProxyGrant.id).order_by(ProxyGrant.id.desc())) == before


def test_withdrawal_ends_the_rights_at_once_even_mid_session(pair: Pair, db: Session) -> None:
    grant_id = pair.acting(menus=("history",))
    assert pair.proxy.client.get("/api/portal/history").status_code == 200
    gone = pair.principal.form(f"/portal/proxy/grants/{grant_id}/withdraw")
    assert gone.status_code == 303 and gone.headers["location"] == "/portal/proxy?done=withdrawn"

    body = _problem(pair.proxy.client.get("/api/portal/history"), 403, "proxy-rights-ended")
    assert body["title_ja"] == "代理で利用する権限は終了しています" and body["title"] == "Your proxy rights have ended"
    own = pair.proxy.client.get("/api/portal/history")  # the session went back to the proxy's own
    assert own.status_code == 200 and own.json()["citizen"] == _subject(db, pair.proxy.resident_id)
    _problem(pair.proxy.api(f"/api/portal/proxy/switch/{grant_id}"), 403, "proxy-rights-ended")
    _problem(pair.principal.api(f"/api/portal/proxy/grants/{grant_id}/withdraw"), 409, "conflict")
    listed = pair.principal.client.get("/api/portal/proxy").json()
    assert [g["state"] for g in listed["given"]] == ["withdrawn"]


def test_a_proxy_past_the_end_date_is_refused_clearly_and_nothing_changes(pair: Pair, db: Session) -> None:
    # Yesterday 23:50 (Japan time) the grant ends "today"; ten minutes later it is over, mid-session. (Both
    # instants lie before the sessions' own start, so the idle timeout is not what ends them.)
    today = clock.today()
    with clock.frozen_at(dt.datetime.combine(today - dt.timedelta(days=1), dt.time(23, 50), tzinfo=clock.JST)):
        grant_id = pair.acting(menus=("history",), days=0)
        assert pair.proxy.client.get("/api/portal/history").status_code == 200
    with clock.frozen_at(dt.datetime.combine(today, dt.time(0, 0, 1), tzinfo=clock.JST)):
        count = len(db.scalars(select(AccessEvent)).all())
        page = pair.proxy.client.get("/portal/history", headers=HTML)
        assert page.status_code == 403 and "代理で利用する権限は終了しています" in page.text
        assert "何も変更されていません" in page.text and 'id="proxy-banner"' not in page.text
        assert len(db.scalars(select(AccessEvent)).all()) == count  # the refusal read nothing of the principal
        english = pair.proxy.api(f"/api/portal/proxy/switch/{grant_id}")
        assert _problem(english, 403, "proxy-rights-ended")["detail"].endswith(
            f"ended on {clock.today() - dt.timedelta(days=1)}"
        )  # type: ignore[union-attr]
        assert pair.proxy.client.get("/api/portal/proxy").json()["held"][0]["state"] == "expired"
        assert pair.principal.client.get("/api/portal/proxy").json()["given"][0]["state"] == "expired"


def test_the_proxy_can_resign(pair: Pair) -> None:
    grant_id = pair.accepted()
    assert pair.proxy.form(f"/portal/proxy/grants/{grant_id}/resign").status_code == 303
    assert pair.principal.client.get("/api/portal/proxy").json()["given"][0]["state"] == "resigned"
    _problem(pair.proxy.api(f"/api/portal/proxy/switch/{grant_id}"), 403, "proxy-rights-ended")
    _problem(pair.principal.api(f"/api/portal/proxy/grants/{grant_id}/resign"), 404, "proxy-grant-not-found")


def test_an_invitation_works_once_for_the_named_person_only(pair: Pair, client: TestClient, db: Session) -> None:
    made = pair.grant(given_name="健二")  # not the proxy's registered name
    code = made["invitation_code"]
    _problem(pair.proxy.api("/api/portal/proxy/accept", {"code": code}), 403, "proxy-invitation-not-for-you")
    _problem(pair.principal.api("/api/portal/proxy/accept", {"code": code}), 409, "proxy-self")
    other = pair.grant(birth_date="1992-07-08")
    _problem(
        pair.proxy.api("/api/portal/proxy/accept", {"code": other["invitation_code"]}),
        403,
        "proxy-invitation-not-for-you",
    )
    assert all(service.state(g) == "pending" for g in db.scalars(select(ProxyGrant)))  # nothing changed

    right = pair.grant()
    assert pair.proxy.api("/api/portal/proxy/accept", {"code": right["invitation_code"]}).status_code == 200
    _problem(
        pair.proxy.api("/api/portal/proxy/accept", {"code": right["invitation_code"]}), 400, "proxy-invitation-invalid"
    )
    _problem(
        pair.proxy.api("/api/portal/proxy/accept", {"code": "ABCD-EFGH-JKLM-NPQR"}), 400, "proxy-invitation-invalid"
    )
    with clock.frozen_at(clock.now() - dt.timedelta(days=service.INVITATION_DAYS, minutes=1)):
        late = pair.grant()  # made over a week ago: the invitation has lapsed
    _problem(
        pair.proxy.api("/api/portal/proxy/accept", {"code": late["invitation_code"]}), 400, "proxy-invitation-invalid"
    )
    page = pair.proxy.form("/portal/proxy/accept", {"code": "WRONG"}, headers=HTML)
    assert page.status_code == 400 and "招待コードが正しくないか" in page.text


def test_granting_needs_the_card_again_and_a_csrf_token(pair: Pair, db: Session) -> None:
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=11)):
        body = {
            "family_name": "高橋",
            "given_name": "健太",
            "birth_date": "1992-07-07",
            "menus": ["history"],
            "ends_on": clock.today().isoformat(),
        }
        _problem(pair.principal.api("/api/portal/proxy/grants", body), 401, "reauthentication-required")
        page = pair.principal.client.get("/portal/proxy/new", headers=HTML, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/portal/reauth?next=%2Fportal%2Fproxy%2Fnew"
        posted = pair.principal.form("/portal/proxy/grants", {"family_name": "高橋"}, headers=HTML)
        assert posted.status_code == 303 and posted.headers["location"].startswith("/portal/reauth?next=")
    forged = pair.principal.client.post(
        "/api/portal/proxy/grants",
        json={
            "family_name": "高橋",
            "given_name": "健太",
            "birth_date": "1992-07-07",
            "menus": ["history"],
            "ends_on": clock.today().isoformat(),
        },
        headers={"X-CSRF-Token": "forged"},
    )
    _problem(forged, 403, "forbidden")
    form = pair.principal.client.post(
        "/portal/proxy/grants", data={"csrf": "forged", "family_name": "高橋"}, headers=HTML
    )
    assert form.status_code == 403
    assert db.scalars(select(ProxyGrant)).all() == []
    grant_id = pair.accepted()
    for path in (
        f"/portal/proxy/switch/{grant_id}",
        f"/portal/proxy/grants/{grant_id}/withdraw",
        "/portal/proxy/accept",
    ):
        assert pair.proxy.client.post(path, data={"csrf": "forged"}).status_code == 403, path
    assert (
        pair.principal.client.post(f"/portal/proxy/grants/{grant_id}/withdraw", data={"csrf": "x"}).status_code == 403
    )
    assert service.state(db.get(ProxyGrant, grant_id)) == "active"  # type: ignore[arg-type]


def test_bad_grants_are_refused_in_both_languages_and_nothing_is_made(pair: Pair, db: Session) -> None:
    today = clock.today()
    good = {
        "family_name": "高橋",
        "given_name": "健太",
        "birth_date": "1992-07-07",
        "menus": ["history"],
        "ends_on": today.isoformat(),
    }
    for change, status in (
        ({"ends_on": (today + dt.timedelta(days=service.MAX_DAYS + 1)).isoformat()}, 400),
        ({"ends_on": (today - dt.timedelta(days=1)).isoformat()}, 400),
        ({"birth_date": (today + dt.timedelta(days=1)).isoformat()}, 400),
        ({"family_name": "高\x00橋"}, 422),
        ({"menus": ["settings"]}, 422),
        ({"menus": []}, 422),
        ({"family_name": "x" * 51}, 422),
        ({"ends_on": "2026-02-30"}, 422),
    ):
        answer = pair.principal.api("/api/portal/proxy/grants", {**good, **change})
        assert answer.status_code == status, (change, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    page = pair.principal.form(
        "/portal/proxy/grants",
        {
            "family_name": "高橋",
            "given_name": "健太",
            "birth_date": "1992-07-07",
            "ends_on": "2099-01-01",
            "menus": "history",
        },
        headers=HTML,
    )
    assert page.status_code == 400 and 'id="grant-error"' in page.text and "入力が正しくありません" in page.text
    unknown = pair.principal.form(
        "/portal/proxy/grants?lang=en",
        {
            "family_name": "高橋",
            "given_name": "健太",
            "birth_date": "1992-07-07",
            "ends_on": today.isoformat(),
            "menus": "settings",
        },
        headers=HTML,
    )
    assert unknown.status_code == 400 and "Invalid input" in unknown.text and "unknown menus: settings" in unknown.text
    assert db.scalars(select(ProxyGrant)).all() == []


def test_paths_belong_to_menus_as_the_grant_names_them() -> None:
    assert service.menu_of_path("/portal/history") == "history"
    assert service.menu_of_path("/api/portal/history") == "history"
    assert service.menu_of_path("/portal/notices/12") == "notices"
    assert service.menu_of_path("/portal/notices/delivery") is None  # D: consent to third parties, never granted
    assert service.menu_of_path("/portal/notices/delivery/x") is None
    assert service.menu_of_path("/portal/historyx") is None
    assert service.menu_of_path("/portal/payments/3/pay") == "payments"
    assert service.menu_of_path("/portal/settings") is None
    assert service.always_open("/portal") and not service.always_open("/portal/proxy/grants")
