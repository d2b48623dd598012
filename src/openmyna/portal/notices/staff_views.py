"""Back-office pages: staff send a notice to residents or a selection, and follow the send jobs."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from openmyna.core import clock
from openmyna.core.errors import DomainError, Forbidden
from openmyna.core.validation import IdParam
from openmyna.core.web import DbSession, ReadSession, UnitOfWorkRoute, check_csrf, render, render_error
from openmyna.orgs.dependencies import staff_or_login
from openmyna.orgs.service import Caller
from openmyna.portal.notices import service
from openmyna.portal.notices.api import Queue
from openmyna.portal.notices.models import NOTICE_KINDS
from openmyna.portal.notices.schemas import SendRequest
from openmyna.portal.notices.views import local_time

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
SELECTIONS = ("residents", "town", "households_with_child")


def _sender(request: Request) -> Caller | Response:
    caller = staff_or_login(request)
    if isinstance(caller, Response):
        return caller
    if not caller.allows(service.SEND_SCOPE):
        return render_error(request, Forbidden(f"{caller.actor} may not send notices"))
    return caller


def _form_page(
    request: Request, session: ReadSession | DbSession, caller: Caller, *, form: dict[str, str], errors: list[str]
) -> Response:
    jobs = [service.job_view(session, job) for job in service.list_jobs(session, org_code=caller.org_code)]
    return render(
        request,
        "portal/staff/notices.html",
        {
            "form": form,
            "errors": errors,
            "jobs": jobs,
            "kinds": NOTICE_KINDS,
            "selections": SELECTIONS,
            "when": local_time,
            "queue": request.app.state.notice_queue.description,
        },
        status_code=422 if errors else 200,
    )


@router.get("/staff/notices", response_class=HTMLResponse)
def notices_page(request: Request, session: ReadSession) -> Response:
    caller = _sender(request)
    if isinstance(caller, Response):
        return caller
    form = {"key": secrets.token_urlsafe(18), "to": "residents", "kind": "general", "as_of": clock.today().isoformat()}
    return _form_page(request, session, caller, form=form, errors=[])


def _request_from_form(caller: Caller, form: dict[str, str]) -> SendRequest:
    to: dict[str, object] = {"kind": form["to"]}
    if form["to"] == "residents":
        parts = [p.strip() for p in form["resident_ids"].replace("、", ",").split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise ValueError("resident ids must be numbers separated by commas")
        to["resident_ids"] = [int(p) for p in parts]
    else:
        to["municipality_code"] = caller.org_code
    if form["to"] == "households_with_child":
        if not form["under_age"].isdigit():
            raise ValueError("the child's age must be a whole number")
        to["under_age"] = int(form["under_age"])
        to["as_of"] = form["as_of"] or None
    notice = {"kind": form["kind"], "title": form["title"], "body": form["body"], "due_date": form["due_date"] or None}
    return SendRequest.model_validate({"notice": notice, "to": to})


@router.post("/staff/notices", response_class=HTMLResponse)
def send(
    request: Request,
    session: DbSession,
    queue: Queue,
    key: Annotated[str, Form(min_length=8, max_length=128)],
    to: Annotated[str, Form(max_length=32)] = "residents",
    kind: Annotated[str, Form(max_length=32)] = "general",
    title: Annotated[str, Form(max_length=1000)] = "",
    body: Annotated[str, Form(max_length=20_000)] = "",
    due_date: Annotated[str, Form(max_length=10)] = "",
    resident_ids: Annotated[str, Form(max_length=200_000)] = "",
    under_age: Annotated[str, Form(max_length=3)] = "",
    as_of: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The form's hidden key is the idempotency key: submitting the same form twice sends once."""
    caller = _sender(request)
    if isinstance(caller, Response):
        return caller
    try:
        check_csrf(request, csrf)
    except DomainError as exc:
        return render_error(request, exc)
    form = {
        "key": key,
        "to": to,
        "kind": kind,
        "title": title,
        "body": body,
        "due_date": due_date,
        "resident_ids": resident_ids,
        "under_age": under_age,
        "as_of": as_of,
    }
    try:
        send_request = _request_from_form(caller, form)
        job, _created = service.request_send(
            session, caller=caller, idempotency_key=key, request=send_request, queue=queue
        )
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _form_page(request, session, caller, form=form, errors=errors)
    except (ValueError, DomainError) as exc:
        return _form_page(request, session, caller, form=form, errors=[getattr(exc, "detail", str(exc))])
    return RedirectResponse(f"/staff/notices/jobs/{job.id}", status_code=303)


@router.get("/staff/notices/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: IdParam, request: Request, session: ReadSession) -> Response:
    caller = _sender(request)
    if isinstance(caller, Response):
        return caller
    try:
        job = service.get_job(session, org_code=caller.org_code, job_id=job_id)
    except DomainError as exc:
        return render_error(request, exc)
    return render(request, "portal/staff/job.html", {"job": service.job_view(session, job), "when": local_time})
