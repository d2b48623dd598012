"""Login pages: the login (card or QR), its continuation, re-authentication, logout and the login history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import audit, clock, sessions
from openmyna.core.config import Settings
from openmyna.core.errors import DomainError, Forbidden
from openmyna.core.web import (
    AppSettings,
    DbSession,
    Language,
    ReadSession,
    UnitOfWorkRoute,
    check_csrf,
    render,
    render_error,
)
from openmyna.portal.auth import login, service
from openmyna.portal.auth.dependencies import CurrentUser, OptionalUser
from openmyna.portal.auth.web import HOME, finish, forget, held, qr_image, qr_url, reader_policy, remember, safe_next
from openmyna.portal.proxy import service as proxy

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
REUSE_MARGIN = dt.timedelta(seconds=30)
LOGIN_HISTORY_LIMIT = 500
METHOD_NAMES = {"card": "plogin.method.card", "qr": "plogin.method.qr", "proxy": "plogin.method.proxy"}


def jst(at: dt.datetime) -> dict[str, str]:
    """An instant for people (Japan time) and for machines (ISO 8601 with offset)."""
    local = (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(clock.JST)
    return {"iso": local.isoformat(), "text": local.strftime("%Y-%m-%d %H:%M:%S")}


def _qr_transaction(request: Request, db: Session, purpose: login.Purpose) -> tuple[str, dt.datetime]:
    """This browser's QR login: the one it is waiting on if it has time left, else a fresh one."""
    mine = held(request, "qr")
    if mine is not None:
        try:
            found = login.status(db, token=mine[0], browser_secret=mine[1])
            row = db.scalar(login.select_by_token(mine[0]))
            fresh = found.expires_at - clock.now() > REUSE_MARGIN
            if found.state == "pending" and fresh and row is not None and row.purpose == purpose:
                return mine[0], found.expires_at
        except DomainError:
            pass
    opened = login.open_transaction(db, method="qr", purpose=purpose)
    remember(request, "qr", opened.token, opened.browser_secret)
    return opened.token, opened.expires_at


def _login_page(
    request: Request,
    db: Session,
    settings: Settings,
    *,
    next_path: str,
    purpose: login.Purpose,
    error: DomainError | None = None,
    lang: str = "ja",
    status_code: int = 200,
) -> Response:
    token, expires = _qr_transaction(request, db, purpose)
    url = qr_url(settings, token)
    context: dict[str, Any] = {
        "next": next_path,
        "purpose": purpose,
        "login_url": url,
        "qr_image": qr_image(url),
        "expires_at": expires.isoformat(),
        "reader_url": settings.portal_card_reader_url.rstrip("/"),
        "error": None if error is None else (error.title_en if lang == "en" else error.title_ja),
        "error_detail": None if error is None else error.detail,
    }
    page = render(request, "portal/login.html", context, status_code=status_code)
    page.headers["cache-control"] = "no-store"
    return reader_policy(page, settings)


@router.get("/portal/login", response_class=HTMLResponse)
def login_page(
    request: Request, db: DbSession, settings: AppSettings, lang: Language, user: OptionalUser, next: str | None = None
) -> Response:
    """Both ways in: the card on this computer, or the QR code for the phone app (shown with its URL)."""
    target = safe_next(next)
    if user is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, db, settings, next_path=target, purpose="login", lang=lang)


@router.get("/portal/reauth", response_class=HTMLResponse)
def reauth_page(
    request: Request, db: DbSession, settings: AppSettings, lang: Language, user: CurrentUser, next: str | None = None
) -> Response:
    """A sensitive menu asks for the card again; afterwards the browser returns to ``next``."""
    return _login_page(request, db, settings, next_path=safe_next(next), purpose="reauth", lang=lang)


@router.post("/portal/login/qr/continue", response_class=HTMLResponse)
def qr_continue(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    lang: Language,
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    """The waiting page's 'continue' (pressed by its script within a second of the phone's success, or by hand)."""
    target = safe_next(next)
    mine = held(request, "qr")
    purpose: login.Purpose = "login"
    try:
        check_csrf(request, csrf)
        if mine is None:
            raise login.LoginUnknown("this browser has no QR login in progress; a new code is shown")
        row = db.scalar(login.select_by_token(mine[0]))
        purpose = "reauth" if row is not None and row.purpose == "reauth" else "login"
        identity = login.take(db, token=mine[0], browser_secret=mine[1])
        forget(request, "qr")
        finish(request, db, identity, settings=settings)
    except DomainError as exc:
        if isinstance(exc, login.LoginExpired | login.LoginUsed | login.LoginUnknown):
            forget(request, "qr")  # the page shows a fresh code with the message
        return _login_page(
            request, db, settings, next_path=target, purpose=purpose, error=exc, lang=lang, status_code=exc.status
        )
    return RedirectResponse(target, status_code=303)


@router.post("/portal/logout")
def logout(request: Request, db: DbSession, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """End the server session (the row is deleted: no copy of the cookie opens it again), then the cookie."""
    token = request.session.get(sessions.COOKIE_KEY)
    if sessions.current(request) is not None and isinstance(token, str):
        try:
            check_csrf(request, csrf)
        except Forbidden as exc:
            return render_error(request, exc)
        service.end(db, token=token)
    request.session.clear()
    return RedirectResponse(HOME + "?logged_out=1", status_code=303)


def _login_method(event: audit.AccessEvent) -> str:
    """card or qr; ``proxy`` when a proxy entered the portal for me (with their own card)."""
    return "proxy" if event.action == proxy.SWITCH else (event.purpose or "").removeprefix("login:")


@router.get("/portal/settings/logins", response_class=HTMLResponse)
def login_history(request: Request, db: ReadSession, user: CurrentUser, lang: Language) -> Response:
    """Every login of mine: how (card or QR) and when, newest first (from my access events)."""
    events = db.scalars(
        select(audit.AccessEvent)
        .where(
            audit.AccessEvent.subject == user.subject,
            audit.AccessEvent.action.in_((service.LOGIN_ACTION, proxy.SWITCH)),
        )
        .order_by(audit.AccessEvent.occurred_at.desc(), audit.AccessEvent.id.desc())
        .limit(LOGIN_HISTORY_LIMIT)
    )
    rows = [{**jst(e.occurred_at), "method": _login_method(e)} for e in events]
    return render(request, "portal/logins.html", {"rows": rows, "method_names": METHOD_NAMES, "user": user})
