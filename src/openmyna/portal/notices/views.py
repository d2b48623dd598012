"""Resident pages of menus C お知らせ (inbox, archive, one notice) and D 民間送達 (consents, deliveries)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openmyna.core.errors import DomainError
from openmyna.core.timefmt import local_time
from openmyna.core.validation import IdParam
from openmyna.core.web import DbSession, Keys, Language, ReadSession, UnitOfWorkRoute, check_csrf, render, render_error
from openmyna.portal.auth.dependencies import CurrentUser
from openmyna.portal.notices import delivery, service
from openmyna.portal.notices.models import NOTICE_KINDS

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


PAGE_SIZE = 50
OrgCode = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/portal/notices", response_class=HTMLResponse)
def notices_page(
    request: Request,
    session: ReadSession,
    user: CurrentUser,
    lang: Language,
    box: Literal["inbox", "archive"] = "inbox",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    rows = service.inbox(
        session, subject=user.subject, archived=box == "archive", limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "portal/notices/list.html",
        {
            "box": box,
            "rows": rows[:PAGE_SIZE],
            "page": page,
            "more": len(rows) > PAGE_SIZE,
            "unread": service.unread_count(session, subject=user.subject),
            "senders": service.sender_names(session, {message.sender_org for _, message in rows}, lang=lang),
            "when": local_time,
        },
    )


@router.post("/portal/notices/read-all")
def read_all(request: Request, session: DbSession, user: CurrentUser, csrf: Annotated[str, Form()] = "") -> Response:
    try:
        check_csrf(request, csrf)
    except DomainError as exc:
        return render_error(request, exc)
    service.mark_all_read(session, subject=user.subject)
    return RedirectResponse("/portal/notices", status_code=303)


@router.get("/portal/notices/delivery", response_class=HTMLResponse)
def delivery_page(request: Request, session: ReadSession, keys: Keys, user: CurrentUser, saved: str = "") -> Response:
    return render(
        request,
        "portal/notices/delivery.html",
        {
            "services": delivery.choices(session, keys=keys, subject=user.subject),
            "deliveries": delivery.deliveries_of(session, subject=user.subject),
            "kinds": NOTICE_KINDS,
            "saved": saved[:32],
            "when": local_time,
        },
    )


@router.post("/portal/notices/delivery/{org_code}")
def delivery_consent(
    org_code: OrgCode,
    request: Request,
    session: DbSession,
    user: CurrentUser,
    csrf: Annotated[str, Form()] = "",
    kinds: Annotated[list[str] | None, Form(max_length=len(NOTICE_KINDS))] = None,
) -> Response:
    """Make the checked kinds exactly what this service may receive (unchecked ones are withdrawn)."""
    try:
        check_csrf(request, csrf)
        delivery.set_consent(session, subject=user.subject, org_code=org_code, kinds=set(kinds or ()))
    except DomainError as exc:
        return render_error(request, exc)
    return RedirectResponse(f"/portal/notices/delivery?saved={org_code}", status_code=303)


@router.get("/portal/notices/{notice_id}", response_class=HTMLResponse)
def notice_page(
    notice_id: IdParam, request: Request, session: DbSession, user: CurrentUser, lang: Language
) -> Response:
    """One notice; opening it marks it read and is an access event the person sees."""
    try:
        notice, message = service.open_notice(session, subject=user.subject, notice_id=notice_id, actor=user.actor)
    except DomainError as exc:
        return render_error(request, exc)
    return render(
        request,
        "portal/notices/notice.html",
        {
            "notice": notice,
            "message": message,
            "sender": service.sender_names(session, {message.sender_org}, lang=lang)[message.sender_org],
            "when": local_time,
        },
    )


@router.post("/portal/notices/{notice_id}")
def notice_action(
    notice_id: IdParam,
    request: Request,
    session: DbSession,
    user: CurrentUser,
    action: Annotated[Literal["archive", "unarchive", "unread"], Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    try:
        check_csrf(request, csrf)
        if action == "unread":
            service.mark_unread(session, subject=user.subject, notice_id=notice_id)
        else:
            service.set_archived(session, subject=user.subject, notice_id=notice_id, archived=action == "archive")
    except DomainError as exc:
        return render_error(request, exc)
    box = "archive" if action == "unarchive" else "inbox"
    return RedirectResponse("/portal/notices" + ("?box=archive" if box == "archive" else ""), status_code=303)
