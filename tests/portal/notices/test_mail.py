"""E-mail announcements through a real SMTP client to a local sink, retries, and failures left visible."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core.db import unit_of_work
from openmyna.portal.notices.models import NoticeMail, NoticeMessage, SendJob
from openmyna.portal.notices.queue import Task
from openmyna.portal.notices.service import now_utc
from tests.live import free_port
from tests.portal.sessions import log_in
from tests.portal.world import Sink, csrf_of, person, send, verify_email, worker_of

TITLE = "固定資産税の納付について"
BODY = "第3期分 12,300円を12月25日までに納付してください。"


def test_only_verified_addresses_get_a_mail_and_it_says_nothing_personal(
    client: TestClient, town_headers, smtp_sink: Sink, db: Session
) -> None:
    wants, silent = person(client, town_headers, given="花子"), person(client, town_headers, given="次郎")
    log_in(client, resident_id=wants["id"])
    verify_email(client, smtp_sink, "hanako@example.jp")
    log_in(client, resident_id=silent["id"])
    client.post(
        "/portal/settings/email", data={"email": "jiro@example.jp", "csrf": csrf_of(client, "/portal/settings")}
    )
    before = len(smtp_sink.messages)  # jiro never opens his link: his address is not verified

    to = {"kind": "residents", "resident_ids": [wants["id"], silent["id"]]}
    job = send(client, town_headers, to=to, kind="payment_request", title=TITLE, body=BODY).json()
    worker_of(client.app).drain()
    done = client.get(f"/api/notices/sends/{job['id']}", headers=town_headers).json()
    assert done["status"] == "done" and done["created_count"] == 2 and done["mail_count"] == 1

    new = smtp_sink.messages[before:]
    assert [rcpts for rcpts, _ in new] == [["hanako@example.jp"]]
    message = new[0][1]
    text = smtp_sink.text(message) + str(message["Subject"])
    assert "http://testserver/portal/notices" in text
    for secret in (TITLE, BODY, "12,300", wants["my_number"], "花子", "山田", "payment", "納付"):
        assert secret not in text, secret
    assert not re.search(r"\d{12}", text)

    worker_of(client.app).drain()  # nothing pending: a mail task delivered again sends nothing
    worker_of(client.app).send_mails([m.id for m in db.scalars(select(NoticeMail))])
    assert len(smtp_sink.messages) == before + 1


def test_kinds_switched_off_are_not_announced(client: TestClient, town_headers, smtp_sink: Sink) -> None:
    resident = person(client, town_headers)
    log_in(client, resident_id=resident["id"])
    verify_email(client, smtp_sink, "taro@example.jp")
    csrf = csrf_of(client, "/portal/settings")
    saved = client.post(
        "/portal/settings/notifications", data={"kinds": ["decision"], "csrf": csrf}, follow_redirects=False
    )
    assert saved.status_code == 303
    before = len(smtp_sink.messages)
    for kind in ("payment_request", "general", "decision"):
        send(client, town_headers, to={"kind": "residents", "resident_ids": [resident["id"]]}, kind=kind)
    worker_of(client.app).drain()
    assert len(smtp_sink.messages) == before + 1  # only the decision


def test_an_unreachable_smtp_server_is_retried_then_marked_failed(
    client: TestClient, town_headers, smtp_sink: Sink, db: Session
) -> None:
    resident = person(client, town_headers)
    log_in(client, resident_id=resident["id"])
    verify_email(client, smtp_sink, "taro@example.jp")
    before = len(smtp_sink.messages)
    send(client, town_headers, to={"kind": "residents", "resident_ids": [resident["id"]]})
    closed = client.app.state.settings.model_copy(update={"smtp_port": free_port()})
    worker = worker_of(client.app, max_attempts=3, backoff=lambda _attempt: 0.0)
    worker.settings = closed
    assert worker.drain() == 4  # the fan-out, then the mail task three times
    db.expire_all()
    mail = db.scalars(select(NoticeMail)).one()
    assert mail.status == "failed" and mail.attempts == 3 and "SMTP" in mail.last_error
    assert len(smtp_sink.messages) == before


def test_a_failing_fan_out_is_retried_and_its_failure_is_visible(client: TestClient, town_headers, town) -> None:
    app = client.app
    with unit_of_work(app.state.session_factory) as session:  # a job whose selection this worker cannot resolve
        message = NoticeMessage(sender_org="131016", kind="general", title="t", body="b", created_at=now_utc())
        session.add(message)
        session.flush()
        job = SendJob(
            org_code="131016",
            actor="test",
            idempotency_key="broken-job-0001",
            request_digest="0" * 64,
            message_id=message.id,
            selection={"kind": "unheard-of"},
            created_at=now_utc(),
        )
        session.add(job)
        session.flush()
        job_id = job.id
    app.state.notice_queue.enqueue(Task("fanout", {"job_id": job_id}))
    assert worker_of(app, max_attempts=3, backoff=lambda _attempt: 0.0).drain() == 3
    failed = client.get("/api/notices/sends?status=failed", headers=town_headers).json()
    assert [j["id"] for j in failed] == [job_id]
    assert failed[0]["attempts"] == 3 and "unknown selection kind" in failed[0]["last_error"]
    assert failed[0]["finished_at"] is not None
