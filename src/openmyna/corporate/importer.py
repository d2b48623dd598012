"""Importing NTA corporate-number CSV files: streamed in batches, one transaction per file, idempotent.

A file is recognised by the SHA-256 of its content: once imported completely it is skipped. Inside a file,
every record either becomes the corporation's current state (the older state moves to the history),
goes straight to the history (an older record), or is already known (same digest) and changes nothing.
The caller owns the transaction, so an interrupted import leaves nothing of the file behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from openmyna.core import clock
from openmyna.core.db import without_cycle_collection
from openmyna.corporate import activity as activity_service
from openmyna.corporate.models import Corporation, ImportedFile
from openmyna.corporate.nta import BadRow, Record, check_is_nta
from openmyna.corporate.nta_columns import CopyBlock, read_rows
from openmyna.corporate.writer import LOOKUP_CHUNK, Writer, staged_load

BATCH_SIZE = 10_000
MAX_REPORTED_BAD_ROWS = 1000


@dataclass
class ImportReport:
    """What importing one file did; ``bad_rows`` keeps the first 1,000 bad rows, ``bad`` counts them all."""

    file: str
    already_imported: bool = False
    rows: int = 0
    inserted: int = 0
    replaced: int = 0
    to_history: int = 0
    unchanged: int = 0
    bad: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)


def estimate_rows(path: Path) -> int:
    """Rows in the file, estimated from its size and the length of its first lines."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    lines = head.count(b"\n") or 1
    return path.stat().st_size * lines // max(len(head), 1)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(slots=True)
class _Current:
    digest: int
    update_date: str
    change_date: str
    search_text: str
    from_db: bool
    record: Record | None = None


def _newer(record: Record, current: _Current) -> bool:
    return record.latest and (record.update_date, record.change_date) >= (current.update_date, current.change_date)


_EXISTING = "SELECT number, digest, update_date, change_date, search_text FROM corporate_corporations WHERE "


def _existing(connection: Connection, numbers: Sequence[int]) -> dict[int, _Current]:
    """The stored current states of ``numbers``: one array (PostgreSQL) or JSON (SQLite) parameter a chunk."""
    postgresql = connection.dialect.name == "postgresql"
    sql = _EXISTING + ("number = ANY(%s)" if postgresql else "number IN (SELECT value FROM json_each(?))")
    found: dict[int, _Current] = {}
    for start in range(0, len(numbers), LOOKUP_CHUNK):
        chunk = list(numbers[start : start + LOOKUP_CHUNK])
        for number, digest, update_date, change_date, text in connection.exec_driver_sql(
            sql, (chunk if postgresql else json.dumps(chunk),)
        ):
            found[number] = _Current(digest, str(update_date), str(change_date), text, True)
    return found


def apply_batch(connection: Connection, records: list[Record], report: ImportReport, writer: Writer) -> None:
    """Merge one batch of records (in file order) into the current states and the history."""
    state = _existing(connection, sorted({r.number for r in records}))
    history: list[Record] = []
    replaced_in_db: dict[int, _Current] = {}
    for record in records:
        current = state.get(record.number)
        if current is not None and current.digest == record.digest:
            report.unchanged += 1
            continue
        if current is None or _newer(record, current):
            if current is not None:
                report.replaced += 1
                if current.from_db:
                    replaced_in_db.setdefault(record.number, current)
                elif current.record is not None:
                    history.append(current.record)
            else:
                report.inserted += 1
            state[record.number] = _Current(
                record.digest, record.update_date, record.change_date, record.search_text, False, record
            )
        else:
            report.to_history += 1
            history.append(record)
    writer.move_to_history({number: current.search_text for number, current in replaced_in_db.items()})
    writer.insert_history(history)
    writer.insert_current([c.record for c in state.values() if not c.from_db and c.record is not None])


def import_nta_file(
    connection: Connection,
    path: Path,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    on_bad_row: Callable[[BadRow], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
    bulk: bool | None = None,
) -> ImportReport:
    """Import one NTA CSV inside the caller's transaction; a file already imported changes nothing.

    Raises :class:`~openmyna.corporate.nta.NotNtaCsv` before writing if the file is not NTA CSV at all.
    ``progress`` receives the number of rows read since its last call, ``on_phase`` a word on what the
    import does after the rows. ``bulk`` builds the search indexes once at the end (default: when the file
    holds at least as many rows as the registry).
    """
    report = ImportReport(file=path.name)
    encoding = check_is_nta(path)
    sha256 = file_sha256(path)
    if connection.execute(select(ImportedFile.sha256).where(ImportedFile.sha256 == sha256)).first():
        report.already_imported = True
        return report
    registered = connection.execute(select(func.count()).select_from(Corporation)).scalar_one()
    if bulk is None:
        bulk = estimate_rows(path) >= registered

    def building() -> None:
        if on_phase:
            on_phase("building the indexes")

    if bulk and registered == 0 and connection.dialect.name == "postgresql":
        with staged_load(connection, on_indexes=building) as staging, without_cycle_collection():
            writer = Writer(staging, deferred=True, into_empty=True)
            _import_rows(staging, path, encoding, report, writer, batch_size, progress, on_bad_row)
    else:
        writer = Writer(connection, deferred=bulk, into_empty=registered == 0)
        if bulk:
            writer.start_bulk_load()
        with writer.import_cache():
            with without_cycle_collection():
                _import_rows(connection, path, encoding, report, writer, batch_size, progress, on_bad_row)
            if bulk:
                building()
                writer.build_indexes()
    activity_service.link_pending(connection)
    connection.execute(
        ImportedFile.__table__.insert().values(
            sha256=sha256,
            kind="nta",
            filename=path.name[:300],
            rows=report.rows,
            skipped=report.bad,
            imported_at=clock.now(),
        )
    )
    return report


def _import_rows(
    connection: Connection,
    path: Path,
    encoding: str,
    report: ImportReport,
    writer: Writer,
    batch_size: int,
    progress: Callable[[int], None] | None,
    on_bad_row: Callable[[BadRow], None] | None,
) -> None:
    batch: list[Record] = []
    for item in read_rows(path, encoding=encoding, whole="copy" if writer.postgresql else "rows"):
        if isinstance(item, CopyBlock):
            _flush(connection, batch, report, writer, progress)  # what comes before is applied first
            batch = []
            if _copied(connection, item, report, writer, progress):
                continue
            items: list[Record | BadRow] = list(item.records())
        else:
            items = [item]
        for one in items:
            if isinstance(one, BadRow):
                report.bad += 1
                if len(report.bad_rows) < MAX_REPORTED_BAD_ROWS:
                    report.bad_rows.append(one)
                if on_bad_row:
                    on_bad_row(one)
                continue
            batch.append(one)
            if len(batch) >= batch_size:
                _flush(connection, batch, report, writer, progress)
                batch = []
    _flush(connection, batch, report, writer, progress)


def _copied(
    connection: Connection,
    block: CopyBlock,
    report: ImportReport,
    writer: Writer,
    progress: Callable[[int], None] | None,
) -> bool:
    """Write a block of new corporations as it came (COPY text, or rows without records); False if one is
    known or repeats."""
    if len(set(block.numbers)) != len(block.numbers) or _existing(connection, sorted(block.numbers)):
        return False
    writer.copy_current(block)
    report.rows += len(block.numbers)
    report.inserted += len(block.numbers)
    if progress:
        progress(len(block.numbers))
    return True


def _flush(
    connection: Connection,
    batch: list[Record],
    report: ImportReport,
    writer: Writer,
    progress: Callable[[int], None] | None,
) -> None:
    if not batch:
        return
    apply_batch(connection, batch, report, writer)
    report.rows += len(batch)
    if progress:
        progress(len(batch))


def import_records(connection: Connection, records: Iterable[Record]) -> ImportReport:
    """Merge records that did not come from a file (tests, the demo seed) in one batch."""
    report = ImportReport(file="<records>")
    batch = list(records)
    apply_batch(connection, batch, report, Writer(connection))
    report.rows = len(batch)
    return report
