"""The eservice pages: search by situation, a procedure, the form, signing with the card, the receipt and status."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from openmyna.core import clock
from openmyna.core.clock import JST
from openmyna.core.errors import DomainError
from openmyna.core.headers import PAGE_POLICY
from openmyna.core.timefmt import as_utc
from openmyna.core.web import DbSession, ReadSession, UnitOfWorkRoute, check_csrf, language, render, render_error
from openmyna.eservice import forms, service
from openmyna.eservice.catalogue import SITUATIONS, Entry
from openmyna.eservice.eligibility import Facts, facts_of, prefilled
from openmyna.eservice.search import needs_of, search
from openmyna.eservice.web import CatalogueDep, OptionalApplicant, TableDep, remember, remembered
from openmyna.registry import service as registry

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
ASKED = ("birth", "pregnancy", "childcare", "annual", "move_in", "move_out", "move_within", "death", "pension_hardship")


async def posted(request: Request) -> FormData:
    """The whole posted form (field names come from the procedure's schema, so they are read dynamically)."""
    return await request.form(max_files=20, max_fields=500)


Posted = Annotated[FormData, Depends(posted)]


def _resident_facts(db: Any, applicant: Any) -> Facts | None:
    if applicant is None:
        return None
    resident = registry.find_resident(db, resident_id=applicant.resident_id)
    return facts_of(db, resident, today=clock.today()) if resident is not None else None


def _ints(text: str) -> tuple[int, ...] | None:
    parts = [p for p in text.replace("、", ",").replace(" ", ",").split(",") if p.strip()]
    values = tuple(int(p) for p in parts if p.strip().isdigit() and int(p) <= 30)
    return values if parts else None


@router.get("/eservice", response_class=HTMLResponse)
@router.get("/eservice/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    db: ReadSession,
    catalogue: CatalogueDep,
    table: TableDep,
    applicant: OptionalApplicant,
    municipality: str | None = Query(default=None, max_length=6),
    situation: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    age: str = Query(default="", max_length=3),
    child_ages: str = Query(default="", max_length=40),
    single_parent: str = Query(default="", max_length=3),
) -> Response:
    """Anyone answers a few questions; a logged-in resident's answers start from the registry."""
    known = _resident_facts(db, applicant)
    asked = "municipality" in request.query_params
    municipalities = catalogue.municipalities()
    chosen = municipality if municipality in municipalities else (known.municipality if known else None)
    chosen = chosen or request.app.state.settings.municipality_code
    answers = {
        "municipality": chosen,
        "situations": [s for s in situation if s in SITUATIONS],
        "age": age if asked else (str(known.age) if known and known.age is not None else ""),
        "child_ages": child_ages if asked else ", ".join(map(str, (known.child_ages or ()) if known else ())),
        "single_parent": bool(single_parent) if asked else bool(known and known.single_parent),
    }
    results = None
    if asked:
        facts = Facts(
            age=int(age) if age.isdigit() else None,
            child_ages=_ints(child_ages),
            single_parent=True if answers["single_parent"] else None,
        )
        results = search(catalogue, table, municipality=chosen, situations=set(answers["situations"]), facts=facts)
    context = {
        "answers": answers,
        "municipalities": municipalities,
        "situations": ASKED,
        "results": results,
        "applicant": applicant,
    }
    return render(request, "eservice/search.html", context)


@router.get("/eservice/procedures/{municipality}/{code}", response_class=HTMLResponse)
def procedure_page(
    request: Request, municipality: str, code: str, catalogue: CatalogueDep, table: TableDep
) -> Response:
    entry = catalogue.get(municipality, code)
    if entry is None:
        return render_error(request, service.UnknownProcedure(f"no procedure {code!r} in {municipality}"))
    follows = [catalogue.get(municipality, c) for c in entry.procedure.follows]
    context = {"entry": entry, "needs": needs_of(entry, table), "follows": [f for f in follows if f is not None]}
    return render(request, "eservice/procedure.html", context)


def _entries(request: Request, catalogue: Any, municipality: str, codes: list[str]) -> list[Entry] | Response:
    try:
        return service.entries_for(catalogue, municipality, codes)
    except DomainError as exc:
        return render_error(request, exc)


def _form_page(
    request: Request,
    entries: list[Entry],
    values: dict[str, dict[str, Any]],
    errors: dict[str, list[dict[str, str]]],
    *,
    table: Any,
    problem: str = "",
    status_code: int = 200,
) -> Response:
    lang = language(request)
    sections = [
        {
            "entry": e,
            "fields": forms.fields_for(
                e, values.get(e.procedure.code, {}), errors.get(e.procedure.code, []), lang=lang
            ),
            "needs": needs_of(e, table),
        }
        for e in entries
    ]
    count = sum(len(v) for v in errors.values())
    context = {
        "sections": sections,
        "error_count": count,
        "problem": problem,
        "codes": [e.procedure.code for e in entries],
    }
    return render(request, "eservice/apply.html", context, status_code=status_code)


@router.get("/eservice/apply/{municipality}", response_class=HTMLResponse)
def apply_page(
    request: Request,
    municipality: str,
    db: ReadSession,
    catalogue: CatalogueDep,
    table: TableDep,
    applicant: OptionalApplicant,
    procedure: Annotated[list[str], Query(max_length=10)] = [],  # noqa: B006
    draft: str | None = Query(default=None, max_length=36),
) -> Response:
    """The form(s), pre-filled from the registry for a logged-in resident, or from a saved draft."""
    values: dict[str, dict[str, Any]] = {}
    if draft is not None:
        try:
            saved = service.get_draft(db, public_id=draft, subject=applicant.subject if applicant else None)
        except DomainError as exc:
            return render_error(request, exc)
        procedure, values = list(saved.procedure_codes), dict(saved.data)
    entries = _entries(request, catalogue, municipality, procedure)
    if isinstance(entries, Response):
        return entries
    known = _resident_facts(db, applicant)
    if known is not None and draft is None:
        values = {e.procedure.code: prefilled(e, known) for e in entries}
    return _form_page(request, entries, values, {}, table=table)


def _uploads_of(form: FormData, entries: list[Entry]) -> list[service.Upload]:
    uploads = []
    for entry in entries:
        for attachment in entry.procedure.uploads:
            file = form.get(f"{entry.procedure.code}.file.{attachment.code}")
            if isinstance(file, UploadFile) and file.filename:
                content = file.file.read(attachment.max_bytes + 1)
                media_type = file.content_type or "application/octet-stream"
                uploads.append(
                    service.Upload(entry.procedure.code, attachment.code, file.filename, media_type, content)
                )
    return uploads


@router.post("/eservice/apply/{municipality}", response_class=HTMLResponse)
def apply_post(
    request: Request,
    municipality: str,
    form: Posted,
    db: DbSession,
    catalogue: CatalogueDep,
    table: TableDep,
    applicant: OptionalApplicant,
) -> Response:
    """Validate with the schema (the same check as on submit); keep a draft; go on to signing."""
    check_csrf(request, form.get("csrf") if isinstance(form.get("csrf"), str) else None)
    codes = [c for c in form.getlist("procedure") if isinstance(c, str)]
    entries = _entries(request, catalogue, municipality, codes)
    if isinstance(entries, Response):
        return entries
    values = {e.procedure.code: forms.parse_form(e, form) for e in entries}
    errors = {e.procedure.code: service.form_errors(e, values[e.procedure.code]) for e in entries}
    subject = applicant.subject if applicant else None
    draft_id = form.get("draft") if isinstance(form.get("draft"), str) else None
    try:
        draft = service.save_draft(
            db, municipality=municipality, procedures=codes, data=values, subject=subject, public_id=draft_id or None
        )
        uploads = _uploads_of(form, entries)
        service.check_files(entries, uploads)
        service.attach_to_draft(db, draft=draft, uploads=uploads)
    except DomainError as exc:
        return _form_page(request, entries, values, errors, table=table, problem=exc.detail, status_code=exc.status)
    if subject is None:
        remember(request, "drafts", draft.public_id)
    if form.get("action") == "save":  # a draft may be incomplete: back to the form with what was kept
        saved = RedirectResponse(f"/eservice/apply/{municipality}?draft={draft.public_id}", status_code=303)
        saved.headers["x-draft-id"] = draft.public_id
        return saved
    if any(errors.values()):
        page = _form_page(request, entries, values, errors, table=table, status_code=400)
        page.headers["x-draft-id"] = draft.public_id
        return page
    return RedirectResponse(f"/eservice/drafts/{draft.public_id}", status_code=303)


def _reader_policy(response: Response, reader_url: str) -> Response:
    response.headers["content-security-policy"] = PAGE_POLICY + f"; connect-src 'self' {reader_url.rstrip('/')}"
    return response


@router.get("/eservice/drafts/{draft_id}", response_class=HTMLResponse)
def sign_page(
    request: Request,
    draft_id: str,
    db: ReadSession,
    catalogue: CatalogueDep,
    table: TableDep,
    applicant: OptionalApplicant,
) -> Response:
    """Review the draft and sign it with the card through the local reader (signing PIN, 6–16 characters)."""
    try:
        draft = service.get_draft(db, public_id=draft_id, subject=applicant.subject if applicant else None)
        if draft.subject is None and not remembered(request, "drafts", draft.public_id):
            raise service.DraftNotFound(f"no draft {draft_id}")
        entries = service.entries_for(catalogue, draft.municipality_code, list(draft.procedure_codes))
        uploads = service.draft_uploads(db, draft=draft)
        service.check(catalogue, service.submission_of(db, draft=draft))
    except service.FormInvalid:
        return RedirectResponse(f"/eservice/apply/{draft.municipality_code}?draft={draft_id}", status_code=303)
    except DomainError as exc:
        return render_error(request, exc)
    lang = language(request)
    sections = [
        {"entry": e, "fields": forms.fields_for(e, draft.data.get(e.procedure.code, {}), [], lang=lang),
         "needs": needs_of(e, table)}
        for e in entries
    ]  # fmt: skip
    reader = request.app.state.settings.portal_card_reader_url
    context = {"draft": draft, "sections": sections, "uploads": uploads, "reader_url": reader}
    return _reader_policy(render(request, "eservice/sign.html", context), reader)


def _jst(value: dt.datetime) -> str:
    return as_utc(value).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


@router.get("/eservice/applications", response_class=HTMLResponse)
def my_applications(request: Request, db: ReadSession, applicant: OptionalApplicant) -> Response:
    """A logged-in resident's applications; otherwise those submitted from this browser."""
    if applicant is not None:
        found = service.applications_of(db, subject=applicant.subject)
    else:
        ids = (request.session.get("eservice") or {}).get("applications") or []
        found = [a for i in ids for a in [_maybe(db, i)] if a is not None]
    return render(request, "eservice/applications.html", {"applications": found, "applicant": applicant})


def _maybe(db: Any, public_id: str) -> Any:
    try:
        return service.get_application(db, public_id=public_id)
    except DomainError:
        return None


@router.get("/eservice/applications/{application_id}", response_class=HTMLResponse)
def status_page(
    request: Request, application_id: str, db: ReadSession, catalogue: CatalogueDep, applicant: OptionalApplicant
) -> Response:
    """The receipt and each procedure's status, with the history; only to the applicant."""
    try:
        application = service.get_application(db, public_id=application_id)
        own = applicant is not None and applicant.subject == application.subject
        if not own and not remembered(request, "applications", application.public_id):
            raise service.ApplicationNotFound(f"no application {application_id}")
    except DomainError as exc:
        return render_error(request, exc)
    names = {
        i.procedure_code: catalogue.get(application.municipality_code, i.procedure_code) for i in application.items
    }
    context = {"application": application, "names": names, "jst": _jst}
    return render(request, "eservice/status.html", context)
