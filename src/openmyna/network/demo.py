"""Demo data for the network: the town's tax ledger, the pension rolls, agency codes, and a few
hundred real exchanges for the demo personas following the seed's three examples."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.core.db import bulk_insert, reset_sequence
from openmyna.localtax import service as localtax
from openmyna.localtax.models import TaxAssessment
from openmyna.network import enrolment, log, service
from openmyna.network.models import CodeLink
from openmyna.network.table import ExchangeTable
from openmyna.numbers import protection
from openmyna.pension.models import PensionEntitlement, PensionMember
from openmyna.registry.models import RESIDENT, Resident

PENSION_OFFICE = "nenkin"
INSURER = "kyoukaikenpo"


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _income(rng: random.Random, age: int) -> int:
    if age < 20:
        return 0
    if age >= 65:
        return int(rng.lognormvariate(14.3, 0.5)) // 1000 * 1000  # mostly pension-sized incomes
    if rng.random() < 0.18:
        return int(rng.uniform(0, 1_000_000)) // 1000 * 1000
    return int(rng.lognormvariate(15.3, 0.55)) // 1000 * 1000


def seed_ledgers(session: Session, *, keys: KeyRing, municipality: str, seed: int) -> None:
    """Tax assessments for adults, pension rolls, and the agencies' codes for their people."""
    rng = random.Random(seed + 404)
    today = clock.today()
    fiscal_year = today.year if today.month >= 6 else today.year - 1
    child_cutoff = today.replace(year=today.year - 16)
    children = dict(
        session.execute(
            select(Resident.household_id, func.count())
            .where(Resident.status == RESIDENT, Resident.birth_date > child_cutoff)
            .group_by(Resident.household_id)
        ).all()
    )
    connection = session.connection()
    member_id = session.scalar(select(func.max(PensionMember.id))) or 0
    query = (
        select(
            Resident.id,
            Resident.birth_date,
            Resident.household_id,
            Resident.relationship_code,
            Resident.my_number_sealed,
            Resident.my_number_generation,
        )
        .where(Resident.status == RESIDENT)
        .order_by(Resident.id)
    )
    for people in session.execute(query.execution_options(yield_per=20_000)).partitions():
        tax_rows: list[tuple[object, ...]] = []
        members: list[tuple[object, ...]] = []
        entitlements: list[tuple[object, ...]] = []
        town: list[enrolment.Enrolee] = []
        pension_office: list[enrolment.Enrolee] = []
        insurer: list[enrolment.Enrolee] = []
        for person in people:
            age = _age(person.birth_date, today)
            link = _link(keys, person)
            town.append(enrolment.Enrolee(link, person.id))
            if age >= 16:
                dependants = children.get(person.household_id, 0) if person.relationship_code == "head" else 0
                base = _income(rng, age)
                for year in (fiscal_year - 1, fiscal_year):
                    a = localtax.assess(
                        fiscal_year=year,
                        income=int(base * rng.uniform(0.93, 1.07)) // 1000 * 1000,
                        dependants=dependants,
                    )
                    tax_rows.append(
                        (
                            person.id,
                            a.fiscal_year,
                            a.income,
                            a.taxable_income,
                            a.municipal_tax,
                            a.prefectural_tax,
                            a.dependants,
                        )
                    )
            if age >= 20:
                member_id += 1
                category = (
                    "category_1"
                    if age >= 60
                    else rng.choices(("category_1", "category_2", "category_3"), cum_weights=(25, 85, 100))[0]
                )
                members.append((member_id, f"{member_id:010d}", category, _years_after(person.birth_date, 20)))
                if age >= 65:
                    since = _years_after(person.birth_date, 65)
                    entitlements.append((member_id, "old_age_basic", rng.randrange(600_000, 831_000, 100), since))
                    if rng.random() < 0.6:
                        entitlements.append(
                            (member_id, "old_age_employees", rng.randrange(400_000, 1_800_000, 100), since)
                        )
                elif rng.random() < 0.02:
                    entitlements.append((member_id, "disability_basic", 1_020_000, today - dt.timedelta(days=900)))
                pension_office.append(enrolment.Enrolee(link, member_id))
                if category == "category_2":
                    insurer.append(enrolment.Enrolee(link))
        bulk_insert(
            connection,
            TaxAssessment.__table__,
            (
                "resident_id",
                "fiscal_year",
                "income",
                "taxable_income",
                "municipal_tax",
                "prefectural_tax",
                "dependants",
            ),
            tax_rows,
        )
        bulk_insert(connection, PensionMember.__table__, ("id", "member_number", "category", "enrolled_on"), members)
        bulk_insert(
            connection, PensionEntitlement.__table__, ("member_id", "kind", "annual_amount", "since"), entitlements
        )
        for agency, people in ((municipality, town), (PENSION_OFFICE, pension_office), (INSURER, insurer)):
            enrolment.enrol(session, keys=keys, agency=agency, people=people, fresh=True)
    reset_sequence(connection, PensionMember.__table__)


def _years_after(born: dt.date, years: int) -> dt.date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # 29 February
        return born.replace(year=born.year + years, day=28)


def _link(keys: KeyRing, person: Any) -> bytes:
    """The hub's link to a resident row (its sealed number and key generation), as J-LIS would make it."""
    number = protection.reveal(keys, bytes(person.my_number_sealed), generation=person.my_number_generation)
    return protection.person_link(keys, number)


def _code(session: Session, keys: KeyRing, agency: str, resident_id: int) -> str | None:
    person = session.execute(
        select(Resident.my_number_sealed, Resident.my_number_generation).where(Resident.id == resident_id)
    ).one()
    link = _link(keys, person)
    return session.scalar(select(CodeLink.code).where(CodeLink.agency == agency, CodeLink.person_link == link))


def seed_exchanges(
    session: Session, *, keys: KeyRing, table: ExchangeTable, municipality: str, persona_ids: dict[str, int], seed: int
) -> int:
    """Run the seed's three examples (and the child allowance) for the personas, spread over two years."""
    rng = random.Random(seed + 4004)
    scenarios = {
        "employee": [
            (PENSION_OFFICE, "national_pension_premium", municipality, "local_tax"),
            (PENSION_OFFICE, "national_pension_premium", municipality, "resident_record"),
            (INSURER, "health_insurance_benefit", PENSION_OFFICE, "pension_benefit"),
        ],
        "single_parent": [
            (municipality, "child_support_allowance", municipality, "resident_record"),
            (municipality, "child_support_allowance", municipality, "local_tax"),
            (municipality, "child_support_allowance", PENSION_OFFICE, "pension_benefit"),
        ],
        "parent": [
            (municipality, "child_allowance", municipality, "resident_record"),
            (municipality, "child_allowance", municipality, "local_tax"),
            (municipality, "childcare_certification", municipality, "local_tax"),
        ],
    }
    providers: dict[str, service.Provider] = {}
    done = 0
    start = clock.now() - dt.timedelta(days=730)
    for persona, resident_id in persona_ids.items():
        for round_number in range(24):
            when = start + dt.timedelta(days=30 * round_number + rng.randrange(0, 20), hours=rng.randrange(9, 17))
            attempts = list(scenarios.get(persona, []))
            if persona == "employee" and round_number % 8 == 0:
                attempts.append((INSURER, "health_insurance_benefit", municipality, "local_tax"))  # no such row
            for requester, business, provider, item in attempts:
                code = _code(session, keys, requester, resident_id)
                if code is None:
                    continue
                with clock.frozen_at(when):
                    service.ask(
                        session,
                        keys=keys,
                        table=table,
                        requester=requester,
                        providers=providers,
                        query=service.Query(business, provider, item, code, f"APP-{when:%Y%m%d}-{done:04d}"),
                    )
                done += 1
    log.publish(session, keys=keys)
    return done
