"""The Content-Security-Policy in a real browser: no page breaks it, and Swagger UI's inline script may run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from tests.browser.test_pages import open_logged_in

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# Violations as the page sees them (the event) and as chromium reports them (the console).
WATCH_VIOLATIONS = """() => { window.violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.violations.push(e.violatedDirective)); }"""
SWAGGER_STUB = "window.SwaggerUIBundle = Object.assign((config) => ({config}), {presets: {apis: 1}});"


def _watch(page: Page) -> list[str]:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH_VIOLATIONS.removeprefix("() => "))
    return console


def test_no_page_violates_the_policy(page: Page, live_server: LiveServer) -> None:
    console = _watch(page)
    open_logged_in(page, live_server, "/staff/residents")
    resident = live_server.persona("parent").resident_id
    for path in ["/", "/staff/residents?kana=%E3%83%A4", f"/staff/residents/{resident}", "/corporations?q=%E5%95%86"]:
        page.goto(live_server.url(path))
        assert page.evaluate("window.violations") == [], path
    page.locator("tbody tr td a").first.click()  # a corporation's page, with its JSON-LD data block
    expect(page.locator("script[type='application/ld+json']")).to_have_count(1)
    assert page.evaluate("window.violations") == []
    assert [text for text in console if "Content Security Policy" in text] == []


def test_swagger_ui_runs_its_inline_script(page: Page, live_server: LiveServer) -> None:
    """The CDN is out of reach here, so a stub stands in for the bundle; the page's own inline script is real."""
    console = _watch(page)

    def cdn(route: Route) -> None:
        if route.request.url.endswith(".js"):
            route.fulfill(content_type="text/javascript", body=SWAGGER_STUB)
        else:
            route.fulfill(content_type="text/css", body="")

    page.route("https://cdn.jsdelivr.net/**", cdn)
    page.route("https://fastapi.tiangolo.com/**", lambda route: route.fulfill(status=204))
    page.goto(live_server.url("/docs"))
    assert page.evaluate("ui.config.url") == "/openapi.json"
    assert page.evaluate("window.violations") == []
    assert [text for text in console if "Content Security Policy" in text] == []
