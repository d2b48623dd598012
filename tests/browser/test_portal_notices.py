"""Menus C お知らせ and D 民間送達, account settings and the inquiry form in Debian's chromium, at desktop
and phone width, each page checked by axe-core (from npm, ``make node-tools``) for serious or critical
violations, and the staff send page driving a notice to a resident through the server's own queue worker."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from tests.portal.oidc.live import SESSION_COOKIE, portal_cookie

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": (1280, 900), "phone": (375, 740)}
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture(params=list(WIDTHS))
def portal_page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A page at desktop or phone width; CSP is bypassed only so that the test can inject axe-core."""
    width, height = WIDTHS[request.param]
    context = browser.new_context(locale="ja-JP", viewport={"width": width, "height": height}, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def assert_accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation (WCAG 2.1 A/AA rules), and nothing overflows sideways."""
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"axe-core is missing at {AXE}: run `make node-tools`")
        pytest.skip(f"accessibility checks need axe-core at {AXE}: run `make node-tools`")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})"
    )
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, json.dumps(bad, ensure_ascii=False)
    assert page.evaluate(OVERFLOW) <= 0, "the page scrolls sideways"


def resident_session(page: Page, server: LiveServer, resident_id: int) -> None:
    """Give the browser a portal session of the resident (the login methods have their own browser tests)."""
    cookie = portal_cookie(server.context, resident_id)
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": server.base_url}])


def test_notices_inbox_read_and_archive(portal_page: Page, live_server: LiveServer) -> None:
    page = portal_page
    persona = live_server.report.personas[0]
    resident_session(page, live_server, persona.resident_id)
    page.goto(live_server.url("/portal/notices"))
    expect(page.get_by_role("heading", level=1)).to_have_text("お知らせ")
    table = page.locator("#notices")
    expect(table).to_contain_text("児童手当の現況届の提出期限について")
    assert_accessible(page)
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=f"/tmp/openmyna-portal-notices-{width}.png", full_page=True)  # for docs/portal.md

    link = page.get_by_role("link", name="令和8年度 住民税決定通知")
    link.focus()
    page.keyboard.press("Enter")  # by keyboard alone
    expect(page.locator("#notice-title")).to_have_text("令和8年度 住民税決定通知")
    assert_accessible(page)
    page.get_by_role("button", name="アーカイブする").click()
    expect(page.locator("#notices")).not_to_contain_text("令和8年度 住民税決定通知")
    page.get_by_role("link", name="アーカイブ", exact=True).click()
    expect(page.locator("#notices")).to_contain_text("令和8年度 住民税決定通知")
    page.get_by_role("link", name="令和8年度 住民税決定通知").click()
    page.get_by_role("button", name="受信箱に戻す").click()  # leave the shared demo data as it was

    page.goto(live_server.url("/portal/notices?lang=en"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Notices")


def test_delivery_consent(portal_page: Page, live_server: LiveServer) -> None:
    page = portal_page
    persona = live_server.report.personas[1]
    resident_session(page, live_server, persona.resident_id)
    page.goto(live_server.url("/portal/notices/delivery"))
    expect(page.get_by_role("heading", level=2, name="デモ郵便デジタル送達")).to_be_visible()
    assert_accessible(page)
    box = page.locator("#demo-post-decision")
    box.check()
    page.get_by_role("button", name="同意を保存").click()
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator("#demo-post-decision")).to_be_checked()
    page.locator("#demo-post-decision").uncheck()
    page.get_by_role("button", name="同意を保存").click()
    expect(page.locator("#demo-post-decision")).not_to_be_checked()
    assert_accessible(page)


def test_settings(portal_page: Page, live_server: LiveServer) -> None:
    page = portal_page
    resident_session(page, live_server, live_server.report.personas[2].resident_id)
    page.goto(live_server.url("/portal/settings"))
    expect(page.get_by_role("heading", level=1)).to_have_text("アカウント設定")
    assert_accessible(page)
    page.get_by_role("textbox", name="ニックネーム").fill("まいな")
    page.get_by_role("button", name="保存する").first.click()
    expect(page.locator("#done")).to_have_text("ニックネームを保存しました。")
    expect(page.get_by_role("textbox", name="ニックネーム")).to_have_value("まいな")
    page.get_by_label("新しいメールアドレス").fill("mai@example.jp")
    page.get_by_role("button", name="確認メールを送る").click()  # no SMTP server in this demo: said plainly
    expect(page.locator("#settings-error")).to_contain_text("SMTP")
    assert_accessible(page)
    expect(page.get_by_role("link", name="ログイン履歴")).to_have_attribute("href", "/portal/settings/logins")


def test_inquiry_form_and_faq(portal_page: Page, live_server: LiveServer) -> None:
    page = portal_page
    page.goto(live_server.url("/portal/faq"))
    expect(page.get_by_role("heading", level=1)).to_have_text("よくある質問")
    assert_accessible(page)
    page.get_by_role("link", name="お問い合わせ").click()
    page.get_by_label("お問い合わせ内容（2000文字まで）").fill("お知らせのメールが届きません。")
    page.get_by_role("button", name="送信する").click()
    expect(page.locator("#inquiry-errors")).to_contain_text("入力してください")
    expect(page.locator("#title")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    page.get_by_label("件名（100文字まで）").fill("メールが届かない")
    page.get_by_role("button", name="送信する").click()
    expect(page.locator("#inquiry-reference")).to_have_text(re.compile(r"^\d+$"))
    assert_accessible(page)


def test_staff_sends_and_the_resident_sees_it(page: Page, live_server: LiveServer) -> None:
    persona = live_server.report.personas[3]
    page.goto(live_server.url("/staff/login?next=/staff/notices"))
    page.get_by_label("ユーザー名").fill("clerk")
    page.get_by_label("パスワード").fill(live_server.clerk_password)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("お知らせの送信（職員）")
    page.get_by_label("住民記録番号（カンマ区切り）").fill(str(persona.resident_id))
    page.get_by_label("種類").select_option("payment_request")
    page.get_by_label("件名").fill("軽自動車税の納付のお願い")
    page.get_by_label("本文").fill("5月31日までに納付してください。")
    page.get_by_role("button", name="送信する").click()
    status = page.locator("#job-status")
    for _ in range(50):  # the server's own worker thread fans it out
        if status.get_attribute("data-status") == "done":
            break
        page.wait_for_timeout(100)
        page.reload()
    expect(status).to_have_attribute("data-status", "done")

    resident = page.context.browser.new_context(locale="ja-JP")  # type: ignore[union-attr]
    resident_page = resident.new_page()
    resident_session(resident_page, live_server, persona.resident_id)
    resident_page.goto(live_server.url("/portal/notices"))
    expect(resident_page.locator("#notices")).to_contain_text("軽自動車税の納付のお願い")
    resident.close()
