"""Activity records (法人活動情報): subsidies, procurement, certifications, commendations, dispositions.

Read from CSV (layout in docs/corporate-activity-csv.md) or added through the API. A record whose
corporate number is not (yet) in the registry is kept with ``linked = false`` and linked as soon as an
NTA import brings the corporation in; nothing is dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import exists, select, update
from sqlalchemy.engine import Connection

from openmyna.core import clock
from openmyna.corporate.models import Activity, Corporation, ImportedFile
from openmyna.corporate.nta import BadRow
from openmyna.numbers.formats import check_corporate_number

KINDS: dict[str, tuple[str, str]] = {
    "subsidy": ("補助金", "Subsidies"),
    "procurement": ("調達", "Procurement"),
    "certification": ("届出・認定", "Notifications and certifications"),
    "commendation": ("表彰", "Commendations"),
    "disposition": ("行政処分", "Administrative dispositions"),
}
CSV_HEADER = (
    "corporate_number",
    "kind",
    "title",
    "amount",
    "date",
    "government_departments",
    "target",
    "category",
    "note",
)
BATCH_SIZE = 5000
MAX_AMOUNT = 10**15


class NotActivityCsv(ValueError):
    """The file does not start with the activity CSV header; nothing was written."""


@dataclass(frozen=True)
class ActivityInput:
    """One validated activity record, before it is stored."""

    number: int
    kind: str
    title: str
    amount: int | None
    date: dt.date | None
    government_departments: str
    target: str | None = None
    category: str | None = None
    note: str | None = None

    def digest(self) -> int:
        joined = "\x1f".join(
            str(v) if v is not None else ""
            for v in (
                self.number,
                self.kind,
                self.title,
                self.amount,
                self.date,
                self.government_departments,
                self.target,
                self.category,
                self.note,
            )
        )
        return int.from_bytes(hashlib.blake2b(joined.encode(), digest_size=8).digest(), "big", signed=True)


@dataclass
class ActivityReport:
    file: str
    already_imported: bool = False
    rows: int = 0
    inserted: int = 0
    unlinked: int = 0
    bad: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)


def validate(
    *,
    corporate_number: str,
    kind: str,
    title: str,
    amount: str | int | None,
    date: str | dt.date | None,
    government_departments: str,
    target: str | None = None,
    category: str | None = None,
    note: str | None = None,
) -> ActivityInput:
    """Check one record; raise ValueError naming the field that is wrong."""
    check = check_corporate_number(corporate_number)
    if not check.valid:
        raise ValueError(f"corporate_number: {check.reason}")
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    title = (title or "").strip()
    if not title or len(title) > 500:
        raise ValueError("title: required, at most 500 characters")
    if not (government_departments or "").strip():
        raise ValueError("government_departments: required")
    value: int | None = None
    if amount not in (None, ""):
        try:
            value = int(str(amount).replace(",", ""))
        except ValueError:
            raise ValueError(f"amount: {amount!r} is not a whole number of yen") from None
        if not 0 <= value < MAX_AMOUNT:
            raise ValueError("amount: must be between 0 and 10^15 yen")
    day: dt.date | None = None
    if isinstance(date, dt.date):
        day = date
    elif date:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise ValueError(f"date: {date!r} is not a date (YYYY-MM-DD)") from None
    return ActivityInput(
        int(check.number),
        kind,
        title,
        value,
        day,
        government_departments.strip()[:200],
        (target or "").strip()[:500] or None,
        (category or "").strip()[:200] or None,
        (note or "").strip()[:1000] or None,
    )


def _rows(path: Path) -> Iterator[ActivityInput | BadRow]:
    with path.open("r", encoding="utf-8-sig", newline="", errors="strict") as handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise NotActivityCsv(f"{path.name}: not UTF-8 CSV ({exc})") from None
        if header is None or tuple(h.strip() for h in header) != CSV_HEADER:
            raise NotActivityCsv(f"{path.name}: the first line must be the header {','.join(CSV_HEADER)}")
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except (UnicodeDecodeError, csv.Error) as exc:
                yield BadRow(path.name, reader.line_num, f"unreadable line: {exc}")
                return
            if not fields:
                continue
            if len(fields) != len(CSV_HEADER):
                yield BadRow(path.name, reader.line_num, f"expected {len(CSV_HEADER)} columns, found {len(fields)}")
                continue
            try:
                yield validate(**dict(zip(CSV_HEADER, fields, strict=True)))
            except ValueError as exc:
                yield BadRow(path.name, reader.line_num, str(exc))


def store(connection: Connection, records: list[ActivityInput], *, source: str) -> tuple[int, int]:
    """Insert records not already stored (by content); return (inserted, of them unlinked)."""
    if not records:
        return 0, 0
    numbers = sorted({r.number for r in records})
    known: set[int] = set()
    for start in range(0, len(numbers), 5000):
        chunk = numbers[start : start + 5000]
        known.update(connection.scalars(select(Corporation.number).where(Corporation.number.in_(chunk))))
    now = clock.now().astimezone(dt.UTC)  # one zone on both databases: SQLite keeps no offset
    rows = [
        {
            "number": r.number,
            "kind": r.kind,
            "title": r.title,
            "amount": r.amount,
            "date": r.date,
            "government_departments": r.government_departments,
            "target": r.target,
            "category": r.category,
            "note": r.note,
            "linked": r.number in known,
            "source": source[:300],
            "digest": r.digest(),
            "created_at": now,
        }
        for r in records
    ]
    table = Activity.__table__
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).on_conflict_do_nothing(index_elements=["digest"]).returning(table.c.linked)
    inserted = [linked for row in rows for linked in connection.execute(statement, row).scalars()]
    return len(inserted), inserted.count(False)


def import_activity_file(
    connection: Connection, path: Path, *, on_bad_row: Callable[[BadRow], None] | None = None
) -> ActivityReport:
    """Import one activity CSV inside the caller's transaction; a file imported before changes nothing."""
    from openmyna.corporate.importer import file_sha256

    report = ActivityReport(file=path.name)
    sha256 = file_sha256(path)
    if connection.execute(select(ImportedFile.sha256).where(ImportedFile.sha256 == sha256)).first():
        report.already_imported = True
        return report
    batch: list[ActivityInput] = []
    for item in _rows(path):
        if isinstance(item, BadRow):
            report.bad += 1
            if len(report.bad_rows) < 1000:
                report.bad_rows.append(item)
            if on_bad_row:
                on_bad_row(item)
            continue
        batch.append(item)
        if len(batch) >= BATCH_SIZE:
            _flush(connection, batch, report, path)
            batch = []
    _flush(connection, batch, report, path)
    connection.execute(
        ImportedFile.__table__.insert().values(
            sha256=sha256,
            kind="activity",
            filename=path.name[:300],
            rows=report.rows,
            skipped=report.bad,
            imported_at=clock.now(),
        )
    )
    return report


def _flush(connection: Connection, batch: list[ActivityInput], report: ActivityReport, path: Path) -> None:
    inserted, unlinked = store(connection, batch, source=f"file:{path.name}")
    report.rows += len(batch)
    report.inserted += inserted
    report.unlinked += unlinked


def link_pending(connection: Connection) -> int:
    """Link the records kept aside whose corporation is now known; return how many."""
    table = Activity.__table__
    known = exists().where(Corporation.__table__.c.number == table.c.number)
    result = connection.execute(update(table).where(table.c.linked.is_(False), known).values(linked=True))
    return result.rowcount or 0
