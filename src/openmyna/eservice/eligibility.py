"""Who may apply: a resident's facts from the registry, the search answers, and the procedure's rules.

The search (anyone, no login) and the submit check (the signer's registry record) apply the same
:class:`~openmyna.eservice.catalogue.Eligibility` rules to the same :class:`Facts`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from openmyna.eservice.catalogue import Eligibility, Entry
from openmyna.registry import service as registry
from openmyna.registry.models import RESIDENT, Resident


@dataclass(frozen=True)
class Facts:
    """What the rules look at. ``None`` means unknown (an anonymous search that skipped the question)."""

    municipality: str | None = None
    age: int | None = None
    sex: str | None = None
    child_ages: tuple[int, ...] | None = None
    single_parent: bool | None = None
    prefill: dict[str, Any] = field(default_factory=dict)


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def facts_of(session: Session, resident: Resident, *, today: dt.date) -> Facts:
    """The registry's facts of ``resident`` and the values a form may be pre-filled with."""
    members = registry.household_members(session, resident=resident)
    children = [m for m in members if m.relationship_code == "child" and m.status == RESIDENT]
    has_spouse = any(m.relationship_code == "spouse" for m in members) or (
        resident.relationship_code == "spouse" and any(m.relationship_code == "head" for m in members)
    )
    building = f" {resident.address_building}" if resident.address_building else ""
    prefill = {
        "name": f"{resident.family_name} {resident.given_name}",
        "kana": f"{resident.family_name_kana} {resident.given_name_kana}",
        "birth_date": resident.birth_date.isoformat(),
        "sex": resident.sex,
        "postal_code": resident.postal_code,
        "address": f"{resident.address_town}{resident.address_block}{building}",
        "children": [
            {"name": f"{c.family_name} {c.given_name}", "birth_date": c.birth_date.isoformat()} for c in children
        ],
        "spouse_name": next(
            (f"{m.family_name} {m.given_name}" for m in members if m.id != resident.id and m.relationship_code in
             ("spouse", "head") and resident.relationship_code in ("spouse", "head")),
            "",
        ),
    }  # fmt: skip
    return Facts(
        municipality=resident.municipality_code if resident.status == RESIDENT else None,
        age=age_on(resident.birth_date, today),
        sex=resident.sex,
        child_ages=tuple(age_on(c.birth_date, today) for c in children),
        single_parent=bool(children) and not has_spouse,
        prefill=prefill,
    )


def refusal(rules: Eligibility, facts: Facts, *, municipality: str) -> str | None:
    """Why ``facts`` do not meet ``rules`` (English, for the problem's detail), or None when they do or
    when a fact is unknown (the search then shows the procedure with its conditions)."""
    if rules.residents_only and facts.municipality is not None and facts.municipality != municipality:
        return f"the applicant is not a resident of municipality {municipality}"
    if facts.age is not None:
        if rules.min_age is not None and facts.age < rules.min_age:
            return f"the applicant must be at least {rules.min_age} years old"
        if rules.max_age is not None and facts.age > rules.max_age:
            return f"the applicant must be at most {rules.max_age} years old"
    if rules.sex is not None and facts.sex is not None and facts.sex != rules.sex:
        return f"this procedure is for {rules.sex} applicants"
    limit = rules.child_under
    if limit is not None and facts.child_ages is not None and not any(age < limit for age in facts.child_ages):
        return f"the applicant's household has no child under {rules.child_under}"
    if rules.single_parent and facts.single_parent is False:
        return "this procedure is for a parent raising a child alone"
    return None


def prefilled(entry: Entry, facts: Facts) -> dict[str, Any]:
    """The form's initial values from the registry, by the procedure's ``prefill`` map."""
    return {name: facts.prefill[source] for name, source in entry.procedure.prefill.items() if source in facts.prefill}
