"""The exchange log: signed heads, proofs checked by the independent RFC 6962 verifier, tamper detection."""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.network import enrolment, log, service
from openmyna.network import verify as verifier
from openmyna.network.models import ExchangeRecord, PurgeStatement
from openmyna.network.table import load_table
from tests.network import rfc6962
from tests.network.conftest import World


def _fill(db: Session, keys: KeyRing, world: World, count: int) -> None:
    code = enrolment.issue_code(db, keys=keys, agency="nenkin", my_number=world.numbers["parent"])
    table = load_table()
    providers: dict[str, service.Provider] = {}
    for i in range(count):
        service.ask(
            db,
            keys=keys,
            table=table,
            requester="nenkin",
            providers=providers,
            query=service.Query("national_pension_premium", "131016", "local_tax", code, f"APP-{i}"),
        )


def _entries(db: Session) -> list[bytes]:
    return [e.encode() for e in db.scalars(select(ExchangeRecord.entry).order_by(ExchangeRecord.leaf_index))]


def test_signed_heads_inclusion_and_consistency_through_the_api(
    client: TestClient, db: Session, keys: KeyRing, world: World
) -> None:
    assert client.get("/api/network/sth").status_code == 404
    _fill(db, keys, world, 5)
    first = log.publish(db, keys=keys)
    _fill(db, keys, world, 8)
    second = log.publish(db, keys=keys)
    db.commit()
    assert first is not None and second is not None and (first.tree_size, second.tree_size) == (10, 26)
    sth = client.get("/api/network/sth").json()
    public = load_pem_public_key(client.get("/api/network/sth/key").text.encode())
    root = base64.b64decode(sth["sha256_root_hash"])
    public.verify(
        base64.b64decode(sth["tree_head_signature"]),  # type: ignore[union-attr]
        struct.pack(">BBQQ", 0, 1, sth["timestamp"], sth["tree_size"]) + root,
    )
    entries = _entries(db)
    assert root == rfc6962.mth(entries)
    for leaf in (0, 9, 17, 25):
        proof = client.get("/api/network/proof/inclusion", params={"leaf_index": leaf}).json()
        path = [base64.b64decode(p) for p in proof["audit_path"]]
        assert rfc6962.verify_inclusion(entries[leaf], leaf, 26, path, root)
    old = client.get("/api/network/proof/inclusion", params={"leaf_index": 3, "tree_size": 10}).json()
    assert rfc6962.verify_inclusion(
        entries[3], 3, 10, [base64.b64decode(p) for p in old["audit_path"]], first.root_hash
    )
    consistency = client.get("/api/network/proof/consistency", params={"first": 10, "second": 26}).json()
    assert rfc6962.verify_consistency(
        10, 26, first.root_hash, root, [base64.b64decode(p) for p in consistency["consistency"]]
    )
    for params in ({"leaf_index": 26}, {"leaf_index": 1, "tree_size": 99}, {"leaf_index": -1}):
        assert 400 <= client.get("/api/network/proof/inclusion", params=params).status_code < 500
    assert client.get("/api/network/proof/consistency", params={"first": 27, "second": 26}).status_code == 400


def test_publishing_twice_without_new_records_keeps_the_head(db: Session, keys: KeyRing, world: World) -> None:
    _fill(db, keys, world, 2)
    head = log.publish(db, keys=keys)
    assert log.publish(db, keys=keys) is head


@pytest.mark.parametrize("block", [verifier.BLOCK, 4], ids=["block-4096", "block-4"])
@pytest.mark.parametrize("tamper", ["modify", "delete", "reorder", "forge_head"])
def test_tampering_is_detected_and_named(
    db: Session, keys: KeyRing, world: World, tamper: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With blocks of 4 the 12 records fill three blocks, so PostgreSQL's in-database hashing is exercised."""
    monkeypatch.setattr(verifier, "BLOCK", block)
    _fill(db, keys, world, 6)
    log.publish(db, keys=keys)
    report = verifier.verify(db, keys=keys)
    assert report.ok and report.records == 12
    victim = db.scalar(select(ExchangeRecord).where(ExchangeRecord.leaf_index == 5))
    assert victim is not None
    if tamper == "modify":
        db.execute(
            update(ExchangeRecord)
            .where(ExchangeRecord.id == victim.id)
            .values(entry=victim.entry.replace("answered", "refused"))
        )
    elif tamper == "delete":
        db.execute(delete(ExchangeRecord).where(ExchangeRecord.id == victim.id))
    elif tamper == "reorder":
        other = db.scalar(select(ExchangeRecord).where(ExchangeRecord.leaf_index == 8))
        assert other is not None
        db.execute(update(ExchangeRecord).where(ExchangeRecord.id == victim.id).values(leaf_index=-1))
        db.execute(update(ExchangeRecord).where(ExchangeRecord.id == other.id).values(leaf_index=5))
        db.execute(update(ExchangeRecord).where(ExchangeRecord.id == victim.id).values(leaf_index=8))
    else:
        head = log.latest_head(db)
        assert head is not None
        head.root_hash = bytes(32)
    db.flush()
    db.expire_all()
    report = verifier.verify(db, keys=keys)
    assert not report.ok
    if tamper != "forge_head":
        assert report.leaf_index == 5, report.problem
    assert report.problem


def test_purge_keeps_the_tree_verifiable_and_leaves_a_signed_statement(
    db: Session, keys: KeyRing, world: World
) -> None:
    with clock.frozen_at(clock.now() - dt.timedelta(days=365 * 8)):
        _fill(db, keys, world, 3)
    _fill(db, keys, world, 2)
    log.publish(db, keys=keys)
    statement = log.purge(db, keys=keys, older_than=clock.now() - dt.timedelta(days=365 * 7))
    assert statement is not None and statement.count == 6
    keys.log_signing_key.public_key().verify(statement.signature, statement.statement.encode())
    assert json.loads(statement.statement)["count"] == 6
    remaining = list(db.scalars(select(ExchangeRecord).where(ExchangeRecord.purged.is_(True))))
    assert len(remaining) == 6 and all(r.entry == "" for r in remaining)
    assert verifier.verify(db, keys=keys).ok
    assert db.scalar(select(PurgeStatement.count)) == 6
    assert log.purge(db, keys=keys, older_than=clock.now() - dt.timedelta(days=365 * 7)) is None


def test_retention_cutoff_counts_calendar_years() -> None:
    assert log.retention_cutoff(dt.datetime(2026, 11, 30, tzinfo=dt.UTC), years=7) == dt.datetime(
        2019, 11, 30, tzinfo=dt.UTC
    )
    assert log.retention_cutoff(dt.datetime(2028, 2, 29, tzinfo=dt.UTC), years=7).date() == dt.date(2021, 2, 28)
