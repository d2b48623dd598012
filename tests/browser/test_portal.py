"""The portal through Debian's chromium: both logins, My Page, the history's in-browser proofs, logout,
at desktop and phone width, by keyboard alone, with axe-core finding no serious or critical violation.

Screenshots for docs/portal.md go to ``$OPENMYNA_SCREENSHOTS`` (``docs/img`` to refresh them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from tests.browser.conftest import reader_served
from tests.portal.oidc.live import add_site

from openmyna.card.demo import AUTH_PIN
from openmyna.card.models import Card
from openmyna.card.reader import VirtualReader

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Screenshots for docs/portal.md: OPENMYNA_SCREENSHOTS=docs/img refreshes them; a plain run leaves the tree alone.
SHOTS = Path(os.environ.get("OPENMYNA_SCREENSHOTS", "/tmp/openmyna-portal-screenshots"))
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 860}
PERSONA = "parent"
AXE_RUN = """async () => {
  const result = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']});
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', '));
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
WATCH_VIOLATIONS = """window.violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.violations.push(e.violatedDirective));"""


def accessible(page: Page) -> None:
    """axe-core, from npm, evaluated in the page (DevTools evaluation: the page's CSP stays as it is)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make node-tools)")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    assert page.evaluate(AXE_RUN) == [], page.url
    assert page.evaluate(OVERFLOW) <= 0, f"horizontal scrolling on {page.url}"
    assert page.evaluate("window.violations") == [], f"CSP violations on {page.url}"


@pytest.fixture(scope="module")
def card_reader(live_server: LiveServer) -> Iterator[int]:
    """``openmyna card reader-serve`` for the persona's card, on the port the portal's pages expect."""
    card = next(c for c in live_server.report.cards if c.persona == PERSONA)
    reader = VirtualReader(live_server.context.session_factory, live_server.context.keys, card.card_id)
    with reader_served(live_server, reader):
        yield card.card_id


def _fresh(browser: Browser, viewport: dict[str, int]) -> Page:
    context = browser.new_context(locale="ja-JP", viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    context.add_init_script(WATCH_VIOLATIONS)
    return context.new_page()


def _card_login(page: Page, pin: str = "1234") -> None:
    page.get_by_label("暗証番号（数字4桁）").fill(pin)
    page.get_by_role("button", name="カードでログイン").click()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_card_login_my_page_history_verify_and_logout(
    browser: Browser, live_server: LiveServer, card_reader: int, viewport: dict[str, int]
) -> None:
    page = _fresh(browser, viewport)
    suffix = "-phone" if viewport is PHONE else ""
    page.goto(live_server.url("/portal"))
    expect(page.get_by_role("heading", level=1)).to_have_text("マイナポータル")
    accessible(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"portal-home{suffix}.png"), full_page=True)
    page.get_by_role("link", name="ログインする").click()
    expect(page.locator("#login-url")).to_contain_text("/portal/qr/")
    accessible(page)
    page.screenshot(path=str(SHOTS / f"portal-login{suffix}.png"), full_page=True)

    _card_login(page, "9999")
    expect(page.locator("#card-status")).to_have_text("暗証番号が違います。残り回数：2")
    _card_login(page)
    expect(page).to_have_url(live_server.url("/portal"))
    expect(page.get_by_role("heading", level=1)).to_have_text("マイページ")
    accessible(page)
    page.screenshot(path=str(SHOTS / f"portal-mypage{suffix}.png"), full_page=True)

    page.get_by_role("link", name="A やりとり履歴").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("やりとり履歴")
    page.locator("button.verify").first.click()
    result = page.locator(".verify-result").first
    expect(result).to_contain_text("検証できました")
    expect(result).to_contain_text("ツリーヘッドの署名（Ed25519）もこのブラウザで確認しました")
    page.get_by_role("button", name="このページの完全性を確認").click()
    expect(page.locator("#page-result")).to_contain_text("完全性を確認しました")
    accessible(page)
    page.locator("#proofs").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"portal-history{suffix}.png"))

    page.goto(live_server.url("/portal/mydata"))
    page.get_by_role("button", name="最新の情報を取得する").click()
    expect(page.get_by_role("heading", name="地方税関係情報")).to_be_visible()
    accessible(page)
    page.screenshot(path=str(SHOTS / f"portal-mydata{suffix}.png"))

    page.goto(live_server.url("/portal/settings/logins"))
    expect(page.locator("#logins tbody tr").first).to_contain_text("マイナンバーカード（このパソコン）")
    accessible(page)
    page.goto(live_server.url("/portal/history/access"))
    expect(page.locator("#access-log tbody tr").first).to_be_visible()  # at least this session's readings
    accessible(page)
    page.get_by_role("button", name="ログアウト").click()
    expect(page.get_by_role("status")).to_have_text("ログアウトしました。")
    page.goto(live_server.url("/portal/history"))
    expect(page).to_have_url(live_server.url("/portal/login?next=%2Fportal%2Fhistory"))
    page.context.close()


QR_PIXELS = """() => { const img = document.querySelector('img.qr');
  const canvas = document.createElement('canvas'); canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext('2d');
  context.fillStyle = '#fff'; context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(img, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const grey = []; for (let i = 0; i < data.length; i += 4) { grey.push(data[i]); }
  return [canvas.width, canvas.height, grey]; }"""


def decoded_qr(page: Page) -> list[str]:
    """What a reader makes of the QR code as chromium draws it (zxing-cpp)."""
    import numpy as np
    import zxingcpp

    width, height, grey = page.evaluate(QR_PIXELS)
    image = np.array(grey, dtype=np.uint8).reshape(height, width)
    return [result.text for result in zxingcpp.read_barcodes(image)]


def _app_login(live_server: LiveServer, url: str, card: int, pin: str) -> subprocess.CompletedProcess[str]:
    """``openmyna card app-login`` in its own process, on the live server's database."""
    settings = live_server.settings
    env = {
        **os.environ,
        "OPENMYNA_DATABASE_URL": settings.database_url,
        "OPENMYNA_VAR_DIR": str(settings.var_dir),
        "OPENMYNA_DATA_KEY": settings.data_key.get_secret_value() if settings.data_key else "",
        "OPENMYNA_BASE_URL": settings.base_url,
    }
    command = [str(Path(sys.executable).parent / "openmyna"), "card", "app-login", url, "--card", str(card)]
    return subprocess.run([*command, "--pin", pin], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_qr_login_with_the_phone_app_continues_by_itself(
    browser: Browser, live_server: LiveServer, card_reader: int, viewport: dict[str, int]
) -> None:
    page = _fresh(browser, viewport)
    page.goto(live_server.url("/portal/login?next=/portal/history"))
    url = page.locator("#login-url").inner_text()
    assert decoded_qr(page) == [url]  # the code on the screen holds exactly the URL shown as text
    wrong = _app_login(live_server, url, card_reader, "0000")
    assert wrong.returncode == 1 and "Wrong PIN: 2 tries left" in wrong.stderr
    expect(page.locator("#qr-status")).to_have_text("暗証番号が違います。残り回数：2")
    accessible(page)
    done = _app_login(live_server, url, card_reader, "1234")
    assert done.returncode == 0, done.stderr
    expect(page).to_have_url(live_server.url("/portal/history"), timeout=3000)
    again = _app_login(live_server, url, card_reader, "1234")
    assert again.returncode == 1 and "already been used" in again.stderr
    page.context.close()


def test_keyboard_only(browser: Browser, live_server: LiveServer, card_reader: int) -> None:
    page = _fresh(browser, DESKTOP)
    page.goto(live_server.url("/portal/login"))
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "pin":
            break
    assert page.evaluate("document.activeElement.id") == "pin"
    page.keyboard.type("1234")
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url("/portal"))
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "menu-a":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("やりとり履歴")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.className") == "verify":
            break
    page.keyboard.press("Enter")
    expect(page.locator(".verify-result").first).to_contain_text("検証できました")
    for _ in range(80):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.id") == "logout":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("ログアウトしました。")
    page.context.close()


def test_a_linked_site_sends_a_stranger_through_the_qr_login_and_consent(
    browser: Browser, live_server: LiveServer, card_reader: int
) -> None:
    """The acceptance path: authorize without a session → the login page's #login-url → `openmyna card
    app-login` → consent (#consent-allow) → the site's redirect URI with a code that the token endpoint
    exchanges (PKCE, client_secret_basic) for an id_token carrying the nonce."""
    site = add_site(live_server.settings, "QR の店", "http://127.0.0.1:9/qr/cb", "http://127.0.0.1:9/qr/")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": site.client_id,
        "redirect_uri": site.redirect_uri,
        "scope": "openid profile",
        "state": "s-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = _fresh(browser, DESKTOP)
    page.route("http://127.0.0.1:9/**", lambda route: route.fulfill(status=200, body="the site"))
    page.goto(live_server.url("/oidc/authorize?" + urlencode(query)))
    assert urlsplit(page.url).path == "/portal/login"
    done = _app_login(live_server, page.locator("#login-url").inner_text(), card_reader, "1234")
    assert done.returncode == 0, done.stderr
    expect(page.locator("#consent-allow")).to_be_visible(timeout=5000)
    page.locator("#consent-allow").click()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:9/qr/cb\?"))
    answer = parse_qs(urlsplit(page.url).query)
    assert answer["state"] == ["s-1"]
    token = httpx.post(
        live_server.url("/oidc/token"),
        data={
            "grant_type": "authorization_code",
            "code": answer["code"][0],
            "redirect_uri": site.redirect_uri,
            "code_verifier": verifier,
        },
        auth=(site.client_id, site.client_secret),
        trust_env=False,
    )
    assert token.status_code == 200, token.text
    claims = json.loads(base64.urlsafe_b64decode(token.json()["id_token"].split(".")[1] + "=="))
    assert claims["nonce"] == "n-1" and claims["aud"] in (site.client_id, [site.client_id])


def test_an_empty_history_is_proven_empty_in_the_browser(browser: Browser, live_server: LiveServer) -> None:
    """A card holder with no exchanges: the page's check verifies the map's proof of absence itself."""
    personas = {p.resident_id for p in live_server.report.personas}
    with live_server.context.session_factory() as session:
        found = session.scalars(
            select(Card).where(Card.state == "active", Card.resident_id.not_in(personas)).order_by(Card.id)
        ).first()
    if found is None:
        pytest.skip("the seed has no card in use outside the personas")
    reader = VirtualReader(live_server.context.session_factory, live_server.context.keys, found.id)
    page = _fresh(browser, DESKTOP)
    page.goto(live_server.url("/portal/login"))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.content())
    assert csrf
    headers = {"X-CSRF-Token": csrf.group(1)}  # the page's script, through the API (docs/portal.md)
    issued = page.request.post(live_server.url("/api/portal/login/card/challenge"), headers=headers).json()
    body = {
        "challenge": issued["challenge"],
        "certificate": base64.b64encode(reader.certificate("auth")).decode(),
        "signature": base64.b64encode(
            reader.sign("auth", AUTH_PIN, data=base64.b64decode(issued["challenge"]))
        ).decode(),
    }
    assert page.request.post(live_server.url("/api/portal/login/card"), data=body, headers=headers).ok
    page.goto(live_server.url("/portal/history"))
    assert page.locator("#history-total").inner_text() == "0", f"resident {found.resident_id} has exchanges"
    page.get_by_role("button", name="このページの完全性を確認").click()
    expect(page.locator("#page-result")).to_contain_text("完全性を確認しました")
    expect(page.locator("#page-result")).to_contain_text("記録数：0")
    accessible(page)
    page.context.close()
