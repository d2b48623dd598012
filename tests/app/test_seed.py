"""The demo world: reproducible, realistic, atomic, and without a plaintext My Number anywhere on disk."""

from __future__ import annotations

import datetime as dt
import os
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from openmyna.app import migrate
from openmyna.app.seed import seed_world
from openmyna.core.config import Settings
from openmyna.core.context import AppContext, open_context
from openmyna.core.db import make_engine
from openmyna.orgs.models import Organisation
from openmyna.registry import demo
from openmyna.registry.models import Household, Resident, ResidentVersion
from openmyna.registry.service import my_number_of
from tests.conftest import PG_URL, _worker_database, drop_database


@pytest.fixture
def fresh_context(
    settings: Settings, engine: Engine, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[AppContext]:
    """An empty database of the same backend as ``engine``, committed to for real."""
    if engine.dialect.name == "postgresql":
        assert PG_URL
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        url = _worker_database(PG_URL, f"{worker}_{zlib.crc32(request.node.nodeid.encode()):x}")
    else:
        url = f"sqlite:///{tmp_path / 'seed.db'}"
    fresh_engine = make_engine(url)
    migrate.upgrade(fresh_engine)
    yield open_context(settings.model_copy(update={"database_url": url}), engine=fresh_engine)
    fresh_engine.dispose()
    if engine.dialect.name == "postgresql":
        drop_database(url)


def _people(context: AppContext) -> list[tuple[str, str, dt.date, str, str]]:
    with Session(context.engine) as session:
        rows = session.execute(
            select(
                Resident.full_name,
                Resident.full_kana,
                Resident.birth_date,
                Resident.address_town,
                Resident.relationship_code,
            ).order_by(Resident.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_seed_is_reproducible_and_realistic(fresh_context: AppContext, tmp_path: Path) -> None:
    report = seed_world(fresh_context, residents=400, seed=42, progress=lambda _n: None)
    assert report.created
    assert {p.key for p in report.personas} == {"parent", "single_parent", "pensioner", "employee"}
    people = _people(fresh_context)
    assert len(people) == 400
    relationships = Counter(p[4] for p in people)
    assert relationships["head"] > 100 and relationships["child"] > 30 and relationships["spouse"] > 30
    today = dt.date.today()
    ages = [(today - p[2]).days // 365 for p in people]
    assert min(ages) < 15 and max(ages) >= 65
    with Session(fresh_context.engine) as session:
        assert session.scalar(select(func.count()).select_from(ResidentVersion)) == 400
        households = session.scalar(select(func.count()).select_from(Household)) or 0
        assert 120 < households < 300
        parent = session.get(Resident, next(p.resident_id for p in report.personas if p.key == "parent"))
        assert parent is not None and parent.former_family_name == "佐藤"
        children = [m for m in parent.household.members if m.relationship_code == "child"] if parent.household else []
        assert len(children) == 2 and all((today - c.birth_date).days < 15 * 365 for c in children)

    other = open_context(fresh_context.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/b.db"}))
    migrate.upgrade(other.engine)
    seed_world(other, residents=400, seed=42, progress=lambda _n: None)
    assert _people(other) == people
    assert not seed_world(other, residents=400, seed=42, progress=lambda _n: None).created  # idempotent


def test_interrupted_seed_leaves_nothing(fresh_context: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "BATCH", 50)
    calls = []

    def progress(n: int) -> None:
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        seed_world(fresh_context, residents=300, seed=1, progress=progress)
    with Session(fresh_context.engine) as session:
        for model in (Organisation, Household, Resident, ResidentVersion):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model


def _raw_database_text(context: AppContext) -> bytes:
    """Everything the database holds, as the bytes an attacker with the files or a dump would see."""
    if context.engine.dialect.name == "sqlite":
        context.engine.dispose()
        path = Path(str(context.engine.url.database))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    chunks = []
    with context.engine.connect() as connection:
        tables = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        for table in list(tables):
            raw = connection.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" TO STDOUT') as copy:
                chunks.extend(bytes(block) for block in copy)
    return b"".join(chunks)


def test_no_plaintext_my_number_in_the_raw_database(fresh_context: AppContext) -> None:
    seed_world(fresh_context, residents=300, seed=7, progress=lambda _n: None)
    with Session(fresh_context.engine) as session:
        numbers = [my_number_of(fresh_context.keys, r) for r in session.scalars(select(Resident))]
    assert len(set(numbers)) == 300
    raw = _raw_database_text(fresh_context)
    assert len(raw) > 10_000
    for number in numbers:
        for form in (number, f"{number[:4]} {number[4:8]} {number[8:]}", f"{number[:4]}-{number[4:8]}-{number[8:]}"):
            assert form.encode() not in raw, "plaintext My Number found on disk"
