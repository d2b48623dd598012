"""A venue door through chromium: the usher's page, a ticket holder's card admitted once, a second entry and
a card without a ticket refused, at desktop and phone width, axe-core finding no serious or critical violation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from tests.browser.test_gates import DESKTOP, PHONE, SwappableReader, gate_reader  # noqa: F401  (fixture)
from tests.browser.test_pages import log_in
from tests.browser.test_portal import _fresh, accessible

from openmyna.carduses.tickets.demo import USHER

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _enter(page: Page, pin: str = "1234") -> None:
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill(pin)
    page.get_by_role("button", name="入場する").click()


@pytest.mark.parametrize(("viewport", "persona"), [(DESKTOP, "parent"), (PHONE, "employee")], ids=["desktop", "phone"])
def test_the_venue_admits_a_ticket_holder_once(
    browser: Browser,
    live_server: LiveServer,
    gate_reader: SwappableReader,  # noqa: F811
    viewport: dict[str, int],
    persona: str,
) -> None:
    page = _fresh(browser, viewport)
    page.goto(live_server.url("/venue"))
    log_in(page, live_server, USHER.username, USHER.password)
    page.get_by_role("link", name="マイナ・サウンド・フェスティバル 2026").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("入場口")
    accessible(page)
    gate_reader.current = persona
    _enter(page)
    expect(page.locator("#gate-verdict")).to_contain_text("入場できます (T")
    accessible(page)
    _enter(page)
    expect(page.locator("#gate-verdict")).to_contain_text("このチケットは使用済みです")
    gate_reader.current = "pensioner"
    _enter(page)
    expect(page.locator("#gate-verdict")).to_contain_text("入場できません")
    page.reload()
    expect(page.locator("table tbody tr").first).to_contain_text("入場できません")
    expect(page.locator("table tbody tr").nth(2)).to_contain_text("入場できます")
    accessible(page)
    page.context.close()
