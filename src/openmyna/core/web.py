"""Request plumbing shared by every domain: the unit of work, settings, keys, templates and CSRF."""

from __future__ import annotations

import functools
import hmac
import inspect
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from openmyna.core import i18n, sessions
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import DomainError, Forbidden
from openmyna.core.sqlite import WriterBusy

TEMPLATE_PACKAGES = (
    "core",
    "orgs",
    "registry",
    "corporate",
    "card",
    "portal",
    "eservice",
    "health",
    "carduses",
    "kiosk",
    "app",
)
LANGUAGE_COOKIE = "lang"


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's unit of work; :class:`UnitOfWorkRoute` commits it at the end of the handler.

    Async, because making a session does no I/O (it connects on its first statement): a sync generator
    dependency cost two threadpool calls a request, one to enter and one to leave. The endpoint's own call
    (``_in_one_call``) commits or rolls back and closes the session in the thread that used it; only a
    session an endpoint left open is finished here, off the event loop.
    """
    session: Session = request.app.state.session_factory()
    try:
        yield session
    except BaseException:
        await _finish(session, commit=False)
        raise
    await _finish(session, commit=True)


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A read-only unit of work: it never takes the database's writer (see ``core.sqlite``)."""
    session: Session = request.app.state.read_session_factory()
    try:
        yield session
    finally:
        await _finish(session, commit=False)


async def _finish(session: Session, *, commit: bool) -> None:
    if not session.in_transaction():
        session.close()  # nothing held: no I/O
        return

    def finish() -> None:
        try:
            if commit:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()

    await run_in_threadpool(finish)


def _lock_timeout(error: OperationalError) -> bool:
    """SQLite's "database is locked" or PostgreSQL's lock_timeout (SQLSTATE 55P03)."""
    return "database is locked" in str(error.orig) or getattr(error.orig, "sqlstate", None) == "55P03"


def _in_one_call(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Run a sync endpoint so that its sessions' transactions end in the thread that began them.

    FastAPI runs a sync endpoint in one threadpool call and then serialises the response in another;
    committing only when the dependency exits would hold the writer (and PostgreSQL's row locks) while
    waiting for a free thread, which the queued writers occupy: the pool would wait on itself. So the
    sessions handed to the endpoint are committed (or rolled back) and closed before it returns; what is
    serialised afterwards is plain data, and touching the database then fails loudly.
    """

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        sessions = [value for value in kwargs.values() if isinstance(value, Session)]
        try:
            result = endpoint(*args, **kwargs)
            for session in sessions:
                session.commit()
            return result
        except OperationalError as error:
            for session in sessions:
                session.rollback()
            if _lock_timeout(error):
                raise WriterBusy(
                    "the database stayed locked for longer than a request may wait", retry_after=1
                ) from error
            raise
        except BaseException:
            for session in sessions:
                session.rollback()
            raise
        finally:
            for session in sessions:
                session.close()

    return run


class UnitOfWorkRoute(APIRoute):
    """Every router's route class: a sync endpoint's transaction begins and ends in one call (see ``_in_one_call``)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _in_one_call(endpoint)
        super().__init__(path, endpoint, **kwargs)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_keys(request: Request) -> KeyRing:
    return request.app.state.keys


DbSession = Annotated[Session, Depends(get_session)]
ReadSession = Annotated[Session, Depends(get_read_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Keys = Annotated[KeyRing, Depends(get_keys)]


def language(request: Request) -> str:
    return i18n.pick_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE))


Language = Annotated[str, Depends(language)]


def build_templates() -> Jinja2Templates:
    """One Jinja2 environment over every package's ``templates/`` folder."""
    env = Environment(
        loader=ChoiceLoader([PackageLoader(f"openmyna.{name}", "templates") for name in TEMPLATE_PACKAGES]),
        autoescape=select_autoescape(["html"]),
    )
    env.filters["era"] = i18n.era_date
    env.globals["format_date"] = i18n.format_date
    return Jinja2Templates(env=env)


def csrf_token(request: Request) -> str:
    """The CSRF token of the server-side session; before login, one kept in the signed cookie (synchroniser token)."""
    active = sessions.current(request)
    if active is not None:
        return active.csrf
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    active = sessions.current(request)
    expected = active.csrf if active is not None else request.session.get("csrf")
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden("The form's CSRF token is missing or does not match this session; reload the page.")


def render(request: Request, template: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    """Render a page in the visitor's language; ``?lang=`` also sets the language cookie."""
    lang = language(request)
    other = "en" if lang == "ja" else "ja"

    def t(key: str) -> str:
        return i18n.translate(key, lang)

    templates: Jinja2Templates = request.app.state.templates
    active = sessions.current(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": t,
            "csrf_token": csrf_token(request),
            "staff": active.data if active is not None and active.kind == "staff" else None,
            "switch_url": str(request.url.include_query_params(lang=other)),
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
    return response


def render_error(request: Request, error: DomainError) -> HTMLResponse:
    """A domain error as a page in the visitor's language, for people rather than programs."""
    lang = language(request)
    title = error.title_en if lang == "en" else error.title_ja
    return render(request, "error.html", {"title": title, "detail": error.detail}, status_code=error.status)


@dataclass(frozen=True)
class FieldError:
    """One problem of a submitted form: the field's id (empty for the form as a whole) and what is wrong."""

    field: str
    message: str


def form_errors(error: ValidationError | DomainError, lang: str) -> list[FieldError]:
    """What a form's schema or a service refused, as messages for the page (Japanese first, field by field).

    Schema errors are named by their pydantic type (``form.error.<type>`` in the catalogue, else pydantic's own
    text); a domain error by the ``field`` it carries, with its detail.
    """
    if isinstance(error, DomainError):
        field = str(error.extensions.get("field") or "").rsplit(".", 1)[-1]
        title = error.title_en if lang == "en" else error.title_ja
        return [FieldError(field, f"{title}: {error.detail}")]
    problems = []
    for item in error.errors(include_url=False):
        field = str(item["loc"][-1]) if item["loc"] else ""
        key = f"form.error.{item['type']}"
        text = i18n.translate(key, lang)
        problems.append(FieldError(field, item["msg"] if text == key else text))
    return problems
