"""The QR login through HTTP: the phone app's logic (``app_login``) against the page's one-time URL."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from openmyna.core import clock
from openmyna.portal.auth.app_login import app_login, check_url
from tests.portal.conftest import AUTH_PIN, LOGIN_URL, Holder, csrf_of

HTML = {"accept": "text/html"}


def _login_url(client: TestClient, next_path: str | None = None) -> tuple[str, str]:
    params = {"next": next_path} if next_path else {}
    page = client.get("/portal/login", params=params, headers=HTML)
    assert page.status_code == 200
    found = LOGIN_URL.search(page.text)
    assert found, "no #login-url on the login page"
    csrf, _ = csrf_of(client)
    return html.unescape(found.group(1)), csrf


def _status(client: TestClient) -> dict[str, object]:
    answer = client.get("/api/portal/login/qr/status")
    assert answer.status_code == 200, answer.text
    return answer.json()


def _continue(client: TestClient, csrf: str, next_path: str = "/portal") -> object:
    return client.post("/portal/login/qr/continue", data={"csrf": csrf, "next": next_path}, follow_redirects=False)


def test_the_phone_signs_and_the_waiting_browser_continues_to_next(
    client: TestClient, app: FastAPI, holder: Callable[..., Holder]
) -> None:
    me = holder()
    target = "/oidc/authorize?client_id=abc&redirect_uri=http%3A%2F%2Frp.example%2Fcb&state=s"
    url, csrf = _login_url(client, target)
    assert url.startswith("http://testserver/portal/qr/")
    assert _login_url(client, target)[0] == url  # a reload shows the same code while it is fresh
    assert _status(client)["state"] == "pending"
    pending = _continue(client, csrf, target)
    assert pending.status_code == 409  # type: ignore[attr-defined]  (the card has not signed yet)
    phone = TestClient(app)  # the phone: no cookie of the browser
    outcome = app_login(url, reader=me.reader, pin=AUTH_PIN, http=phone)
    assert outcome.ok, outcome.message
    assert _status(client)["state"] == "signed"
    done = _continue(client, csrf, target)
    assert done.status_code == 303 and done.headers["location"] == target  # type: ignore[attr-defined]
    assert client.get("/portal/settings/logins", headers=HTML).status_code == 200
    assert "2次元バーコード" in client.get("/portal/settings/logins", headers=HTML).text
    assert "マイページ" in client.get("/portal", headers=HTML).text

    again = app_login(url, reader=me.reader, pin=AUTH_PIN, http=phone)
    assert not again.ok and "already been used" in again.message


def test_wrong_pin_is_reported_to_the_waiting_page_and_a_lock_ends_the_login(
    client: TestClient, app: FastAPI, holder: Callable[..., Holder]
) -> None:
    me = holder()
    url, _csrf = _login_url(client)
    phone = TestClient(app)
    wrong = app_login(url, reader=me.reader, pin="0000", http=phone)
    assert not wrong.ok and wrong.message == "Wrong PIN: 2 tries left"
    assert _status(client) | {"expires_at": None} == {
        "state": "pending",
        "failure": "wrong-pin",
        "tries_left": 2,
        "expires_at": None,
    }
    assert me.reader.tries_left("auth") == 2  # counted by the chip
    page = client.get("/portal/login", headers=HTML)
    assert "残り回数" in page.text  # the message the page's script shows is on the page
    assert not app_login(url, reader=me.reader, pin="0000", http=phone).ok
    locked = app_login(url, reader=me.reader, pin="0000", http=phone)
    assert not locked.ok and locked.message.startswith("PIN locked")
    assert _status(client)["state"] == "failed"
    assert not app_login(url, reader=me.reader, pin=AUTH_PIN, http=phone).ok  # locked on the chip

    other = holder()
    url, _csrf = _login_url(client)
    assert url  # a fresh code once the last one ended
    assert app_login(url, reader=other.reader, pin=AUTH_PIN, http=phone).ok


def test_an_expired_code_is_refused_and_the_page_says_so(
    client: TestClient, app: FastAPI, holder: Callable[..., Holder]
) -> None:
    me = holder()
    url, csrf = _login_url(client)
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=2, seconds=1)):
        assert _status(client)["state"] == "expired"
        late = app_login(url, reader=me.reader, pin=AUTH_PIN, http=TestClient(app))
        assert not late.ok and "expired" in late.message
        page = _continue(client, csrf)
    assert page.status_code == 410  # type: ignore[attr-defined]
    assert "有効期限（2分）が切れました" in page.text  # type: ignore[attr-defined]
    fresh = LOGIN_URL.search(page.text)  # type: ignore[attr-defined]
    assert fresh and html.unescape(fresh.group(1)) != url  # and it shows a new code


def test_the_code_belongs_to_the_browser_that_showed_it(
    client: TestClient, app: FastAPI, holder: Callable[..., Holder]
) -> None:
    victim, attacker = holder(), holder()
    phone = TestClient(app)
    # Someone who reads the victim's code and signs it with their own card gets no session of their own ...
    url, _csrf = _login_url(client)
    onlooker = TestClient(app)
    onlooker_csrf, _ = csrf_of(onlooker)
    assert TestClient(app).get("/api/portal/login/qr/status").status_code == 404  # no code shown: nothing to wait on
    assert app_login(url, reader=attacker.reader, pin=AUTH_PIN, http=phone).ok
    assert onlooker.get("/api/portal/login/qr/status").json()["state"] == "pending"  # its own code, unsigned
    assert _continue(onlooker, onlooker_csrf).status_code != 303  # type: ignore[attr-defined]
    assert onlooker.get("/portal", headers=HTML).text.count("マイページ") == 0

    # ... and an attacker's own completed login cannot be pushed into the victim's browser.
    mine = TestClient(app)
    attacker_url, attacker_csrf = _login_url(mine)
    assert app_login(attacker_url, reader=attacker.reader, pin=AUTH_PIN, http=phone).ok
    fresh = TestClient(app)
    _victim_url, victim_csrf = _login_url(fresh)
    pushed = _continue(fresh, victim_csrf)
    assert pushed.status_code == 409  # type: ignore[attr-defined]  (its own code is still pending)
    assert "マイページ" not in fresh.get("/portal", headers=HTML).text
    assert _continue(mine, attacker_csrf).status_code == 303  # type: ignore[attr-defined]
    assert victim.resident_id != attacker.resident_id


def test_the_app_refuses_what_is_not_a_login_url() -> None:
    assert check_url("http://testserver/portal/qr/" + "a" * 32) is None
    for bad in ("ftp://x/portal/qr/" + "a" * 32, "http://x/portal/other/" + "a" * 32, "http://x/portal/qr/short", ""):
        assert check_url(bad)


def test_the_qr_endpoints_refuse_bad_input(client: TestClient, app: FastAPI) -> None:
    url, _csrf = _login_url(client)
    path = url.removeprefix("http://testserver")
    assert client.post(path, json={"certificate": "!!", "signature": "AA=="}).status_code == 401
    assert client.post(path, json={"certificate": "AA==", "signature": "AA==", "extra": 1}).status_code == 422
    assert client.post(path, json={"certificate": "A" * 9000, "signature": "AA=="}).status_code == 422
    assert client.post(path + "/failure", json={"failure": "anything"}).status_code == 422
    assert client.get("/portal/qr/" + "b" * 32, headers={"accept": "application/json"}).status_code == 404
    assert client.get("/portal/qr/bad%00token", headers={"accept": "application/json"}).status_code == 422
    assert client.get(path, headers=HTML).status_code == 200  # a person opening the URL gets a short page
