"""Online application through Debian's chromium, as 山田 花子 (her card in the portal tests' reader): search by
situation → the form pre-filled from the registry → signing with the card through the local reader → the
receipt; at desktop and phone width, axe-core clean."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from tests.browser.test_portal import DESKTOP, _card_login, _fresh, accessible, card_reader  # noqa: F401 (fixture)

from openmyna.card.demo import SIGN_PIN

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_search_apply_sign_and_receipt(
    browser: Browser,
    live_server: LiveServer,
    card_reader: int,  # noqa: F811
    viewport: dict[str, int],
) -> None:
    page = _fresh(browser, viewport)
    page.goto(live_server.url("/eservice"))
    accessible(page)
    # anyone may search: a birth, a 35-year-old with a child of 0
    page.get_by_label("子どもが生まれた").check()
    page.get_by_label("あなたの年齢").fill("35")
    page.get_by_label("お子さんの年齢（複数はカンマ区切り。例: 3, 7）").fill("0")
    page.get_by_role("button", name="さがす").click()
    result = page.locator("#p-child-allowance-certification")
    expect(result).to_contain_text("児童手当 認定請求")
    expect(result.locator("li.fetched").first).to_contain_text("添付不要")
    expect(result.locator("li.fetched").first).to_contain_text("地方税関係情報")
    accessible(page)

    # log in with the card (the portal's login), then the form is pre-filled from the registry
    page.goto(live_server.url("/portal/login?next=/eservice/apply/131016%3Fprocedure%3Dchild-allowance-certification"))
    _card_login(page)
    page.wait_for_url(re.compile(r"/eservice/apply/131016"))
    expect(page.get_by_label("請求者の氏名")).to_have_value("山田 花子")
    expect(page.locator("#f-child-allowance-certification-children-0-name")).to_have_value("山田 陽翔")
    accessible(page)

    # the browser refuses what the schema refuses, and says so at the field
    page.get_by_label("氏名（フリガナ）").fill("やまだ はなこ")
    page.get_by_role("button", name="確認して電子署名へ進む").click()
    expect(page.locator("#f-child-allowance-certification-kana-error")).to_be_visible()
    assert page.url.endswith("procedure=child-allowance-certification")  # not sent
    page.get_by_label("氏名（フリガナ）").fill("ヤマダ ハナコ")
    page.get_by_label("振込先口座（金融機関・支店・口座番号）").fill(f"みずほ銀行 飯田橋支店 普通 {viewport['width']}")
    page.get_by_role("button", name="確認して電子署名へ進む").click()
    page.wait_for_url(re.compile(r"/eservice/drafts/"))
    expect(page.locator("#card-sign")).to_be_visible()
    accessible(page)

    # a wrong signing PIN is counted by the chip and said; the right one signs and submits
    pin = page.get_by_label("署名用電子証明書のパスワード（英大文字・数字 6〜16文字）")
    pin.fill("WRONG1")
    page.get_by_role("button", name="署名して送信").click()
    expect(page.locator("#sign-status")).to_contain_text("残り回数")
    pin.fill(SIGN_PIN)
    page.get_by_role("button", name="署名して送信").click()
    page.wait_for_url(re.compile(r"/eservice/applications/"))
    expect(page.locator("#receipt-number")).to_have_text(re.compile(r"^131016-\d{8}-\d{8}$"))
    expect(page.locator("#application-status")).to_have_text("受付済み")
    accessible(page)
    page.goto(live_server.url("/eservice/applications"))
    expect(page.locator("table")).to_contain_text("child-allowance-certification")
    page.context.close()
