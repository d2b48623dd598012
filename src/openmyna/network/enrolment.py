"""How the network comes to know a person: an agency's code for them (取得番号 via J-LIS), and, for an
agency hosted here, its local id (its intermediate server's link from that code to its own record).

:func:`enrol` does both for one person (an agency's request, a birth or move-in at the town) and for a
whole town (the demo seeder), and records an access event the person sees for each. Codes never change:
a code is derived from the agency and the person, so enrolling a person again yields the same code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing
from openmyna.core.db import bulk_insert
from openmyna.network.models import CodeLink, LocalId
from openmyna.network.service import citizen_of, codes_for
from openmyna.numbers import formats, protection

CODE_ISSUED = "network.code_issued"


class Enrolee(NamedTuple):
    """A person to enrol at an agency: the hub's keyed link, and the agency's own record id if it keeps one."""

    person_link: bytes
    local_ref: int | None = None


def person_link(keys: KeyRing, my_number: str) -> bytes:
    """The hub's keyed link to the person holding ``my_number`` (never the number itself)."""
    return protection.person_link(keys, my_number)


def _insert(connection: Connection) -> Callable[..., Any]:
    """The dialect's INSERT, which has ON CONFLICT on both databases."""
    return (postgresql if connection.dialect.name == "postgresql" else sqlite).insert


def enrol(
    session: Session,
    *,
    keys: KeyRing,
    agency: str,
    people: Sequence[Enrolee],
    purpose: str = "agency-specific code obtained",
    fresh: bool = False,
) -> list[str]:
    """Issue ``agency``'s codes for ``people`` (in order) and keep its local ids; one access event each.

    The hub's link is written once per agency and person (a second enrolment finds it); a local id points
    at the record given last (someone moving back in gets a new record, and the town's code follows it).
    ``fresh`` says that ``agency`` knows none of ``people`` yet (the seeder enrolling a new town): the rows
    are then plainly bulk-written (``COPY`` on PostgreSQL), and a person known after all fails the unique
    constraints, and with them the caller's transaction.
    """
    if not people:
        return []
    codes = codes_for(keys, agency=agency, links=[p.person_link for p in people])
    connection = session.connection()
    now = clock.now()
    if fresh:
        _write_fresh(connection, agency=agency, codes=codes, people=people, now=now)
    else:
        _write(session, agency=agency, codes=codes, people=people, now=now)
    audit.record_accesses(
        session,
        subjects=(citizen_of(p.person_link) for p in people),
        actor_org=agency,
        actor=f"system:{agency}",
        action=CODE_ISSUED,
        purpose=purpose,
    )
    return codes


def _write_fresh(
    connection: Connection, *, agency: str, codes: list[str], people: Sequence[Enrolee], now: dt.datetime
) -> None:
    bulk_insert(
        connection,
        CodeLink.__table__,
        ("agency", "code", "person_link", "issued_at"),
        [(agency, code, p.person_link, now) for code, p in zip(codes, people, strict=True)],
    )
    bulk_insert(
        connection,
        LocalId.__table__,
        ("agency", "code", "local_ref"),
        [(agency, code, p.local_ref) for code, p in zip(codes, people, strict=True) if p.local_ref is not None],
    )


def _write(session: Session, *, agency: str, codes: list[str], people: Sequence[Enrolee], now: dt.datetime) -> None:
    connection = session.connection()
    connection.execute(
        _insert(connection)(CodeLink).on_conflict_do_nothing(),
        [
            {"agency": agency, "code": code, "person_link": p.person_link, "issued_at": now}
            for code, p in zip(codes, people, strict=True)
        ],
    )
    remember_local_ids(
        session,
        agency=agency,
        local_refs={code: p.local_ref for code, p in zip(codes, people, strict=True) if p.local_ref is not None},
    )


def issue_code(session: Session, *, keys: KeyRing, agency: str, my_number: str, local_ref: int | None = None) -> str:
    """The explicit, recorded step by which an agency obtains its code for a person (取得番号 via J-LIS)."""
    number = formats.require(formats.check_my_number(my_number), field="my_number")
    return enrol(session, keys=keys, agency=agency, people=[Enrolee(person_link(keys, number), local_ref)])[0]


def remember_local_ids(session: Session, *, agency: str, local_refs: dict[str, int]) -> None:
    """Agency side (its intermediate server): keep each code the hub issued beside the agency's own record id.

    A code already known is pointed at the record given now.
    """
    if not local_refs:
        return
    connection = session.connection()
    statement = _insert(connection)(LocalId)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["agency", "code"], set_={"local_ref": statement.excluded.local_ref}
        ),
        [{"agency": agency, "code": code, "local_ref": ref} for code, ref in local_refs.items()],
    )
