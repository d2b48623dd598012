"""Notice fan-out: one send to every resident of a town, N notices created and their e-mail tasks queued.

Timed from the send being accepted
(``notices.service.request_send`` in a unit of work, as ``POST /api/notices/sends`` runs it) through the
task's trip over the queue (Redis when it answers, else in-process) to the job being ``done``: every
notice row written, the e-mail rows for the 1 % of residents with a verified address made and their
tasks queued (not sent: no SMTP server is part of this figure). Setup (residents, addresses) is untimed.
The floor, in the same run: the rows the fan-out wrote (message, job, notices, e-mails) read back and written
into the same tables of a fresh, migrated database by a plain ``executemany`` (SQLite) or ``COPY``
(PostgreSQL) in one transaction (``_common.floor_load``). Headline: floor seconds / fan-out seconds. Target
(issue 17): at least 0.5 (a fan-out is a bulk insert with a queue trip; set here, the issue names none);
issue 12's 1,000,000 notices in under 60 s is reported beside.

    .venv/bin/python bench/bench_notice_fanout.py [--database sqlite|postgresql] [--count 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import uuid

from _common import (
    add_database_argument,
    code_version,
    emit,
    floor_load,
    fresh_database,
    log,
    machine,
    settings_for,
)

WORKLOAD = "notice_fanout"
TARGET_RATIO = 0.5  # floor seconds / fan-out seconds
WRITTEN_TABLES = ("notice_messages", "notice_send_jobs", "notices", "notice_mails")
TARGET_SECONDS = 60.0
TARGET_COUNT = 1_000_000
REDIS_URL = os.environ.get("OPENMYNA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
MAIL_SHARE = 100  # one resident in 100 has a verified address


def _redis_or_none() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        log(f"no Redis at {REDIS_URL} ({exc}); the in-process queue is measured instead")
        return None
    return REDIS_URL


def _pseudonym(link: bytes) -> str:
    """A resident's pseudonym as ``numbers.protection`` names a person by the hub's link."""
    from openmyna.numbers import protection

    return protection.pseudonym_of_link(link)


def _load_residents(session, count: int) -> None:  # type: ignore[no-untyped-def]
    """``count`` current residents of 131016 with random number lookups, and addresses for 1 % (untimed)."""
    from openmyna.core.db import bulk_insert
    from openmyna.portal.settings.models import AccountSettings
    from openmyna.registry.models import Resident

    born, since = dt.date(1980, 1, 1), dt.date(2020, 4, 1)
    lookups = [os.urandom(32) for _ in range(count)]
    columns = (
        "resident_code", "my_number_lookup", "my_number_sealed", "pseudonym", "relationship_code", "family_name",
        "given_name",
        "family_name_kana", "given_name_kana", "full_name", "full_kana", "former_family_name",
        "former_family_name_kana", "birth_date", "sex", "municipality_code", "prefecture", "city", "postal_code",
        "address_town", "address_block", "address_building", "status", "became_resident_on", "address_since",
        "previous_address", "destination_address", "destination_country", "version",
    )  # fmt: skip
    rows = (
        (f"{i:011d}", lookup, b"\0" * 44, _pseudonym(lookup), "head", "山田", "太郎", "ヤマダ", "タロウ", "山田太郎",
         "ヤマダタロウ",
         "", "", born, "male", "131016", "東京都", "千代田区", "1020072", "飯田橋三丁目", "5番1号", "",
         "resident", since, since, "", "", "", 1)
        for i, lookup in enumerate(lookups, start=1)
    )  # fmt: skip
    bulk_insert(session.connection(), Resident.__table__, columns, rows)
    now = dt.datetime.now(dt.UTC)
    bulk_insert(
        session.connection(),
        AccountSettings.__table__,
        ("subject", "nickname", "email", "email_verified_at", "mail_kinds", "updated_at"),
        (
            (_pseudonym(lookup), "", f"r{i}@example.jp", now, "general decision", now)
            for i, lookup in enumerate(lookups[::MAIL_SHARE])
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument(
        "--count",
        type=int,
        default=TARGET_COUNT,
        help="residents, so notices (default 1,000,000; 100,000 for a quick run)",
    )
    args = parser.parse_args()

    from sqlalchemy import func, select

    from openmyna.app import migrate
    from openmyna.core.context import open_context
    from openmyna.core.db import unit_of_work
    from openmyna.orgs.service import Caller
    from openmyna.portal.notices import service
    from openmyna.portal.notices.models import Notice, NoticeMail, SendJob
    from openmyna.portal.notices.queue import from_settings
    from openmyna.portal.notices.schemas import SendRequest
    from openmyna.portal.notices.worker import Worker

    redis_url = _redis_or_none()
    queue_name = f"openmyna-bench:{uuid.uuid4().hex}"
    with fresh_database(args.database, WORKLOAD) as (url, var_dir):
        settings = settings_for(url, var_dir).model_copy(update={"queue_url": redis_url, "queue_name": queue_name})
        context = open_context(settings)
        migrate.upgrade(context.engine)
        log(f"loading {args.count:,} residents (untimed)")
        with unit_of_work(context.session_factory) as session:
            _load_residents(session, args.count)
        if args.database == "postgresql":
            with context.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        queue = from_settings(settings)
        worker = Worker(session_factory=context.session_factory, settings=settings, queue=queue)
        caller = Caller(org_code="131016", actor="bench", scopes=frozenset({"notices:send"}), via="token")
        request = SendRequest.model_validate(
            {
                "notice": {"kind": "decision", "title": "令和8年度 住民税決定通知", "body": "決定しました。"},
                "to": {"kind": "town", "municipality_code": "131016"},
            }
        )

        log("fan-out: send accepted → queued → worker → done")
        started = time.perf_counter()
        with unit_of_work(context.session_factory) as session:
            job, _ = service.request_send(
                session, caller=caller, idempotency_key="bench-0001", request=request, queue=queue
            )
            job_id = job.id
        received = queue.receive(count=1, wait_seconds=1.0)
        assert [r.task.kind for r in received] == ["fanout"], received
        worker._handle(received[0])
        fanout_s = time.perf_counter() - started

        with unit_of_work(context.read_session_factory) as session:
            job = session.get(SendJob, job_id)
            assert job is not None
            status, created, mails, message_id = job.status, job.created_count, job.mail_count, job.message_id
            notices = session.scalar(select(func.count()).select_from(Notice).where(Notice.message_id == message_id))
            mail_rows = session.scalar(select(func.count()).select_from(NoticeMail))
        depth = queue.depth()
        log(f"fan-out {fanout_s:.1f}s: {created:,} notices, {mails:,} e-mails, queue {depth}")

        if redis_url:
            for key in queue.client.scan_iter(f"{queue_name}:*"):  # type: ignore[union-attr]
                queue.client.delete(key)  # type: ignore[union-attr]
        context.engine.dispose()
        floor = floor_load(url, args.database, WORKLOAD, tables=WRITTEN_TABLES)
        floor_s = floor["seconds"]

    expected_mails = len(range(0, args.count, MAIL_SHARE))
    checks = {
        "done": status == "done",
        "notices": created == args.count == notices,
        "mails_queued": mails == mail_rows == expected_mails and depth["waiting"] == -(-mails // 100),
        "ratio": floor_s / fanout_s >= TARGET_RATIO,
    }
    emit(
        {
            "workload": WORKLOAD,
            "backend": args.database,
            "params": {
                "count": args.count,
                "queue": "redis" if redis_url else "in-process",
                "mail_share": 1 / MAIL_SHARE,
            },
            "figures": {
                "headline_ratio_to_floor": round(floor_s / fanout_s, 3),
                "seconds": round(fanout_s, 3),
                "notices_per_s": round(args.count / fanout_s, 1),
                "floor_seconds": round(floor_s, 3),
                "floor_rows": floor["rows"],
                "mails_queued": mails,
                "mail_tasks_waiting": depth["waiting"],
            },
            "target": {"ratio_min": TARGET_RATIO, "seconds_max": TARGET_SECONDS, "for_count": TARGET_COUNT},
            "within_absolute_target": fanout_s < TARGET_SECONDS * args.count / TARGET_COUNT,
            "checks": checks,
            "ok": all(checks.values()),
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
