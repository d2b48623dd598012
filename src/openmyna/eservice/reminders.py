"""Reminders before the deadline of periodic procedures, and the pension one-click offer.

A procedure whose deadline is ``annual`` (現況届: 児童扶養手当 by 31 August, 保育 and 児童手当 by 30 June)
is reminded in the ``lead_days`` before its deadline to exactly the residents its eligibility rules
select from the registry (residents of the town, age, a child under the age limit, single parent), less
those who already applied in this period and those already reminded (one reminder per person, procedure
and period: a second run sends nothing twice). One run is one notice message with one row per person.

The pension one-click offer (ワンクリック免除申請): a resident aged 20–59 whose income by the town's
tax ledger is within the full-exemption limit gets a notice linking to a draft already filled in from
the registry; the resident only checks, signs and sends it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from openmyna.core import clock, events
from openmyna.eservice.catalogue import Catalogue, Entry
from openmyna.eservice.eligibility import age_on, facts_of, prefilled
from openmyna.eservice.events import ResidentsToNotify
from openmyna.eservice.models import REJECTED, WITHDRAWN, Application, ApplicationItem
from openmyna.eservice.office_models import ReminderSent
from openmyna.eservice.service import save_draft
from openmyna.localtax import service as localtax
from openmyna.registry import service as registry
from openmyna.registry.models import RESIDENT, Resident

LEAD_DAYS = 30
PARENTS = ("head", "spouse")
PENSION_PROCEDURE = "pension-premium-exemption"
# 全額免除 (full exemption), 2017: income up to (dependants + 1) x 350,000 + 220,000 yen.
EXEMPTION_PER_PERSON = 350_000
EXEMPTION_BASE = 220_000


@dataclass(frozen=True)
class Run:
    procedure: str
    period: str
    due: dt.date
    concerned: int
    already_applied: int
    already_reminded: int
    sent: int


def deadline_of(entry: Entry, as_of: dt.date) -> dt.date | None:
    """The next annual deadline on or after ``as_of`` (None for other kinds of deadline)."""
    deadline = entry.procedure.deadline
    if deadline.kind != "annual" or deadline.month is None or deadline.day is None:
        return None
    due = dt.date(as_of.year, deadline.month, deadline.day)
    return due if due >= as_of else dt.date(as_of.year + 1, deadline.month, deadline.day)


def born_by(day: dt.date, years: int) -> dt.date:
    """The latest birth date of someone at least ``years`` old on ``day`` (``eligibility.age_on`` in SQL terms)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February: someone born on 28 February of that year has had the birthday
        return dt.date(day.year - years, 2, 28)


def concerned(session: Session, entry: Entry, *, municipality: str, as_of: dt.date) -> set[str]:
    """The subjects of the residents the procedure's rules select, in one query.

    With a child rule, the people concerned are the parents (head or spouse) of a household with a current
    child under the age limit (and, for a single parent, no spouse in it); otherwise every resident the
    age rules admit. The same rules as ``eligibility.refusal`` over ``eligibility.facts_of``.
    """
    rules = entry.procedure.eligibility
    person = aliased(Resident)
    query = select(person.pseudonym).where(person.status == RESIDENT, person.municipality_code == municipality)
    if rules.min_age is not None:
        query = query.where(person.birth_date <= born_by(as_of, rules.min_age))
    if rules.max_age is not None:
        query = query.where(person.birth_date > born_by(as_of, rules.max_age + 1))
    if rules.child_under is not None:
        child = aliased(Resident)
        query = query.where(
            person.relationship_code.in_(PARENTS),
            exists().where(
                child.household_id == person.household_id,
                child.relationship_code == "child",
                child.status == RESIDENT,
                child.birth_date > born_by(as_of, rules.child_under),
            ),
        )
        if rules.single_parent:
            spouse = aliased(Resident)
            query = query.where(
                ~exists().where(
                    spouse.household_id == person.household_id,
                    spouse.relationship_code == "spouse",
                    spouse.status == RESIDENT,
                )
            )
    return set(session.scalars(query.execution_options(yield_per=50_000)))


def remind(
    session: Session,
    *,
    catalogue: Catalogue,
    municipality: str,
    as_of: dt.date | None = None,
    lead_days: int = LEAD_DAYS,
    codes: list[str] | None = None,
) -> list[Run]:
    """Send the reminders due on ``as_of`` (default today) for the town's annual procedures; what each run did."""
    today = as_of or clock.today()
    runs = []
    for entry in catalogue.of(municipality):
        code = entry.procedure.code
        due = deadline_of(entry, today)
        if due is None or (codes and code not in codes) or (due - today).days > lead_days:
            continue
        period = str(due.year)
        people = concerned(session, entry, municipality=municipality, as_of=today)
        since = dt.datetime.combine(due.replace(year=due.year - 1), dt.time(23, 59, 59), tzinfo=clock.JST)
        applied = set(
            session.scalars(
                select(Application.subject)
                .join(ApplicationItem, ApplicationItem.application_id == Application.id)
                .where(
                    ApplicationItem.procedure_code == code,
                    ApplicationItem.status.not_in((REJECTED, WITHDRAWN)),
                    Application.municipality_code == municipality,
                    Application.received_at > since,
                )
            )
        )
        reminded = set(
            session.scalars(
                select(ReminderSent.subject).where(ReminderSent.procedure_code == code, ReminderSent.period == period)
            )
        )
        to_send = sorted(people - applied - reminded)
        if to_send:
            now = clock.now()
            session.execute(
                ReminderSent.__table__.insert(),
                [{"procedure_code": code, "period": period, "subject": s, "sent_at": now} for s in to_send],
            )
            events.publish(
                session,
                ResidentsToNotify(
                    sender_org=municipality,
                    kind="deadline_reminder",
                    title=f"{entry.procedure.name_ja}の提出期限が近づいています",
                    body="\n".join(
                        (
                            f"{entry.procedure.name_ja}を{due.month}月{due.day}日までに提出してください。"
                            f" Please send {entry.procedure.name_en} by {due.isoformat()}.",
                            "マイナポータルからオンラインで申請できます。 You can apply online:",
                            f"/eservice/apply/{municipality}?procedure={code}",
                        )
                    ),
                    subjects=tuple(to_send),
                    due_date=due,
                ),
            )
        runs.append(
            Run(
                code,
                period,
                due,
                len(people),
                len(people & applied),
                len((people - applied) & reminded),
                len(to_send),
            )
        )
    return runs


# --- the pension one-click offer ------------------------------------------------------------------------


def exemption_limit(dependants: int) -> int:
    """The income up to which the national pension premium is fully exempted (2017 rule)."""
    return (dependants + 1) * EXEMPTION_PER_PERSON + EXEMPTION_BASE


def qualifies_for_exemption(income: int, dependants: int) -> bool:
    return income <= exemption_limit(dependants)


def pension_period(today: dt.date) -> str:
    """The July–June period that contains ``today`` (the exemption is applied for by period)."""
    return f"{today.year if today.month >= 7 else today.year - 1}-07"


def offer_pension_exemption(
    session: Session, *, catalogue: Catalogue, municipality: str, resident_id: int, as_of: dt.date | None = None
) -> str | None:
    """Offer the one-click exemption to a resident whose income qualifies: a filled-in draft and a notice.

    Returns the draft's id, or None when the resident does not qualify or was already offered this period.
    """
    today = as_of or clock.today()
    entry = catalogue.get(municipality, PENSION_PROCEDURE)
    if entry is None:
        return None
    resident = registry.find_resident(session, resident_id=resident_id)
    if resident is None or resident.status != RESIDENT or resident.municipality_code != municipality:
        return None
    age = age_on(resident.birth_date, today)
    rules = entry.procedure.eligibility
    if (rules.min_age is not None and age < rules.min_age) or (rules.max_age is not None and age > rules.max_age):
        return None
    assessments = localtax.assessments_for(session, resident_id=resident_id, limit=1)
    if not assessments or not qualifies_for_exemption(assessments[0].income, assessments[0].dependants):
        return None
    period = pension_period(today)
    subject = registry.subject_of(resident)
    sent = select(ReminderSent.id).where(
        ReminderSent.procedure_code == PENSION_PROCEDURE, ReminderSent.period == period, ReminderSent.subject == subject
    )
    if session.scalar(sent) is not None:
        return None
    data = prefilled(entry, facts_of(session, resident, today=today))
    data.update({"period_start": period, "kind": "exemption"})
    data = {k: v for k, v in data.items() if k in entry.procedure.form.get("properties", {})}
    draft = save_draft(
        session,
        municipality=municipality,
        procedures=[PENSION_PROCEDURE],
        data={PENSION_PROCEDURE: data},
        subject=subject,
    )
    session.add(ReminderSent(procedure_code=PENSION_PROCEDURE, period=period, subject=subject, sent_at=clock.now()))
    events.publish(
        session,
        ResidentsToNotify(
            sender_org=municipality,
            kind="general",
            title="国民年金保険料の免除をワンクリックで申請できます",
            body="\n".join(
                (
                    f"{period}からの1年間について、国民年金保険料の全額免除を申請できる所得の状況です。"
                    " Your income qualifies you to apply for the national pension premium exemption.",
                    "申請書は記入済みです。内容を確かめて、マイナンバーカードで署名して送信してください。"
                    " The form is filled in: check it, sign with your card and send it.",
                    f"/eservice/drafts/{draft.public_id}",
                )
            ),
            subjects=(subject,),
        ),
    )
    return draft.public_id
