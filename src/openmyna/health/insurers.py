"""Insurers, clinics and the clearing house as organisations; who is insured by whom, from which day.

An insurer learns a person's My Number when they join (資格取得届), obtains its own agency-specific code
for them through the network's code issuance and keeps only that code; the clearing house's code for the
person is obtained the same way, once, so that it can answer for every insurer. The number is never kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from openmyna.health.models import Dispensed, Insurer, Qualification
from openmyna.network import enrolment
from openmyna.network import service as network
from openmyna.network.models import CodeLink
from openmyna.numbers import formats
from openmyna.orgs import service as orgs

CLEARING_HOUSE = "shiharaikikin"
SCHEMES = {
    "kyokai": ("全国健康保険協会（協会けんぽ）", "Japan Health Insurance Association"),
    "kumiai": ("健康保険組合", "Health insurance society"),
    "kokuho": ("国民健康保険", "National Health Insurance (municipal)"),
    "koki": ("後期高齢者医療", "Late-stage elderly medical care"),
}
RELATIONS = ("insured", "dependant")
BURDEN_PERCENTS = (10, 20, 30)
ENROL_ACTION = "health.qualified"
END_ACTION = "health.disqualified"


class NotAnInsurer(Forbidden):
    slug = "health-not-an-insurer"
    title_ja = "保険者として登録されていません"
    title_en = "Not registered as an insurer"


class QualificationNotFound(NotFound):
    slug = "health-qualification-not-found"
    title_ja = "資格が見つかりません"
    title_en = "No such qualification"


def insurer_check_digit(body: str) -> str:
    """The 検証番号 of an insurer number: digits weighted 2,1,2,… from the right, digit sums added."""
    total = 0
    for position, digit in enumerate(reversed(body)):
        product = int(digit) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def check_insurer_number(value: str) -> str:
    """An insurer number: 8 digits (employees' schemes, 後期高齢者) or 6 (国保), the last a check digit."""
    if len(value) not in (6, 8) or not value.isdigit():
        raise InvalidInput("an insurer number has 6 (国保) or 8 digits", field="insurer_number")
    if insurer_check_digit(value[:-1]) != value[-1]:
        expected = insurer_check_digit(value[:-1])
        raise InvalidInput(f"the insurer number's check digit should be {expected}", field="insurer_number")
    return value


def check_clinic_code(value: str) -> str:
    """A medical institution code (医療機関コード): prefecture 2, table 1 (1 医科, 3 歯科, 4 調剤), 7 digits."""
    if len(value) != 10 or not value.isdigit() or not 1 <= int(value[:2]) <= 47 or value[2] not in "134":
        raise InvalidInput("a medical institution code is 10 digits: prefecture, 1/3/4, then 7 digits", field="code")
    return value


def ensure_clearing_house(session: Session, *, keys: KeyRing) -> None:
    """The clearing house (社会保険診療報酬支払基金) that answers eligibility for every insurer."""
    if session.scalar(select(orgs.Organisation.id).where(orgs.Organisation.code == CLEARING_HOUSE)) is None:
        orgs.add_organisation(
            session,
            keys=keys,
            code=CLEARING_HOUSE,
            name="社会保険診療報酬支払基金",
            name_en="Health Insurance Claims Review & Reimbursement Services",
            kind="clearing_house",
            custodial=True,
        )


def register_insurer(
    session: Session, *, keys: KeyRing, code: str, name: str, insurer_number: str, scheme: str, name_en: str = ""
) -> Insurer:
    """Make ``code`` an insurer (an existing organisation of kind insurer, or a new one)."""
    if scheme not in SCHEMES:
        raise InvalidInput(f"scheme is one of {', '.join(SCHEMES)}", field="scheme")
    number = check_insurer_number(insurer_number)
    if (scheme == "kokuho") != (len(number) == 6):
        raise InvalidInput("国保 insurer numbers have 6 digits, the others 8", field="insurer_number")
    found = session.scalar(select(orgs.Organisation).where(orgs.Organisation.code == code))
    if found is None:
        found = orgs.add_organisation(
            session, keys=keys, code=code, name=name, name_en=name_en, kind="insurer", custodial=True
        ).organisation
    if found.kind != "insurer":
        raise NotAnInsurer(f"{code} is a {found.kind}, not an insurer")
    if session.scalar(select(Insurer.id).where(Insurer.insurer_number == number)) is not None:
        raise Conflict(f"insurer number {number} is already registered")
    row = Insurer(org_code=code, insurer_number=number, scheme=scheme)
    session.add(row)
    session.flush()
    return row


def register_clinic(session: Session, *, keys: KeyRing, code: str, name: str, name_en: str = "") -> orgs.Organisation:
    """A medical institution (or pharmacy) whose reception terminals may ask for eligibility."""
    return orgs.add_organisation(
        session,
        keys=keys,
        code=check_clinic_code(code),
        name=name,
        name_en=name_en,
        kind="medical_institution",
        custodial=True,
    ).organisation


def _insurer(session: Session, code: str) -> Insurer:
    row = session.scalar(select(Insurer).where(Insurer.org_code == code))
    if row is None:
        raise NotAnInsurer(f"{code} is not a registered insurer")
    return row


def insurer_facts(session: Session, code: str) -> dict[str, str]:
    row = _insurer(session, code)
    org = orgs.get_organisation(session, code)
    return {"code": code, "insurer_number": row.insurer_number, "name": org.name, "scheme": row.scheme}


def list_insurers(session: Session) -> list[dict[str, str]]:
    return [insurer_facts(session, code) for code in session.scalars(select(Insurer.org_code).order_by(Insurer.id))]


def clearing_code_of_link(keys: KeyRing, link: bytes) -> str:
    """The clearing house's agency-specific code for the person behind the hub's link."""
    return network.code_for(keys, agency=CLEARING_HOUSE, link=link)


def _code(session: Session, *, keys: KeyRing, agency: str, link: bytes, purpose: str) -> str:
    """``agency``'s code for the person, obtained (and recorded) the first time it is needed."""
    code = network.code_for(keys, agency=agency, link=link)
    if session.scalar(select(CodeLink.id).where(CodeLink.agency == agency, CodeLink.code == code)) is None:
        enrolment.enrol(session, keys=keys, agency=agency, people=[enrolment.Enrolee(link)], purpose=purpose)
    return code


def standard_burden(birth_date: dt.date, on: dt.date) -> float:
    """The usual share a patient pays: 0.2 before school age and 70–74, 0.1 from 75, else 0.3 (no income test)."""
    age = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    if age >= 75:
        return 0.1
    if age >= 70 or age < 6:
        return 0.2
    return 0.3


def enrol(
    session: Session,
    *,
    keys: KeyRing,
    insurer: str,
    my_number: str,
    symbol: str,
    number: str,
    branch: str,
    burden_ratio: float,
    valid_from: dt.date,
    relation: str = "insured",
) -> Qualification:
    """A person joins ``insurer`` from ``valid_from`` (資格取得); an earlier insurer's period ends the day before.

    The My Number is used once to obtain the codes and is not kept.
    """
    _insurer(session, insurer)
    if relation not in RELATIONS:
        raise InvalidInput(f"relation is one of {', '.join(RELATIONS)}", field="relation")
    percent = round(burden_ratio * 100)
    if percent not in BURDEN_PERCENTS or abs(burden_ratio * 100 - percent) > 1e-9:
        raise InvalidInput("burden_ratio is 0.1, 0.2 or 0.3", field="burden_ratio")
    if not (symbol and number and len(symbol) <= 20 and len(number) <= 20):
        raise InvalidInput("symbol and number are 1–20 characters", field="symbol")
    if len(branch) != 2 or not branch.isdigit():
        raise InvalidInput("the branch number (枝番) is 2 digits", field="branch")
    link = enrolment.person_link(keys, formats.require(formats.check_my_number(my_number), field="my_number"))
    person_code = _code(session, keys=keys, agency=insurer, link=link, purpose="code obtained at 資格取得")
    clearing = _code(session, keys=keys, agency=CLEARING_HOUSE, link=link, purpose="code obtained for 資格確認")
    earlier = session.scalars(select(Qualification).where(Qualification.clearing_code == clearing)).all()
    if any(q.valid_from >= valid_from for q in earlier):
        raise Conflict("a qualification starting on or after this date exists; end it first")
    for q in earlier:
        if q.valid_until is None or q.valid_until >= valid_from:
            q.valid_until = valid_from - dt.timedelta(days=1)
    row = Qualification(
        insurer_org=insurer,
        person_code=person_code,
        clearing_code=clearing,
        symbol=symbol,
        number=number,
        branch=branch,
        relation=relation,
        burden_percent=percent,
        valid_from=valid_from,
        valid_until=None,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    audit.record_access(
        session,
        subject=network.citizen_of(link),
        actor_org=insurer,
        actor=f"system:{insurer}",
        action=ENROL_ACTION,
        purpose=f"insured from {valid_from.isoformat()}",
    )
    return row


def _qualification(session: Session, *, insurer: str, person_code: str) -> Qualification:
    row = session.scalars(
        select(Qualification)
        .where(Qualification.insurer_org == insurer, Qualification.person_code == person_code)
        .order_by(Qualification.valid_from.desc())
        .limit(1)
    ).first()
    if row is None:
        raise QualificationNotFound(f"{insurer} has no qualification for this code")
    return row


def end(session: Session, *, insurer: str, person_code: str, last_day: dt.date) -> Qualification:
    """The person leaves ``insurer`` (資格喪失): insured through ``last_day``, not after."""
    row = _qualification(session, insurer=insurer, person_code=person_code)
    if last_day < row.valid_from:
        raise InvalidInput("the last day is before the qualification began", field="last_day")
    row.valid_until = last_day
    link = session.scalar(select(CodeLink.person_link).where(CodeLink.agency == insurer, CodeLink.code == person_code))
    if link is not None:
        audit.record_access(
            session,
            subject=network.citizen_of(link),
            actor_org=insurer,
            actor=f"system:{insurer}",
            action=END_ACTION,
            purpose=f"insured until {last_day.isoformat()}",
        )
    return row


def add_dispensed(
    session: Session,
    *,
    insurer: str,
    person_code: str,
    dispensed_on: dt.date,
    medicine: str,
    dose: str,
    days: int,
    pharmacy: str,
) -> Dispensed:
    """A medicine dispensed to the person the insurer knows by ``person_code`` (from a pharmacy's claim)."""
    row = _qualification(session, insurer=insurer, person_code=person_code)
    if not 0 < days <= 365 or not medicine or len(medicine) > 200 or len(dose) > 100 or len(pharmacy) > 200:
        raise InvalidInput("a record needs a medicine, a dose, 1–365 days and a pharmacy", field="medicine")
    record = Dispensed(
        insurer_org=insurer,
        clearing_code=row.clearing_code,
        dispensed_on=dispensed_on,
        medicine=medicine,
        dose=dose,
        days=days,
        pharmacy=pharmacy,
    )
    session.add(record)
    session.flush()
    return record


def qualification_json(row: Qualification) -> dict[str, Any]:
    return {
        "id": row.id,
        "insurer": row.insurer_org,
        "person_code": row.person_code,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        "burden_ratio": row.burden_percent / 100,
    }
