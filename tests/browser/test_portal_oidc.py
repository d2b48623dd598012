"""Linked sites through a real browser: the demo e-Tax and bank, consent, linked sites, revoke, logout; axe-core.

The portal login itself is the login pages' (merged separately); here the resident's browser carries a portal
session written by the same ``portal.auth.service.begin`` a card or QR login calls. The provider's pages are
checked at desktop width and at 375 px with axe-core (from ``make node-tools``), which must report no serious or
critical violation. The pages keep their real Content-Security-Policy (axe is added as an init script, which
CSP does not govern), so a redirect the policy would block fails the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from tests.portal.oidc.live import SESSION_COOKIE, portal_cookie

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}});
  return result.violations.filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' '))}));
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
PHONE = {"width": 375, "height": 740}
SCREENSHOTS = Path("/tmp")  # consent and linked-sites pages, for docs and the README


def resident_context(browser: Browser, server: LiveServer, persona: str, **options: Any) -> BrowserContext:
    """A browser context holding a portal session of ``persona``, with axe-core ready on every page."""
    if not AXE.exists():
        pytest.skip("axe-core is installed by `make node-tools`")
    context = browser.new_context(locale="ja-JP", **options)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    cookie = portal_cookie(server.context, server.persona(persona).resident_id)
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": server.base_url}])
    return context


def no_serious_violations(page: Page) -> None:
    violations = page.evaluate(AXE_RUN)
    assert violations == [], violations


def sign_in_at(page: Page, server: LiveServer, site: str) -> str:
    """From the demo site's page through consent and back; the ``sub`` the site shows."""
    page.goto(server.url(f"/demo-rp/{site}"))
    page.locator("#demo-login").click()
    expect(page.locator("#consent-allow")).to_be_visible()
    assert urlsplit(page.url).path == "/oidc/authorize"
    no_serious_violations(page)
    page.locator("#consent-allow").click()
    expect(page.locator("#demo-userinfo")).to_be_visible()
    return page.locator("#demo-sub").inner_text()


def test_demo_sites_consent_linked_sites_revoke_and_logout(browser: Browser, live_server: LiveServer) -> None:
    persona = live_server.persona("parent")
    context = resident_context(browser, live_server, "parent")
    page = context.new_page()

    etax_sub = sign_in_at(page, live_server, "etax")
    family_name = persona.name.split()[0]
    expect(page.locator("#demo-name")).to_contain_text(family_name)
    expect(page.locator("#demo-address")).to_contain_text("〒")
    expect(page.locator("#demo-birthdate")).to_have_count(0)  # e-Tax did not ask for it

    bank_sub = sign_in_at(page, live_server, "bank")
    page.screenshot(path=str(SCREENSHOTS / "openmyna-oidc-demo-bank.png"), full_page=True)
    assert urlsplit(page.url).hostname == "localhost"  # the bank is its own sector
    expect(page.locator("#demo-birthdate")).to_have_text(persona.birth_date.isoformat())
    assert bank_sub != etax_sub

    page.goto(live_server.url("/portal/linked-sites"))
    rows = page.locator('#linked-sites tbody tr[data-client-id^="demo-"]')  # other tests link sites of their own
    expect(rows).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "openmyna-oidc-linked-sites.png"), full_page=True)
    no_serious_violations(page)
    page.locator('tr[data-client-id="demo-bank"] button.revoke').click()
    expect(page.locator("#revoked-message")).to_be_visible()
    expect(rows).to_have_count(1)

    page.goto(live_server.url("/demo-rp/etax/login"))  # a new flow; remembered consent: no consent page
    expect(page.locator("#demo-userinfo")).to_be_visible()
    assert urlsplit(page.url).path == "/demo-rp/etax"
    page.locator("#demo-logout").click()  # RP-initiated logout ends the portal session too
    expect(page.locator("#demo-login")).to_be_visible()
    assert urlsplit(page.url).path == "/demo-rp/etax"
    page.goto(live_server.url("/portal/linked-sites"))
    assert urlsplit(page.url).path == "/portal/login"
    context.close()


def test_pages_at_phone_width_and_in_english(browser: Browser, live_server: LiveServer) -> None:
    context = resident_context(browser, live_server, "employee", viewport=PHONE)
    page = context.new_page()
    page.goto(live_server.url("/demo-rp/bank"))
    page.locator("#demo-login").click()
    expect(page.locator("#consent-allow")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "openmyna-oidc-consent-375.png"), full_page=True)
    assert page.evaluate(OVERFLOW) <= 0
    no_serious_violations(page)
    items = page.locator("#consent-claims li")
    expect(items).to_have_count(5)  # openid, profile, address, birthdate, gender: what the bank asked for
    page.goto(page.url + "&lang=en")
    expect(page.locator("h1")).to_have_text("Share your information with a linked site")
    no_serious_violations(page)
    page.locator("#consent-allow").focus()
    page.keyboard.press("Enter")  # by keyboard alone
    expect(page.locator("#demo-userinfo")).to_be_visible()
    page.goto(live_server.url("/portal/linked-sites"))
    assert page.evaluate(OVERFLOW) <= 0
    no_serious_violations(page)
    context.close()


def test_not_logged_in_goes_to_the_portal_login(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    page.goto(live_server.url("/demo-rp/etax"))
    page.locator("#demo-login").click()
    page.wait_for_url("**/portal/login?next=*")
    assert urlsplit(page.url).query.startswith("next=%2Foidc%2Fauthorize%3F")
    context.close()
