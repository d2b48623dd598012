"""The counter (窓口) in Debian's chromium at desktop and phone width: a clerk registers a move-in and a birth in
the new household, hands the child's card over with the PIN set, resets the locked PIN and suspends the card;
axe-core (``make node-tools``) finds no serious or critical violation on any page, and nothing scrolls sideways."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from tests.browser.test_portal_notices import assert_accessible

from openmyna.card import service as cards
from openmyna.card.chip import PinLocked, WrongPin
from openmyna.core.db import unit_of_work
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.service import STAFF_ROLES, Caller

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
MASKED = re.compile(r"\*\*\*\* \*\*\*\* \d{4}")


@pytest.fixture(autouse=True)
def _live_wiring(live_server: LiveServer) -> None:
    """The server runs in this process: give the event handlers its keys back (the suite's autouse wiring gives
    them the unit tests' keys, and the birth's network enrolment would then fail to open the number)."""
    from openmyna.app.wiring import wire

    wire(settings=live_server.settings, keys=live_server.context.keys)


@pytest.fixture(params=list(WIDTHS))
def counter_page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A page at desktop or phone width; CSP is bypassed only so that the test can inject axe-core."""
    width, height = WIDTHS[request.param]
    context = browser.new_context(locale="ja-JP", viewport={"width": width, "height": height}, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def card_made_for(server: LiveServer, resident_id: int) -> int:
    """The J-LIS side of the card (application, manufacture, pre-issuance setup), through the card service."""
    maker = Caller(org_code="jlis", actor="test:jlis", scopes=frozenset(STAFF_ROLES["clerk"]), via="token")
    config = CaConfig.from_settings(server.settings, server.context.keys)
    with unit_of_work(server.context.session_factory) as session:
        card = cards.apply(session, resident_id=resident_id, caller=maker)
        cards.manufacture(session, keys=config.keys, card_id=card.id, caller=maker)
        cards.setup(session, config=config, card_id=card.id, caller=maker)
        return card.id


def lock_the_pin(server: LiveServer, card_id: int) -> None:
    """The holder types a wrong PIN until the chip locks it."""
    for _ in range(3):
        with unit_of_work(server.context.session_factory) as session, contextlib.suppress(WrongPin, PinLocked):
            cards.use_chip(
                session, keys=server.context.keys, card_id=card_id, operation=lambda c: c.verify_pin("auth", "0000")
            )


def pin_works(server: LiveServer, card_id: int, pin: str) -> bool:
    with unit_of_work(server.context.session_factory) as session:
        try:
            cards.use_chip(
                session, keys=server.context.keys, card_id=card_id, operation=lambda c: c.verify_pin("auth", pin)
            )
        except (WrongPin, PinLocked):
            return False
    return True


def test_birth_then_card_hand_over_pin_reset_and_suspension(counter_page: Page, live_server: LiveServer) -> None:
    page = counter_page
    width = page.viewport_size["width"] if page.viewport_size else 0
    child_name = "一郎" if width > 1000 else "二郎"
    parent_name, parent_kana = ("春子", "ハルコ") if width > 1000 else ("夏子", "ナツコ")

    page.goto(live_server.url("/staff/login?next=/staff/counter"))
    page.get_by_label("ユーザー名").fill("clerk")
    page.get_by_label("パスワード").fill(live_server.clerk_password)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(live_server.url("/staff/counter"))
    expect(page.get_by_role("heading", level=1)).to_have_text("窓口業務")
    assert_accessible(page)

    # 転入届: the parent moves in (a household of her own, so that the demo personas stay as they are)
    page.get_by_role("link", name="転入届").click()
    page.locator("#family_name").fill("窓口")
    page.locator("#given_name").fill(parent_name)
    page.locator("#family_name_kana").fill("まどぐち")
    page.locator("#given_name_kana").fill(parent_kana)
    page.locator("#birth_date").fill("1990-01-01")
    page.get_by_label("女").check()
    page.locator("#previous_address").fill("大阪府大阪市北区梅田一丁目1番1号")
    page.locator("#postal_code").fill("102-0072")
    page.locator("#block").fill("1番1号")
    assert_accessible(page)
    page.get_by_role("button", name="転入を登録する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("転入届を受け付けました")
    expect(page.locator("#masked-my-number")).to_have_text(MASKED)

    # 出生届: find the parent by half-width kana, choose her, and enter the child
    page.goto(live_server.url("/staff/counter"))
    page.get_by_role("link", name="出生届").click()
    page.get_by_label("フリガナ（前方一致）").fill("ﾏﾄﾞｸﾞﾁ " + parent_kana)
    page.get_by_role("button", name="検索").click()
    page.get_by_role("link", name=re.compile(f"^窓口 {parent_name}")).click()
    expect(page.get_by_role("heading", name="子について")).to_be_visible()
    assert_accessible(page)
    page.locator("#given_name").fill(child_name)
    page.locator("#given_name_kana").fill("Ichiro")  # not kana: refused, nothing registered
    page.locator("#birth_date").fill("2025-05-05")
    page.get_by_label("男").check()
    page.get_by_role("button", name="出生を登録する").click()
    expect(page.get_by_role("alert")).to_contain_text("フリガナが正しくありません")
    expect(page.locator("#given_name_kana")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    page.screenshot(path=f"/tmp/openmyna-counter-birth-{width}.png", full_page=True)
    page.locator("#given_name_kana").fill("いちろう")
    page.get_by_label("男").check()
    page.locator("#birth_date").fill("2025-05-05")
    page.locator("#birth_date").press("Enter")  # submitted from the keyboard
    expect(page.get_by_role("heading", level=1)).to_have_text("出生届を受け付けました")
    expect(page.locator("#masked-my-number")).to_have_text(MASKED)
    assert_accessible(page)
    child_id = int(re.search(r"/staff/counter/done/(\d+)", page.url).group(1))

    # the card, made by J-LIS and set up, is handed over at the counter with the PINs set
    card_id = card_made_for(live_server, child_id)
    page.get_by_role("link", name="カード窓口へ").click()
    page.get_by_role("link", name=f"カード #{card_id}").click()
    expect(page.locator("#card-state")).to_have_text("交付前設定済み（交付待ち）")
    assert_accessible(page)
    page.get_by_label("本人確認をしました").check()
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill("2468")
    page.get_by_role("button", name="交付する").click()
    expect(page.get_by_role("status")).to_have_text("カードを交付しました。暗証番号が設定され、利用できます。")
    expect(page.locator("#card-state")).to_have_text("利用中")
    assert pin_works(live_server, card_id, "2468")

    # the holder locks the PIN; after an identity check the counter resets it
    lock_the_pin(live_server, card_id)
    assert not pin_works(live_server, card_id, "2468")
    page.reload()
    page.get_by_role("button", name="初期化する").click()  # no identity check ticked: refused
    expect(page.get_by_role("alert")).to_contain_text("本人確認")
    assert_accessible(page)
    page.screenshot(path=f"/tmp/openmyna-counter-card-{width}.png", full_page=True)
    page.get_by_label("本人確認をしました").check()
    page.get_by_label("初期化する暗証番号").select_option("auth")
    page.get_by_label("新しい暗証番号").fill("1357")
    page.get_by_role("button", name="初期化する").click()
    expect(page.get_by_role("status")).to_have_text("暗証番号を初期化しました。")
    assert pin_works(live_server, card_id, "1357")

    # 一時停止
    page.get_by_role("button", name="一時停止する").click()
    expect(page.locator("#card-state")).to_have_text("一時停止中")
    expect(page.get_by_role("button", name="解除する")).to_be_visible()
    assert_accessible(page)

    page.goto(live_server.url("/staff/counter"))
    recent = page.locator("table")
    for operation in ("出生届", "カード交付", "暗証番号の初期化", "カードの一時停止", "受付できなかった操作"):
        expect(recent).to_contain_text(operation)
    assert_accessible(page)

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Counter")
    assert_accessible(page)
