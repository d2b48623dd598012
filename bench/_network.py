"""A large exchange log for the network benchmarks, built straight into the tables.

Not a benchmark itself. The log is what ``openmyna`` itself would have produced: canonical entries for
both sides of each exchange, leaf indices in order, every perfect subtree stored, one signed tree head
(``openmyna network verify`` accepts it), every person's chain and the person map signed with it. One
citizen, the one the history benchmark reads, has a known number of exchanges spread through the log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from _common import log

TARGET_CITIZEN = "person:" + "ab" * 16
TARGET_EXCHANGES = 120


_KINDS: list[tuple[str, str, str, str]] = [
    ("nenkin", "131016", "national_pension_premium", "local_tax"),
    ("131016", "131016", "child_allowance", "resident_record"),
    ("kyoukaikenpo", "nenkin", "health_insurance_benefit", "pension_benefit"),
]


def _entry(exchange: int, citizen: str, asked: str, side: str) -> str:
    """A record's canonical entry as the exchange path writes it (the reference the templates are checked by)."""
    requester, provider, business, item = _KINDS[exchange % 3]
    base = {
        "v": 1,
        "exchange": f"{exchange:024x}",
        "requester": requester,
        "provider": provider,
        "business": business,
        "items": [item],
        "purpose": f"APP-{exchange}",
        "asked_at": asked,
        "answered_at": asked,
        "result": "answered",
        "reason": "",
        "citizen": citizen,
        "side": side,
    }
    return json.dumps(base, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _templates(kind: int) -> list[tuple[str, str, str]]:
    """(side, agency, entry template) for both sides of an exchange of ``kind``; the template takes the
    answered and asked times, the citizen, the exchange id and the exchange number, in that (sorted key) order."""
    requester, provider = _KINDS[kind][:2]
    sides = []
    for side, agency in (("requester", requester), ("provider", provider)):
        template = _entry(kind, "%s", "%s", side).replace(f'"{kind:024x}"', '"%s"').replace(f"APP-{kind}", "APP-%d")
        asked = "2025-01-01T00:00:00+00:00"
        assert template % (asked, asked, TARGET_CITIZEN, f"{kind:024x}", kind) == _entry(
            kind, TARGET_CITIZEN, asked, side
        ), "the template is not the canonical entry"
        sides.append((side, agency, template))
    return sides


def build_log(url: str, var_dir: object, records: int, *, citizens: int = 1_000_000, batch: int = 1 << 17) -> None:
    """Append ``records`` records (two per exchange) with their tree, in batches, and sign the head.

    Each entry is filled into its kind's template (the canonical ``json.dumps`` form, checked against it)
    and the rows go in by ``COPY … FREEZE`` into tables emptied in the same transaction, their indexes
    dropped for the load and rebuilt by one sort each at the end (:func:`_indexes_rebuilt`): inserting ten
    million random person keys into a live index was most of the old build's time once the index outgrew
    the server's buffers (2,000–2,700 records/s).
    """
    from _common import DATA_KEY_BYTES
    from openmyna.app import migrate
    from openmyna.core.crypto import KeyRing
    from openmyna.core.db import bulk_insert, make_engine, reset_sequence
    from openmyna.network import completeness, merkle, smt
    from openmyna.network import log as exchange_log
    from openmyna.network.models import ExchangeRecord, MapNode, PersonChain, TreeHead, TreeNode

    engine = make_engine(url)
    migrate.upgrade(engine)
    keys = KeyRing(DATA_KEY_BYTES)
    rng = random.Random(6962)
    exchanges = records // 2
    target_at = set(rng.sample(range(exchanges), min(TARGET_EXCHANGES, exchanges)))
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    templates = [_templates(kind) for kind in range(len(_KINDS))]
    frontier: list[tuple[merkle.NodeKey, bytes]] = []
    chains: dict[str, tuple[int, bytes]] = {}
    size = 0
    began = time.perf_counter()
    columns = ("id", "exchange_id", "side", "agency", "citizen", "recorded_at", "leaf_index", "entry", "purged")
    tables = [model.__table__ for model in (ExchangeRecord, TreeNode, PersonChain, MapNode)]
    with engine.begin() as connection:
        _renice_backend(connection)
        with _indexes_rebuilt(connection, tables) as freeze:  # type: ignore[arg-type]
            for first in range(0, exchanges, batch // 2):
                rows: list[tuple[object, ...]] = []
                leaves: list[bytes] = []
                for exchange in range(first, min(first + batch // 2, exchanges)):
                    citizen = (
                        TARGET_CITIZEN if exchange in target_at else f"person:{rng.getrandbits(128) % citizens:032x}"
                    )
                    at = start + dt.timedelta(seconds=exchange * 3)
                    asked = at.isoformat()
                    exchange_id = f"{exchange:024x}"
                    count, head = chains.get(citizen, (0, smt.ZERO))
                    for side, agency, template in templates[exchange % 3]:
                        entry = template % (asked, asked, citizen, exchange_id, exchange)
                        index = size + len(leaves)
                        leaf = merkle.leaf_hash(entry.encode())
                        rows.append((index + 1, exchange_id, side, agency, citizen, at, index, entry, False))
                        leaves.append(leaf)
                        count, head = count + 1, smt.chain_step(head, index, leaf)
                    chains[citizen] = (count, head)
                created, frontier, size = merkle.append_leaves(frontier, size, leaves)
                bulk_insert(connection, ExchangeRecord.__table__, columns, rows, freeze=freeze)
                bulk_insert(
                    connection,
                    TreeNode.__table__,
                    ("key", "digest"),
                    [(merkle.node_key(*key), digest) for key, digest in created],
                    freeze=freeze,
                )
                if size >> 20 != (size - len(leaves)) >> 20 or first + batch // 2 >= exchanges:
                    log(f"built {size:,}/{records:,} records ({size / (time.perf_counter() - began):,.0f}/s)")
            map_root = _store_person_map(connection, chains, freeze=freeze)
            log(f"rows loaded in {time.perf_counter() - began:,.0f} s; building the indexes")
        root = merkle.root_from_frontier(frontier)
        stamp = int(time.time() * 1000)
        signature = keys.log_signing_key.sign(exchange_log.tree_head_message(size, stamp, root))
        map_signature = keys.log_signing_key.sign(completeness.map_head_message(size, stamp, root, map_root))
        connection.execute(
            TreeHead.__table__.insert().values(
                tree_size=size,
                root_hash=root,
                timestamp_ms=stamp,
                signature=signature,
                map_root=map_root,
                map_signature=map_signature,
            )
        )
        reset_sequence(connection, ExchangeRecord.__table__)
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")
    log(f"log of {size:,} records built in {time.perf_counter() - began:,.0f} s")
    engine.dispose()


def _renice_backend(connection: Connection) -> None:
    """PostgreSQL on this machine: give this connection's server process the builder's own niceness
    (``nice -n 10`` lowers only the client, while the server does most of a load's work); best effort."""
    if connection.dialect.name != "postgresql":
        return
    pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with contextlib.suppress(OSError):  # not ours to renice, or the server runs elsewhere
        if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":  # the backend, not a local namesake
            os.setpriority(os.PRIO_PROCESS, pid, max(os.getpriority(os.PRIO_PROCESS, pid), os.nice(0)))


@contextlib.contextmanager
def _indexes_rebuilt(connection: Connection, tables: list[Table]) -> Iterator[bool]:
    """Load ``tables`` without their indexes (primary keys and unique constraints included) and build each
    once, by a sort, on the way out; yields whether ``COPY … FREEZE`` may be used (PostgreSQL: the tables
    are truncated here, in the load's transaction). The definitions are read back from the catalogue, so
    what is rebuilt is exactly what the migrations made."""
    names = [table.name for table in tables]
    if connection.dialect.name != "postgresql":
        indexes = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({', '.join('?' for _ in names)})",
            tuple(names),
        ).all()
        for name, _sql in indexes:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
        yield False
        for _name, sql in indexes:
            connection.exec_driver_sql(sql)
        return
    connection.exec_driver_sql(f"TRUNCATE {', '.join(names)}")
    constraints = connection.exec_driver_sql(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('p', 'u')",
        (names,),
    ).all()
    indexes = connection.exec_driver_sql(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]))",
        (names, names),
    ).all()
    for table, name, _definition in constraints:
        connection.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    yield True
    connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    for table, name, definition in constraints:
        connection.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _name, definition in indexes:
        connection.exec_driver_sql(definition)


def _store_person_map(connection: Connection, chains: dict[str, tuple[int, bytes]], *, freeze: bool) -> bytes:
    """Each person's chain head and the whole person map, as the sequencer would have left them; the root."""
    from openmyna.core.db import bulk_insert
    from openmyna.network import completeness, smt
    from openmyna.network.models import MapNode, PersonChain

    bulk_insert(
        connection,
        PersonChain.__table__,
        ("citizen", "count", "head"),
        [(c, n, h) for c, (n, h) in chains.items()],
        freeze=freeze,
    )
    keyed = sorted((smt.map_key(c), smt.leaf_digest(smt.map_key(c), n, h)) for c, (n, h) in chains.items())
    values = {smt.map_key(c): completeness.leaf_value(n, h) for c, (n, h) in chains.items()}
    nodes: dict[bytes, smt.Node] = {}
    root = smt.build([k for k, _d in keyed], [d for _k, d in keyed], nodes)
    bulk_insert(
        connection,
        MapNode.__table__,
        ("path", "digest", "leaf_key", "leaf_value"),
        [(p, d, None, None) if k is None else (p, d, k.to_bytes(32, "big"), values[k]) for p, (d, k) in nodes.items()],
        freeze=freeze,
    )
    log(f"person map: {len(chains):,} persons, {len(nodes):,} nodes")
    return root


def report_progress(label: str) -> Callable[[int], None]:
    done = 0
    began = time.perf_counter()

    def progress(n: int) -> None:
        nonlocal done
        before, done = done, done + n
        if done // 1_000_000 != before // 1_000_000:
            log(f"{label}: {done:,} ({done / (time.perf_counter() - began):,.0f}/s)")

    return progress


def cached_log(backend: str, records: int, var_dir: object) -> str:
    """A database holding a log of ``records`` records, built once and kept for later runs.

    SQLite: ``var/bench/netlog-map2-sqlite-N.db``; PostgreSQL: database ``openmyna_bench_netlog_map2_N``. A build goes
    to a partial name first, so an interrupted build is never mistaken for a finished one.
    """
    from _common import ROOT, _pg_admin, _pg_url_for

    if backend == "sqlite":
        path = ROOT / "var" / "bench" / f"netlog-map2-sqlite-{records}.db"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm"), Path(f"{partial}.lock")):
                stale.unlink(missing_ok=True)
            build_log(f"sqlite:///{partial}", var_dir, records)
            partial.rename(path)
        else:
            log(f"reusing {path}")
        return f"sqlite:///{path}"
    name = f"openmyna_bench_netlog_map2_{records}"  # with the map's leaf values (an older log lacks them)
    import psycopg

    from _common import pg_admin_url
    from openmyna.core.db import normalise_url

    admin = normalise_url(pg_admin_url()).replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        log(f"reusing PostgreSQL database {name}")
        return _pg_url_for(name)
    partial = name + "_partial"
    _pg_admin(f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)')
    _pg_admin(f"CREATE DATABASE \"{partial}\" TEMPLATE template0 ENCODING 'UTF8'")
    build_log(_pg_url_for(partial), var_dir, records)
    _pg_admin(f'ALTER DATABASE "{partial}" RENAME TO "{name}"')
    return _pg_url_for(name)
