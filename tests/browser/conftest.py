"""A real server on a free port with the demo world, and Debian's chromium driven through Playwright.

Every test module here is marked ``browser`` and joins the xdist group "browser", so
``pytest -n 2 --dist loadgroup`` runs them all on one worker against one server. The system chromium is
used; never run ``playwright install``.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests.live import free_port, running

from openmyna.app import migrate
from openmyna.app.seed import SeedReport, seed_world
from openmyna.core.config import Settings
from openmyna.core.context import AppContext, open_context
from openmyna.core.db import make_engine
from openmyna.registry.demo import SeededPersona

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LIVE_MASTER_KEY = bytes(range(100, 132))
RESIDENTS = 300


@dataclass(frozen=True)
class LiveServer:
    """A running openmyna: where it answers, how it was configured and what the seed put in it."""

    base_url: str
    settings: Settings
    context: AppContext
    report: SeedReport

    def url(self, path: str) -> str:
        return self.base_url + path

    def persona(self, key: str) -> SeededPersona:
        return next(p for p in self.report.personas if p.key == key)

    @property
    def clerk_password(self) -> str:
        return next(login.password for login in self.report.logins if login.username == "clerk")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Migrate and seed a fresh SQLite database, then serve it with uvicorn in a daemon thread."""
    root = tmp_path_factory.mktemp("live")
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{root / 'openmyna.db'}",
        var_dir=root / "var",
        data_key=base64.b64encode(LIVE_MASTER_KEY).decode(),
        base_url=f"http://127.0.0.1:{port}",
        portal_card_reader_url=f"http://127.0.0.1:{free_port()}",  # the portal's local card reader (test_portal)
    )
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    engine.dispose()
    context = open_context(settings)
    report = seed_world(context, residents=RESIDENTS, seed=42, progress=lambda _n: None)

    try:
        with running(settings, port) as base_url:
            yield LiveServer(base_url, settings, context, report)
    finally:
        context.engine.dispose()


@contextlib.contextmanager
def reader_served(live_server: LiveServer, reader: Any) -> Iterator[None]:
    """``openmyna card reader-serve`` for ``reader``, on the port the pages expect (the settings' reader URL)."""
    import threading
    from urllib.parse import urlsplit

    import uvicorn

    from openmyna.card.reader_http import create_reader_app

    app = create_reader_app(reader, allowed_origins=[live_server.base_url])
    port = urlsplit(live_server.settings.portal_card_reader_url).port
    server = uvicorn.Server(uvicorn.Config(app=app, host="127.0.0.1", port=port or 0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless; the browser tests are skipped when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own context (no cookies shared between tests), in Japanese."""
    context = browser.new_context(locale="ja-JP")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
