"""``/portal/faq``, the inquiry form ``/portal/inquiries/new``, and the staff inbox ``/staff/inquiries``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openmyna.core.errors import DomainError
from openmyna.core.validation import IdParam
from openmyna.core.web import DbSession, ReadSession, UnitOfWorkRoute, check_csrf, render, render_error
from openmyna.orgs.dependencies import staff_or_login
from openmyna.portal.auth.dependencies import OptionalUser
from openmyna.portal.inquiries import service
from openmyna.portal.notices.views import local_time

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
FAQ_ENTRIES = ("login", "card_pin", "notices", "email", "delivery", "payment", "proxy", "privacy")
# Form fields are read generously (a 4xx page, never a 500, for anything bigger) and checked precisely
# by ``service.check``, so an overlong text is shown back with its limit instead of a bare 422.
_FIELD_CAP = 20_000


@router.get("/portal/faq", response_class=HTMLResponse)
def faq(request: Request) -> Response:
    return render(request, "portal/inquiries/faq.html", {"entries": FAQ_ENTRIES})


def _form(request: Request, *, values: dict[str, str], errors: list[service.FieldError], status: int = 200) -> Response:
    return render(
        request,
        "portal/inquiries/new.html",
        {
            "topics": service.TOPICS,
            "values": values,
            "errors": errors,
            "error_fields": {e.field for e in errors},
            "limits": {"title": service.MAX_TITLE, "body": service.MAX_BODY},
        },
        status_code=status,
    )


@router.get("/portal/inquiries/new", response_class=HTMLResponse)
def new_inquiry(request: Request, user: OptionalUser) -> Response:
    return _form(request, values={"topic": "other", "title": "", "body": "", "reply_email": ""}, errors=[])


@router.post("/portal/inquiries", response_class=HTMLResponse)
def send_inquiry(
    request: Request,
    session: DbSession,
    user: OptionalUser,
    topic: Annotated[str, Form(max_length=64)] = "",
    title: Annotated[str, Form(max_length=_FIELD_CAP)] = "",
    body: Annotated[str, Form(max_length=_FIELD_CAP)] = "",
    reply_email: Annotated[str, Form(max_length=_FIELD_CAP)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    try:
        check_csrf(request, csrf)
    except DomainError as exc:
        return render_error(request, exc)
    values = {"topic": topic, "title": title, "body": body, "reply_email": reply_email}
    errors = service.check(topic=topic, title=title, body=body, reply_email=reply_email)
    if errors:
        return _form(request, values=values, errors=errors, status=422)
    inquiry = service.submit(
        session,
        topic=topic,
        title=title,
        body=body,
        reply_email=reply_email,
        subject=user.subject if user is not None else "",
    )
    return render(request, "portal/inquiries/sent.html", {"reference": inquiry.id}, status_code=201)


# --- the staff inbox --------------------------------------------------------------------------------------


@router.get("/staff/inquiries", response_class=HTMLResponse)
def staff_inbox(request: Request, session: ReadSession, handled: bool = False) -> Response:
    caller = staff_or_login(request)
    if isinstance(caller, Response):
        return caller
    return render(
        request,
        "portal/staff/inquiries.html",
        {
            "inquiries": service.inbox(session, handled=handled),
            "handled": handled,
            "open_count": service.open_count(session),
            "when": local_time,
        },
    )


@router.get("/staff/inquiries/{inquiry_id}", response_class=HTMLResponse)
def staff_inquiry(inquiry_id: IdParam, request: Request, session: DbSession) -> Response:
    caller = staff_or_login(request)
    if isinstance(caller, Response):
        return caller
    try:
        inquiry = service.read(session, inquiry_id=inquiry_id, caller=caller)
    except DomainError as exc:
        return render_error(request, exc)
    return render(request, "portal/staff/inquiry.html", {"inquiry": inquiry, "when": local_time})


@router.post("/staff/inquiries/{inquiry_id}/handled")
def staff_handled(
    inquiry_id: IdParam, request: Request, session: DbSession, csrf: Annotated[str, Form()] = ""
) -> Response:
    caller = staff_or_login(request)
    if isinstance(caller, Response):
        return caller
    try:
        check_csrf(request, csrf)
        service.mark_handled(session, inquiry_id=inquiry_id, caller=caller)
    except DomainError as exc:
        return render_error(request, exc)
    return RedirectResponse("/staff/inquiries", status_code=303)
