"""``openmyna network verify`` against an insider with SQL: every stored column, NULLs, truncated tables,
inserted and duplicated records, heads and the person map. The log is built through the HTTP API."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.network import log
from openmyna.network import verify as verifier
from tests.network.conftest import World, obtain_code

VICTIM = 5  # the provider-side record of the third exchange: the parent's


def _build(client: TestClient, world: World, db: Session, keys: KeyRing) -> None:
    """Six exchanges (twelve records, three full blocks of four) through the API, then a signed head."""
    parent = obtain_code(client, world, "nenkin", "parent")
    elder = obtain_code(client, world, "nenkin", "elder")
    for i, code in enumerate([parent, parent, parent, elder, parent, elder]):
        response = client.post(
            "/api/network/queries",
            json={
                "business": "national_pension_premium",
                "provider": "131016",
                "item": "local_tax",
                "subject_code": code,
                "purpose_reference": f"T-{i}",
            },
            headers=world.headers(client, "nenkin"),
        )
        assert response.status_code == 200, response.text
    head = log.publish(db, keys=keys)
    assert head is not None and head.tree_size == 12 and head.map_root is not None
    assert verifier.verify(db, keys=keys).ok


def _sql(db: Session, statement: str, **params: object) -> None:
    db.execute(text(statement), params)
    db.expire_all()


def _victim(db: Session, column: str) -> object:
    return db.execute(
        text(f"SELECT {column} FROM network_exchange_records WHERE leaf_index = :leaf"), {"leaf": VICTIM}
    ).scalar_one()


def _drop_not_null(db: Session, column: str) -> None:
    """What an insider with the schema can do: let a column hold NULL."""
    if db.get_bind().dialect.name == "postgresql":
        _sql(db, f"ALTER TABLE network_exchange_records ALTER COLUMN {column} DROP NOT NULL")
    else:  # SQLite cannot drop a constraint; a copy made with CREATE TABLE … AS has none
        _sql(db, "CREATE TABLE loose AS SELECT * FROM network_exchange_records")
        _sql(db, "DROP TABLE network_exchange_records")
        _sql(db, "ALTER TABLE loose RENAME TO network_exchange_records")


def _other(db: Session, column: str) -> object:
    """The same column of a record of another exchange and another person (leaf 6: the elder's)."""
    return db.execute(text(f"SELECT {column} FROM network_exchange_records WHERE leaf_index = 6")).scalar_one()


TAMPERING = {
    "citizen": lambda db: _sql(
        db, "UPDATE network_exchange_records SET citizen = :v WHERE leaf_index = 5", v=_other(db, "citizen")
    ),
    "citizen_emptied": lambda db: _sql(db, "UPDATE network_exchange_records SET citizen = '' WHERE leaf_index = 5"),
    "exchange_id": lambda db: _sql(
        db, "UPDATE network_exchange_records SET exchange_id = :v WHERE leaf_index = 5", v=_other(db, "exchange_id")
    ),
    "agency": lambda db: _sql(db, "UPDATE network_exchange_records SET agency = 'kyoukaikenpo' WHERE leaf_index = 5"),
    "side": lambda db: _sql(db, "UPDATE network_exchange_records SET side = 'requester' WHERE leaf_index = 5"),
    "recorded_at": lambda db: _sql(
        db,
        "UPDATE network_exchange_records SET recorded_at = :v WHERE leaf_index = 5",
        v=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    ),
    "entry": lambda db: _sql(
        db, "UPDATE network_exchange_records SET entry = replace(entry, 'T-2', 'T-9') WHERE leaf_index = 5"
    ),
    "purged": lambda db: _sql(db, "UPDATE network_exchange_records SET purged = true WHERE leaf_index = 5"),
    "purged_and_blanked": lambda db: _sql(
        db, "UPDATE network_exchange_records SET purged = true, entry = '' WHERE leaf_index = 5"
    ),
    "leaf_index_moved_out": lambda db: _sql(
        db, "UPDATE network_exchange_records SET leaf_index = NULL WHERE leaf_index = 5"
    ),
}


@pytest.mark.parametrize("block", [verifier.BLOCK, 4], ids=["block-4096", "block-4"])
@pytest.mark.parametrize("tamper", sorted(TAMPERING))
def test_a_change_of_any_stored_column_is_named(
    client: TestClient,
    world: World,
    db: Session,
    keys: KeyRing,
    tamper: str,
    block: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With blocks of 4, PostgreSQL's in-database checks see the change first; the row pass names it."""
    monkeypatch.setattr(verifier, "BLOCK", block)
    _build(client, world, db, keys)
    TAMPERING[tamper](db)
    report = verifier.verify(db, keys=keys)
    assert not report.ok
    assert report.leaf_index == VICTIM, report.problem
    column = tamper.split("_and_")[0].removesuffix("_emptied")
    if column in {"citizen", "exchange_id", "agency", "side", "recorded_at"}:
        assert column in report.problem, report.problem


@pytest.mark.parametrize("column", ["entry", "citizen", "exchange_id", "side", "agency", "recorded_at", "purged"])
def test_a_null_in_a_hashed_column_is_named_not_a_crash(
    client: TestClient, world: World, db: Session, keys: KeyRing, column: str
) -> None:
    _build(client, world, db, keys)
    _drop_not_null(db, column)
    _sql(db, f"UPDATE network_exchange_records SET {column} = NULL WHERE leaf_index = 5")
    report = verifier.verify(db, keys=keys)
    assert not report.ok and report.leaf_index == VICTIM, report.problem


@pytest.mark.parametrize(
    "table",
    [
        "network_exchange_records",
        "network_tree_nodes",
        "network_tree_heads",
        "network_map_nodes",
        "network_person_chains",
    ],
)
def test_a_truncated_table_fails_verification(
    client: TestClient, world: World, db: Session, keys: KeyRing, table: str
) -> None:
    _build(client, world, db, keys)
    _sql(db, f"DELETE FROM {table}")
    report = verifier.verify(db, keys=keys)
    assert not report.ok and report.problem


def test_half_a_table_gone_names_the_first_missing_record(
    client: TestClient, world: World, db: Session, keys: KeyRing
) -> None:
    _build(client, world, db, keys)
    _sql(db, "DELETE FROM network_exchange_records WHERE leaf_index >= 7")
    report = verifier.verify(db, keys=keys)
    assert not report.ok and report.leaf_index == 7, report.problem


HEADS = {
    "log_signature": "UPDATE network_tree_heads SET signature = :zero",
    "map_signature": "UPDATE network_tree_heads SET map_signature = :zero",
    "map_root": "UPDATE network_tree_heads SET map_root = :zero",
    "map_stripped": "UPDATE network_tree_heads SET map_root = NULL, map_signature = NULL",
    "timestamp": "UPDATE network_tree_heads SET timestamp_ms = timestamp_ms + 1",
}


@pytest.mark.parametrize("change", sorted(HEADS))
def test_a_changed_head_is_named(client: TestClient, world: World, db: Session, keys: KeyRing, change: str) -> None:
    _build(client, world, db, keys)
    _sql(db, HEADS[change], zero=bytes(64) if "signature" in change else bytes(32))
    report = verifier.verify(db, keys=keys)
    assert not report.ok and "size 12" in report.problem, report.problem


def test_a_head_signed_before_the_map_existed_still_verifies(
    client: TestClient, world: World, db: Session, keys: KeyRing
) -> None:
    """Heads signed before the person map keep their RFC 6962 signature; the next publish signs the map."""
    _build(client, world, db, keys)
    _sql(db, "UPDATE network_tree_heads SET map_root = NULL, map_signature = NULL")
    _sql(db, "DELETE FROM network_map_nodes")
    _sql(db, "DELETE FROM network_person_chains")
    assert verifier.verify(db, keys=keys).ok
    head = log.publish(db, keys=keys)
    assert head is not None and head.map_root is not None
    assert verifier.verify(db, keys=keys).ok


COPY = (
    "INSERT INTO network_exchange_records (exchange_id, side, agency, citizen, recorded_at, leaf_index, entry, purged) "
    "SELECT exchange_id, side, agency, citizen, recorded_at, {leaf}, entry, purged FROM network_exchange_records "
    "WHERE leaf_index = 5"
)


@pytest.mark.parametrize("leaf", ["NULL", "12"], ids=["pending-duplicate", "beyond-the-head"])
def test_an_inserted_or_duplicated_record_is_named(
    client: TestClient, world: World, db: Session, keys: KeyRing, leaf: str
) -> None:
    _build(client, world, db, keys)
    _sql(db, COPY.format(leaf=leaf))
    report = verifier.verify(db, keys=keys)
    assert not report.ok, report
    assert "repeats" in report.problem if leaf == "NULL" else report.leaf_index == 12, report.problem


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE network_map_nodes SET digest = :zero "
        "WHERE path = (SELECT path FROM network_map_nodes ORDER BY path DESC LIMIT 1)",
        "UPDATE network_person_chains SET head = :zero "
        "WHERE citizen = (SELECT max(citizen) FROM network_person_chains)",
        "UPDATE network_person_chains SET count = count + 1",
        "UPDATE network_tree_nodes SET digest = :zero WHERE key = 5 * 64",
    ],
    ids=["map-node", "chain-head", "chain-count", "leaf-node"],
)
def test_a_changed_map_or_tree_node_is_named(
    client: TestClient, world: World, db: Session, keys: KeyRing, change: str
) -> None:
    _build(client, world, db, keys)
    _sql(db, change, zero=bytes(32))
    report = verifier.verify(db, keys=keys)
    assert not report.ok and report.problem


def test_postgresql_checks_the_columns_in_the_database(
    client: TestClient, world: World, db: Session, keys: KeyRing
) -> None:
    """The fast path is honest: the block query itself counts a record whose citizen column was changed."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("the in-database block check is PostgreSQL's")
    _build(client, world, db, keys)

    def blocks() -> list[int]:
        query = verifier._BLOCKS_IN_RANGE
        rows = db.connection().exec_driver_sql(query, {"start": 0, "end": 12, "block": 4}).all()
        return [unusual for _first, _count, unusual, _blob in rows]

    assert blocks() == [0, 0, 0]
    for column, value in [("citizen", ""), ("exchange_id", "x"), ("agency", "mhlw"), ("side", "requester")]:
        before = _victim(db, column)
        _sql(db, f"UPDATE network_exchange_records SET {column} = :v WHERE leaf_index = 5", v=value)
        assert blocks() == [0, 1, 0], column
        _sql(db, f"UPDATE network_exchange_records SET {column} = :v WHERE leaf_index = 5", v=before)
    _sql(db, "UPDATE network_exchange_records SET recorded_at = recorded_at + interval '1 second' WHERE leaf_index = 5")
    assert blocks() == [0, 1, 0]
