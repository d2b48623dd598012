"""The kiosk terminal's touch screen through Debian's chromium: a persona prints a 住民票の写し and a
印鑑登録証明書 with the card (through the local reader) and checks the number at /verify, at a kiosk's
screen size and at phone width, with axe-core finding no serious or critical violation.

The hours rule is tested under a frozen clock in tests/kiosk; here the real clock runs (the page's
server and chromium share it), so the hours check is switched off for these tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect
from tests.browser.test_portal import PERSONA, _fresh, accessible, card_reader  # noqa: F401  (fixture)

from openmyna.kiosk import rules

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
KIOSK = {"width": 1280, "height": 1024}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _always_open(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(rules, "check_open", lambda *args, **kwargs: None)
    yield


@pytest.mark.parametrize("viewport", [KIOSK, PHONE], ids=["kiosk", "phone"])
def test_a_persona_prints_a_juminhyo_and_a_seal_certificate_and_checks_it(
    browser: Browser,
    live_server: LiveServer,
    card_reader: int,  # noqa: F811
    viewport: dict[str, int],
) -> None:
    assert PERSONA == "parent"
    page = _fresh(browser, viewport)
    page.goto(live_server.url("/kiosk"))
    expect(page.get_by_role("heading", level=1)).to_have_text("行政サービス　証明書交付")
    accessible(page)
    page.get_by_label("暗証番号（数字4桁）").fill("9999")
    page.get_by_role("button", name="交付する").click()
    expect(page.locator("#kiosk-status")).to_contain_text("暗証番号が違います")
    numbers = []
    # the 戸籍 of the persona's family register, kept by the town of its 本籍 (here the same town)
    for label, fee in (("住民票の写し", "¥300"), ("戸籍全部事項証明書", "¥450"), ("印鑑登録証明書", "¥300")):
        page.get_by_text(label, exact=True).click()
        page.get_by_label("暗証番号（数字4桁）").fill("1234")
        page.get_by_role("button", name="交付する").click()
        expect(page.locator("#kiosk-result")).to_be_visible(timeout=60_000)  # signing; the machine may be loaded
        expect(page.locator("#result-fee")).to_have_text(fee)
        accessible(page)
        number = page.locator("#result-number").inner_text()
        href = page.locator("#result-print").get_attribute("href")
        pdf = page.context.request.get(live_server.url(href or ""))
        assert pdf.ok and pdf.body().startswith(b"%PDF")
        numbers.append(number)
    page.locator("#result-verify").click()
    expect(page.locator("#verify-verdict")).to_have_text("この番号の証明書は発行されています（真正）")
    expect(page.locator("#verify-result")).to_contain_text("印鑑登録証明書")
    accessible(page)
    first = httpx.get(live_server.url(f"/api/kiosk/verify?number={numbers[0]}"), trust_env=False).json()
    assert first["genuine"] and first["summary"]["kind"] == "juminhyo"
