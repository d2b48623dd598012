"""Races on a real database (own engine, committed transactions, threads): one Idempotency-Key sent twice
at the same instant makes one job, and two workers fanning out one job at once make each notice once."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from openmyna.app import migrate
from openmyna.core.config import Settings
from openmyna.core.db import bulk_insert, make_engine, session_factory, unit_of_work
from openmyna.orgs.service import Caller
from openmyna.portal.notices import service
from openmyna.portal.notices.models import Notice, SendJob
from openmyna.portal.notices.queue import InProcessQueue
from openmyna.portal.notices.schemas import SendRequest
from openmyna.portal.notices.worker import Worker
from openmyna.registry.models import Resident
from tests.conftest import PG_URL, _worker_database, drop_database

CALLER = Caller(org_code="131016", actor="test", scopes=frozenset({"notices:send"}), via="token")
REQUEST = SendRequest.model_validate(
    {
        "notice": {"kind": "general", "title": "お知らせ", "body": "本文"},
        "to": {"kind": "town", "municipality_code": "131016"},
    }
)
RESIDENTS = 250


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A fresh, migrated database of this test's own (committed data, so it cannot share the suite's)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL tests skipped: set OPENMYNA_TEST_DATABASE_URL to run them")
        url = _worker_database(PG_URL, f"race_{uuid.uuid4().hex[:8]}")
    engine = make_engine(url)
    migrate.upgrade(engine)
    with unit_of_work(session_factory(engine)) as session:  # residents as the registry stores them (bulk)
        columns = [c.name for c in Resident.__table__.c if c.name not in ("id", "household_id", "removed_on")]
        defaults = {"status": "resident", "municipality_code": "131016", "relationship_code": "head", "version": 1}
        rows = []
        for i in range(RESIDENTS):
            values = {c: "" for c in columns} | defaults
            values |= {
                "resident_code": f"{i:011d}",
                "my_number_lookup": i.to_bytes(32, "little"),
                "my_number_sealed": b"x",
                "my_number_generation": 1,
                "pseudonym": f"person:{i:032x}",
            }
            values |= {"sex": "male", "postal_code": "1020072"}
            for date_column in ("birth_date", "became_resident_on", "address_since"):
                values[date_column] = dt.date(1980, 1, 1)
            rows.append(tuple(values[c] for c in columns))
        bulk_insert(session.connection(), Resident.__table__, columns, rows)
    yield session_factory(engine)
    engine.dispose()
    if request.param == "postgresql":
        drop_database(url)


def _together(count: int, target) -> list:  # type: ignore[no-untyped-def]
    barrier, results, errors = threading.Barrier(count), [], []

    def run() -> None:
        barrier.wait()
        try:
            results.append(target())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_one_key_sent_twice_at_once_makes_one_job(factory: sessionmaker[Session]) -> None:
    queue = InProcessQueue()

    def accept() -> int:
        with unit_of_work(factory) as session:
            job, _created = service.request_send(
                session, caller=CALLER, idempotency_key="race-key-0001", request=REQUEST, queue=queue
            )
            return job.id

    ids = _together(4, accept)
    assert len(set(ids)) == 1
    with unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(SendJob)) == 1
    assert queue.depth()["waiting"] == 1


def test_two_workers_on_one_job_make_each_notice_once(factory: sessionmaker[Session]) -> None:
    queue = InProcessQueue()
    with unit_of_work(factory) as session:
        job, _ = service.request_send(
            session, caller=CALLER, idempotency_key="race-key-0002", request=REQUEST, queue=queue
        )
        job_id = job.id
    workers = [Worker(session_factory=factory, settings=Settings(), queue=queue, chunk=20) for _ in range(2)]
    _together(2, lambda: workers.pop().fan_out(job_id))
    with unit_of_work(factory) as session:
        job = session.get(SendJob, job_id)
        assert job is not None and job.status == "done" and job.created_count == RESIDENTS
        assert session.scalar(select(func.count()).select_from(Notice)) == RESIDENTS
        assert session.scalar(select(func.count(func.distinct(Notice.subject)))) == RESIDENTS
