"""The sandbox acquirer's own ledger: payments, refunds, idempotency keys and webhook events.

A real acquirer is another company's system, so the sandbox keeps its own SQLite file (never the platform's
tables). Writers queue for ``BEGIN IMMEDIATE`` (``core.db.make_engine``), so two requests with one
idempotency key are served one after the other and the second replays the first's answer.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from openmyna.core.db import make_engine

metadata = MetaData()
payments = Table(
    "sandbox_payments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("amount", Integer, nullable=False),
    Column("captured_amount", Integer, nullable=False, default=0),
    Column("refunded_amount", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("brand", String(16), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("reference", String(128), nullable=False),
    Column("decline_code", String(40), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("method", String(16), nullable=False, default="card"),
    Column("payeasy_customer", String(20), nullable=False, default="", index=True),
    Column("payeasy_confirmation", String(6), nullable=False, default=""),
    Column("expires_at", DateTime(timezone=True), nullable=True),
)
refunds = Table(
    "sandbox_refunds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("payment_id", String(40), nullable=False, index=True),
    Column("amount", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
idempotency = Table(
    "sandbox_idempotency",
    metadata,
    Column("key", String(255), nullable=False),
    Column("fingerprint", LargeBinary(32), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("key"),
)
events = Table(
    "sandbox_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def now() -> dt.datetime:
    """The acquirer's own clock: another company's system does not share the platform's test clock."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as the idempotency table keeps it."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    events: tuple[str, ...] = ()


class IdempotencyMismatch(Exception):
    """The key was used before with a different request."""


class Ledger:
    """The sandbox's database, opened on first use (a platform that never pays never creates the file)."""

    def __init__(self, database: Path) -> None:
        self._database = database
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            engine = make_engine(f"sqlite:///{self._database}")
            metadata.create_all(engine)
            self._engine = engine
        return self._engine

    def idempotent(self, key: str, fingerprint: bytes, work: Callable[[Connection], Answer]) -> Answer:
        """Run ``work`` once per key in one transaction; the same key and request replay its answer."""
        with self.engine.begin() as connection:
            seen = connection.execute(select(idempotency).where(idempotency.c.key == key)).one_or_none()
            if seen is not None:
                if seen.fingerprint != fingerprint:
                    raise IdempotencyMismatch(key)
                return Answer(seen.status_code, json.loads(seen.body), replayed=True)
            answer = work(connection)
            connection.execute(
                insert(idempotency).values(
                    key=key,
                    fingerprint=fingerprint,
                    status_code=answer.status_code,
                    body=json.dumps(answer.body),
                    created_at=now(),
                )
            )
            return answer

    def read(self, work: Callable[[Connection], Any]) -> Any:
        with self.engine.begin() as connection:
            return work(connection)

    def record_event(self, connection: Connection, kind: str, data: dict[str, Any]) -> str:
        event_id = new_id("evt")
        created = now()
        body = {"id": event_id, "type": kind, "created": int(created.timestamp()), "data": data}
        connection.execute(insert(events).values(id=event_id, type=kind, body=json.dumps(body), created_at=created))
        return event_id

    def event_body(self, event_id: str) -> str | None:
        return self.read(lambda c: c.scalar(select(events.c.body).where(events.c.id == event_id)))

    def mark_delivery(self, event_id: str, *, delivered: bool) -> None:
        values: dict[str, Any] = {"attempts": events.c.attempts + 1}
        if delivered:
            values["delivered_at"] = now()
        self.read(lambda c: c.execute(update(events).where(events.c.id == event_id).values(**values)))

    def list_events(self, limit: int) -> list[dict[str, Any]]:
        query = select(events).order_by(events.c.created_at.desc(), events.c.id).limit(limit)
        rows = self.read(lambda c: c.execute(query).all())
        return [
            {
                "id": row.id,
                "type": row.type,
                "body": row.body,
                "delivered": row.delivered_at is not None,
                "attempts": row.attempts,
            }
            for row in rows
        ]

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
