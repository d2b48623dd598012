"""Rotating the keys that protect residents' My Numbers at rest (``openmyna keys rotate``).

Each batch of rows is revealed under its old generation and protected under the new one in one
transaction, so a process killed at any point leaves every row whole under one generation or the
other; lookups try both until the rotation is declared finished, and running the command again resumes
where it stopped. The person link and pseudonym never change (``numbers.protection``), so agency codes,
access events and the signed exchange log are untouched. Each re-keyed number is an access event its
holder sees, like any other processing of their number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from openmyna.core import audit
from openmyna.core.crypto import KeyRing
from openmyna.core.db import unit_of_work
from openmyna.numbers import protection
from openmyna.registry.models import Resident

REKEYED = "registry.my_number_rekeyed"


@dataclass(frozen=True)
class RotationReport:
    generation: int
    previous: int
    moved: int


def pending(session: Session, *, generation: int) -> int:
    """How many resident rows are not yet protected under ``generation``."""
    return (
        session.scalar(select(func.count()).select_from(Resident).where(Resident.my_number_generation != generation))
        or 0
    )


def _move_batch(session: Session, *, keys: KeyRing, generation: int, batch: int) -> int:
    rows = session.execute(
        select(Resident.id, Resident.my_number_sealed, Resident.my_number_generation, Resident.pseudonym)
        .where(Resident.my_number_generation != generation)
        .order_by(Resident.id)
        .limit(batch)
        .with_for_update()
    ).all()
    changes = []
    for row in rows:
        number = protection.reveal(keys, row.my_number_sealed, generation=row.my_number_generation)
        protected = protection.protect(keys, number, generation=generation)
        changes.append(
            {
                "id": row.id,
                "my_number_lookup": protected.lookup,
                "my_number_sealed": protected.sealed,
                "my_number_generation": generation,
            }
        )
    if changes:
        session.execute(update(Resident), changes)
        audit.record_accesses(
            session,
            subjects=sorted({row.pseudonym for row in rows}),
            actor_org="platform",
            actor="system:key-rotation",
            action=REKEYED,
            purpose=f"My Number re-encrypted under key generation {generation}",
        )
    return len(changes)


def rotate(
    factory: sessionmaker[Session],
    *,
    keys: KeyRing,
    batch: int = 1000,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> RotationReport:
    """Move every resident row to a new key generation (or finish the rotation under way)."""
    with unit_of_work(factory) as session:
        target = protection.begin_rotation(session)
    assert target.previous is not None
    moved = 0
    while True:
        with unit_of_work(factory) as session:
            total = moved + pending(session, generation=target.current)
        progress(moved, total)
        while True:
            with unit_of_work(factory) as session:
                count = _move_batch(session, keys=keys, generation=target.current, batch=batch)
            if not count:
                break
            moved += count
            progress(moved, total)
        with unit_of_work(factory) as session:
            protection.generations(session, for_write=True)  # waits for writers that chose a generation before
            if pending(session, generation=target.current) == 0:
                protection.finish_rotation(session, generation=target.current)
                return RotationReport(target.current, target.previous, moved)
