"""Reminder run: 現況届 reminders computed from the registry for a whole town, one notice per person concerned.

Timed: ``eservice.reminders.remind`` in one unit
of work on the day 21 days before the 児童扶養手当 現況届 deadline (31 August), as ``openmyna eservice remind``
runs it: every current resident read once (by household), the eligibility rules applied (a parent alone with a
child under 19, aged 15+), the people who already applied or were reminded left out, one notice message, the
notice rows and the "reminded" rows written. The town: households of three (parents and a child, 60 %), a
parent alone with a child (20 %), one adult alone (20 %). Setup is untimed. The floor, in the same run: the
rows the run wrote (the message, the notices, the "reminded" rows) read back and written into the same tables
of a fresh, migrated database by a plain ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) in one transaction
(``_common.floor_load``). Headline: floor seconds / run seconds. Target (issue 17): at least 0.1 (the run reads
every resident to write one row in twelve; set here, the issue names none); issue 14's 60 s for 1,000,000
residents is reported beside.

    .venv/bin/python bench/bench_eservice_reminders.py [--database sqlite|postgresql] [--count 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

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

WORKLOAD = "eservice_reminders"
TARGET_RATIO = 0.1  # floor seconds / run seconds
WRITTEN_TABLES = ("notice_messages", "notice_send_jobs", "notices", "notice_mails", "eservice_reminders")
TARGET_SECONDS = 60.0
TARGET_COUNT = 1_000_000
PROCEDURE = "child-support-status-report"


def _town(count: int) -> list[tuple[str, ...]]:
    """Household shapes (relationships) until ``count`` residents: 3, 2, 3, 1, 3 … (60/20/20 % of households)."""
    shapes = [("head", "spouse", "child"), ("head", "child"), ("head", "spouse", "child"), ("head",),
              ("head", "spouse", "child")]  # fmt: skip
    households, total, i = [], 0, 0
    while total < count:
        shape = shapes[i % len(shapes)][: count - total]
        households.append(shape)
        total, i = total + len(shape), i + 1
    return households


def _load(session, count: int) -> int:  # type: ignore[no-untyped-def]
    """The town's households and residents (untimed); how many single parents it has."""
    from openmyna.core.db import bulk_insert
    from openmyna.numbers import protection
    from openmyna.registry.models import Household, Resident

    households = _town(count)
    since = dt.date(2020, 4, 1)
    bulk_insert(
        session.connection(),
        Household.__table__,
        ("id", "municipality_code", "postal_code", "address_town", "address_block", "address_building", "formed_on"),
        ((h, "131016", "1020072", "飯田橋三丁目", f"{h}番", "", since) for h in range(1, len(households) + 1)),
    )
    born = {"head": dt.date(1985, 5, 5), "spouse": dt.date(1987, 7, 7), "child": dt.date(2015, 9, 9)}
    columns = (
        "resident_code", "my_number_lookup", "my_number_sealed", "pseudonym", "household_id", "relationship_code",
        "family_name", "given_name", "family_name_kana", "given_name_kana", "full_name", "full_kana",
        "former_family_name", "former_family_name_kana", "birth_date", "sex", "municipality_code", "prefecture",
        "city", "postal_code", "address_town", "address_block", "address_building", "status", "became_resident_on",
        "address_since", "previous_address", "destination_address", "destination_country", "version",
    )  # fmt: skip

    def rows():  # type: ignore[no-untyped-def]
        n = 0
        for h, shape in enumerate(households, start=1):
            for relationship in shape:
                n += 1
                lookup = os.urandom(32)
                yield (f"{n:011d}", lookup, b"\0" * 44, protection.pseudonym_of_link(lookup), h, relationship,
                       "佐々木", "美咲", "ササキ", "ミサキ", "佐々木美咲", "ササキミサキ", "", "", born[relationship],
                       "female", "131016", "東京都", "千代田区", "1020072", "飯田橋三丁目", f"{h}番", "", "resident",
                       since, since, "", "", "", 1)  # fmt: skip

    bulk_insert(session.connection(), Resident.__table__, columns, rows())
    return sum(1 for shape in households if shape == ("head", "child"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument(
        "--count", type=int, default=TARGET_COUNT, help="residents (default 1,000,000; 100,000 for a quick run)"
    )
    args = parser.parse_args()

    from sqlalchemy import func, select

    from openmyna.app import migrate, wiring
    from openmyna.core import clock
    from openmyna.core.context import open_context
    from openmyna.core.db import unit_of_work
    from openmyna.eservice import reminders
    from openmyna.eservice.service import catalogue_for
    from openmyna.portal.notices.models import Notice

    with fresh_database(args.database, WORKLOAD) as (url, var_dir):
        settings = settings_for(url, var_dir)
        context = open_context(settings)
        wiring.wire(settings, context.keys)
        migrate.upgrade(context.engine)
        catalogue = catalogue_for(settings)
        log(f"loading {args.count:,} residents (untimed)")
        with unit_of_work(context.session_factory) as session:
            single_parents = _load(session, args.count)
        if args.database == "postgresql":
            with context.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        as_of = dt.date(clock.today().year, 8, 10)
        log(f"reminder run as of {as_of}")
        started = time.perf_counter()
        with unit_of_work(context.session_factory) as session:
            (run,) = reminders.remind(
                session, catalogue=catalogue, municipality="131016", as_of=as_of, codes=[PROCEDURE]
            )
        run_s = time.perf_counter() - started
        log(f"run {run_s:.1f}s: {run.sent:,} reminded of {run.concerned:,} concerned")
        with unit_of_work(context.session_factory) as session:
            (again,) = reminders.remind(
                session, catalogue=catalogue, municipality="131016", as_of=as_of, codes=[PROCEDURE]
            )
        with unit_of_work(context.read_session_factory) as session:
            notices = session.scalar(select(func.count()).select_from(Notice))

        context.engine.dispose()
        floor = floor_load(url, args.database, WORKLOAD, tables=WRITTEN_TABLES)
        floor_s = floor["seconds"]

    checks = {
        "exactly_the_single_parents": run.sent == run.concerned == single_parents == notices,
        "second_run_sends_none": again.sent == 0 and again.already_reminded == single_parents,
        "ratio": floor_s / run_s >= TARGET_RATIO,
    }
    emit(
        {
            "workload": WORKLOAD,
            "backend": args.database,
            "params": {"residents": args.count, "procedure": PROCEDURE, "as_of": as_of.isoformat()},
            "figures": {
                "headline_ratio_to_floor": round(floor_s / run_s, 3),
                "seconds": round(run_s, 3),
                "residents_per_s": round(args.count / run_s, 1),
                "reminded": run.sent,
                "floor_seconds": round(floor_s, 3),
                "floor_rows": floor["rows"],
            },
            "target": {"ratio_min": TARGET_RATIO, "seconds_max": TARGET_SECONDS, "for_count": TARGET_COUNT},
            "within_absolute_target": run_s < TARGET_SECONDS * args.count / TARGET_COUNT,
            "checks": checks,
            "ok": all(checks.values()),
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
