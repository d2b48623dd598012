"""Reading the pension ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.pension.models import PensionEntitlement, PensionMember

CATEGORIES = ("category_1", "category_2", "category_3")
KINDS = ("old_age_basic", "old_age_employees", "disability_basic", "survivors_basic")


def enrolment(session: Session, *, member_id: int) -> dict[str, Any] | None:
    member = session.get(PensionMember, member_id)
    if member is None:
        return None
    return {"category": member.category, "enrolled_on": member.enrolled_on.isoformat()}


def benefits(session: Session, *, member_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(PensionEntitlement).where(PensionEntitlement.member_id == member_id).order_by(PensionEntitlement.since)
    )
    return [{"kind": r.kind, "annual_amount": r.annual_amount, "since": r.since.isoformat()} for r in rows]


def add_member(session: Session, *, member_number: str, category: str, enrolled_on: Any) -> PensionMember:
    member = PensionMember(member_number=member_number, category=category, enrolled_on=enrolled_on)
    session.add(member)
    session.flush()
    return member


def add_entitlement(session: Session, *, member_id: int, kind: str, annual_amount: int, since: Any) -> None:
    session.add(PensionEntitlement(member_id=member_id, kind=kind, annual_amount=annual_amount, since=since))
