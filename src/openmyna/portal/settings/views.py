"""``/portal/settings``: nickname, e-mail address (verified by a link), notice e-mail preferences, links to
the linked sites and the login history (other menus' pages)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from openmyna.core.errors import DomainError
from openmyna.core.web import (
    AppSettings,
    DbSession,
    Keys,
    ReadSession,
    UnitOfWorkRoute,
    check_csrf,
    render,
    render_error,
)
from openmyna.portal.auth.dependencies import CurrentUser
from openmyna.portal.auth.service import PortalUser
from openmyna.portal.notices.models import NOTICE_KINDS
from openmyna.portal.settings import mail, service

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


def _page(
    request: Request, session: Session, user: PortalUser, *, done: str = "", error: str = "", status: int = 200
) -> Response:
    settings = service.settings_of(session, subject=user.subject)
    return render(
        request,
        "portal/settings/index.html",
        {
            "settings": settings,
            "mail_kinds": settings.mail_kinds.split(),
            "pending": service.pending_address(session, subject=user.subject),
            "kinds": NOTICE_KINDS,
            "done": done,
            "error": error,
        },
        status_code=status,
    )


@router.get("/portal/settings", response_class=HTMLResponse)
def settings_page(
    request: Request, session: ReadSession, user: CurrentUser, done: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    return _page(request, session, user, done=done)


def _guarded(request: Request, csrf: str) -> Response | None:
    try:
        check_csrf(request, csrf)
    except DomainError as exc:
        return render_error(request, exc)
    return None


@router.post("/portal/settings/nickname")
def nickname(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    nickname: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if (refused := _guarded(request, csrf)) is not None:
        return refused
    try:
        service.set_nickname(session, subject=user.subject, nickname=nickname)
    except DomainError as exc:
        session.rollback()
        return _page(request, session, user, error=exc.detail, status=exc.status)
    return RedirectResponse("/portal/settings?done=nickname", status_code=303)


@router.post("/portal/settings/email")
def email(
    request: Request,
    session: DbSession,
    keys: Keys,
    settings: AppSettings,
    user: CurrentUser,
    email: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Send a verification link to the address; it becomes the notice address only once the link is opened."""
    if (refused := _guarded(request, csrf)) is not None:
        return refused
    mailer = mail.Mailer(settings)
    try:
        if not mailer.configured:
            raise mail.MailUnavailable("this portal has no SMTP server configured, so it cannot send the link")
        ttl = dt.timedelta(seconds=settings.email_verification_ttl_seconds)
        address, token = service.request_verification(session, keys=keys, subject=user.subject, email=email, ttl=ttl)
    except DomainError as exc:
        session.rollback()
        return _page(request, session, user, error=exc.detail, status=exc.status)
    link = mail.portal_url(settings, "/portal/settings/email/verify?token=" + token)
    message = mail.verify_address(settings, to=address, link=link, hours=max(1, int(ttl.total_seconds()) // 3600))
    try:
        session.flush()
        mailer.send([message])  # inside the unit of work: a link that could not be sent is not kept
    except DomainError as exc:
        session.rollback()
        return _page(request, session, user, error=exc.detail, status=exc.status)
    return RedirectResponse("/portal/settings?done=email-sent", status_code=303)


@router.post("/portal/settings/email/remove")
def remove_email(
    request: Request, session: DbSession, user: CurrentUser, csrf: Annotated[str, Form()] = ""
) -> Response:
    if (refused := _guarded(request, csrf)) is not None:
        return refused
    service.remove_email(session, subject=user.subject)
    return RedirectResponse("/portal/settings?done=email-removed", status_code=303)


@router.get("/portal/settings/email/verify", response_class=HTMLResponse)
def verify(
    request: Request, session: DbSession, keys: Keys, token: Annotated[str, Query(max_length=512)] = ""
) -> Response:
    """Open a verification link (no login needed: the link itself proves the mailbox)."""
    try:
        verified = service.verify(session, keys=keys, token=token)
    except DomainError as exc:
        session.rollback()
        return render(request, "portal/settings/verified.html", {"error": exc, "email": ""}, status_code=exc.status)
    return render(request, "portal/settings/verified.html", {"error": None, "email": verified.email})


@router.post("/portal/settings/notifications")
def notifications(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    csrf: Annotated[str, Form()] = "",
    kinds: Annotated[list[str] | None, Form(max_length=len(NOTICE_KINDS))] = None,
) -> Response:
    if (refused := _guarded(request, csrf)) is not None:
        return refused
    try:
        service.set_mail_kinds(session, subject=user.subject, kinds=set(kinds or ()))
    except DomainError as exc:
        session.rollback()
        return _page(request, session, user, error=exc.detail, status=exc.status)
    return RedirectResponse("/portal/settings?done=notifications", status_code=303)
