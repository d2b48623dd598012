"""``openmyna network verify`` on a store where an insider let a column of any log table hold NULL: each is
named (the record, node, chain or head), exit 1, never a crash. The records' own columns are in
``test_verify_tampering``; here the tree nodes, heads, chains and map nodes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.network import log
from openmyna.network import verify as verifier
from openmyna.network.models import MapNode, PersonChain, TreeHead, TreeNode
from tests.network.conftest import World
from tests.network.test_verify_tampering import _build, _sql, refused  # noqa: F401 (a fixture)

# (table, column) → (which row, what the report must say; "a|b": either, as the pass that sees it first says)
NULLS: dict[tuple[str, str], tuple[str, str]] = {
    ("network_tree_nodes", "digest"): ("key = 1 * 64 + 2", "the stored tree"),
    ("network_tree_nodes", "digest-leaf"): ("key = 5 * 64", "at leaf 5 does not match the log|the stored tree"),
    ("network_tree_heads", "tree_size"): ("1 = 1", "NULL"),
    ("network_tree_heads", "root_hash"): ("1 = 1", "the tree head of size 12 has a NULL"),
    ("network_tree_heads", "timestamp_ms"): ("1 = 1", "the tree head of size 12 has a NULL"),
    ("network_tree_heads", "signature"): ("1 = 1", "the tree head of size 12 has a NULL"),
    ("network_tree_heads", "map_root"): ("1 = 1", "the tree head of size 12"),
    ("network_tree_heads", "map_signature"): ("1 = 1", "the tree head of size 12"),
    ("network_person_chains", "count"): (
        "citizen = (SELECT max(citizen) FROM network_person_chains)",
        "does not match that person's records",
    ),
    ("network_person_chains", "head"): (
        "citizen = (SELECT max(citizen) FROM network_person_chains)",
        "does not match that person's records",
    ),
    ("network_map_nodes", "digest"): (
        "path = (SELECT path FROM network_map_nodes ORDER BY path DESC LIMIT 1)",
        "the stored person map node",
    ),
    ("network_map_nodes", "leaf_key"): (
        "path = (SELECT path FROM network_map_nodes WHERE leaf_key IS NOT NULL ORDER BY path DESC LIMIT 1)",
        "the stored person map node",
    ),
    ("network_map_nodes", "leaf_value"): (
        "path = (SELECT path FROM network_map_nodes WHERE leaf_key IS NOT NULL ORDER BY path DESC LIMIT 1)",
        "the stored person map node",
    ),
}


def test_every_column_of_the_log_tables_has_a_null_case() -> None:
    """Each column that may be NULL-ed (every one but the primary keys) has a case: a new column fails here."""
    wanted = {
        (model.__tablename__, column.name)
        for model in (TreeNode, TreeHead, PersonChain, MapNode)
        for column in model.__table__.columns
        if not column.primary_key and not (model is TreeHead and column.name == "id")
    }
    assert {(table, column.removesuffix("-leaf")) for table, column in NULLS} == wanted


def _loosen(db: Session, table: str, column: str) -> None:
    """What an insider with the schema can do: let the column hold NULL (SQLite: rebuild the table without
    the constraint, keeping its primary key, which the checks' lookups use)."""
    if db.get_bind().dialect.name == "postgresql":
        _sql(db, f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL")
        return
    columns = inspect(db.connection()).get_columns(table)
    keys = inspect(db.connection()).get_pk_constraint(table)["constrained_columns"]
    spec = ", ".join(f"{c['name']} {c['type']}" + (" NOT NULL" if c["name"] in keys else "") for c in columns)
    _sql(db, f"CREATE TABLE loose ({spec}, PRIMARY KEY ({', '.join(keys)}))")
    _sql(db, f"INSERT INTO loose SELECT * FROM {table}")
    _sql(db, f"DROP TABLE {table}")
    _sql(db, f"ALTER TABLE loose RENAME TO {table}")


@pytest.mark.parametrize("block", [verifier.BLOCK, 4], ids=["block-4096", "block-4"])
@pytest.mark.parametrize("case", sorted(NULLS), ids=lambda case: ".".join(case))
def test_a_null_anywhere_in_the_log_is_named_not_a_crash(
    client: TestClient,
    world: World,
    db: Session,
    keys: KeyRing,
    case: tuple[str, str],
    block: int,
    monkeypatch: pytest.MonkeyPatch,
    refused: Callable[[], verifier.VerifyReport],  # noqa: F811
) -> None:
    """With blocks of 4 on PostgreSQL, the NULL node at level 2 is a block's stored root."""
    monkeypatch.setattr(verifier, "BLOCK", block)
    table, column = case[0], case[1].removesuffix("-leaf")
    where, said = NULLS[case]
    _build(client, world, db, keys)
    _loosen(db, table, column)
    _sql(db, f"UPDATE {table} SET {column} = NULL WHERE {where}")
    report = refused()
    assert any(words in report.problem for words in said.split("|")), report.problem


PURGES = {  # what an insider does to the retention job's signed statement → what the report must say
    "statement-null": ("UPDATE network_purge_statements SET statement = NULL", "has a bad signature"),
    "signature-null": ("UPDATE network_purge_statements SET signature = NULL", "has a bad signature"),
    "range-widened": (
        "UPDATE network_purge_statements SET statement = replace(statement, 'last_leaf\"\\:3', 'last_leaf\"\\:9')",
        "has a bad signature",
    ),
    "statement-deleted": (
        "DELETE FROM network_purge_statements",
        "is marked purged but no signed purge removed it",
    ),
}


@pytest.mark.parametrize("change", sorted(PURGES))
def test_a_purge_statement_tampered_with_is_named(
    client: TestClient,
    world: World,
    db: Session,
    keys: KeyRing,
    change: str,
    refused: Callable[[], verifier.VerifyReport],  # noqa: F811
) -> None:
    """The first four records (two exchanges) purged, their entries gone, a signed statement left: the
    statement is what makes them legitimate, so each change to it is named."""
    _build(client, world, db, keys)
    cutoff = db.execute(text("SELECT recorded_at FROM network_exchange_records WHERE leaf_index = 5")).scalar_one()
    cutoff = dt.datetime.fromisoformat(cutoff) if isinstance(cutoff, str) else cutoff
    statement = log.purge(db, keys=keys, older_than=cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=dt.UTC))
    assert statement is not None and (statement.first_leaf, statement.last_leaf) == (0, 3), statement.statement
    assert verifier.verify(db, keys=keys).ok
    _loosen(db, "network_purge_statements", "statement")
    _loosen(db, "network_purge_statements", "signature")
    sql, said = PURGES[change]
    _sql(db, sql)
    assert said in refused().problem
