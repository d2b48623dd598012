"""Sending notices through the API: the job, the fan-out, idempotency, and the resident's inbox."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core.audit import events_for
from openmyna.core.db import unit_of_work
from openmyna.portal.notices.models import Notice, SendJob
from openmyna.portal.notices.service import READ_ACTION
from tests.portal.sessions import log_in
from tests.portal.world import csrf_of, person, send, subject_of, worker_of


def _notices(db: Session, subject: str) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(Notice).where(Notice.subject == subject)) or 0)


def test_a_send_fans_out_once_and_the_resident_reads_it(client: TestClient, town_headers, db: Session) -> None:
    alice, bob = person(client, town_headers, given="花子"), person(client, town_headers, given="次郎")
    to = {"kind": "residents", "resident_ids": [alice["id"], bob["id"]]}
    first = send(client, town_headers, to=to, key="send-0001-child-allowance")
    assert first.status_code == 202, first.text
    job = first.json()
    assert job["status"] == "queued" and job["created_count"] == 0
    assert first.headers["location"] == f"/api/notices/sends/{job['id']}"

    worker = worker_of(client.app)
    assert worker.drain() == 1
    done = client.get(f"/api/notices/sends/{job['id']}", headers=town_headers).json()
    assert done["status"] == "done" and done["created_count"] == 2 and done["attempts"] == 1

    replay = send(client, town_headers, to=to, key="send-0001-child-allowance")
    assert replay.status_code == 202 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == job["id"]
    assert worker.drain() == 0  # a replay queues nothing
    worker.fan_out(job["id"])  # a task delivered again after the job finished changes nothing
    alice_subject = subject_of(db, alice["id"])
    assert _notices(db, alice_subject) == 1 and _notices(db, subject_of(db, bob["id"])) == 1

    log_in(client, resident_id=alice["id"])
    assert client.get("/api/portal/notices/unread-count").json() == {"unread": 1}
    page = client.get("/portal/notices")
    assert page.status_code == 200 and "児童手当の認定について" in page.text
    notice_id = db.scalars(select(Notice.id).where(Notice.subject == alice_subject)).one()
    opened = client.get(f"/portal/notices/{notice_id}")
    assert opened.status_code == 200 and "認定しました。" in opened.text and "千代田区" in opened.text
    assert client.get("/api/portal/notices/unread-count").json() == {"unread": 0}
    assert any(e.action == READ_ACTION and e.purpose == f"notice:{notice_id}" for e in events_for(db, alice_subject))

    csrf = csrf_of(client, f"/portal/notices/{notice_id}")
    for action, expected in (("unread", 1), ("archive", 0)):
        moved = client.post(
            f"/portal/notices/{notice_id}", data={"action": action, "csrf": csrf}, follow_redirects=False
        )
        assert moved.status_code == 303
        assert client.get("/api/portal/notices/unread-count").json() == {"unread": expected}
    assert "児童手当の認定について" not in client.get("/portal/notices").text
    assert "児童手当の認定について" in client.get("/portal/notices?box=archive").text
    refused = client.post(f"/portal/notices/{notice_id}", data={"action": "unarchive"}, follow_redirects=False)
    assert refused.status_code == 403  # no CSRF token: nothing changes
    assert "児童手当の認定について" in client.get("/portal/notices?box=archive").text

    log_in(client, resident_id=bob["id"])  # someone else's notice is not found, and not marked read
    assert client.get(f"/portal/notices/{notice_id}").status_code == 404


def test_a_retried_fan_out_continues_where_it_stopped(client: TestClient, town_headers, db: Session) -> None:
    people = [person(client, town_headers, given=f"太郎{i}") for i in range(5)]
    job = send(client, town_headers, to={"kind": "town", "municipality_code": "131016"}).json()
    worker = worker_of(client.app, chunk=2)
    assert len(worker.queue.receive(count=1, wait_seconds=0)) == 1  # a worker took the task...
    with unit_of_work(worker.session_factory) as session:  # ...began the job, did one chunk, then died
        session.get(SendJob, job["id"]).status = "running"
    assert worker._fan_out_chunk(job["id"]) is True
    partial = client.get(f"/api/notices/sends/{job['id']}", headers=town_headers).json()
    assert partial["status"] == "running" and partial["created_count"] == 2

    worker.fan_out(job["id"])  # the task again (redelivered): the rest, never the first two twice
    worker.fan_out(job["id"])
    finished = client.get(f"/api/notices/sends/{job['id']}", headers=town_headers).json()
    assert finished["status"] == "done" and finished["created_count"] == 5
    assert all(_notices(db, subject_of(db, p["id"])) == 1 for p in people)


def test_households_with_a_child_under_an_age(client: TestClient, town_headers, db: Session) -> None:
    young = person(client, town_headers, given="一郎", birth_date="1985-01-01")
    person(
        client,
        town_headers,
        given="二郎",
        birth_date="2015-06-01",
        household={"household_id": young["household_id"], "relationship": "child"},
    )
    older = person(client, town_headers, given="三郎", birth_date="1975-01-01")
    person(
        client,
        town_headers,
        given="四郎",
        birth_date="2009-05-31",
        household={"household_id": older["household_id"], "relationship": "child"},
    )
    alone = person(client, town_headers, given="五郎", birth_date="1990-01-01")
    to = {"kind": "households_with_child", "municipality_code": "131016", "under_age": 15, "as_of": "2026-06-01"}
    job = send(client, town_headers, to=to, kind="deadline_reminder", title="児童手当の現況届").json()
    worker_of(client.app).drain()
    done = client.get(f"/api/notices/sends/{job['id']}", headers=town_headers).json()
    assert done["status"] == "done" and done["created_count"] == 1
    assert _notices(db, subject_of(db, young["id"])) == 1
    assert _notices(db, subject_of(db, older["id"])) == 0  # the child turned 17 before the date
    assert _notices(db, subject_of(db, alone["id"])) == 0


def test_the_town_selection_reaches_every_current_resident(client: TestClient, town_headers, db: Session) -> None:
    staying = person(client, town_headers, given="残る")
    leaving = person(client, town_headers, given="去る")
    moved = client.post(
        f"/api/registry/residents/{leaving['id']}/move-out",
        json={"event_date": "2025-06-01", "destination": "大阪府大阪市北区梅田一丁目1番1号"},
        headers=town_headers,
    )
    assert moved.status_code == 200, moved.text
    job = send(client, town_headers, to={"kind": "town", "municipality_code": "131016"}, kind="general").json()
    worker_of(client.app).drain()
    assert _notices(db, subject_of(db, staying["id"])) == 1
    assert _notices(db, subject_of(db, leaving["id"])) == 0
    jobs = client.get("/api/notices/sends?status=done", headers=town_headers).json()
    assert [j["id"] for j in jobs] == [job["id"]]
