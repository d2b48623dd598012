"""A gate through chromium: the guard's page, the employee's card admitted, another card refused,
at desktop and phone width, axe-core finding no serious or critical violation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from tests.browser.conftest import reader_served
from tests.browser.test_pages import log_in
from tests.browser.test_portal import _fresh, accessible

from openmyna.card.reader import VirtualReader
from openmyna.carduses.demo import GUARD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


class SwappableReader:
    """The gate's reader: whichever card is held to it."""

    def __init__(self, readers: dict[str, VirtualReader]) -> None:
        self.readers, self.current = readers, "employee"

    def __getattr__(self, name: str) -> object:
        return getattr(self.readers[self.current], name)


@pytest.fixture(scope="module")
def gate_reader(live_server: LiveServer) -> Iterator[SwappableReader]:
    context = live_server.context
    readers = {
        c.persona: VirtualReader(context.session_factory, context.keys, c.card_id) for c in live_server.report.cards
    }
    reader = SwappableReader(readers)
    with reader_served(live_server, reader):
        yield reader


def _enter(page: Page, pin: str = "1234") -> None:
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill(pin)
    page.get_by_role("button", name="入館する").click()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_gate_admits_the_employee_and_refuses_another_card(
    browser: Browser, live_server: LiveServer, gate_reader: SwappableReader, viewport: dict[str, int]
) -> None:
    page = _fresh(browser, viewport)
    page.goto(live_server.url("/gates"))
    log_in(page, live_server, GUARD.username, GUARD.password)
    page.get_by_role("link", name="オープンマイナ株式会社 本社1階ゲート").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("本社1階ゲート")
    accessible(page)
    gate_reader.current = "employee"
    _enter(page)
    expect(page.locator("#gate-verdict")).to_contain_text("入館できます (E10042)")
    accessible(page)
    gate_reader.current = "pensioner"
    _enter(page)
    expect(page.locator("#gate-verdict")).to_contain_text("入館できません")
    page.reload()
    expect(page.locator("table tbody tr").first).to_contain_text("入館できません")
    expect(page.locator("table tbody tr").nth(1)).to_contain_text("E10042")
    accessible(page)
    page.context.close()
