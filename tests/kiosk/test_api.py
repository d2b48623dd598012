"""The kiosk's HTTP face through the app: the centre API as a store, scopes, bad input, /verify, ca.pem, the portal."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

from cryptography import x509
from fastapi.testclient import TestClient

from openmyna.core.crypto import KeyRing
from openmyna.kiosk.demo import DEFAULT_STORE
from openmyna.orgs import service as orgs
from tests.kiosk.conftest import Person, card_request
from tests.portal.conftest import Holder, card_login

CSRF_ATTR = re.compile(r'data-csrf="([^"]+)"')


def bearer(keys: KeyRing, org: str, scope: str) -> dict[str, str]:
    token = orgs.issue_access_token(keys, org_code=org, scopes={scope}, issuer="http://testserver", ttl_seconds=300)
    return {"Authorization": f"Bearer {token['access_token']}"}


def body_of(person: Person, **kwargs: object) -> dict[str, object]:
    request = card_request(person, **kwargs)  # type: ignore[arg-type]
    return {
        "request_key": request.request_key,
        "signed_at": request.signed_at.isoformat(),
        "kind": request.kind,
        "options": request.options.as_dict(),
        "copies": request.copies,
        "certificate": base64.b64encode(request.certificate).decode(),
        "signature": base64.b64encode(request.signature).decode(),
    }


def test_a_store_asks_the_centre_and_anyone_checks_the_number(
    client: TestClient, keys: KeyRing, person: Callable[..., Person]
) -> None:
    holder = person()
    store = bearer(keys, DEFAULT_STORE, "kiosk:request")
    answer = client.post("/api/kiosk/centre/requests", json=body_of(holder), headers=store)
    assert answer.status_code == 200, answer.text
    issued = answer.json()
    assert base64.b64decode(issued["pdf"]).startswith(b"%PDF") and issued["fee"] == 300
    check = client.get("/api/kiosk/verify", params={"number": issued["number"]}).json()
    assert check["genuine"] and check["summary"]["kind"] == "juminhyo" and check["signer_status"] == "good"
    page = client.get("/verify", params={"number": issued["number"]})
    assert page.status_code == 200 and 'data-genuine="true"' in page.text and "住民票の写し" in page.text
    missing = client.get("/verify", params={"number": "1234567890123456", "lang": "en"})
    assert 'data-genuine="false"' in missing.text and "No certificate with this number" in missing.text
    pem = client.get("/kiosk/ca.pem")
    anchors = x509.load_pem_x509_certificates(pem.content)
    assert anchors[0].issuer == anchors[0].subject and len(anchors) >= 2  # the CA, then the town's signing key


def test_the_roles_need_their_scopes_and_bad_input_is_4xx(
    client: TestClient, keys: KeyRing, person: Callable[..., Person]
) -> None:
    holder = person()
    body = body_of(holder)
    assert client.post("/api/kiosk/centre/requests", json=body).status_code == 401
    centre_only = bearer(keys, "jlis", "kiosk:route")
    assert client.post("/api/kiosk/centre/requests", json=body, headers=centre_only).status_code == 403
    store = bearer(keys, DEFAULT_STORE, "kiosk:request")
    municipal = {"subject": "person:" + "0" * 32, "kind": "juminhyo", "store": "x", "request_key": "abcdefgh"}
    assert client.post("/api/kiosk/municipality/certificates", json=municipal, headers=store).status_code == 403
    for broken in (
        {**body, "certificate": "not base64!"},
        {**body, "kind": "passport"},
        {**body, "copies": 11},
        {**body, "request_key": "short"},
        {**body, "options": {"favourite_colour": True}},
        {**body, "signed_at": "2026-12-07T10:00:00"},  # no offset
    ):
        answer = client.post("/api/kiosk/centre/requests", json=broken, headers=store)
        assert 400 <= answer.status_code < 500, (broken, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert client.get("/api/kiosk/verify", params={"number": "x" * 33}).status_code == 422
    assert client.get("/api/kiosk/verify", params={"number": "abc"}).json()["genuine"] is False


def test_the_resident_sees_each_issuance_in_the_portal(
    client: TestClient, keys: KeyRing, person: Callable[..., Person]
) -> None:
    holder = person()
    store = bearer(keys, DEFAULT_STORE, "kiosk:request")
    number = client.post("/api/kiosk/centre/requests", json=body_of(holder, kind="inkan"), headers=store).json()[
        "number"
    ]
    card_login(client, Holder(holder.card, holder.reader))
    page = client.get("/portal/certificates")
    assert page.status_code == 200 and number in page.text and "印鑑登録証明書" in page.text


def test_the_terminal_page_flow_as_its_script_runs_it(client: TestClient, person: Callable[..., Person]) -> None:
    holder = person()
    page = client.get("/kiosk", headers={"accept": "text/html"})
    assert (
        page.status_code == 200
        and "connect-src 'self' http://127.0.0.1:8765" in page.headers["content-security-policy"]
    )
    csrf = CSRF_ATTR.search(page.text).group(1)  # type: ignore[union-attr]
    headers = {"X-CSRF-Token": csrf}
    assert client.post("/api/kiosk/terminal/challenge", json={"kind": "inkan"}).status_code == 403  # no CSRF token
    challenge = client.post("/api/kiosk/terminal/challenge", json={"kind": "inkan"}, headers=headers).json()
    data = base64.b64decode(challenge["challenge"])
    body = {
        "request_key": challenge["request_key"],
        "signed_at": challenge["signed_at"],
        "kind": "inkan",
        "tendered": 500,
        "method": "cash",
        "certificate": base64.b64encode(holder.reader.certificate("auth")).decode(),
        "signature": base64.b64encode(holder.reader.sign("auth", "1234", data=data)).decode(),
    }
    issued = client.post("/api/kiosk/terminal/issue", json=body, headers=headers)
    assert issued.status_code == 200, issued.text
    result = issued.json()
    assert result["charged"] == 300 and result["change"] == 200
    printed = client.get(result["print_url"])
    assert printed.status_code == 200 and printed.content.startswith(b"%PDF")
    other = TestClient(client.app)  # another browser never gets this terminal's print
    assert other.get(result["print_url"]).status_code == 404
    again = client.post("/api/kiosk/terminal/issue", json=body, headers=headers).json()
    assert again["number"] == result["number"] and again["charged"] == 0  # a retry is not charged twice


def test_statistics_page_and_json(client: TestClient, keys: KeyRing, person: Callable[..., Person]) -> None:
    holder = person()
    store = bearer(keys, DEFAULT_STORE, "kiosk:request")
    assert client.post("/api/kiosk/centre/requests", json=body_of(holder, copies=2), headers=store).status_code == 200
    data = client.get("/api/kiosk/stats").json()
    assert data["seed"]["counts"]["juminhyo"][3] == 408_639 and data["seed"]["totals"][3] == 871_455
    assert data["platform"]["total"] == 2 and data["coverage"]["population"] >= 1
    page = client.get("/kiosk/stats")
    assert page.status_code == 200 and "408,639" in page.text and "住民票の写し" in page.text
