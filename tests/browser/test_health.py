"""The clinic's reception terminal through chromium: staff login, the card on the reader, the answer,
with and without consent, at desktop and phone width, axe-core finding no serious or critical violation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from tests.browser.conftest import reader_served
from tests.browser.test_portal import _fresh, accessible

from openmyna.card.reader import VirtualReader
from openmyna.health.demo import RECEPTION

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
PERSONA = "pensioner"


@pytest.fixture(scope="module")
def pensioner_reader(live_server: LiveServer) -> Iterator[int]:
    """The reception's card reader with the pensioner's card on it."""
    card = next(c for c in live_server.report.cards if c.persona == PERSONA)
    reader = VirtualReader(live_server.context.session_factory, live_server.context.keys, card.card_id)
    with reader_served(live_server, reader):
        yield card.card_id


def _reception(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url("/health/reception"))
    expect(page).to_have_url(live_server.url("/staff/login?next=%2Fhealth%2Freception"))
    page.get_by_label("ユーザー名").fill(RECEPTION.username)
    page.get_by_label("パスワード").fill(RECEPTION.password)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", name="オンライン資格確認 受付端末")).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_reception_reads_the_card_and_shows_the_answer(
    browser: Browser, live_server: LiveServer, pensioner_reader: int, viewport: dict[str, int]
) -> None:
    page = _fresh(browser, viewport)
    _reception(page, live_server)
    accessible(page)
    page.get_by_label("一致しなかった").check()
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill("1234")
    page.get_by_role("button", name="資格を確認する").click()
    expect(page.locator("#result-verdict")).to_contain_text("確認できませんでした")
    page.get_by_label("使用しない（暗証番号で確認）").check()
    page.get_by_label("同意する", exact=True).check()
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill("1234")
    page.get_by_role("button", name="資格を確認する").click()
    expect(page.locator("#result-verdict")).to_contain_text("資格があります")
    expect(page.locator("#result-facts")).to_contain_text("39131008")
    expect(page.locator("#result-facts")).to_contain_text("1割")
    expect(page.locator("#records-list li")).to_have_count(2)
    accessible(page)
    page.get_by_label("同意しない").check()
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill("1234")
    page.get_by_role("button", name="資格を確認する").click()
    expect(page.locator("#result-records")).to_contain_text("同意がないため")
    page.reload()
    expect(page.locator("table tbody tr").first).to_contain_text("資格あり")
    accessible(page)
    page.context.close()


def test_a_wrong_pin_is_said_and_nothing_is_asked(
    browser: Browser, live_server: LiveServer, pensioner_reader: int
) -> None:
    page = _fresh(browser, DESKTOP)
    _reception(page, live_server)
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill("12")
    page.get_by_role("button", name="資格を確認する").click()
    expect(page.locator("#reception-status")).to_contain_text("数字4桁")
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill("9999")
    page.get_by_role("button", name="資格を確認する").click()
    expect(page.locator("#reception-status")).to_contain_text("残り回数")
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill("1234")  # resets the counter
    page.get_by_role("button", name="資格を確認する").click()
    expect(page.locator("#result-verdict")).to_contain_text("資格があります")
    page.context.close()
