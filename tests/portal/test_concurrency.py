"""A QR code raced on a real server: many phones sign it at once, the browser continues many times at once.

Exactly one signature is accepted and exactly one session is started, on each database.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from openmyna.app import migrate
from openmyna.app.seed import seed_world
from openmyna.card.reader import VirtualReader
from openmyna.core.config import Settings
from openmyna.core.context import AppContext, open_context
from openmyna.core.db import make_engine
from openmyna.core.sessions import WebSession
from tests.conftest import PG_URL, TEST_MASTER_KEY, _worker_database, drop_database
from tests.live import free_port, running

RACERS = 8
LOGIN_URL = re.compile(r'<code id="login-url">([^<]+)</code>')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[str, AppContext]]:
    """A database of its own on the backend the suite runs (the shared one rolls back; this one commits)."""
    postgres = database_url.startswith("postgresql")
    if not postgres:
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        assert PG_URL
        url = _worker_database(PG_URL, os.environ.get("PYTEST_XDIST_WORKER", "main") + "_portal_race")
    port = free_port()
    settings = Settings(
        database_url=url,
        var_dir=tmp_path / "var",
        data_key=base64.b64encode(TEST_MASTER_KEY).decode(),
        base_url=f"http://127.0.0.1:{port}",
        network_publish_seconds=0,
    )
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    context = open_context(settings)
    seed_world(context, residents=12, seed=5, progress=lambda _n: None)
    try:
        with running(settings, port) as base_url:
            yield base_url, context
    finally:
        context.engine.dispose()
        if postgres:
            drop_database(url)


def test_one_signature_and_one_session_however_many_race(live: tuple[str, AppContext]) -> None:
    base_url, context = live
    with context.session_factory() as session:
        from openmyna.card.models import Card

        card = session.scalars(select(Card).where(Card.state == "active").order_by(Card.id)).first()
        assert card is not None
        subject = card.subject
    reader = VirtualReader(context.session_factory, context.keys, card.id)
    browser = httpx.Client(base_url=base_url, trust_env=False, timeout=30)
    page = browser.get("/portal/login?next=/portal/history", headers={"accept": "text/html"})
    url, csrf = html.unescape(LOGIN_URL.findall(page.text)[0]), CSRF.findall(page.text)[0]

    challenge = base64.b64decode(httpx.get(url, headers={"accept": "application/json"}).json()["challenge"])
    certificate = base64.b64encode(reader.certificate("auth")).decode()
    bodies = [
        {
            "certificate": certificate,
            "signature": base64.b64encode(reader.sign("auth", "1234", data=challenge)).decode(),
        }
        for _ in range(RACERS)
    ]
    with ThreadPoolExecutor(RACERS) as pool:
        signed = list(pool.map(lambda body: httpx.post(url, json=body, timeout=30).status_code, bodies))
    assert sorted(signed) == [200] + [409] * (RACERS - 1), signed

    def continue_once(_: int) -> int:
        answer = httpx.post(
            f"{base_url}/portal/login/qr/continue",
            data={"csrf": csrf, "next": "/portal/history"},
            cookies=dict(browser.cookies),
            timeout=30,
        )
        return answer.status_code

    with ThreadPoolExecutor(RACERS) as pool:
        continued = list(pool.map(continue_once, range(RACERS)))
    assert continued.count(303) == 1, continued
    assert all(code in (303, 409) for code in continued), continued
    with context.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(WebSession).where(WebSession.subject == subject)) == 1
