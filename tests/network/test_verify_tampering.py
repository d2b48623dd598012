"""``openmyna network verify`` against an insider with SQL: every stored column, NULLs, truncated tables,
inserted and duplicated records, heads and the person map. The log is built through the HTTP API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from openmyna.cli.main import app as cli_app
from openmyna.core.config import Settings
from openmyna.core.context import AppContext
from openmyna.core.crypto import KeyRing
from openmyna.network import cli as network_cli
from openmyna.network import log
from openmyna.network import verify as verifier
from openmyna.network.models import ExchangeRecord
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry
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


def _swap(db: Session, column: str, a: int = 5, b: int = 6) -> None:
    """Swap ``column`` between the records at leaves ``a`` and ``b`` (a reordering by an insider)."""
    first, second = _victim(db, column), _other(db, column)
    if column == "leaf_index":  # unique: park one record first
        _sql(db, "UPDATE network_exchange_records SET leaf_index = -1 WHERE leaf_index = :a", a=a)
        _sql(db, "UPDATE network_exchange_records SET leaf_index = :a WHERE leaf_index = :b", a=a, b=b)
        _sql(db, "UPDATE network_exchange_records SET leaf_index = :b WHERE leaf_index = -1", b=b)
        return
    _sql(db, f"UPDATE network_exchange_records SET {column} = :v WHERE leaf_index = :a", v=second, a=a)
    _sql(db, f"UPDATE network_exchange_records SET {column} = :v WHERE leaf_index = :b", v=first, b=b)


def _set(column: str, value: object) -> Callable[[Session], None]:
    return lambda db: _sql(db, f"UPDATE network_exchange_records SET {column} = :v WHERE leaf_index = 5", v=value)


def _victim_instant(db: Session) -> dt.datetime:
    """The victim's ``recorded_at`` as an aware instant (SQLite gives the wall clock as text)."""
    value = _victim(db, "recorded_at")
    stamp = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(stamp, dt.datetime)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


# name → (the column changed, the change, the leaf verify must name). Leaf 5 is the provider (town) side of
# the parent's third exchange; leaf 6 the requester side of the elder's first.
TAMPERING: dict[str, tuple[str, Callable[[Session], None], int]] = {
    "citizen": ("citizen", lambda db: _set("citizen", _other(db, "citizen"))(db), VICTIM),
    "citizen_emptied": ("citizen", _set("citizen", ""), VICTIM),
    "citizen_swapped": ("citizen", lambda db: _swap(db, "citizen"), VICTIM),
    "exchange_id": ("exchange_id", lambda db: _set("exchange_id", _other(db, "exchange_id"))(db), VICTIM),
    "exchange_id_swapped": ("exchange_id", lambda db: _swap(db, "exchange_id"), VICTIM),
    "agency": ("agency", _set("agency", "kyoukaikenpo"), VICTIM),
    "agency_the_other_party": ("agency", _set("agency", "nenkin"), VICTIM),
    "side": ("side", _set("side", "requester"), VICTIM),
    "side_unknown": ("side", _set("side", "x"), VICTIM),
    "recorded_at": ("recorded_at", _set("recorded_at", dt.datetime(2020, 1, 1, tzinfo=dt.UTC)), VICTIM),
    "recorded_at_one_second": (
        "recorded_at",
        lambda db: _set("recorded_at", _victim_instant(db) + dt.timedelta(seconds=1))(db),
        VICTIM,
    ),
    "entry": (
        "entry",
        lambda db: _sql(
            db, "UPDATE network_exchange_records SET entry = replace(entry, 'T-2', 'T-9') WHERE leaf_index = 5"
        ),
        VICTIM,
    ),
    "entry_swapped": ("entry", lambda db: _swap(db, "entry"), VICTIM),
    "purged": ("purged", _set("purged", True), VICTIM),
    "purged_and_blanked": (
        "purged",
        lambda db: _sql(db, "UPDATE network_exchange_records SET purged = true, entry = '' WHERE leaf_index = 5"),
        VICTIM,
    ),
    "leaf_index_moved_out": ("leaf_index", _set("leaf_index", None), VICTIM),
    "leaf_index_swapped": ("leaf_index", lambda db: _swap(db, "leaf_index"), VICTIM),
    "leaf_index_beyond_the_head": ("leaf_index", _set("leaf_index", 40), 40),
    "record_deleted": (
        "(row)",
        lambda db: _sql(db, "DELETE FROM network_exchange_records WHERE leaf_index = 5"),
        VICTIM,
    ),
}
NAMED = {"citizen", "exchange_id", "agency", "side", "recorded_at"}  # reported by column name
# The row id is the one column not under any signature: nothing shown or proven depends on it (see
# test_the_row_id_is_a_handle_nothing_depends_on), so there is nothing to check it against.
HANDLE = {"id"}


def test_every_stored_column_has_a_tampering_case() -> None:
    """A column added to the model without a tampering case (or a reason it needs none) fails here."""
    columns = {column.name for column in ExchangeRecord.__table__.columns}
    tried = {column for column, _change, _leaf in TAMPERING.values()} - {"(row)"}
    assert tried | HANDLE == columns
    assert HANDLE.isdisjoint(tried)


def _cli(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    session_factory: sessionmaker[Session],
    keys: KeyRing,
    *args: str,
) -> tuple[int, str]:
    """``openmyna network …`` as an operator runs it, on the test's database (the context is the test's)."""
    context = AppContext(settings, session_factory.kw["bind"].engine, session_factory, keys, session_factory)
    monkeypatch.setattr(network_cli, "open_context", lambda *_a, **_k: context)
    result = CliRunner().invoke(cli_app, ["network", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def refused(
    db: Session,
    keys: KeyRing,
    settings: Settings,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[], verifier.VerifyReport]:
    """Verify with the function and with ``openmyna network verify``: both fail, with the same words."""

    def run() -> verifier.VerifyReport:
        db.flush()
        report = verifier.verify(db, keys=keys)
        assert not report.ok and report.problem
        code, output = _cli(monkeypatch, settings, session_factory, keys, "verify")
        assert code == 1 and f"MISMATCH: {report.problem}" in output, output
        return report

    return run


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
    refused: Callable[[], verifier.VerifyReport],
) -> None:
    """With blocks of 4, PostgreSQL's in-database checks see the change first; the row pass names it."""
    monkeypatch.setattr(verifier, "BLOCK", block)
    _build(client, world, db, keys)
    column, change, leaf = TAMPERING[tamper]
    change(db)
    report = refused()
    assert report.leaf_index == leaf and f"leaf {leaf}" in report.problem, report.problem
    if column in NAMED:
        assert column in report.problem, report.problem


def test_the_row_id_is_a_handle_nothing_depends_on(
    client: TestClient, world: World, db: Session, keys: KeyRing
) -> None:
    """Ids are not signed, so an insider may renumber rows: the history served (its order, its proofs) and
    verification stay exactly what they were, because both follow the leaf index, never the id."""
    _build(client, world, db, keys)
    resident = registry.find_resident(db, resident_id=world.residents["parent"])
    assert resident is not None
    subject = registry.subject_of(resident)
    token = orgs.issue_access_token(keys, org_code=subject, scopes={"self"}, issuer="http://testserver", ttl_seconds=60)
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    def served() -> list[object]:
        page = client.get("/api/network/history", params={"limit": 100}, headers=headers)
        assert page.status_code == 200, page.text
        return [page.json()["items"], page.json()["completeness"]]

    before = served()
    assert [item["purpose_reference"] for item in before[0]] == ["T-4", "T-2", "T-1", "T-0"]
    # the newest request gets the largest id of all, the oldest the smallest: the order shown must not move
    ids = list(
        db.execute(
            text(
                "SELECT id FROM network_exchange_records WHERE citizen = :c AND side = 'requester' "
                "ORDER BY leaf_index DESC"
            ),
            {"c": subject},
        ).scalars()
    )
    for offset, record_id in enumerate(ids):
        _sql(db, "UPDATE network_exchange_records SET id = :new WHERE id = :old", new=10_000 + offset, old=record_id)
    assert served() == before
    assert verifier.verify(db, keys=keys).ok


def test_a_pending_record_edited_before_the_sequencer_is_named_once_published(
    client: TestClient, world: World, db: Session, keys: KeyRing, refused: Callable[[], verifier.VerifyReport]
) -> None:
    """Nothing signs a record before the sequencer reaches it; the sequencer chains it by its hashed entry, so
    a citizen column changed meanwhile is named by the first verify after the next head."""
    _build(client, world, db, keys)
    elder = obtain_code(client, world, "nenkin", "elder")
    body = {"business": "national_pension_premium", "provider": "131016", "item": "local_tax", "subject_code": elder}
    asked = client.post("/api/network/queries", json=body, headers=world.headers(client, "nenkin"))
    assert asked.status_code == 200, asked.text
    _sql(db, "UPDATE network_exchange_records SET citizen = 'person:0' WHERE leaf_index IS NULL AND side = 'provider'")
    assert verifier.verify(db, keys=keys).ok  # not under a head yet: nothing to say
    log.publish(db, keys=keys)
    report = refused()
    assert report.leaf_index == 13 and "citizen" in report.problem, report.problem


@pytest.mark.parametrize("column", ["entry", "citizen", "exchange_id", "side", "agency", "recorded_at", "purged"])
def test_a_null_in_a_hashed_column_is_named_not_a_crash(
    client: TestClient,
    world: World,
    db: Session,
    keys: KeyRing,
    column: str,
    refused: Callable[[], verifier.VerifyReport],
) -> None:
    _build(client, world, db, keys)
    _drop_not_null(db, column)
    _sql(db, f"UPDATE network_exchange_records SET {column} = NULL WHERE leaf_index = 5")
    report = refused()
    assert report.leaf_index == VICTIM and f"leaf {VICTIM}" in report.problem, report.problem


TRUNCATED = {  # the table emptied → what the report must name
    "network_exchange_records": "record at leaf 0 is missing (deleted?): the log holds 0 records but a head",
    "network_tree_nodes": "record ",  # the first record, whose stored leaf is gone
    "network_tree_heads": "lies beyond the latest signed head (size 0)",
    "network_map_nodes": "the stored person map",
    "network_person_chains": "the stored chain of person:",
}


@pytest.mark.parametrize("table", sorted(TRUNCATED))
def test_a_truncated_table_fails_verification(
    client: TestClient,
    world: World,
    db: Session,
    keys: KeyRing,
    table: str,
    refused: Callable[[], verifier.VerifyReport],
) -> None:
    _build(client, world, db, keys)
    _sql(db, f"DELETE FROM {table}")
    report = refused()
    assert TRUNCATED[table] in report.problem, report.problem


def test_half_a_table_gone_names_the_first_missing_record(
    client: TestClient, world: World, db: Session, keys: KeyRing, refused: Callable[[], verifier.VerifyReport]
) -> None:
    _build(client, world, db, keys)
    _sql(db, "DELETE FROM network_exchange_records WHERE leaf_index >= 7")
    report = refused()
    assert report.leaf_index == 7 and "leaf 7 is missing" in report.problem, report.problem


HEADS = {
    "log_signature": "UPDATE network_tree_heads SET signature = :zero",
    "map_signature": "UPDATE network_tree_heads SET map_signature = :zero",
    "map_root": "UPDATE network_tree_heads SET map_root = :zero",
    "map_stripped": "UPDATE network_tree_heads SET map_root = NULL, map_signature = NULL",
    "timestamp": "UPDATE network_tree_heads SET timestamp_ms = timestamp_ms + 1",
}


@pytest.mark.parametrize("change", sorted(HEADS))
def test_a_changed_head_is_named(
    client: TestClient,
    world: World,
    db: Session,
    keys: KeyRing,
    change: str,
    refused: Callable[[], verifier.VerifyReport],
) -> None:
    _build(client, world, db, keys)
    _sql(db, HEADS[change], zero=bytes(64) if "signature" in change else bytes(32))
    report = refused()
    assert "the tree head of size 12" in report.problem, report.problem


def test_an_older_heads_map_under_the_newest_head_is_named(
    client: TestClient, world: World, db: Session, keys: KeyRing, refused: Callable[[], verifier.VerifyReport]
) -> None:
    """An operator serving an older person map: the newest head given the previous head's signed map root."""
    _build(client, world, db, keys)
    elder = obtain_code(client, world, "nenkin", "elder")
    body = {"business": "national_pension_premium", "provider": "131016", "item": "local_tax", "subject_code": elder}
    assert client.post("/api/network/queries", json=body, headers=world.headers(client, "nenkin")).status_code == 200
    log.publish(db, keys=keys)
    _sql(
        db,
        "UPDATE network_tree_heads SET map_root = (SELECT map_root FROM network_tree_heads WHERE tree_size = 12), "
        "map_signature = (SELECT map_signature FROM network_tree_heads WHERE tree_size = 12) WHERE tree_size = 14",
    )
    report = refused()
    assert report.problem == "the tree head of size 14 has a bad signature on its person map root", report.problem


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
    client: TestClient,
    world: World,
    db: Session,
    keys: KeyRing,
    leaf: str,
    refused: Callable[[], verifier.VerifyReport],
) -> None:
    _build(client, world, db, keys)
    _sql(db, COPY.format(leaf=leaf))
    report = refused()
    assert "repeats" in report.problem if leaf == "NULL" else report.leaf_index == 12, report.problem


NODES = {  # id → (the change, what the report must say)
    "map-node": (
        "UPDATE network_map_nodes SET digest = :zero "
        "WHERE path = (SELECT path FROM network_map_nodes ORDER BY path DESC LIMIT 1)",
        "the stored person map node",
    ),
    "chain-head": (
        "UPDATE network_person_chains SET head = :zero "
        "WHERE citizen = (SELECT max(citizen) FROM network_person_chains)",
        "does not match that person's records",
    ),
    "chain-count": ("UPDATE network_person_chains SET count = count + 1", "does not match that person's records"),
    # SQLite compares each stored leaf with its entry; PostgreSQL's block pass finds its parent inconsistent
    "leaf-node": ("UPDATE network_tree_nodes SET digest = :zero WHERE key = 5 * 64", "leaf"),
    "inner-node": (
        "UPDATE network_tree_nodes SET digest = :zero WHERE key = 1 * 64 + 2",
        "the stored tree node at level 2, index 1 (leaves 4–7) is not the hash of the records under it",
    ),
    "inner-node-deleted": (
        "DELETE FROM network_tree_nodes WHERE key = 2 * 64 + 1",
        "the stored tree node at level 1, index 2 (leaves 4–5) is missing",
    ),
    "node-beyond-the-head": (
        "INSERT INTO network_tree_nodes (key, digest) VALUES (12 * 64, :zero)",
        "the stored tree has 23 nodes where a tree of 12 leaves has 22: nodes are stored beyond the latest signed head",
    ),
}


@pytest.mark.parametrize("change", sorted(NODES))
def test_a_changed_map_or_tree_node_is_named(
    client: TestClient,
    world: World,
    db: Session,
    keys: KeyRing,
    change: str,
    refused: Callable[[], verifier.VerifyReport],
) -> None:
    _build(client, world, db, keys)
    statement, said = NODES[change]
    _sql(db, statement, zero=bytes(32))
    report = refused()
    assert said in report.problem, report.problem
    if change == "leaf-node":
        assert report.leaf_index in {4, 5}, report.problem  # the leaf, or the pair it belongs to


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
