"""The notice queue on a real Redis: tasks through a stream and consumer group, a dead worker's task taken
over, failed tasks retried after a delay. Skipped, saying why, only when no Redis answers on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core.config import Settings
from openmyna.core.db import unit_of_work
from openmyna.portal.notices.models import Notice
from openmyna.portal.notices.queue import RedisQueue, Task
from openmyna.portal.notices.worker import Worker, requeue_stale
from tests.live import free_port
from tests.portal.world import person, send, worker_of

REDIS_URL = os.environ.get("OPENMYNA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def queue_name() -> Iterator[str]:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the Redis queue tests need Redis at {REDIS_URL} (CI has one): {exc}")
        pytest.skip(f"Redis queue tests skipped: no Redis at {REDIS_URL} ({exc}); set OPENMYNA_TEST_REDIS_URL")
    name = f"openmyna-test:{uuid.uuid4().hex}"
    yield name
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)


@pytest.fixture
def settings(settings: Settings, queue_name: str) -> Settings:
    return settings.model_copy(update={"queue_url": REDIS_URL, "queue_name": queue_name})


def test_a_send_travels_through_redis_once(client: TestClient, town_headers, db: Session, queue_name: str) -> None:
    queue = client.app.state.notice_queue
    assert isinstance(queue, RedisQueue)
    people = [person(client, town_headers, given=f"太郎{i}") for i in range(3)]
    to = {"kind": "residents", "resident_ids": [p["id"] for p in people]}
    job = send(client, town_headers, to=to, key="redis-send-0001").json()
    assert queue.client.xlen(f"{queue_name}:tasks") == 1  # queued in Redis, after the request committed
    assert send(client, town_headers, to=to, key="redis-send-0001").status_code == 202
    assert queue.client.xlen(f"{queue_name}:tasks") == 1  # the replay queued nothing

    assert worker_of(client.app).drain() == 1
    assert queue.depth() == {"waiting": 0, "in_progress": 0, "delayed": 0}
    done = client.get(f"/api/notices/sends/{job['id']}", headers=town_headers).json()
    assert done["status"] == "done" and done["created_count"] == 3


def test_a_dead_workers_task_is_taken_over(client: TestClient, town_headers, db: Session, queue_name: str) -> None:
    resident = person(client, town_headers)
    job = send(client, town_headers, to={"kind": "residents", "resident_ids": [resident["id"]]}).json()
    dead = RedisQueue(REDIS_URL, name=queue_name, consumer="dead")
    assert [r.task for r in dead.receive(count=10, wait_seconds=0.1)] == [Task("fanout", {"job_id": job["id"]})]
    # the "dead" worker never acknowledges; a live one takes the task over once it has been idle long enough
    live_queue = RedisQueue(REDIS_URL, name=queue_name, consumer="live", reclaim_after=0.3)
    live = Worker(
        session_factory=client.app.state.session_factory, settings=client.app.state.settings, queue=live_queue
    )
    assert live.run_once(wait_seconds=0.05) == 0
    assert live_queue.depth()["in_progress"] == 1
    time.sleep(0.4)
    assert live.run_once(wait_seconds=0.05) == 1
    assert live_queue.depth() == {"waiting": 0, "in_progress": 0, "delayed": 0}
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Notice)) == 1


def test_a_failed_task_waits_then_retries(client: TestClient, town_headers, queue_name: str) -> None:
    queue = RedisQueue(REDIS_URL, name=queue_name)
    queue.enqueue(Task("fanout", {"job_id": 2_000_000}))  # no such job: handled as done (nothing to do)
    queue.enqueue(Task("mail", {"mail_ids": "not-a-list"}))  # a malformed task fails every time
    worker = Worker(
        session_factory=client.app.state.session_factory,
        settings=client.app.state.settings,
        queue=queue,
        max_attempts=2,
        backoff=lambda _attempt: 0.3,
    )
    assert worker.run_once(wait_seconds=0.05) == 2
    assert queue.depth() == {"waiting": 0, "in_progress": 0, "delayed": 1}
    assert worker.run_once(wait_seconds=0.05) == 0  # not due yet
    time.sleep(0.35)
    received = queue.receive(count=10, wait_seconds=0.05)
    assert [(r.task.kind, r.task.attempt) for r in received] == [("mail", 2)]
    queue.ack(received[0])
    assert queue.depth() == {"waiting": 0, "in_progress": 0, "delayed": 0}


def test_a_send_accepted_while_the_queue_is_down_is_queued_again(
    client: TestClient, town_headers, queue_name: str
) -> None:
    resident = person(client, town_headers)
    app = client.app
    working = app.state.notice_queue
    app.state.notice_queue = RedisQueue(f"redis://127.0.0.1:{free_port()}/0", name=queue_name)  # nothing listens
    accepted = send(client, town_headers, to={"kind": "residents", "resident_ids": [resident["id"]]})
    assert accepted.status_code == 202 and accepted.json()["status"] == "queued"  # accepted; the task was lost
    app.state.notice_queue = working
    assert worker_of(app).drain() == 0
    with unit_of_work(app.state.session_factory) as session:
        assert requeue_stale(session, working, older_than=dt.timedelta(minutes=5)) == []
        assert requeue_stale(session, working, older_than=dt.timedelta(0)) == [accepted.json()["id"]]
    assert worker_of(app).drain() == 1
    done = client.get(f"/api/notices/sends/{accepted.json()['id']}", headers=town_headers).json()
    assert done["status"] == "done" and done["created_count"] == 1
