"""A large exchange log for the network benchmarks, built straight into the tables.

Not a benchmark itself. The log is what ``openmyna`` itself would have produced: canonical entries for
both sides of each exchange, leaf indices in order, every perfect subtree stored, one signed tree head
(``openmyna network verify`` accepts it), every person's chain and the person map signed with it. One
citizen, the one the history benchmark reads, has a known number of exchanges spread through the log.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable

from _common import log

TARGET_CITIZEN = "person:" + "ab" * 16
TARGET_EXCHANGES = 120


def build_log(url: str, var_dir: object, records: int, *, citizens: int = 1_000_000, batch: int = 100_000) -> None:
    """Append ``records`` records (two per exchange) with their tree, in batches, and sign the head."""
    from _common import DATA_KEY_BYTES
    from openmyna.app import migrate
    from openmyna.core.crypto import KeyRing
    from openmyna.core.db import bulk_insert, make_engine
    from openmyna.network import completeness, merkle, smt
    from openmyna.network import log as exchange_log
    from openmyna.network.models import ExchangeRecord, TreeHead, TreeNode

    engine = make_engine(url)
    migrate.upgrade(engine)
    keys = KeyRing(DATA_KEY_BYTES)
    rng = random.Random(6962)
    exchanges = records // 2
    target_at = set(rng.sample(range(exchanges), min(TARGET_EXCHANGES, exchanges)))
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    frontier: list[tuple[merkle.NodeKey, bytes]] = []
    chains: dict[str, tuple[int, bytes]] = {}
    size = 0
    began = time.perf_counter()
    kinds: list[tuple[str, str, str, str]] = [
        ("nenkin", "131016", "national_pension_premium", "local_tax"),
        ("131016", "131016", "child_allowance", "resident_record"),
        ("kyoukaikenpo", "nenkin", "health_insurance_benefit", "pension_benefit"),
    ]
    columns = ("id", "exchange_id", "side", "agency", "citizen", "recorded_at", "leaf_index", "entry", "purged")
    exchange = 0
    with engine.begin() as connection:
        while exchange < exchanges:
            rows: list[tuple[object, ...]] = []
            leaves: list[bytes] = []
            for _ in range(min(batch // 2, exchanges - exchange)):
                citizen = TARGET_CITIZEN if exchange in target_at else f"person:{rng.getrandbits(128) % citizens:032x}"
                requester, provider, business, item = kinds[exchange % 3]
                asked = start + dt.timedelta(seconds=exchange * 3)
                exchange_id = f"{exchange:024x}"
                base = {
                    "v": 1,
                    "exchange": exchange_id,
                    "requester": requester,
                    "provider": provider,
                    "business": business,
                    "items": [item],
                    "purpose": f"APP-{exchange}",
                    "asked_at": asked.isoformat(),
                    "answered_at": asked.isoformat(),
                    "result": "answered",
                    "reason": "",
                    "citizen": citizen,
                }
                for side, agency in (("requester", requester), ("provider", provider)):
                    entry = json.dumps(
                        {**base, "side": side}, ensure_ascii=False, sort_keys=True, separators=(",", ":")
                    )
                    rows.append(
                        (
                            size + len(leaves) + 1,
                            exchange_id,
                            side,
                            agency,
                            citizen,
                            asked,
                            size + len(leaves),
                            entry,
                            False,
                        )
                    )
                    leaves.append(merkle.leaf_hash(entry.encode()))
                    count, head = chains.get(citizen, (0, smt.ZERO))
                    chains[citizen] = (count + 1, smt.chain_step(head, size + len(leaves) - 1, leaves[-1]))
                exchange += 1
            created, frontier, size = merkle.append_leaves(frontier, size, leaves)
            bulk_insert(connection, ExchangeRecord.__table__, columns, rows)
            bulk_insert(
                connection,
                TreeNode.__table__,
                ("key", "digest"),
                [(merkle.node_key(*key), digest) for key, digest in created],
            )
            rate = size / (time.perf_counter() - began)
            log(f"built {size:,}/{records:,} records ({rate:,.0f}/s)")
        root = merkle.root_from_frontier(frontier)
        map_root = _store_person_map(connection, chains)
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
        from openmyna.core.db import reset_sequence

        reset_sequence(connection, ExchangeRecord.__table__)
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def _store_person_map(connection: object, chains: dict[str, tuple[int, bytes]]) -> bytes:
    """Each person's chain head and the whole person map, as the sequencer would have left them; the root."""
    from openmyna.core.db import bulk_insert
    from openmyna.network import completeness, smt
    from openmyna.network.models import MapNode, PersonChain

    bulk_insert(
        connection, PersonChain.__table__, ("citizen", "count", "head"), ((c, n, h) for c, (n, h) in chains.items())
    )  # type: ignore[arg-type]
    keyed = sorted((smt.map_key(c), smt.leaf_digest(smt.map_key(c), n, h)) for c, (n, h) in chains.items())
    values = {smt.map_key(c): completeness.leaf_value(n, h) for c, (n, h) in chains.items()}
    nodes: dict[bytes, smt.Node] = {}
    root = smt.build([k for k, _d in keyed], [d for _k, d in keyed], nodes)
    bulk_insert(
        connection,  # type: ignore[arg-type]
        MapNode.__table__,
        ("path", "digest", "leaf_key", "leaf_value"),
        ((p, d, None, None) if k is None else (p, d, k.to_bytes(32, "big"), values[k]) for p, (d, k) in nodes.items()),
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
    from pathlib import Path

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
