"""The back office: reviewers' queues per department, opening an item with its signature checked, fetching
what the network holds, and deciding (approve, return for correction, reject), each decision a notice.

Who decides an item: the municipality it was sent to, except the businesses in :data:`DECIDED_BY`
(the national pension premium exemption is decided by the pension office, 日本年金機構). A staff member
sees the items of the departments they are assigned to (:func:`assign`) in their own organisation only;
an organisation's system (a client-credentials token with ``eservice:read``) pulls all of its items.

Every look at an application is an access event the resident sees; every fetch is an exchange recorded
in the network's log (the resident's やりとり履歴); every decision is a status change and a notice.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import audit, clock, events
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from openmyna.eservice import allowance, signing
from openmyna.eservice.catalogue import Catalogue, Entry
from openmyna.eservice.eligibility import facts_of
from openmyna.eservice.events import ResidentsToNotify
from openmyna.eservice.models import (
    APPROVED,
    IN_REVIEW,
    REJECTED,
    RETURNED,
    SUBMITTED,
    Application,
    ApplicationItem,
    StatusChange,
)
from openmyna.eservice.office_models import ItemFetch, Reviewer
from openmyna.eservice.service import save_draft
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from openmyna.network import enrolment
from openmyna.network import service as network
from openmyna.network.models import CodeLink
from openmyna.network.providers import Provider
from openmyna.network.table import ExchangeTable
from openmyna.orgs.models import Organisation, StaffUser
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry

READ_SCOPE = "eservice:read"  # an organisation's system pulls its applications
DECIDE_SCOPE = "eservice:decide"  # a staff role that decides (a viewer assigned to a department only looks)
OPEN_STATUSES = (SUBMITTED, IN_REVIEW)
DECISIONS = {"approve": APPROVED, "return": RETURNED, "reject": REJECTED}
DECIDED_BY = {"national_pension_premium": "pension_office"}  # business -> organisation kind that decides
REVIEW_ACTION = "eservice.review"
DECISION_ACTION = "eservice.decision"
REFUSED_REVIEW_ACTION = "eservice.review.refused"
PENSION_PROVIDER_KIND = "pension_office"


class NotReviewer(Forbidden):
    """A look at an item of another department or organisation; ``subject`` and ``purpose`` are for the
    resident's record (:func:`record_refusal`), not for the problem document."""

    slug = "eservice-not-reviewer"
    title_ja = "この申請を扱う権限がありません"
    title_en = "Not a reviewer of this application"

    def __init__(self, detail: str, *, subject: str, purpose: str, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.subject, self.purpose = subject, purpose


class ItemNotFound(NotFound):
    slug = "eservice-item-not-found"
    title_ja = "申請が見つかりません"
    title_en = "No such application item"


class AlreadyDecided(Conflict):
    slug = "eservice-already-decided"
    title_ja = "この申請は処理済みです"
    title_en = "The application has already been decided"


class ReasonRequired(InvalidInput):
    slug = "eservice-reason-required"
    title_ja = "理由を入力してください"
    title_en = "A reason is required"


# --- who reviews ----------------------------------------------------------------------------------------


def assign(session: Session, *, org_code: str, username: str, department: str) -> Reviewer:
    """Put a staff member of ``org_code`` on ``department``'s queue (idempotent)."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or user.organisation.code != org_code:
        raise NotFound(f"no staff user {username} of {org_code}")
    if not department or len(department) > 32:
        raise InvalidInput("a department code has 1 to 32 characters", field="department")
    found = session.scalar(select(Reviewer).where(Reviewer.username == username, Reviewer.department == department))
    if found is None:
        found = Reviewer(org_code=org_code, username=username, department=department, assigned_at=clock.now())
        session.add(found)
        session.flush()
    return found


def _username(caller: Caller) -> str | None:
    return caller.actor.removeprefix("staff:") if caller.via == "session" else None


def departments_of(session: Session, caller: Caller) -> list[str]:
    """The departments whose queues this staff member works (none for a machine client)."""
    username = _username(caller)
    if username is None:
        return []
    query = select(Reviewer.department).where(Reviewer.username == username, Reviewer.org_code == caller.org_code)
    return sorted(session.scalars(query))


def _org_of_kind(session: Session, kind: str) -> str | None:
    query = select(Organisation.code).where(Organisation.kind == kind, Organisation.active.is_(True))
    return session.scalar(query.order_by(Organisation.code))


def deciding_org(session: Session, item: ApplicationItem, application: Application) -> str:
    """The organisation that decides this item: the municipality, or the agency its business names."""
    kind = DECIDED_BY.get(item.business or "")
    if kind is None:
        return application.municipality_code
    return _org_of_kind(session, kind) or application.municipality_code


def _may_see(session: Session, caller: Caller, item: ApplicationItem, application: Application) -> bool:
    if deciding_org(session, item, application) != caller.org_code:
        return False
    if caller.via == "session":
        return item.department in departments_of(session, caller)
    return caller.allows(READ_SCOPE)


def _item(session: Session, caller: Caller, item_id: int, *, lock: bool = False) -> tuple[ApplicationItem, Application]:
    """The item if ``caller`` may see it; with ``lock``, its row locked until the transaction ends (PostgreSQL:
    two reviewers deciding at once take turns, and the second finds it decided; SQLite's writer already
    serialises them)."""
    query = select(ApplicationItem).where(ApplicationItem.id == item_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    item = session.scalars(query).first()
    if item is None:
        raise ItemNotFound(f"no application item {item_id}")
    application = item.application
    if not _may_see(session, caller, item, application):
        raise NotReviewer(
            f"{caller.actor} of {caller.org_code} does not review department {item.department} "
            f"for application {application.receipt_number}",
            department=item.department,
            subject=application.subject,
            purpose=f"{application.receipt_number} ({item.department})",
        )
    return item, application


def record_refusal(session: Session, *, caller: Caller, error: DomainError) -> None:
    """A refused look is part of the resident's audit trail: an access event ``eservice.review.refused``.

    Used through :func:`refusal_recorded`, so it is written after the refused request rolled back."""
    if isinstance(error, NotReviewer):
        audit.record_access(
            session,
            subject=error.subject,
            actor_org=caller.org_code,
            actor=caller.actor,
            action=REFUSED_REVIEW_ACTION,
            purpose=error.purpose,
        )


def refusal_recorded(session: Session, caller: Caller) -> AbstractContextManager[None]:
    """Back-office work whose refusal is rolled back and then kept in the resident's trail (API and pages)."""
    return audit.refusal_recorded(session, lambda error: record_refusal(session, caller=caller, error=error))


# --- the queue -------------------------------------------------------------------------------------------


def queue(
    session: Session, *, caller: Caller, statuses: tuple[str, ...] = OPEN_STATUSES, after_id: int = 0, limit: int = 100
) -> list[tuple[ApplicationItem, Application]]:
    """The items this caller may work, oldest first (a staff member: their departments; a system: all)."""
    query = (
        select(ApplicationItem, Application)
        .join(Application, Application.id == ApplicationItem.application_id)
        .where(ApplicationItem.status.in_(statuses), ApplicationItem.id > after_id)
        .order_by(ApplicationItem.id)
    )
    if caller.via == "session":
        query = query.where(ApplicationItem.department.in_(departments_of(session, caller)))
    elif not caller.allows(READ_SCOPE):
        raise Forbidden(f"{caller.actor} lacks the scope {READ_SCOPE}", required_scope=READ_SCOPE)
    rows = []
    for item, application in session.execute(query):
        if deciding_org(session, item, application) == caller.org_code:
            rows.append((item, application))
            if len(rows) >= limit:
                break
    return rows


# --- opening an item ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureCheck:
    """The stored signature verified again over the stored content, and the certificate at signing time."""

    verified: bool
    detail: str
    serial: str | None = None
    kind: str | None = None
    status_at_signing: str | None = None
    signed_at: dt.datetime | None = None
    revoked_since: dt.datetime | None = None


@dataclass(frozen=True)
class Review:
    item: ApplicationItem
    application: Application
    signature: SignatureCheck
    fetches: list[ItemFetch]
    amount: allowance.Amount | None


def check_signature(session: Session, *, config: CaConfig, application: Application, caller: Caller) -> SignatureCheck:
    """Verify the CMS over the stored bytes and ask the validity service about the certificate at signing time."""
    if not application.signature:
        return SignatureCheck(False, "no signature was sent with this application")
    try:
        verified = signing.verify(application.content, application.signature)
    except DomainError as exc:
        return SignatureCheck(False, exc.detail)
    signed_at = verified.signing_time or application.signed_at
    try:
        validity = jpki.check_validity(
            session,
            config=config,
            data=verified.certificate_der,
            at=signed_at,
            verifier_org=caller.org_code,
            actor=caller.actor,
        )
    except DomainError as exc:
        return SignatureCheck(False, f"the certificate is not a JPKI certificate: {exc.detail}")
    return SignatureCheck(
        True,
        "the signature verifies over the stored content",
        serial=validity.serial,
        kind=validity.kind,
        status_at_signing=validity.status,
        signed_at=signed_at,
        revoked_since=validity.revoked_at,
    )


def fetches_of(session: Session, item_id: int) -> list[ItemFetch]:
    return list(session.scalars(select(ItemFetch).where(ItemFetch.item_id == item_id).order_by(ItemFetch.id)))


def open_item(session: Session, *, caller: Caller, item_id: int, config: CaConfig, today: dt.date) -> Review:
    """An item for review (an access event the resident sees); a submitted item moves to ``in_review``."""
    item, application = _item(session, caller, item_id)
    audit.record_access(
        session,
        subject=application.subject,
        actor_org=caller.org_code,
        actor=caller.actor,
        action=REVIEW_ACTION,
        purpose=f"{application.receipt_number}: {item.procedure_code}",
    )
    if item.status == SUBMITTED:
        _move(session, item, IN_REVIEW, actor=caller.actor, note="")
    check = check_signature(session, config=config, application=application, caller=caller)
    fetched = fetches_of(session, item.id)
    return Review(item, application, check, fetched, amount_of(session, application, item, fetched, today=today))


def _move(session: Session, item: ApplicationItem, status: str, *, actor: str, note: str) -> None:
    now = clock.now()
    item.status, item.updated_at = status, now
    application = item.application
    session.add(
        StatusChange(application_id=application.id, item_id=item.id, status=status, at=now, actor=actor, note=note)
    )
    statuses = {i.status for i in application.items}
    application.status = status if len(statuses) == 1 else IN_REVIEW
    application.updated_at = now


# --- fetching over the network -------------------------------------------------------------------------


def _agency_code(session: Session, *, keys: KeyRing, agency: str, link: bytes, purpose: str) -> str:
    """The agency's code for the person, obtained once (as the portal's menu B does for itself)."""
    code = network.code_for(keys, agency=agency, link=link)
    known = session.scalar(select(CodeLink.id).where(CodeLink.agency == agency, CodeLink.code == code))
    if known is None:
        enrolment.enrol(session, keys=keys, agency=agency, people=[enrolment.Enrolee(link)], purpose=purpose)
    return code


def fetch(
    session: Session,
    *,
    caller: Caller,
    item_id: int,
    keys: KeyRing,
    catalogue: Catalogue,
    table: ExchangeTable,
    providers: dict[str, Provider],
) -> list[ItemFetch]:
    """Ask the network for each item the procedure's attachments say it fetches, as the deciding organisation.

    Each question goes through ``network.ask`` (the exchange table decides; the log records it for both
    sides and the resident), and its outcome is kept with the item.
    """
    item, application = _item(session, caller, item_id)
    entry = _entry(catalogue, application, item)
    resident = registry.find_resident(session, resident_id=application.resident_id)
    if resident is None or entry is None or item.business is None:
        return fetches_of(session, item.id)
    link = enrolment.person_link(keys, registry.my_number_of(keys, resident))
    code = _agency_code(
        session, keys=keys, agency=caller.org_code, link=link, purpose=f"code obtained for {item.business}"
    )
    now = clock.now()
    for attachment in entry.procedure.fetchable:
        assert attachment.fetch is not None
        provider_kind = "municipality" if attachment.fetch.provider == "municipality" else PENSION_PROVIDER_KIND
        provider = (
            application.municipality_code
            if provider_kind == "municipality"
            else _org_of_kind(session, PENSION_PROVIDER_KIND) or ""
        )
        outcome = network.ask(
            session,
            keys=keys,
            table=table,
            requester=caller.org_code,
            providers=providers,
            query=network.Query(item.business, provider, attachment.fetch.item, code, application.receipt_number),
        )
        row = ItemFetch(
            item_id=item.id,
            requester=caller.org_code,
            provider=provider,
            data_item=attachment.fetch.item,
            actor=caller.actor,
            fetched_at=now,
        )
        if isinstance(outcome, network.Refused):
            row.result, row.data, row.reason, row.exchange_id = (
                "refused",
                None,
                outcome.error.detail,
                outcome.exchange_id,
            )
        else:
            row.result, row.data, row.reason, row.exchange_id = outcome.result, outcome.data, "", outcome.exchange_id
        session.add(row)
    session.flush()
    return fetches_of(session, item.id)


def _entry(catalogue: Catalogue, application: Application, item: ApplicationItem) -> Entry | None:
    return catalogue.get(application.municipality_code, item.procedure_code)


# --- amounts ---------------------------------------------------------------------------------------------


def latest_income(fetched: list[ItemFetch]) -> tuple[int, int] | None:
    """(income, dependants) of the newest assessment in a fetched local-tax answer."""
    for row in reversed(fetched):
        if row.data_item == "local_tax" and row.result == "answered" and row.data:
            assessments = sorted(row.data.get("assessments", []), key=lambda a: a["fiscal_year"], reverse=True)
            if assessments:
                return int(assessments[0]["income"]), int(assessments[0]["dependants"])
    return None


def amount_of(
    session: Session, application: Application, item: ApplicationItem, fetched: list[ItemFetch], *, today: dt.date
) -> allowance.Amount | None:
    """The child allowance for next month from the registry's children and the fetched income (None until fetched)."""
    if item.business != "child_allowance":
        return None
    income = latest_income(fetched)
    resident = registry.find_resident(session, resident_id=application.resident_id)
    if income is None or resident is None:
        return None
    facts = facts_of(session, resident, today=today)
    children = [dt.date.fromisoformat(c["birth_date"]) for c in facts.prefill.get("children", [])]
    month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return allowance.monthly_amount(children=children, income=income[0], dependants=income[1], month=month)


# --- deciding ------------------------------------------------------------------------------------------


def decide(
    session: Session,
    *,
    caller: Caller,
    item_id: int,
    decision: str,
    reason: str,
    catalogue: Catalogue,
    today: dt.date,
) -> ApplicationItem:
    """Approve, return for correction or reject an open item; the resident gets a notice in the same transaction.

    A return keeps the application's data as a draft of the resident's, and the notice links to it, so the
    resident corrects, signs and sends again; the new application supersedes the returned item.
    """
    if decision not in DECISIONS:
        raise InvalidInput(f"decision is one of {', '.join(DECISIONS)}", field="decision")
    reason = reason.strip()
    if decision != "approve" and not reason:
        raise ReasonRequired("a return or a rejection says why", field="reason")
    if len(reason) > 2000:
        raise InvalidInput("the reason has at most 2000 characters", field="reason")
    item, application = _item(session, caller, item_id, lock=True)
    if caller.via == "session" and not caller.allows(DECIDE_SCOPE):
        raise Forbidden(
            f"{caller.actor} may look but not decide (role without {DECIDE_SCOPE})", required_scope=DECIDE_SCOPE
        )
    if item.status not in OPEN_STATUSES:
        raise AlreadyDecided(f"item {item.id} is {item.status}", status=item.status)
    entry = _entry(catalogue, application, item)
    name_ja = entry.procedure.name_ja if entry else item.procedure_code
    note = reason
    amount = amount_of(session, application, item, fetches_of(session, item.id), today=today)
    if decision == "approve" and amount is not None:
        note = (f"月額 {amount.monthly:,}円 / monthly {amount.monthly:,} yen. " + reason).strip()
    status = DECISIONS[decision]
    _move(session, item, status, actor=caller.actor, note=note)
    item.decision_reason, item.decided_at = note, clock.now()
    audit.record_access(
        session,
        subject=application.subject,
        actor_org=caller.org_code,
        actor=caller.actor,
        action=DECISION_ACTION,
        purpose=f"{application.receipt_number}: {item.procedure_code} {status}",
    )
    body = [_DECISION_JA[status].format(name=name_ja, receipt=application.receipt_number)]
    if note:
        body.append(f"{'理由' if status != APPROVED else '内容'}: {note}")
    if status == RETURNED:
        draft = save_draft(
            session,
            municipality=application.municipality_code,
            procedures=[item.procedure_code],
            data={item.procedure_code: dict(application.data.get(item.procedure_code, {}))},
            subject=application.subject,
        )
        body.append(
            "下のリンクから内容を直して、もう一度署名して送信してください。 Correct the form, sign and send it again:"
        )
        body.append(f"/eservice/apply/{application.municipality_code}?draft={draft.public_id}")
    body.append(f"/eservice/applications/{application.public_id}")
    events.publish(
        session,
        ResidentsToNotify(
            sender_org=caller.org_code,
            kind="decision",
            title=f"{name_ja}: {_TITLE_JA[status]}",
            body="\n".join(body),
            subjects=(application.subject,),
        ),
    )
    return item


_TITLE_JA = {APPROVED: "承認されました", RETURNED: "補正のお願い", REJECTED: "却下されました"}
_DECISION_JA = {
    APPROVED: "{name}（受付番号 {receipt}）は承認されました。 Your application has been approved.",
    RETURNED: "{name}（受付番号 {receipt}）に補正が必要です。 Your application needs a correction.",
    REJECTED: "{name}（受付番号 {receipt}）は却下されました。 Your application has been rejected.",
}


def item_view(item: ApplicationItem, application: Application) -> dict[str, Any]:
    """An item as the pull API and the queue show it (the form data as signed, no My Number)."""
    return {
        "item_id": item.id,
        "application_id": application.public_id,
        "receipt_number": application.receipt_number,
        "receipt_date": application.receipt_date.isoformat(),
        "received_at": application.received_at.isoformat(),
        "municipality": application.municipality_code,
        "procedure": item.procedure_code,
        "department": item.department,
        "business": item.business,
        "status": item.status,
        "decision_reason": item.decision_reason,
        "data": application.data.get(item.procedure_code, {}),
    }
