"""Login with the card on this computer, through HTTP: the session, its end, and every refusal."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.card.chip import PinLocked, WrongPin
from openmyna.card.reader_http import create_reader_app
from openmyna.core import clock
from openmyna.core.audit import AccessEvent
from openmyna.core.web import UnitOfWorkRoute
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.service import Caller
from openmyna.portal.auth.dependencies import CurrentUser
from openmyna.portal.auth.models import LoginTransaction
from openmyna.portal.auth.service import LOGIN_ACTION, LOGOUT_ACTION
from tests.card.conftest import SIGN_PIN
from tests.portal.conftest import AUTH_PIN, Holder, card_login, card_login_body, challenge, csrf_of

HTML = {"accept": "text/html"}


def _me(client: TestClient) -> int:
    answer = client.get("/api/portal/probe")
    return answer.status_code


@pytest.fixture(autouse=True)
def _probe(client: TestClient) -> None:
    from fastapi import APIRouter

    router = APIRouter(route_class=UnitOfWorkRoute)

    @router.get("/api/portal/probe")
    def probe(user: CurrentUser) -> dict[str, object]:
        return {"resident_id": user.resident_id, "method": user.method}

    client.app.include_router(router)  # type: ignore[attr-defined]


def _problem(answer: object, status: int, slug: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    assert answer.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert body["type"].endswith(slug), body
    return body


def test_card_login_starts_a_session_shows_my_page_and_logout_really_ends_it(
    client: TestClient, db: Session, holder: Callable[..., Holder]
) -> None:
    me = holder()
    assert _me(client) == 401
    assert card_login(client, me, next_path="/portal/history?page=2") == "/portal/history?page=2"
    assert client.get("/api/portal/probe").json() == {"resident_id": me.resident_id, "method": "card"}
    page = client.get("/portal", headers=HTML)
    assert "connect-src" not in page.headers["content-security-policy"]  # only the login page reaches the reader
    login_page = client.get("/portal/login", headers=HTML, follow_redirects=False)
    assert login_page.status_code == 303  # logged in: straight on
    assert "マイページ" in page.text and 'href="/portal/history"' in page.text
    for link in ("/portal/notices", "/portal/payments", "/portal/linked-sites", "/portal/settings", "/portal/faq"):
        assert f'href="{link}"' in page.text
    logins = client.get("/portal/settings/logins", headers=HTML)
    assert "マイナンバーカード（このパソコン）" in logins.text
    subject = me.card.subject
    assert db.scalar(select(AccessEvent).where(AccessEvent.subject == subject, AccessEvent.action == LOGIN_ACTION))

    stolen = dict(client.cookies)
    csrf, _ = csrf_of(client, "/portal")
    assert client.post("/portal/logout", data={"csrf": "wrong"}).status_code == 403
    assert _me(client) == 200  # a forged logout changes nothing
    out = client.post("/portal/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/portal?logged_out=1"
    assert _me(client) == 401
    client.cookies.clear()
    for name, value in stolen.items():
        client.cookies.set(name, value)
    assert _me(client) == 401  # the old cookie opens nothing: the server session is gone
    assert "ログインする" in client.get("/portal", headers=HTML).text
    assert db.scalar(select(AccessEvent).where(AccessEvent.subject == subject, AccessEvent.action == LOGOUT_ACTION))


def test_wrong_pin_is_counted_by_the_chip_and_locks_at_zero(client: TestClient, holder: Callable[..., Holder]) -> None:
    me = holder()
    reader = TestClient(create_reader_app(me.reader, allowed_origins=["http://testserver"]))
    csrf, _ = csrf_of(client)
    data = base64.b64encode(challenge(client, csrf)).decode()
    for left in (2, 1):
        wrong = reader.post("/reader/sign", json={"challenge": data, "pin": "9999"})
        assert _problem(wrong, 403, "card-wrong-pin")["tries_left"] == left
    assert me.reader.tries_left("auth") == 1
    locked = reader.post("/reader/sign", json={"challenge": data, "pin": "9999"})
    _problem(locked, 423, "card-pin-locked")
    with pytest.raises(PinLocked):
        me.reader.sign("auth", AUTH_PIN, data=b"x")  # even the right PIN, until reset at the counter
    with pytest.raises(WrongPin):
        holder().reader.sign("auth", "0000", data=b"x")


def test_a_challenge_is_single_use_short_lived_and_bound_to_its_browser(
    client: TestClient, app: object, holder: Callable[..., Holder]
) -> None:
    me = holder()
    csrf, _ = csrf_of(client)
    body = card_login_body(me, challenge(client, csrf))
    assert client.post("/api/portal/login/card", json=body, headers={"X-CSRF-Token": csrf}).status_code == 200
    csrf = csrf_of(client, "/portal")[0]
    _problem(client.post("/api/portal/login/card", json=body, headers={"X-CSRF-Token": csrf}), 409, "portal-login-used")

    other = TestClient(app)  # type: ignore[arg-type]
    other_csrf, _ = csrf_of(other)
    theirs = card_login_body(me, challenge(other, other_csrf))
    mine_csrf, _ = csrf_of(TestClient(app))  # type: ignore[arg-type]
    third = TestClient(app)  # type: ignore[arg-type]
    third_csrf, _ = csrf_of(third)
    stolen = third.post("/api/portal/login/card", json=theirs, headers={"X-CSRF-Token": third_csrf})
    _problem(stolen, 403, "portal-login-other-browser")
    assert mine_csrf

    later = TestClient(app)  # type: ignore[arg-type]
    later_csrf, _ = csrf_of(later)
    data = challenge(later, later_csrf)
    late = card_login_body(me, data)
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=2, seconds=1)):
        expired = later.post("/api/portal/login/card", json=late, headers={"X-CSRF-Token": later_csrf})
    _problem(expired, 410, "portal-login-expired")
    elsewhere = b"openmyna portal login v1|http://evil.example|" + b"A" * 32  # another site's challenge
    forged = dict(late, challenge=base64.b64encode(elsewhere).decode())
    _problem(later.post("/api/portal/login/card", json=forged, headers={"X-CSRF-Token": later_csrf}), 401, "refused")


def test_a_challenge_the_platform_did_not_make_is_unknown_and_needs_no_row_until_used(
    client: TestClient, db: Session, holder: Callable[..., Holder]
) -> None:
    """The card challenge is a token under the platform's MAC: altered, it is unknown; made, it writes nothing."""
    me = holder()
    csrf, _ = csrf_of(client)
    data = challenge(client, csrf)
    card_rows = select(func.count()).select_from(LoginTransaction).where(LoginTransaction.method == "card")
    assert db.scalar(card_rows) == 0  # issued, not yet recorded (the page's QR code has its own row)
    prefix, _, token = data.rpartition(b"|")
    altered = token[:-2] + (b"AA" if token[-2:] != b"AA" else b"BB")
    forged = card_login_body(me, prefix + b"|" + altered)
    _problem(
        client.post("/api/portal/login/card", json=forged, headers={"X-CSRF-Token": csrf}), 404, "portal-login-unknown"
    )
    assert (
        client.post(
            "/api/portal/login/card", json=card_login_body(me, data), headers={"X-CSRF-Token": csrf}
        ).status_code
        == 200
    )
    done = select(LoginTransaction.state).where(LoginTransaction.method == "card")
    assert list(db.scalars(done)) == ["done"]


def test_csrf_is_required_for_the_challenge_the_login_and_the_qr_continue(
    client: TestClient, holder: Callable[..., Holder]
) -> None:
    me = holder()
    csrf, _ = csrf_of(client)
    assert client.post("/api/portal/login/card/challenge").status_code == 403
    assert client.post("/api/portal/login/card/challenge", headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    body = card_login_body(me, challenge(client, csrf))
    assert client.post("/api/portal/login/card", json=body).status_code == 403
    assert client.post("/api/portal/login/card", json=body, headers={"X-CSRF-Token": "nope"}).status_code == 403
    assert _me(client) == 401
    assert client.post("/portal/login/qr/continue", data={"csrf": "nope"}).status_code == 403


def _other_card_signs(holder: Callable[..., Holder], client: TestClient, kind: str = "auth") -> dict[str, str]:
    me = holder()
    csrf, _ = csrf_of(client)
    data = challenge(client, csrf)
    client.headers["X-CSRF-Token"] = csrf
    pin = AUTH_PIN if kind == "auth" else SIGN_PIN
    return {
        "challenge": base64.b64encode(data).decode(),
        "certificate": base64.b64encode(me.reader.certificate(kind, pin=pin)).decode(),  # type: ignore[arg-type]
        "signature": base64.b64encode(me.reader.sign(kind, pin, data=data)).decode(),  # type: ignore[arg-type]
    }


def test_revoked_expired_signing_and_foreign_certificates_are_refused_with_the_reason(
    client: TestClient, db: Session, ca_config: CaConfig, clerk: Caller, holder: Callable[..., Holder]
) -> None:
    # A card reported lost: its certificate is on hold (revoked) and the chip no longer answers.
    lost = holder()
    csrf, _ = csrf_of(client)
    data = challenge(client, csrf)
    body = card_login_body(lost, data)
    cards.report_lost(db, config=ca_config, card_id=lost.card.id, caller=clerk)
    db.commit()
    refused = client.post("/api/portal/login/card", json=body, headers={"X-CSRF-Token": csrf})
    assert "certificate is on hold" in _problem(refused, 401, "jpki-login-refused")["detail"]

    # Signing certificate: the wrong kind.
    signing = _other_card_signs(holder, client, kind="sign")
    wrong_kind = client.post("/api/portal/login/card", json=signing)
    assert "not a JPKI auth certificate" in _problem(wrong_kind, 401, "jpki-login-refused")["detail"]

    # Foreign: a certificate of our own making, however well signed.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "JPKI User Authentication CA")])
    now = dt.datetime.now(dt.UTC)
    foreign = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    csrf, _ = csrf_of(client)
    data = challenge(client, csrf)
    own = {
        "challenge": base64.b64encode(data).decode(),
        "certificate": base64.b64encode(foreign.public_bytes(Encoding.DER)).decode(),
        "signature": base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode(),
    }
    refused = client.post("/api/portal/login/card", json=own, headers={"X-CSRF-Token": csrf})
    assert "not a JPKI auth certificate" in _problem(refused, 401, "jpki-login-refused")["detail"]
    junk = dict(own, certificate=base64.b64encode(b"junk").decode())
    csrf, _ = csrf_of(client)
    junk["challenge"] = base64.b64encode(challenge(client, csrf)).decode()
    _problem(client.post("/api/portal/login/card", json=junk, headers={"X-CSRF-Token": csrf}), 401, "refused")
    assert _me(client) == 401


def test_an_expired_certificate_is_refused(client: TestClient, holder: Callable[..., Holder]) -> None:
    me = holder()
    # The certificate runs to the fifth birthday after issue, the adult's card ten years: the chip still
    # signs, and the login is refused for the certificate.
    with clock.frozen_at(clock.now() + dt.timedelta(days=366 * 5 + 200)):
        csrf, _ = csrf_of(client)
        body = card_login_body(me, challenge(client, csrf))
        refused = client.post("/api/portal/login/card", json=body, headers={"X-CSRF-Token": csrf})
    assert "validity period" in _problem(refused, 401, "jpki-login-refused")["detail"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/portal/history?x=1", "/portal/history?x=1"),
        ("//evil.example/x", "/portal"),
        ("https://evil.example/", "/portal"),
        ("/\\evil.example", "/portal"),
        ("/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x"),
        ("javascript:alert(1)", "/portal"),
    ],
)
def test_next_is_only_ever_a_same_site_path(
    client: TestClient, holder: Callable[..., Holder], target: str, expected: str
) -> None:
    page = client.get("/portal/login", params={"next": target}, headers=HTML)
    assert f'name="next" value="{expected}"' in page.text.replace("&amp;", "&")
    assert card_login(client, holder(), next_path=target) == expected
    again = client.get("/portal/login", params={"next": target}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == expected


def test_the_portal_speaks_english_on_request_and_refuses_malformed_input(
    client: TestClient, holder: Callable[..., Holder]
) -> None:
    policy = client.get("/portal/login", headers=HTML).headers["content-security-policy"]
    assert policy.endswith("; connect-src 'self' http://127.0.0.1:8765") and "unsafe-inline" not in policy
    front = client.get("/portal?lang=en", headers=HTML)
    assert front.status_code == 200 and '<html lang="en">' in front.text and "Log in" in front.text
    login_page = client.get("/portal/login", headers=HTML)  # the language cookie keeps English
    assert "Log in with your My Number Card" in login_page.text and 'id="login-url"' in login_page.text
    assert "マイナンバーカードでログイン" in client.get("/portal/login?lang=ja", headers=HTML).text

    csrf, _ = csrf_of(client)
    headers = {"X-CSRF-Token": csrf}
    card_api = "/api/portal/login/card"
    assert client.post(card_api, json={"challenge": "x"}, headers=headers).status_code == 422
    body = card_login_body(holder(), challenge(client, csrf))
    assert client.post(card_api, json={**body, "extra": 1}, headers=headers).status_code == 422
    assert client.post(card_api, json={**body, "signature": "A" * 9000}, headers=headers).status_code == 422
    assert client.post(card_api, json={**body, "next": "/" * 2001}, headers=headers).status_code == 422
    assert client.post(card_api, json={**body, "certificate": "not base64!"}, headers=headers).status_code == 401
    broken = client.post(card_api, content=b"{", headers={**headers, "content-type": "application/json"})
    assert broken.status_code == 422
    purpose = client.post("/api/portal/login/card/challenge?purpose=admin", headers=headers)
    assert purpose.status_code == 400
    long_next = client.post("/portal/login/qr/continue", data={"csrf": csrf, "next": "/" * 2001})
    assert long_next.status_code == 422
    assert _me(client) == 401


def test_idle_and_absolute_timeouts_end_a_portal_session(client: TestClient, holder: Callable[..., Holder]) -> None:
    me = holder()
    card_login(client, me)
    start = clock.now()
    with clock.frozen_at(start + dt.timedelta(minutes=29)):
        assert _me(client) == 200  # and touched: the idle clock starts again
    with clock.frozen_at(start + dt.timedelta(minutes=29 + 31)):
        assert _me(client) == 401  # 31 minutes without a request
    card_login(client, me)
    start = clock.now()
    for step in range(1, 17):  # busy all day: a request every 25 minutes
        with clock.frozen_at(start + dt.timedelta(minutes=25 * step)):
            assert _me(client) == 200, step
    with clock.frozen_at(start + dt.timedelta(hours=8, minutes=1)):
        assert _me(client) == 401  # eight hours after the login, however busy
