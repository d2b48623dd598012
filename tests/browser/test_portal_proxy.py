"""Proxy use (代理人) through Debian's chromium: the principal grants, the proxy accepts, switches, sees the
banner, uses a granted menu, is refused another, switches back and logs out; at 1280x800 and 390x844, with
axe-core finding no serious or critical violation, and the switch by keyboard alone.

Screenshots go to ``$OPENMYNA_SCREENSHOTS`` (``docs/img`` to refresh the ones in docs/portal.md).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from tests.browser.test_portal import SHOTS, WATCH_VIOLATIONS, accessible
from tests.portal.oidc.live import SESSION_COOKIE, portal_cookie

from openmyna.core.db import unit_of_work
from openmyna.portal.proxy import demo as proxy_demo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PRINCIPAL, PROXY = "single_parent", "parent"  # 佐々木 美咲 lets 山田 花子 act for her


def _page(browser: Browser, server: LiveServer, persona: str, viewport: dict[str, int]) -> Page:
    """A browser of ``persona`` with a fresh portal session (the logins have their own browser tests)."""
    context = browser.new_context(locale="ja-JP", viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    context.add_init_script(WATCH_VIOLATIONS)
    cookie = portal_cookie(server.context, server.persona(persona).resident_id)
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": server.base_url}])
    return context.new_page()


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_grant_accept_switch_use_refuse_return_and_logout(browser: Browser, live_server: LiveServer, size: str) -> None:
    suffix = "" if size == "desktop" else "-phone"
    SHOTS.mkdir(parents=True, exist_ok=True)
    principal = _page(browser, live_server, PRINCIPAL, VIEWPORTS[size])
    principal.goto(live_server.url("/portal"))
    principal.get_by_role("link", name="代理人（代理で利用する・代理人の登録）").click()
    expect(principal.get_by_role("heading", level=1)).to_have_text("代理人")
    accessible(principal)
    principal.get_by_role("link", name="代理人を登録する").click()
    principal.get_by_label("代理人の氏", exact=True).fill("山田")
    principal.get_by_label("代理人の名", exact=True).fill("花子")
    principal.get_by_label("代理人の生年月日").fill("1988-06-12")
    principal.get_by_label("A やりとり履歴").check()
    principal.get_by_label("C お知らせ").check()
    accessible(principal)
    principal.screenshot(path=str(SHOTS / f"portal-proxy-grant{suffix}.png"), full_page=True)
    principal.get_by_role("button", name="登録して招待コードを発行").click()
    code = principal.locator("#invitation").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code), code
    accessible(principal)

    proxy = _page(browser, live_server, PROXY, VIEWPORTS[size])
    proxy.goto(live_server.url("/portal/proxy"))
    proxy.get_by_label("招待コード").fill(code)
    proxy.get_by_role("button", name="招待を受ける").click()
    expect(proxy.locator("#proxy-done")).to_contain_text("代理人になりました")
    accessible(proxy)
    proxy.get_by_role("button", name="佐々木 美咲さんの代理で利用する").last.click()
    expect(proxy).to_have_url(live_server.url("/portal"))
    expect(proxy.locator("#proxy-banner")).to_contain_text("佐々木 美咲さんの代理で利用中")
    expect(proxy.locator(".greeting")).to_contain_text("佐々木 美咲")
    accessible(proxy)
    proxy.screenshot(path=str(SHOTS / f"portal-proxy-acting{suffix}.png"), full_page=True)

    proxy.get_by_role("link", name="A やりとり履歴").click()
    expect(proxy.get_by_role("heading", level=1)).to_have_text("やりとり履歴")
    expect(proxy.locator("#proxy-banner")).to_be_visible()
    accessible(proxy)
    proxy.goto(live_server.url("/portal/mydata"))
    expect(proxy.get_by_role("heading", level=1)).to_have_text("この機能は代理で利用できません")
    accessible(proxy)
    proxy.get_by_role("button", name="自分の利用に戻る").click()
    expect(proxy.locator("#proxy-done")).to_have_text("自分の利用に戻りました。")
    expect(proxy.locator("#proxy-banner")).to_have_count(0)
    proxy.get_by_role("button", name="ログアウト").click()
    expect(proxy.get_by_role("status")).to_have_text("ログアウトしました。")
    proxy.context.close()

    principal.goto(live_server.url("/portal/proxy"))
    uses = principal.locator("#proxy-uses")
    expect(uses).to_contain_text("代理人: 山田 花子")
    expect(uses).to_contain_text("/portal/mydata (refused)")
    accessible(principal)
    principal.screenshot(path=str(SHOTS / f"portal-proxy-uses{suffix}.png"), full_page=True)
    principal.locator("#grants li").first.get_by_role("button", name="代理人の登録を取り消す").click()
    expect(principal.locator("#proxy-done")).to_contain_text("取り消しました")
    principal.context.close()


def _accepted_grant(server: LiveServer) -> int:
    """A grant made and accepted through the proxy service, as the pages do it."""
    with unit_of_work(server.context.session_factory) as session:
        made = proxy_demo.grant_between(
            session,
            principal_id=server.persona(PRINCIPAL).resident_id,
            proxy_id=server.persona(PROXY).resident_id,
            menus=("history",),
            days=7,
        )
    assert made is not None
    return made


def _tab_to(page: Page, element_id: str, key: str = "Tab", limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} was not reached by {key}")


def test_the_switch_by_keyboard_alone(browser: Browser, live_server: LiveServer) -> None:
    grant_id = _accepted_grant(live_server)
    page = _page(browser, live_server, PROXY, VIEWPORTS["desktop"])
    page.goto(live_server.url("/portal"))
    _tab_to(page, "proxy-link")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("代理人")
    _tab_to(page, f"switch-{grant_id}")
    page.keyboard.press("Enter")
    expect(page.locator("#proxy-banner")).to_contain_text("佐々木 美咲さんの代理で利用中")
    _tab_to(page, "menu-a")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("やりとり履歴")
    page.goto(live_server.url("/portal"))
    _tab_to(page, "proxy-return")
    page.keyboard.press("Enter")
    expect(page.locator("#proxy-done")).to_have_text("自分の利用に戻りました。")
    _tab_to(page, f"resign-{grant_id}")
    page.keyboard.press("Enter")
    expect(page.locator("#proxy-done")).to_have_text("代理人をやめました。")
    page.context.close()
