"""Online applications: validate, save drafts, verify the signature and submit with a receipt (one-stop fan-out).

Every path that submits (the form's browser signature, the CLI, the API) ends in :func:`submit`: the
server rebuilds the canonical content from what was sent, checks it against each procedure's schema and
attachment limits, verifies the CMS signature over it with the JPKI signing certificate's status at
signing time, identifies the applicant by that certificate, checks entitlement, and only then writes the
application, one item per procedure, its status history and the access event the resident sees. Any
refusal raises before anything is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from openmyna.card.reader import Reader
from openmyna.core import audit, clock
from openmyna.core.config import Settings
from openmyna.core.db import unit_of_work
from openmyna.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from openmyna.eservice import receipts, signing
from openmyna.eservice.catalogue import Catalogue, Entry, cached_catalogue
from openmyna.eservice.eligibility import facts_of, refusal
from openmyna.eservice.models import (
    RETURNED,
    SUBMITTED,
    WITHDRAWN,
    Application,
    ApplicationItem,
    Attachment,
    Draft,
    StatusChange,
)
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry

SUBMIT_ACTION = "eservice.submit"
REFUSED_ACTION = "eservice.submit.refused"
PURPOSE_LENGTH: int = audit.AccessEvent.__table__.c.purpose.type.length  # type: ignore[attr-defined]
SIGNING_WINDOW = dt.timedelta(hours=1)  # a signature older than this (by its signing time) is refused
CLOCK_SKEW = dt.timedelta(minutes=5)
MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}


class UnknownProcedure(NotFound):
    slug = "eservice-unknown-procedure"
    title_ja = "手続が見つかりません"
    title_en = "No such procedure"


class FormInvalid(InvalidInput):
    """The form data break the procedure's schema; ``errors`` lists each field's problem."""

    slug = "eservice-form-invalid"
    title_ja = "申請内容に誤りがあります"
    title_en = "The form has errors"


class AttachmentRefused(InvalidInput):
    slug = "eservice-attachment-refused"
    title_ja = "添付ファイルを受け付けられません"
    title_en = "The attachment cannot be accepted"


class SignatureRefused(Forbidden):
    """The signature is valid CMS but its certificate may not sign an application (kind, status, dates)."""

    slug = "eservice-signature-refused"
    title_ja = "この電子証明書による申請は受け付けられません"
    title_en = "Applications signed with this certificate are refused"


class NotEntitled(Forbidden):
    slug = "eservice-not-entitled"
    title_ja = "この手続の申請対象ではありません"
    title_en = "Not entitled to this procedure"


class DuplicateConflict(Conflict):
    slug = "eservice-idempotency-conflict"
    title_ja = "同じ識別子で異なる申請が送信されました"
    title_en = "The idempotency key was used for a different application"


class ApplicationNotFound(NotFound):
    slug = "eservice-application-not-found"
    title_ja = "申請が見つかりません"
    title_en = "No such application"


@dataclass(frozen=True)
class Upload:
    """A file the resident attaches to one procedure's attachment slot."""

    procedure_code: str
    code: str
    filename: str
    media_type: str
    content: bytes

    def row(self, *, application_id: int | None = None, draft_id: int | None = None) -> Attachment:
        """The stored attachment, held by an application or by a draft."""
        return Attachment(
            application_id=application_id,
            draft_id=draft_id,
            procedure_code=self.procedure_code,
            code=self.code,
            filename=self.filename[:200],
            media_type=self.media_type,
            size=len(self.content),
            sha256=hashlib.sha256(self.content).digest(),
            content=self.content,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "procedure": self.procedure_code,
            "code": self.code,
            "filename": self.filename,
            "media_type": self.media_type,
            "size": len(self.content),
            "sha256": hashlib.sha256(self.content).hexdigest(),
        }


@dataclass(frozen=True)
class Submission:
    """What a client sends: the procedures, one form's data per procedure, files, and the CMS signature."""

    municipality: str
    procedures: list[str]
    data: dict[str, dict[str, Any]]
    uploads: list[Upload]
    signature: bytes
    life_event: str | None = None
    idempotency_key: str | None = None
    via: str = "web"


@dataclass(frozen=True)
class Receipt:
    """What the applicant is told: the application's id, its receipt number and date, and whether it is new."""

    application_id: str
    receipt_number: str
    receipt_date: dt.date
    created: bool

    @classmethod
    def of(cls, application: Application, *, created: bool) -> Receipt:
        return cls(application.public_id, application.receipt_number, application.receipt_date, created)


def entries_for(catalogue: Catalogue, municipality: str, codes: list[str]) -> list[Entry]:
    if not codes:
        raise InvalidInput("name at least one procedure", field="procedures")
    if len(set(codes)) != len(codes):
        raise InvalidInput("a procedure is named twice", field="procedures")
    entries = []
    for code in codes:
        entry = catalogue.get(municipality, code)
        if entry is None:
            raise UnknownProcedure(f"municipality {municipality} offers no procedure {code!r}", field="procedures")
        entries.append(entry)
    return entries


def form_errors(entry: Entry, data: Any) -> list[dict[str, str]]:
    """Every schema error as {field, message} (``field`` is a dotted path; empty for the whole form)."""
    errors = []
    for error in sorted(entry.validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [n for n in error.validator_value if n not in error.instance]
            path = ".".join(filter(None, [path, missing[0] if missing else ""]))
        errors.append({"field": path, "message": error.message})
    return errors


def check_form(entry: Entry, data: Any) -> None:
    errors = form_errors(entry, data)
    if errors:
        raise FormInvalid(f"{entry.procedure.code}: {len(errors)} field(s) are invalid", errors=errors)


def check_uploads(entries: list[Entry], uploads: list[Upload]) -> None:
    """Each file in a known slot, of an allowed type (by its first bytes too) and size; every required slot filled."""
    check_files(entries, uploads)
    given = {(u.procedure_code, u.code) for u in uploads}
    for entry in entries:
        for slot in entry.procedure.uploads:
            if slot.required and (entry.procedure.code, slot.code) not in given:
                raise AttachmentRefused(
                    f"{entry.procedure.code}: the attachment {slot.name_en} is required",
                    field=f"attachments.{slot.code}",
                )


def check_files(entries: list[Entry], uploads: list[Upload]) -> None:
    """Each file in a slot the procedures ask for, once, of an allowed type (declared and by first bytes) and size."""
    slots = {(e.procedure.code, a.code): a for e in entries for a in e.procedure.uploads}
    given = set()
    for upload in uploads:
        slot = slots.get((upload.procedure_code, upload.code))
        if slot is None:
            raise AttachmentRefused(
                f"{upload.procedure_code}: no attachment {upload.code!r} is asked for (fetched documents are never "
                "uploaded)",
                field=f"attachments.{upload.code}",
            )
        if (upload.procedure_code, upload.code) in given:
            raise AttachmentRefused(f"{upload.code}: one file per attachment", field=f"attachments.{upload.code}")
        given.add((upload.procedure_code, upload.code))
        if len(upload.content) > slot.max_bytes:
            raise AttachmentRefused(
                f"{upload.code}: {len(upload.content)} bytes, more than the {slot.max_bytes} allowed",
                field=f"attachments.{upload.code}",
            )
        if upload.media_type not in slot.media_types or not upload.content.startswith(MAGIC.get(upload.media_type, ())):
            raise AttachmentRefused(
                f"{upload.code}: a {upload.media_type!r} file is not allowed (allowed: {', '.join(slot.media_types)})",
                field=f"attachments.{upload.code}",
            )


def content_of(submission: Submission) -> bytes:
    """The canonical bytes the applicant signs for this submission (the same function the signer calls)."""
    return signing.canonical_content(
        municipality=submission.municipality,
        procedures=submission.procedures,
        data=submission.data,
        attachments=[u.describe() for u in submission.uploads],
        life_event=submission.life_event,
    )


def check(catalogue: Catalogue, submission: Submission) -> tuple[list[Entry], bytes]:
    """Everything that needs no database: procedures, forms, files; returns the entries and the content."""
    entries = entries_for(catalogue, submission.municipality, submission.procedures)
    if set(submission.data) != set(submission.procedures):
        raise InvalidInput("give one form's data per procedure, keyed by its code", field="data")
    for entry in entries:
        check_form(entry, submission.data[entry.procedure.code])
    check_uploads(entries, submission.uploads)
    return entries, content_of(submission)


def _signer_of(session: Session, *, config: CaConfig, content: bytes, signature: bytes) -> tuple[Any, Any]:
    """The CMS verifies over ``content`` and its certificate is one the JPKI CA issued (any kind, any status):
    the verified signature and the certificate's stored row (whose ``subject`` is the holder)."""
    verified = signing.verify(content, signature)
    try:
        row = jpki.verify_issued(session, config=config, cert=jpki.parse_certificate(verified.certificate_der))
    except DomainError as exc:
        raise SignatureRefused(f"the certificate is not a JPKI certificate: {exc.detail}") from exc
    return verified, row


def _check_signer(
    session: Session, *, config: CaConfig, verified: signing.Verified, holder: Any, municipality: str
) -> dt.datetime:
    """The signing certificate (``holder``, its row from :func:`_signer_of`) was good at the signing time (within
    the last hour) and is not revoked since; the signing time."""
    now = clock.now()
    signed_at = verified.signing_time or now
    if signed_at > now + CLOCK_SKEW or signed_at < now - SIGNING_WINDOW:
        raise SignatureRefused(f"the signing time {signed_at.isoformat()} is not within the last hour")
    validity = jpki.check_validity(
        session, config=config, data=verified.certificate_der, at=signed_at, verifier_org=municipality, actor="eservice"
    )
    if validity.kind != "sign":
        raise SignatureRefused(
            "an application is signed with the signing certificate (署名用), not the authentication one"
        )
    if validity.status != "good":
        reason = f" ({validity.reason})" if validity.reason else ""
        raise SignatureRefused(
            f"the certificate was {validity.status}{reason} at signing time", certificate_status=validity.status
        )
    if holder.revoked_at is not None:  # good when signed, revoked (or suspended) since: refused all the same
        raise SignatureRefused(
            f"the certificate was revoked after signing ({holder.revocation_reason})", certificate_status="revoked"
        )
    return signed_at


def submit(
    session: Session,
    *,
    catalogue: Catalogue,
    config: CaConfig,
    submission: Submission,
    expected_subject: str | None = None,
) -> tuple[Application, bool]:
    """Verify and record one submission; (the application, whether it is new). A duplicate returns the first.

    A duplicate (same signer, same content) is recognised once the signature verifies over the content,
    before the time and status checks, so a client retrying after a lost answer gets its receipt.
    """
    entries, content = check(catalogue, submission)
    verified, holder = _signer_of(session, config=config, content=content, signature=submission.signature)
    subject = holder.subject
    if expected_subject is not None and subject != expected_subject:
        raise SignatureRefused("the card that signed is not the card of the resident who is logged in")
    content_hash = hashlib.sha256(content).digest()
    existing = _existing(session, subject=subject, content_hash=content_hash, key=submission.idempotency_key)
    if existing is not None:
        return existing, False
    signed_at = _check_signer(
        session, config=config, verified=verified, holder=holder, municipality=submission.municipality
    )
    caller = Caller(org_code=submission.municipality, actor="eservice", scopes=frozenset(), via="eservice")
    resident = registry.lookup_by_subject(session, subject=subject, caller=caller, purpose="online application")
    facts = facts_of(session, resident, today=clock.today())
    for entry in entries:
        why = refusal(entry.procedure.eligibility, facts, municipality=submission.municipality)
        if why is not None:
            raise NotEntitled(f"{entry.procedure.code}: {why}", procedure=entry.procedure.code)
    try:
        with session.begin_nested():
            application = _record(session, submission, entries, content, content_hash, subject, resident.id)
            application.signer_serial, application.signed_at = holder.serial, signed_at
            _supersede_returned(session, application, submission.procedures)
    except IntegrityError:  # the same content arrived at the same time: the first one wins
        existing = _existing(session, subject=subject, content_hash=content_hash, key=submission.idempotency_key)
        if existing is None:
            raise
        return existing, False
    audit.record_access(
        session,
        subject=subject,
        actor_org=submission.municipality,
        actor="eservice",
        action=SUBMIT_ACTION,
        purpose=f"{application.receipt_number}: {', '.join(submission.procedures)}",
    )
    return application, True


def record_refusal(
    session: Session,
    *,
    catalogue: Catalogue,
    config: CaConfig,
    error: DomainError,
    submission: Submission | None,
    expected_subject: str | None,
) -> None:
    """Record a refused submission as an access event of each resident it concerns.

    Call it in a unit of work of its own, after the refused one rolled back, so nothing of the refused
    submission is kept but these events. The residents concerned: the logged-in applicant, and the
    signer when the signature verifies over what was sent (a refused form or file is still signed by
    someone). The purpose names the refusal's slug and the catalogue's procedures, never the content.
    """
    subjects = dict.fromkeys(s for s in (expected_subject, _signer_subject(session, config, submission)) if s)
    municipality = submission.municipality if submission is not None else ""
    named = [] if submission is None else submission.procedures
    codes = [c for c in dict.fromkeys(named) if catalogue.get(municipality, c)]
    for subject in subjects:
        audit.record_access(
            session,
            subject=subject,
            actor_org=municipality or "eservice",
            actor="eservice",
            action=REFUSED_ACTION,
            purpose=(f"{error.slug}: {', '.join(codes)}" if codes else error.slug)[:PURPOSE_LENGTH],
        )


def _signer_subject(session: Session, config: CaConfig, submission: Submission | None) -> str | None:
    """The holder of the certificate whose signature verifies over the submission's content, if any."""
    if submission is None:
        return None
    try:
        _, holder = _signer_of(session, config=config, content=content_of(submission), signature=submission.signature)
    except DomainError:
        return None
    return holder.subject


def _existing(session: Session, *, subject: str, content_hash: bytes, key: str | None) -> Application | None:
    found = session.scalar(
        select(Application).where(Application.subject == subject, Application.content_hash == content_hash)
    )
    if found is not None:
        return found
    if key is not None:
        keyed = session.scalar(
            select(Application).where(Application.subject == subject, Application.idempotency_key == key)
        )
        if keyed is not None:
            raise DuplicateConflict(f"idempotency key {key!r} was used for application {keyed.public_id}")
    return None


def _record(
    session: Session,
    submission: Submission,
    entries: list[Entry],
    content: bytes,
    content_hash: bytes,
    subject: str,
    resident_id: int,
) -> Application:
    now = clock.now()
    day = receipts.receipt_date(now)
    application = Application(
        public_id=str(uuid.uuid4()),
        subject=subject,
        resident_id=resident_id,
        municipality_code=submission.municipality,
        life_event=submission.life_event,
        status=SUBMITTED,
        receipt_number=f"pending-{uuid.uuid4().hex[:24]}",
        received_at=now,
        receipt_date=day,
        idempotency_key=submission.idempotency_key,
        content_hash=content_hash,
        content=content,
        signature=submission.signature,
        data=submission.data,
        via=submission.via,
        updated_at=now,
    )
    session.add(application)
    session.flush()
    application.receipt_number = receipts.receipt_number(submission.municipality, day, application.id)
    session.add(StatusChange(application_id=application.id, status=SUBMITTED, at=now, actor="eservice", note=""))
    for entry in entries:
        session.add(
            ApplicationItem(
                application_id=application.id,
                procedure_code=entry.procedure.code,
                department=entry.procedure.department.code,
                business=entry.procedure.business,
                status=SUBMITTED,
                decision_reason="",
                updated_at=now,
            )
        )
    session.add_all(upload.row(application_id=application.id) for upload in submission.uploads)
    session.flush()
    return application


def _supersede_returned(session: Session, application: Application, codes: list[str]) -> None:
    """A new application for a procedure whose earlier item was returned for correction replaces that item."""
    returned = session.scalars(
        select(ApplicationItem)
        .join(Application, Application.id == ApplicationItem.application_id)
        .where(
            Application.subject == application.subject,
            Application.id != application.id,
            ApplicationItem.status == RETURNED,
            ApplicationItem.procedure_code.in_(codes),
        )
    )
    now = clock.now()
    for item in returned:
        item.status, item.updated_at = WITHDRAWN, now
        if all(other.status == WITHDRAWN for other in item.application.items):
            item.application.status = WITHDRAWN
        item.application.updated_at = now
        note = f"corrected by {application.receipt_number}"
        session.add(
            StatusChange(
                application_id=item.application_id,
                item_id=item.id,
                status=WITHDRAWN,
                at=now,
                actor="eservice",
                note=note,
            )
        )


def get_application(session: Session, *, public_id: str, subject: str | None = None) -> Application:
    """An application by its public id; with ``subject``, only if it is that resident's own."""
    application = session.scalar(select(Application).where(Application.public_id == public_id))
    if application is None or (subject is not None and application.subject != subject):
        raise ApplicationNotFound(f"no application {public_id}")
    return application


def applications_of(session: Session, *, subject: str, limit: int = 100) -> list[Application]:
    query = (
        select(Application)
        .where(Application.subject == subject)
        .order_by(Application.received_at.desc(), Application.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


# --- drafts --------------------------------------------------------------------------------------------


class DraftNotFound(NotFound):
    slug = "eservice-draft-not-found"
    title_ja = "下書きが見つかりません"
    title_en = "No such draft"


def save_draft(
    session: Session,
    *,
    municipality: str,
    procedures: list[str],
    data: dict[str, Any],
    subject: str | None,
    public_id: str | None = None,
    life_event: str | None = None,
) -> Draft:
    """Create or update a draft (any data: a draft is not validated until it is signed)."""
    now = clock.now()
    draft = None if public_id is None else get_draft(session, public_id=public_id, subject=subject)
    if draft is None:
        draft = Draft(
            public_id=str(uuid.uuid4()),
            subject=subject,
            municipality_code=municipality,
            procedure_codes=procedures,
            life_event=life_event,
            data=data,
            created_at=now,
            updated_at=now,
        )
        session.add(draft)
    else:
        draft.data, draft.prepared, draft.updated_at = data, None, now
    session.flush()
    return draft


def get_draft(session: Session, *, public_id: str, subject: str | None) -> Draft:
    """A draft by its id; a resident's draft only to that resident (an anonymous one to whoever holds the id)."""
    draft = session.scalar(select(Draft).where(Draft.public_id == public_id))
    if draft is None or (draft.subject is not None and draft.subject != subject):
        raise DraftNotFound(f"no draft {public_id}")
    return draft


def validate(catalogue: Catalogue, *, municipality: str, code: str, data: Any) -> list[dict[str, str]]:
    """The schema's errors for one procedure's form (empty when valid): the same check :func:`submit` makes."""
    (entry,) = entries_for(catalogue, municipality, [code])
    return form_errors(entry, data)


# --- the card path (CLI and machine clients) -----------------------------------------------------------


def catalogue_for(settings: Settings) -> Catalogue:
    """The process's catalogue: shipped files and the operator's directory, checked against the exchange table."""
    return cached_catalogue(settings.procedures_dir, settings.exchange_table_path)


def apply_with_reader(
    session_factory: sessionmaker[Session],
    *,
    catalogue: Catalogue,
    config: CaConfig,
    reader: Reader,
    pin: str,
    submission: Submission,
) -> Receipt:
    """Check, have the card sign the canonical content (pyhanko asks the reader for the raw signature), submit.

    Each reader command is its own unit of work (a wrong PIN is counted even if the submission fails), and
    the submission is one more, so a refusal leaves nothing half-written; a refused submission is then
    recorded in one more (:func:`record_refusal`).
    """
    _, content = check(catalogue, submission)
    certificate = reader.certificate("sign", pin=pin)
    signature = signing.sign(
        content, certificate_der=certificate, sign_digest=lambda digest: reader.sign("sign", pin, digest=digest)
    )
    signed = replace(submission, signature=signature)
    try:
        with unit_of_work(session_factory) as session:
            application, created = submit(session, catalogue=catalogue, config=config, submission=signed)
            return Receipt.of(application, created=created)
    except DomainError as exc:
        with unit_of_work(session_factory) as session:
            record_refusal(
                session, catalogue=catalogue, config=config, error=exc, submission=signed, expected_subject=None
            )
        raise


# --- the browser's two-step signature over a draft ----------------------------------------------------


def attach_to_draft(session: Session, *, draft: Draft, uploads: list[Upload]) -> None:
    """Keep files with a draft (a new file replaces the one in the same slot)."""
    for upload in uploads:
        for old in session.scalars(
            select(Attachment).where(
                Attachment.draft_id == draft.id,
                Attachment.procedure_code == upload.procedure_code,
                Attachment.code == upload.code,
            )
        ):
            session.delete(old)
        session.add(upload.row(draft_id=draft.id))
    draft.prepared = None
    session.flush()


def draft_uploads(session: Session, *, draft: Draft) -> list[Upload]:
    rows = session.scalars(select(Attachment).where(Attachment.draft_id == draft.id).order_by(Attachment.id))
    return [Upload(r.procedure_code, r.code, r.filename, r.media_type, r.content) for r in rows]


def submission_of(session: Session, *, draft: Draft, signature: bytes = b"") -> Submission:
    return Submission(
        municipality=draft.municipality_code,
        procedures=list(draft.procedure_codes),
        data=dict(draft.data),
        uploads=draft_uploads(session, draft=draft),
        signature=signature,
        life_event=draft.life_event,
        idempotency_key=f"draft:{draft.public_id}",
        via="web",
    )


def prepare_draft(session: Session, *, catalogue: Catalogue, draft: Draft, certificate_der: bytes) -> bytes:
    """Check the draft, build its SignedData with a placeholder signature, keep it; the digest the card signs."""
    _, content = check(catalogue, submission_of(session, draft=draft))
    try:
        template, digest = signing.prepare(content, certificate_der=certificate_der)
    except ValueError as exc:
        raise signing.BadSignature(f"the certificate cannot be read: {exc}") from exc
    draft.prepared = {"template": template.hex(), "content_sha256": hashlib.sha256(content).hexdigest()}
    draft.updated_at = clock.now()
    return digest


def signed_submission(session: Session, *, draft: Draft, card_signature: bytes) -> Submission:
    """The draft's submission with the card's signature put into its prepared SignedData."""
    if not draft.prepared:
        raise Conflict("prepare the signature first (the draft changed or was never prepared)")
    cms = signing.complete(bytes.fromhex(draft.prepared["template"]), card_signature)
    return submission_of(session, draft=draft, signature=cms)


def submit_draft(
    session: Session,
    *,
    catalogue: Catalogue,
    config: CaConfig,
    draft: Draft,
    submission: Submission,
    expected_subject: str | None,
) -> tuple[Application, bool]:
    """Submit the draft's signed submission (:func:`signed_submission`); the draft's files move over."""
    application, created = submit(
        session, catalogue=catalogue, config=config, submission=submission, expected_subject=expected_subject
    )
    if created:
        for row in session.scalars(select(Attachment).where(Attachment.draft_id == draft.id)):
            session.delete(row)  # the application holds its own copies
        session.flush()
        session.delete(draft)
    return application, created
