"""The back office in Debian's chromium: a reviewer opens 山田 花子's child-allowance claim (signature checked),
fetches the tax and resident records over the network, approves it, and she sees the decision notice;
at 1280 and 390 px, every page axe-core clean."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from tests.browser.test_portal import DESKTOP, _fresh, accessible
from tests.browser.test_portal_notices import resident_session

from openmyna.card.demo import SIGN_PIN
from openmyna.card.reader import VirtualReader
from openmyna.eservice import service
from openmyna.jpki.authority import CaConfig

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE = {"width": 390, "height": 844}
PROCEDURE = "child-allowance-certification"


def _apply(live_server: LiveServer, bank: str) -> str:
    """山田 花子 applies with her card (the CLI's path); the receipt number."""
    context = live_server.context
    card = next(c for c in live_server.report.cards if c.persona == "parent")
    catalogue = service.catalogue_for(live_server.settings)
    entry = catalogue.get("131016", PROCEDURE)
    assert entry is not None
    data = dict(entry.procedure.example) | {"bank_account": bank}
    receipt = service.apply_with_reader(
        context.session_factory,
        catalogue=catalogue,
        config=CaConfig.from_settings(live_server.settings, context.keys),
        reader=VirtualReader(context.session_factory, context.keys, card.card_id),
        pin=SIGN_PIN,
        submission=service.Submission("131016", [PROCEDURE], {PROCEDURE: data}, [], b"", via="cli"),
    )
    return receipt.receipt_number


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_reviewer_approves_and_the_resident_sees_the_decision(
    browser: Browser, live_server: LiveServer, viewport: dict[str, int]
) -> None:
    with ThreadPoolExecutor(1) as pool:  # pyhanko runs its own event loop; Playwright's holds this thread
        receipt = pool.submit(_apply, live_server, f"みずほ銀行 飯田橋支店 普通 77{viewport['width']}").result()
    page = _fresh(browser, viewport)
    page.goto(live_server.url("/staff/login?next=/staff/eservice"))
    page.get_by_label("ユーザー名").fill("clerk")
    page.get_by_label("パスワード").fill(live_server.clerk_password)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("オンライン申請の審査")
    accessible(page)
    link = page.get_by_role("link", name=receipt)
    link.focus()
    page.keyboard.press("Enter")  # by keyboard
    expect(page.locator("#receipt")).to_have_text(receipt)
    expect(page.locator("#signature-verified")).to_have_attribute("data-verified", "yes")
    expect(page.locator("#status-at-signing")).to_have_text("good")
    accessible(page)
    page.get_by_role("button", name="必要な情報を照会する").click()
    expect(page.locator("#fetched")).to_contain_text("local_tax")
    expect(page.locator("#amount")).to_be_visible()
    accessible(page)
    page.get_by_label("承認する").check()
    page.get_by_role("button", name="決定を送る").click()
    expect(page.locator("#item-status")).to_have_attribute("data-status", "approved")
    accessible(page)

    resident = _fresh(browser, viewport)
    resident_session(resident, live_server, live_server.persona("parent").resident_id)
    resident.goto(live_server.url("/portal/notices"))
    notice = resident.get_by_role("link", name=re.compile("児童手当 認定請求: 承認されました")).first
    expect(notice).to_be_visible()
    accessible(resident)
    notice.click()
    expect(resident.locator("#notice-body")).to_contain_text(receipt)
    expect(resident.get_by_role("link", name="申請の状況を見る")).to_be_visible()
    accessible(resident)
    page.context.close()
    resident.context.close()
