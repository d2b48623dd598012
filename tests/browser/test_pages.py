"""The back office through a real browser: language, login, search, the record, keyboard, phone and labels."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SCREENSHOT = "/tmp/openmyna-resident.png"
MASKED_MY_NUMBER = re.compile(r"\*\*\*\* \*\*\*\* \d{4}")
UNLABELLED_INPUTS = """() => Array.from(document.querySelectorAll('input, select, textarea'))
    .filter((el) => el.type !== 'hidden' && el.labels.length === 0)
    .map((el) => el.outerHTML)"""
LABELLED_INPUT_COUNT = """() => Array.from(document.querySelectorAll('input, select, textarea'))
    .filter((el) => el.type !== 'hidden' && el.labels.length > 0).length"""
HORIZONTAL_OVERFLOW = """() => document.documentElement.scrollWidth - document.documentElement.clientWidth"""


def log_in(page: Page, server: LiveServer, username: str = "clerk", password: str | None = None) -> None:
    """Fill and submit the login form the page is showing."""
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(password if password is not None else server.clerk_password)
    page.get_by_role("button", name="ログイン").click()


def open_logged_in(page: Page, server: LiveServer, path: str) -> None:
    """Go to ``path`` through the login page, as a clerk."""
    page.goto(server.url(f"/staff/login?next={path}"))
    log_in(page, server)
    expect(page).to_have_url(server.url(path))


def test_landing_page_is_japanese_and_the_english_switch_sticks(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url("/"))
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("heading", level=1)).to_have_text("マイナンバー制度の基盤を、手元で動かす")

    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(live_server.url("/?lang=en"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Japan's My Number platform, running on your machine")
    assert {c["name"]: c["value"] for c in page.context.cookies()}.get("lang") == "en"

    page.goto(live_server.url("/"))  # no ?lang= any more: the cookie remembers
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(live_server.url("/staff/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff login")
    expect(page.get_by_role("link", name="日本語")).to_be_visible()


def test_wrong_password_shows_an_alert_and_the_right_one_opens_the_registry(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url("/staff/login"))
    log_in(page, live_server, password="not-the-password")
    expect(page.get_by_role("alert")).to_have_text("ユーザー名またはパスワードが違います。")
    expect(page).to_have_url(live_server.url("/staff/login"))
    expect(page.get_by_label("ユーザー名")).to_have_value("clerk")
    expect(page.get_by_label("ユーザー名")).to_have_attribute("aria-describedby", "login-error")

    log_in(page, live_server)  # the re-rendered form still carries a valid CSRF token
    expect(page).to_have_url(live_server.url("/staff/residents"))
    expect(page.get_by_role("heading", level=1)).to_have_text("住民の検索")
    expect(page.get_by_role("button", name=re.compile("ログアウト"))).to_be_visible()


@pytest.mark.parametrize("kana", ["ﾔﾏﾀﾞ ﾊﾅｺ", "ﾔﾏﾀﾞﾊﾅｺ"])
def test_half_width_kana_search_finds_hanako_and_her_record(page: Page, live_server: LiveServer, kana: str) -> None:
    parent = live_server.persona("parent")
    open_logged_in(page, live_server, "/staff/residents")
    page.get_by_label("フリガナ（前方一致）").fill(kana)
    page.get_by_role("button", name="検索").click()

    expect(page.locator("#result-count")).to_have_text("1")
    page.get_by_role("link", name="山田 花子（佐藤）").click()
    expect(page).to_have_url(live_server.url(f"/staff/residents/{parent.resident_id}"))

    expect(page.get_by_role("heading", level=1)).to_have_text("住民記録: 山田 花子（佐藤）")
    expect(page.locator("#birth-date")).to_have_text("昭和63年6月12日")
    expect(page.locator("dt:text-is('旧氏') + dd")).to_have_text("佐藤（サトウ）")
    expect(page.locator("#my-number")).to_have_text(MASKED_MY_NUMBER)
    expect(page.locator("#my-number")).to_have_text(parent.my_number_masked)
    household = page.locator("#household tbody tr")
    expect(household).to_have_count(4)
    expect(household.filter(has_text="山田 花子")).to_contain_text("妻")
    expect(household.filter(has_text="山田 太郎")).to_contain_text("世帯主")
    expect(page.locator("#history tbody tr")).not_to_have_count(0)
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_search_by_birth_date_and_dates_follow_the_language(page: Page, live_server: LiveServer) -> None:
    pensioner = live_server.persona("pensioner")
    open_logged_in(page, live_server, "/staff/residents")
    page.get_by_label("生年月日").fill("1948-11-23")
    page.get_by_role("button", name="検索").click()
    expect(page).to_have_url(re.compile(r"birth_date=1948-11-23"))
    page.get_by_role("link", name="鈴木 一郎").click()
    expect(page).to_have_url(live_server.url(f"/staff/residents/{pensioner.resident_id}"))
    expect(page.locator("#birth-date")).to_have_text("昭和23年11月23日")

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#birth-date")).to_have_text("1948-11-23")
    expect(page.locator("#household tbody tr")).to_have_count(1)


def test_logged_out_visitor_is_sent_to_login_and_back_to_the_page_asked_for(
    page: Page, live_server: LiveServer
) -> None:
    target = f"/staff/residents/{live_server.persona('pensioner').resident_id}"
    page.goto(live_server.url(target))
    expect(page).to_have_url(re.compile(r"/staff/login\?next=%2Fstaff%2Fresidents%2F\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("職員ログイン")

    log_in(page, live_server)
    expect(page).to_have_url(live_server.url(target))
    expect(page.locator("#birth-date")).to_have_text("昭和23年11月23日")


def test_login_redirect_keeps_the_search_query(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url("/staff/residents?kana=%E3%83%A4%E3%83%9E%E3%83%80"))
    log_in(page, live_server)
    expect(page).to_have_url(re.compile(r"/staff/residents\?kana="), timeout=2_000)


def test_switching_language_keeps_the_search_results(page: Page, live_server: LiveServer) -> None:
    open_logged_in(page, live_server, "/staff/residents?kana=%E3%83%A4%E3%83%9E%E3%83%80")
    expect(page.locator("#result-count")).not_to_have_text("0")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_label("Kana (starts with)")).to_have_value("ヤマダ", timeout=2_000)


def test_keyboard_skip_link_first_and_login_without_a_mouse(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url("/"))
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="本文へ移動")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # off-screen until focused, then visible
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    page.goto(live_server.url("/staff/login"))
    username = page.get_by_label("ユーザー名")
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "username":
            break
    expect(username).to_be_focused()
    page.keyboard.type("clerk")
    page.keyboard.press("Tab")
    expect(page.get_by_label("パスワード")).to_be_focused()
    page.keyboard.type(live_server.clerk_password)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="ログイン")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url("/staff/residents"))


def test_phone_width_pages_do_not_scroll_sideways(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(locale="ja-JP", viewport={"width": 375, "height": 667}, is_mobile=True)
    page = context.new_page()
    try:
        parent = live_server.persona("parent")
        open_logged_in(page, live_server, "/staff/residents")
        pages = ["/", "/staff/residents?kana=%E3%83%A4", f"/staff/residents/{parent.resident_id}"]
        for path in pages:
            page.goto(live_server.url(path))
            assert page.evaluate("document.documentElement.clientWidth") == 375
            assert page.evaluate(HORIZONTAL_OVERFLOW) <= 1, f"{path} scrolls sideways on a phone"
        expect(page.locator("#household tbody tr")).to_have_count(4)
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/staff/login", "/staff/residents", "/staff/residents?kana=%E3%83%A4"])
def test_every_form_control_has_a_label(page: Page, live_server: LiveServer, path: str) -> None:
    if path.startswith("/staff/residents"):
        open_logged_in(page, live_server, "/staff/residents")
    page.goto(live_server.url(path))
    assert page.evaluate(UNLABELLED_INPUTS) == []
    assert page.evaluate(LABELLED_INPUT_COUNT) >= 2


def test_logout_from_the_header_ends_the_session(page: Page, live_server: LiveServer) -> None:
    open_logged_in(page, live_server, "/staff/residents")
    page.get_by_role("navigation").get_by_role("button", name=re.compile("ログアウト")).click()
    expect(page).to_have_url(live_server.url("/"))
    expect(page.get_by_role("button", name=re.compile("ログアウト"))).to_have_count(0)

    page.goto(live_server.url("/staff/residents"))
    expect(page).to_have_url(live_server.url("/staff/login?next=%2Fstaff%2Fresidents"))
