"""Corporate information pages through a real browser: search by a 2-character name, the corporation page and its
tabs by keyboard, the English switch, a phone-sized screen and labelled inputs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

UNLABELLED_INPUTS = """() => Array.from(document.querySelectorAll('input, select, textarea'))
    .filter((el) => el.type !== 'hidden' && el.labels.length === 0).map((el) => el.outerHTML)"""
HORIZONTAL_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_search_by_two_characters_then_read_a_corporation(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url("/"))
    page.get_by_role("link", name="法人インフォメーション").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("法人インフォメーション")
    assert page.evaluate(UNLABELLED_INPUTS) == []
    page.get_by_label("法人番号または名称").fill("ｶﾌﾞｼｷｶﾞｲｼｬ トヨ")
    page.get_by_role("button", name="検索").click()
    expect(page.locator("#result-count")).to_have_text(re.compile(r"^\d+$"))
    first = page.locator("tbody tr td a").first
    name = first.inner_text()
    assert "トヨ" in name
    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator("#corporate-number")).to_have_text(re.compile(r"^\d-\d{4}-\d{4}-\d{4}$"))
    tab = page.get_by_role("navigation", name="法人活動情報").get_by_role("link").nth(1)
    tab.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"tab=procurement"))
    expect(page.get_by_role("navigation", name="法人活動情報").locator("[aria-current=page]")).to_contain_text("調達")


def test_english_and_a_phone_screen(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(locale="ja-JP", viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(live_server.url("/corporations?q=%E5%95%86%E4%BA%8B"))  # 商事
        expect(page.locator("#result-count")).to_have_text(re.compile(r"^\d+$"))
        assert page.evaluate(HORIZONTAL_OVERFLOW) <= 0
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Corporate information")
        page.locator("tbody tr td a").first.click()
        expect(page.get_by_role("heading", level=2, name="Activity records")).to_be_visible()
        assert page.evaluate(HORIZONTAL_OVERFLOW) <= 0
    finally:
        context.close()
