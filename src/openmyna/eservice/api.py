"""The eservice JSON API: catalogue, search by situation, validation, signed submission, the browser's signing."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy.orm import Session

from openmyna.core import audit
from openmyna.core.errors import InvalidInput
from openmyna.core.web import DbSession, ReadSession, UnitOfWorkRoute, check_csrf
from openmyna.eservice import schemas, service
from openmyna.eservice.catalogue import Catalogue, Entry
from openmyna.eservice.eligibility import Facts
from openmyna.eservice.models import Application, Draft
from openmyna.eservice.search import needs_of, search
from openmyna.eservice.web import CatalogueDep, OptionalApplicant, TableDep, remember, remembered
from openmyna.jpki.authority import CaConfig
from openmyna.network.table import ExchangeTable

router = APIRouter(route_class=UnitOfWorkRoute, prefix="/api/eservice", tags=["eservice"])


def b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{what}: not base64", field=what) from exc


def procedure_out(entry: Entry, table: ExchangeTable) -> schemas.ProcedureOut:
    p = entry.procedure
    return schemas.ProcedureOut(
        municipality=entry.municipality,
        code=p.code,
        name_ja=p.name_ja,
        name_en=p.name_en,
        category=p.category,
        situations=list(p.situations),
        department=p.department.model_dump(),
        who_may_apply=p.who_may_apply.model_dump(),
        conditions=[c.model_dump() for c in p.conditions],
        signature_required=p.signature_required,
        deadline=p.deadline.model_dump(),
        business=p.business,
        needs=[
            schemas.NeedOut(
                code=n.attachment.code,
                name_ja=n.attachment.name_ja,
                name_en=n.attachment.name_en,
                required=n.attachment.required and not n.fetched,
                fetched=n.fetched,
                reason_ja=n.reason_ja,
                reason_en=n.reason_en,
                media_types=list(n.attachment.media_types),
                max_bytes=n.attachment.max_bytes,
            )
            for n in needs_of(entry, table)
        ],
        follows=list(p.follows),
    )


def receipt_out(application: Application, *, created: bool) -> schemas.ReceiptOut:
    return schemas.ReceiptOut(
        application_id=application.public_id,
        receipt_number=application.receipt_number,
        receipt_date=application.receipt_date,
        received_at=application.received_at,
        status=application.status,
        created=created,
        items=[
            schemas.ItemOut(
                procedure=i.procedure_code, department=i.department, status=i.status, decision_reason=i.decision_reason
            )
            for i in application.items
        ],
    )


def config_of(request: Request) -> CaConfig:
    return CaConfig.from_settings(request.app.state.settings, request.app.state.keys)


@router.get("/procedures", summary="The catalogue")
def procedures(catalogue: CatalogueDep, table: TableDep, municipality: str | None = None) -> list[schemas.ProcedureOut]:
    return [procedure_out(e, table) for e in catalogue.of(municipality)]


@router.get("/procedures/{municipality}/{code}", summary="One procedure with its form schema and example")
def procedure(municipality: str, code: str, catalogue: CatalogueDep, table: TableDep) -> schemas.ProcedureDetail:
    (entry,) = service.entries_for(catalogue, municipality, [code])
    return schemas.ProcedureDetail(
        **procedure_out(entry, table).model_dump(), form=entry.procedure.form, example=entry.procedure.example
    )


@router.get("/search", summary="Procedures that apply to a situation (no login needed)")
def search_api(
    catalogue: CatalogueDep,
    table: TableDep,
    municipality: str = Query(pattern=r"^[0-9]{6}$"),
    situation: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006 (FastAPI reads it, never mutates)
    age: int | None = Query(default=None, ge=0, le=130),
    child_age: Annotated[list[int], Query(max_length=10)] = [],  # noqa: B006
    single_parent: bool | None = None,
    sex: str | None = Query(default=None, pattern="^(female|male)$"),
) -> schemas.SearchOut:
    facts = Facts(
        age=age, sex=sex, child_ages=tuple(child_age) if child_age else None, single_parent=single_parent or None
    )
    found = search(catalogue, table, municipality=municipality, situations=set(situation), facts=facts)
    return schemas.SearchOut(
        municipality=municipality, situations=situation, results=[procedure_out(m.entry, table) for m in found]
    )


@router.post("/procedures/{municipality}/{code}/validate", summary="Check form data against the procedure's schema")
def validate(municipality: str, code: str, data: dict, catalogue: CatalogueDep) -> schemas.ValidationOut:  # type: ignore[type-arg]
    errors = service.validate(catalogue, municipality=municipality, code=code, data=data)
    return schemas.ValidationOut(valid=not errors, errors=errors)


def _uploads(items: list[schemas.UploadIn]) -> list[service.Upload]:
    return [
        service.Upload(u.procedure, u.code, u.filename, u.media_type, b64(u.content, f"attachments.{u.code}"))
        for u in items
    ]


@router.post("/content", summary="The exact bytes to sign for an application (canonical JSON)")
def content(body: schemas.ContentIn, catalogue: CatalogueDep) -> Response:
    submission = service.Submission(
        body.municipality, body.procedures, body.data, _uploads(body.attachments), b"", body.life_event
    )
    _, signed = service.check(catalogue, submission)
    return Response(signed, media_type="application/json")


@router.post("/applications", status_code=201, summary="Submit a signed application")
def submit(
    body: schemas.ApplicationIn,
    request: Request,
    response: Response,
    db: DbSession,
    catalogue: CatalogueDep,
    applicant: OptionalApplicant,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> schemas.ReceiptOut:
    """The signer is the holder of the signing certificate in the CMS; a repeated submission returns the first.

    A refusal is an access event of the applicant and of the signer (``eservice.submit.refused``)."""
    submission = service.Submission(
        municipality=body.municipality,
        procedures=body.procedures,
        data=body.data,
        uploads=_uploads(body.attachments),
        signature=b64(body.signature, "signature"),
        life_event=body.life_event,
        idempotency_key=body.idempotency_key or idempotency_key,
        via="api",
    )
    expected = applicant.subject if applicant else None
    with _refusal_recorded(db, request, catalogue, expected_subject=expected, submission=lambda: submission):
        application, created = service.submit(
            db, catalogue=catalogue, config=config_of(request), submission=submission, expected_subject=expected
        )
    if not created:
        response.status_code = 200
    return receipt_out(application, created=created)


@router.get("/applications/{application_id}", summary="An application's status (its applicant only)")
def application(
    application_id: str, request: Request, db: ReadSession, applicant: OptionalApplicant
) -> schemas.ReceiptOut:
    found = service.get_application(db, public_id=application_id)
    if not ((applicant and applicant.subject == found.subject) or remembered(request, "applications", found.public_id)):
        raise service.ApplicationNotFound(f"no application {application_id}")
    return receipt_out(found, created=False)


@router.post("/drafts/{draft_id}/prepare", summary="Build the signature over a draft; the digest the card signs")
def prepare(
    draft_id: str,
    body: schemas.PrepareIn,
    request: Request,
    db: DbSession,
    catalogue: CatalogueDep,
    applicant: OptionalApplicant,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> schemas.PrepareOut:
    check_csrf(request, x_csrf_token)
    draft = _draft(request, db, draft_id, applicant)
    digest = service.prepare_draft(
        db, catalogue=catalogue, draft=draft, certificate_der=b64(body.certificate, "certificate")
    )
    return schemas.PrepareOut(digest=base64.b64encode(digest).decode())


@router.post("/drafts/{draft_id}/submit", summary="Submit a prepared draft with the card's signature")
def submit_draft(
    draft_id: str,
    body: schemas.CompleteIn,
    request: Request,
    db: DbSession,
    catalogue: CatalogueDep,
    applicant: OptionalApplicant,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> schemas.ReceiptOut:
    check_csrf(request, x_csrf_token)
    draft = _draft(request, db, draft_id, applicant)
    expected = applicant.subject if applicant else None
    submission: service.Submission | None = None
    concerned = expected or draft.subject
    with _refusal_recorded(db, request, catalogue, expected_subject=concerned, submission=lambda: submission):
        submission = service.signed_submission(db, draft=draft, card_signature=b64(body.signature, "signature"))
        application, created = service.submit_draft(
            db,
            catalogue=catalogue,
            config=config_of(request),
            draft=draft,
            submission=submission,
            expected_subject=expected,
        )
    remember(request, "applications", application.public_id)
    return receipt_out(application, created=created)


def _refusal_recorded(
    db: Session,
    request: Request,
    catalogue: Catalogue,
    *,
    expected_subject: str | None,
    submission: Callable[[], service.Submission | None],
) -> AbstractContextManager[None]:
    """A refused submission is rolled back, then kept as the residents' access events (``service.record_refusal``)."""
    config = config_of(request)
    return audit.refusal_recorded(
        db,
        lambda error: service.record_refusal(
            db,
            catalogue=catalogue,
            config=config,
            error=error,
            submission=submission(),
            expected_subject=expected_subject,
        ),
    )


def _draft(request: Request, db: DbSession, draft_id: str, applicant: OptionalApplicant) -> Draft:
    draft = service.get_draft(db, public_id=draft_id, subject=applicant.subject if applicant else None)
    if draft.subject is None and not remembered(request, "drafts", draft.public_id):
        raise service.DraftNotFound(f"no draft {draft_id}")
    return draft
