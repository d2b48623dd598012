"""Writing the corporate registry: current rows, history rows and the search indexes, per dialect.

The importer decides what each record becomes; this module writes it. A bulk load drops the indexes,
writes the rows (COPY on PostgreSQL, FREEZE into an empty registry) and builds the indexes once at the end.
On PostgreSQL a load into an empty registry is staged (:func:`staged_load`), so its indexes can be built
by several connections at once.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex

from openmyna.core.db import bulk_insert, sqlite_page_cache
from openmyna.corporate.codes import COLUMNS
from openmyna.corporate.models import Corporation
from openmyna.corporate.nta import Record
from openmyna.corporate.nta_columns import CopyBlock
from openmyna.corporate.text import bigram_tokens_many

# SQLite's page cache while rows are written, and while the indexes are built (its sorter may use as much
# again). Small, because the operating system caches the file anyway and the peak must stay under 500 MiB:
# at 5M rows a 100 MB / 64 MB pair peaked at 486–507 MiB, in the B-tree index build.
IMPORT_CACHE_KIB = 64_000
INDEX_BUILD_CACHE_KIB = 32_000
# PostgreSQL's memory for each index build of a bulk load.
PG_MAINTENANCE_WORK_MEM = "256MB"
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


# Staging schemas of PostgreSQL loads into an empty registry (one per load; a leftover is dropped by the next).
STAGING_PREFIX = "corporate_load_"
# Taken by a staged load for its transaction: one at a time.
_STAGED_LOAD_LOCK = 0x636F7270  # "corp"


def _exec_in(engine: Any, statements: list[str]) -> None:
    """Run ``statements`` in a connection of their own, committed (an index build of a staged load)."""
    with engine.begin() as connection:
        connection.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{PG_MAINTENANCE_WORK_MEM}'")
        for statement in statements:
            connection.exec_driver_sql(statement)


@contextlib.contextmanager
def staged_load(connection: Connection, on_indexes: Any = None) -> Iterator[Connection]:
    """PostgreSQL, a bulk load into an empty registry: yields the connection to write the rows with.

    The rows go to copies of the two tables in a schema of their own, written and committed by a second
    connection; the search and secondary indexes are then built by two connections at once (each GIN
    build keeps one core busy; PostgreSQL 15 builds GIN indexes in one process), the statistics gathered,
    and the loaded table takes the empty one's place inside the caller's transaction. Until that
    transaction commits nothing of the file is in the registry: an interrupted load leaves at most the
    staging schema, which nobody reads and the next load drops. Readers keep the (empty) registry until
    then, where the load used to lock them out for its whole length.
    """
    engine = connection.engine
    schema = f"{STAGING_PREFIX}{secrets.token_hex(4)}"
    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_STAGED_LOAD_LOCK})")
    connection.exec_driver_sql("LOCK TABLE corporate_corporations IN EXCLUSIVE MODE")  # no writer until the swap
    leftovers = connection.exec_driver_sql(
        "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (STAGING_PREFIX,)
    ).scalars()
    for name in list(leftovers):
        connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    targets = connection.exec_driver_sql(
        "SELECT attname, attstattarget FROM pg_attribute WHERE attrelid = 'corporate_corporations'::regclass "
        "AND attnum > 0 AND NOT attisdropped AND attstattarget >= 0"
    ).all()
    table = f"{schema}.corporate_corporations"
    try:
        with engine.connect() as staging, staging.begin():
            staging.exec_driver_sql(f"CREATE SCHEMA {schema}")
            staging.exec_driver_sql(
                f"CREATE TABLE {table} (LIKE public.corporate_corporations INCLUDING ALL EXCLUDING INDEXES)"
            )
            staging.exec_driver_sql(
                f"ALTER TABLE {table} ADD CONSTRAINT pk_corporate_corporations PRIMARY KEY (number)"
            )
            for column, target in targets:
                staging.exec_driver_sql(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET STATISTICS {int(target)}')
            staging.exec_driver_sql(
                f"CREATE TABLE {schema}.corporate_versions (LIKE public.corporate_versions INCLUDING ALL)"
            )
            staging.exec_driver_sql(f"SET LOCAL search_path TO {schema}, public")
            yield staging
        if on_indexes:
            on_indexes()
        trigram, bigrams = (f"CREATE INDEX {name} ON {table} {how}" for name, how in _PG_SEARCH_INDEXES.items())
        btrees = [
            str(CreateIndex(index).compile(dialect=connection.dialect)).replace(
                " ON corporate_corporations ", f" ON {table} "
            )
            for index in Corporation.__table__.indexes
        ]
        builds = [[trigram], [bigrams, *btrees]]  # the trigram GIN takes about as long as the rest together
        with ThreadPoolExecutor(max_workers=len(builds), thread_name_prefix="index-build") as pool:
            for done in [pool.submit(_exec_in, engine, statements) for statements in builds]:
                done.result()
        with engine.begin() as analyze:
            analyze.exec_driver_sql(f"ANALYZE {table}")
    except BaseException:
        with contextlib.suppress(Exception), engine.begin() as cleanup:
            cleanup.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        raise
    version_columns = ", ".join(("id", *VERSION_COLUMNS))
    connection.exec_driver_sql("DROP TABLE corporate_corporations")
    connection.exec_driver_sql(f"ALTER TABLE {table} SET SCHEMA public")
    connection.exec_driver_sql(
        f"INSERT INTO corporate_versions ({version_columns}) SELECT {version_columns} "
        f"FROM {schema}.corporate_versions ON CONFLICT DO NOTHING"
    )
    connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


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
        # PostgreSQL loads an empty registry with COPY FREEZE, which needs the table created in this
        # transaction: the staging table of :func:`staged_load`.
        self.freeze = deferred and into_empty and self.postgresql

    def start_bulk_load(self) -> None:
        """A bulk load starts without the table's secondary indexes (rebuilt by :meth:`build_indexes`)."""
        for index in Corporation.__table__.indexes:
            index.drop(self.connection)
        if self.postgresql:
            for name in _PG_SEARCH_INDEXES:
                self.connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")

    def import_cache(self) -> contextlib.AbstractContextManager[None]:
        """SQLite: a bigger page cache for the length of the import (the table and both FTS indexes take
        random writes), restored afterwards. PostgreSQL: nothing."""
        return sqlite_page_cache(self.connection, IMPORT_CACHE_KIB)

    def build_indexes(self) -> None:
        """Index every current corporation (inside the import's transaction): a sort, not random inserts;
        on PostgreSQL, then gather the planner's statistics."""
        if not self.postgresql:
            self.connection.exec_driver_sql(f"PRAGMA cache_size = -{INDEX_BUILD_CACHE_KIB}")
        for index in Corporation.__table__.indexes:
            index.create(self.connection)
        if self.postgresql:
            self.connection.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{PG_MAINTENANCE_WORK_MEM}'")
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
        self._insert_rows(sorted(r.row for r in records))

    def copy_current(self, block: CopyBlock) -> None:
        """A clean block of new corporations as the parsing process sent it: COPY text on PostgreSQL, the
        stored rows on SQLite (no records built)."""
        if not self.postgresql:
            self._insert_rows(sorted(block.rows()))
            return
        cols = ", ".join((*CURRENT_COLUMNS, "bigrams"))
        raw = self.connection.connection.driver_connection
        with (
            raw.cursor() as cursor,  # type: ignore[union-attr]
            cursor.copy(f"COPY corporate_corporations ({cols}) FROM STDIN{' (FREEZE)' if self.freeze else ''}") as copy,
        ):
            copy.write(block.text)

    def _insert_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Stored current rows, in key order (the table's B-tree is filled page by page)."""
        if not rows:
            return
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
            "INSERT INTO corporate_search_trigram (rowid, search_text) VALUES (?, ?)", [(r[0], r[-1]) for r in rows]
        )
        tokens = bigram_tokens_many([r[-1] for r in rows])
        self.connection.exec_driver_sql(
            "INSERT INTO corporate_search_bigram (rowid, tokens) VALUES (?, ?)",
            [(r[0], token) for r, token in zip(rows, tokens, strict=True)],
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
