"""Request plumbing shared by every domain: the unit of work, settings, keys, templates and CSRF."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from openmyna.core import i18n
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import DomainError, Forbidden

TEMPLATE_PACKAGES = ("core", "orgs", "registry", "corporate", "card", "app")
LANGUAGE_COOKIE = "lang"


def get_session(request: Request) -> Iterator[Session]:
    """The request owns one unit of work: committed after the handler returns, rolled back on error."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_keys(request: Request) -> KeyRing:
    return request.app.state.keys


DbSession = Annotated[Session, Depends(get_session)]
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
    """The session's CSRF token, created on first use (synchroniser-token pattern)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden("The form's CSRF token is missing or does not match this session; reload the page.")


def render(request: Request, template: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    """Render a page in the visitor's language; ``?lang=`` also sets the language cookie."""
    lang = language(request)
    other = "en" if lang == "ja" else "ja"

    def t(key: str) -> str:
        return i18n.translate(key, lang)

    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": t,
            "csrf_token": csrf_token(request),
            "staff": request.session.get("staff"),
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
