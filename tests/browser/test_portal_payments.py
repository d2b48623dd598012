"""F 公金決済 in a real browser: a resident pays a request by card at desktop and phone widths, axe-core finds
no serious or critical violation on the list, pay and receipt pages, and a double click charges once."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from joserfc.jwk import ECKey
from playwright.sync_api import expect
from tests.portal.oidc.live import SESSION_COOKIE, portal_cookie

from openmyna.core.db import unit_of_work
from openmyna.orgs import service as orgs
from openmyna.portal.payments.config import PaymentSettings, resolve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
HORIZONTAL_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
SCREENSHOT = "/tmp/openmyna-portal-payments-{}.png"


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious or critical axe-core violations of the page (axe is evaluated by the driver, not a CSP-bound tag)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make node-tools`")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _town_token(server: LiveServer) -> dict[str, str]:
    code = server.settings.municipality_code
    with unit_of_work(server.context.session_factory) as session:
        pem = orgs.custodial_private_key(server.context.keys, orgs.get_organisation(session, code))
    endpoint = server.url("/oauth/token")
    assertion = private_key_jwt_sign(ECKey.import_key(pem), code, endpoint, alg="ES256")
    form = {
        "grant_type": "client_credentials",
        "client_assertion": assertion,
        "client_id": code,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    answer = httpx.post(endpoint, data=form, trust_env=False)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _request(server: LiveServer, resident_id: int, purpose: str, amount: int) -> int:
    body = {"resident_id": resident_id, "kind": "tax", "purpose": purpose, "amount": amount, "due_date": "2099-05-31"}
    headers = _town_token(server) | {"Idempotency-Key": secrets.token_hex(8)}
    answer = httpx.post(server.url("/api/payments/requests"), json=body, headers=headers, trust_env=False)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _log_in(page: Page, server: LiveServer, resident_id: int) -> None:
    """A portal session as a card login starts it, put in the browser's cookie jar."""
    cookie = portal_cookie(server.context, resident_id)
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": server.base_url}])


def _charges(server: LiveServer, request_id: int) -> list[dict[str, Any]]:
    key = resolve(PaymentSettings(), server.settings, server.context.keys).api_key
    answer = httpx.get(
        server.url("/sandbox-acquirer/v1/payments"),
        params={"reference": f"payment-request-{request_id}"},
        headers={"Authorization": f"Bearer {key}"},
        trust_env=False,
    )
    return answer.json()["data"]


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (375, 812)], ids=["desktop", "phone"])
def test_a_resident_pays_a_tax_instalment_and_reads_the_receipt(
    browser: Browser, live_server: LiveServer, width: int, height: int
) -> None:
    context = browser.new_context(locale="ja-JP", viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    page = context.new_page()
    resident_id = live_server.persona("parent").resident_id
    purpose = f"令和8年度 住民税 第{width}期"
    request_id = _request(live_server, resident_id, purpose, 15_800)
    _log_in(page, live_server, resident_id)

    page.goto(live_server.url("/portal/payments"))
    expect(page.get_by_role("heading", level=1)).to_have_text("公金決済")
    row = page.get_by_role("row").filter(has_text=purpose)
    expect(row).to_contain_text("15,800円")
    assert axe_violations(page) == []
    assert page.evaluate(HORIZONTAL_OVERFLOW) <= 0
    row.get_by_role("link", name="支払う").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("お支払い")
    assert axe_violations(page) == []
    assert page.evaluate(HORIZONTAL_OVERFLOW) <= 0
    page.get_by_label("カード番号").fill("4000 0000 0000 0002")
    page.get_by_label("有効期限（月）").fill("12")
    page.get_by_label("有効期限（年）").fill("2099")
    page.get_by_label("セキュリティコード").fill("123")
    page.get_by_role("button", name="支払を確定する").click()
    expect(page.get_by_role("alert")).to_contain_text("カードでのお支払いができませんでした")
    assert axe_violations(page) == []

    page.get_by_label("カード番号").fill("4242 4242 4242 4242")
    page.get_by_label("有効期限（月）").fill("12")
    page.get_by_label("有効期限（年）").fill("2099")
    page.get_by_label("セキュリティコード").press("Control+a")
    page.get_by_label("セキュリティコード").fill("123")
    page.get_by_role("button", name="支払を確定する").dblclick()  # a double click pays once

    expect(page.get_by_role("heading", level=1)).to_have_text("領収書")
    expect(page.locator("#receipt-number")).to_contain_text("OMP-")
    expect(page.get_by_text("VISA **** 4242")).to_be_visible()
    assert axe_violations(page) == []
    assert page.evaluate(HORIZONTAL_OVERFLOW) <= 0
    page.screenshot(path=SCREENSHOT.format(width), full_page=True)
    statuses = sorted(c["status"] for c in _charges(live_server, request_id))
    assert statuses == ["captured", "declined"], statuses

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Receipt")
    page.get_by_role("link", name="Back to payments").click()
    expect(page.get_by_role("row").filter(has_text=purpose)).to_contain_text("Paid")
    assert axe_violations(page) == []
    context.close()


def test_the_pay_form_works_by_keyboard_alone(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    resident_id = live_server.persona("pensioner").resident_id
    request_id = _request(live_server, resident_id, "介護保険料 第1期", 4_200)
    _log_in(page, live_server, resident_id)
    page.goto(live_server.url(f"/portal/payments/{request_id}"))
    page.get_by_label("カード番号").focus()
    page.keyboard.type("3530111333300000")
    for value in ("12", "2099", "123"):
        page.keyboard.press("Tab")
        page.keyboard.type(value)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="支払を確定する")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("領収書")
    expect(page.get_by_text("JCB **** 0000")).to_be_visible()
    context.close()
