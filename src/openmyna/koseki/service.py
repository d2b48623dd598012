"""The family register's rules: whose register, its entries, and the residence annex (附票) drawn from the
resident registry's history of addresses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from openmyna.core import audit
from openmyna.core.errors import Conflict, InvalidInput, NotFound
from openmyna.koseki.models import FamilyRegister, FamilyRegisterMember
from openmyna.koseki.schemas import EventKind
from openmyna.numbers import formats
from openmyna.registry.models import Resident

EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
MAKE_ACTION, READ_ACTION = "koseki.register.make", "koseki.register.read"


class NoFamilyRegister(NotFound):
    slug = "koseki-not-found"
    title_ja = "戸籍が見つかりません"
    title_en = "No family register holds this person"


class AlreadyInRegister(Conflict):
    slug = "koseki-already-registered"
    title_ja = "この人はすでに別の戸籍に記録されています"
    title_en = "This person is already a member of a family register"


class UnknownMember(NotFound):
    slug = "koseki-unknown-resident"
    title_ja = "戸籍に記録する住民の記録が見つかりません"
    title_en = "No resident record with this id"


class InvalidRegister(InvalidInput):
    slug = "koseki-invalid"
    title_ja = "戸籍の記載内容が正しくありません"
    title_en = "The family register entry is not valid"


@dataclass(frozen=True)
class NewMember:
    """A person entered in a new register, with the events of their entry (身分事項)."""

    family_name: str
    given_name: str
    birth_date: dt.date
    sex: str
    relation: str
    father: str = ""
    mother: str = ""
    resident_id: int | None = None
    events: tuple[tuple[str, dt.date, str], ...] = field(default=())


@dataclass(frozen=True)
class Register:
    """A register as read: the register, its entries in order, and the entry of the person asked about."""

    register: FamilyRegister
    members: tuple[FamilyRegisterMember, ...]
    holder: FamilyRegisterMember

    @property
    def current(self) -> tuple[FamilyRegisterMember, ...]:
        return tuple(m for m in self.members if m.left_on is None)


def _event(kind: str, on: dt.date, detail: str) -> dict[str, Any]:
    if kind not in EVENT_KINDS:
        raise InvalidRegister(f"unknown event {kind!r}; one of {', '.join(EVENT_KINDS)}")
    return {"kind": kind, "date": on.isoformat(), "detail": detail}


def make_register(
    session: Session,
    *,
    honseki_municipality_code: str,
    honseki: str,
    head_name: str,
    made_on: dt.date,
    made_reason: str,
    members: list[NewMember],
) -> FamilyRegister:
    """Open a register (編製) with its first entries; the 本籍 municipality need not be where anyone lives."""
    code = formats.check_local_government_code(honseki_municipality_code)
    if not code.valid or formats.municipality(honseki_municipality_code) is None:
        raise InvalidRegister(f"{honseki_municipality_code} is not a local-government code")
    if not members:
        raise InvalidRegister("a register has at least its head")
    linked = [m.resident_id for m in members if m.resident_id is not None]
    if len(set(linked)) != len(linked):
        raise InvalidRegister("a resident is entered once in a register")
    known = set(session.scalars(select(Resident.id).where(Resident.id.in_(linked)))) if linked else set()
    if unknown := sorted(set(linked) - known):
        raise UnknownMember(f"no resident record {unknown[0]}")
    if linked and session.scalar(
        select(FamilyRegisterMember.id).where(
            FamilyRegisterMember.resident_id.in_(linked), FamilyRegisterMember.left_on.is_(None)
        )
    ):
        raise AlreadyInRegister("a person is a current member of one register only; remove them from it first")
    register = FamilyRegister(
        honseki_municipality_code=honseki_municipality_code,
        honseki=honseki,
        head_name=head_name,
        made_on=made_on,
        made_reason=made_reason,
        members=[
            FamilyRegisterMember(
                position=position,
                resident_id=member.resident_id,
                family_name=member.family_name,
                given_name=member.given_name,
                birth_date=member.birth_date,
                sex=member.sex,
                father=member.father,
                mother=member.mother,
                relation=member.relation,
                events=[_event(kind, on, detail) for kind, on, detail in member.events],
                left_reason="",
            )
            for position, member in enumerate(members, start=1)
        ],
    )
    session.add(register)
    session.flush()
    return register


def get_register(session: Session, *, register_id: int, keeper: str) -> FamilyRegister:
    """The register ``keeper`` keeps with this id (another municipality's is not found here)."""
    register = session.get(FamilyRegister, register_id)
    if register is None or register.honseki_municipality_code != keeper:
        raise NoFamilyRegister(f"municipality {keeper} keeps no family register {register_id}")
    return register


def record_access(session: Session, register: FamilyRegister, *, actor_org: str, actor: str, action: str) -> None:
    """An access event for each member who has a resident record: what a person can see in the portal."""
    ids = [m.resident_id for m in register.members if m.resident_id is not None]
    subjects = list(session.scalars(select(Resident.pseudonym).where(Resident.id.in_(ids)))) if ids else []
    audit.record_accesses(
        session,
        subjects=subjects,
        actor_org=actor_org,
        actor=actor,
        action=action,
        purpose=f"family register {register.id}",
    )


def register_of(session: Session, *, resident_id: int) -> Register:
    """The register in which the resident is a current member (each person is in exactly one)."""
    holder = session.scalar(
        select(FamilyRegisterMember)
        .where(FamilyRegisterMember.resident_id == resident_id, FamilyRegisterMember.left_on.is_(None))
        .options(selectinload(FamilyRegisterMember.register).selectinload(FamilyRegister.members))
    )
    if holder is None:
        raise NoFamilyRegister("no family register held here names this person")
    return Register(holder.register, tuple(holder.register.members), holder)


def residences(session: Session, member: FamilyRegisterMember) -> list[tuple[str, dt.date]]:
    """The member's addresses since entering the register, oldest first (the 附票's lines), from the
    registry's history of the member's resident record; empty where the registry holds no record."""
    if member.resident_id is None:
        return []
    resident = session.get(Resident, member.resident_id)
    if resident is None:
        return []
    seen: list[tuple[str, dt.date]] = []
    for version in resident.history:
        address, since = version.snapshot.get("address"), version.snapshot.get("address_since")
        if address and since and (not seen or seen[-1][0] != address):
            seen.append((address, dt.date.fromisoformat(since)))
    if not seen or seen[-1][0] != resident.address:
        seen.append((resident.address, resident.address_since))
    entered = min((dt.date.fromisoformat(e["date"]) for e in member.events), default=None)
    if entered is None:
        return seen
    start = max((i for i, (_, since) in enumerate(seen) if since < entered), default=0)
    return seen[start:]  # the address held when entering, then each move
