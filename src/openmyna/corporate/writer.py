"""Writing the corporate registry: current rows, history rows and the search indexes, per dialect.

The importer decides what each record becomes; this module writes it. A bulk load drops the indexes,
writes the rows (COPY on PostgreSQL, FREEZE into an empty registry) and builds the indexes once at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Connection

from openmyna.core.db import bulk_insert
from openmyna.corporate.codes import COLUMNS
from openmyna.corporate.models import Corporation
from openmyna.corporate.nta import Record
from openmyna.corporate.text import bigram_tokens_many

# SQLite's page cache while rows are written, and while the indexes are built (its sorter may use as much
# again). Small, because the operating system caches the file anyway and the peak must stay under 500 MiB:
# at 5M rows a 100 MB / 64 MB pair peaked at 486–507 MiB, in the B-tree index build.
IMPORT_CACHE_KIB = 64_000
INDEX_BUILD_CACHE_KIB = 32_000
LOOKUP_CHUNK = 5000
# The stored NTA columns: the 30 of the CSV without corporateNumber (it is the key, ``number``).
NTA_COLUMNS = tuple(c for c in COLUMNS if c != "corporate_number")
CURRENT_COLUMNS = ("number", *NTA_COLUMNS, "digest", "search_text")
VERSION_COLUMNS = ("number", *NTA_COLUMNS, "digest")


def _stored(record: Record) -> tuple[Any, ...]:
    """The history row: the current row without its search text."""
    return record.row[:-1]


# PostgreSQL's search indexes, dropped for a bulk load and built again at its end (as in migration 0300).
_PG_SEARCH_INDEXES = {
    "ix_corporate_corporations_trgm": "USING gin (search_text gin_trgm_ops)",
    "ix_corporate_corporations_bigrams": "USING gin (bigrams)",
}


class Writer:
    """Dialect-specific writes of current rows, history rows and the search indexes.

    In a bulk load (``deferred``) the search indexes are not kept up row by row: they are built once,
    in rowid order, by :meth:`build_indexes` before the transaction commits, which is several
    times cheaper than inserting a few million names into them in file order.
    """

    def __init__(self, connection: Connection, *, deferred: bool = False, into_empty: bool = False) -> None:
        self.connection = connection
        self.postgresql = connection.dialect.name == "postgresql"
        self.deferred = deferred
        # PostgreSQL loads an empty registry with COPY FREEZE, which needs the table truncated in this
        # transaction (done by :meth:`start_bulk_load`; the dropped indexes lock readers out anyway).
        self.freeze = deferred and into_empty and self.postgresql

    def start_bulk_load(self) -> None:
        """A bulk load starts without the table's secondary indexes (rebuilt by :meth:`build_indexes`)."""
        if self.freeze:
            self.connection.exec_driver_sql("TRUNCATE corporate_corporations")
        for index in Corporation.__table__.indexes:
            index.drop(self.connection)
        if self.postgresql:
            for name in _PG_SEARCH_INDEXES:
                self.connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")

    @contextlib.contextmanager
    def import_cache(self) -> Iterator[None]:
        """SQLite: a bigger page cache for the length of the import (the table and both FTS indexes take
        random writes), restored afterwards. PostgreSQL: nothing."""
        if self.postgresql:
            yield
            return
        previous = self.connection.exec_driver_sql("PRAGMA cache_size").scalar()
        self.connection.exec_driver_sql(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
        try:
            yield
        finally:
            self.connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")

    def build_indexes(self) -> None:
        """Index every current corporation (inside the import's transaction): a sort, not random inserts;
        on PostgreSQL, then gather the planner's statistics."""
        if not self.postgresql:
            self.connection.exec_driver_sql(f"PRAGMA cache_size = -{INDEX_BUILD_CACHE_KIB}")
        for index in Corporation.__table__.indexes:
            index.create(self.connection)
        if self.postgresql:
            self.connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            for name, method in _PG_SEARCH_INDEXES.items():
                self.connection.exec_driver_sql(f"CREATE INDEX {name} ON corporate_corporations {method}")
            # Fresh statistics after a bulk load (a daily diff is left to autovacuum): without them the planner
            # reads a whole GIN bitmap for a common 2-character term instead of stopping after 20 rows
            # (measured: 20 ms → 1 ms on 100,000 names). Migration 0301 makes the search text's histogram finer.
            self.connection.exec_driver_sql("ANALYZE corporate_corporations")
            return
        self.connection.exec_driver_sql(
            "INSERT INTO corporate_search_trigram (corporate_search_trigram) VALUES ('rebuild')"
        )
        self.connection.exec_driver_sql(
            "INSERT INTO corporate_search_bigram (corporate_search_bigram) VALUES ('delete-all')"
        )
        raw = self.connection.connection.driver_connection
        source = raw.cursor()  # type: ignore[union-attr]
        source.execute("SELECT number, search_text FROM corporate_corporations ORDER BY number")
        sink = raw.cursor()  # type: ignore[union-attr]
        while rows := source.fetchmany(LOOKUP_CHUNK):
            numbers, texts = zip(*rows, strict=True)
            sink.executemany(
                "INSERT INTO corporate_search_bigram (rowid, tokens) VALUES (?, ?)",
                zip(numbers, bigram_tokens_many(list(texts)), strict=True),
            )
        source.close()
        sink.close()

    def _placeholders(self, count: int) -> str:
        return ", ".join(["%s" if self.postgresql else "?"] * count)

    def insert_current(self, records: list[Record]) -> None:
        if not records:
            return
        rows = sorted(r.row for r in records)  # in key order: the table's B-tree is filled page by page
        if self.postgresql:
            columns = (*CURRENT_COLUMNS, "bigrams")
            tokens = bigram_tokens_many([row[-1] for row in rows])
            bulk_insert(
                self.connection,
                Corporation.__table__,
                columns,
                [(*row, token) for row, token in zip(rows, tokens, strict=True)],
                freeze=self.freeze,
            )
            return
        cols = ", ".join(CURRENT_COLUMNS)
        self.connection.exec_driver_sql(
            f"INSERT INTO corporate_corporations ({cols}) VALUES ({self._placeholders(len(CURRENT_COLUMNS))})", rows
        )
        if self.deferred:
            return
        self.connection.exec_driver_sql(
            "INSERT INTO corporate_search_trigram (rowid, search_text) VALUES (?, ?)",
            [(r.number, r.search_text) for r in records],
        )
        tokens = bigram_tokens_many([r.search_text for r in records])
        self.connection.exec_driver_sql(
            "INSERT INTO corporate_search_bigram (rowid, tokens) VALUES (?, ?)",
            [(r.number, token) for r, token in zip(records, tokens, strict=True)],
        )

    def move_to_history(self, old: dict[int, str]) -> None:
        """Copy the stored current rows of ``old`` (number → stored search text) into the history, then delete
        them and their index entries."""
        if not old:
            return
        numbers = list(old)
        cols = ", ".join(VERSION_COLUMNS)
        conflict = " ON CONFLICT DO NOTHING" if self.postgresql else ""
        verb = "INSERT" if self.postgresql else "INSERT OR IGNORE"
        for start in range(0, len(numbers), LOOKUP_CHUNK):
            chunk = numbers[start : start + LOOKUP_CHUNK]
            marks = self._placeholders(len(chunk))
            self.connection.exec_driver_sql(
                f"{verb} INTO corporate_versions ({cols}) SELECT {cols} FROM corporate_corporations "
                f"WHERE number IN ({marks}){conflict}",
                tuple(chunk),
            )
            if not self.postgresql and not self.deferred:
                self.connection.exec_driver_sql(
                    "INSERT INTO corporate_search_trigram (corporate_search_trigram, rowid, search_text) "
                    f"SELECT 'delete', number, search_text FROM corporate_corporations WHERE number IN ({marks})",
                    tuple(chunk),
                )
            self.connection.exec_driver_sql(
                f"DELETE FROM corporate_corporations WHERE number IN ({marks})", tuple(chunk)
            )
        if not self.postgresql and not self.deferred:
            tokens = bigram_tokens_many(list(old.values()))
            self.connection.exec_driver_sql(
                "INSERT INTO corporate_search_bigram (corporate_search_bigram, rowid, tokens) VALUES ('delete', ?, ?)",
                list(zip(old, tokens, strict=True)),
            )

    def insert_history(self, records: list[Record]) -> None:
        if not records:
            return
        cols = ", ".join(VERSION_COLUMNS)
        marks = self._placeholders(len(VERSION_COLUMNS))
        if self.postgresql:
            sql = f"INSERT INTO corporate_versions ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        else:
            sql = f"INSERT OR IGNORE INTO corporate_versions ({cols}) VALUES ({marks})"
        self.connection.exec_driver_sql(sql, [_stored(r) for r in records])
