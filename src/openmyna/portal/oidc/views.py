"""The pages a resident sees: the authorization endpoint (login, consent), linked sites, RP-initiated logout.

An authorization request that names an unknown client or an unregistered redirect URI is answered with an
error page here, never with a redirect to that URI. Every other error goes back to the linked site as
RFC 6749 §4.1.2.1 says.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oidc.core.errors import ConsentRequiredError
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openmyna.core import clock, sessions
from openmyna.core.errors import Forbidden, InvalidInput
from openmyna.core.headers import PAGE_POLICY
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
from openmyna.portal.auth import service as portal_auth
from openmyna.portal.auth.dependencies import LOGIN_PAGE, REAUTH_PAGE, CurrentUser, OptionalUser
from openmyna.portal.auth.service import PortalUser
from openmyna.portal.oidc import consent, server, service
from openmyna.portal.oidc.api import FormPairs
from openmyna.portal.oidc.claims import SCOPES, scope_list
from openmyna.portal.oidc.server import Provider

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


class AuthorizationRefused(InvalidInput):
    """An authorization request that cannot be answered by redirecting to the linked site."""

    slug = "oidc-authorization-refused"
    title_ja = "連携サイトへのログイン要求を受け付けられません"
    title_en = "The linked site's login request cannot be accepted"


def needs_reauthentication(request: Request, user: PortalUser) -> bool:
    """Giving a linked site consent is a sensitive menu: the card must have been used within
    ``Settings.portal_reauth_seconds``, the window every sensitive menu shares (``portal.auth``)."""
    window = dt.timedelta(seconds=request.app.state.settings.portal_reauth_seconds)
    return not user.authenticated_within(window)


PROMPT_LOGIN_WINDOW = dt.timedelta(minutes=2)


def _login_too_old(user: PortalUser, data: dict[str, str]) -> bool:
    """``prompt=login`` or ``max_age`` (Core §3.1.2.1) ask for a card authentication fresher than the session's."""
    windows = []
    if "login" in data.get("prompt", "").split():
        windows.append(PROMPT_LOGIN_WINDOW)
    max_age = data.get("max_age", "")
    if max_age.isdigit() and len(max_age) <= 9:
        windows.append(dt.timedelta(seconds=int(max_age)))
    return any(not user.authenticated_within(window) for window in windows)


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _to_login(request: Request) -> Response:
    return RedirectResponse(f"{LOGIN_PAGE}?{urlencode({'next': _here(request)})}", status_code=303)


def _to_reauthentication(request: Request) -> Response:
    """The card again (``portal.auth``'s page), then back to this authorization request."""
    return RedirectResponse(f"{REAUTH_PAGE}?{urlencode({'next': _here(request)})}", status_code=303)


def _end_user(user: PortalUser | None) -> service.EndUser | None:
    if user is None:
        return None
    return service.EndUser(user.resident_id, user.subject, user.authenticated_at, user.method)


def _refused(request: Request, provider: Provider, error: OAuth2Error) -> Response:
    """Back to the linked site when its redirect URI is known good; otherwise an error page of our own."""
    if error.redirect_uri:
        return provider.handle_error_response(None, error)
    detail = error.description or error.error or "invalid request"
    return render_error(request, AuthorizationRefused(f"{error.error}: {detail}"))


def _consent_page(request: Request, grant: server.CodeGrant, scope: str) -> Response:
    client: server.Client = grant.request.client
    redirect = urlsplit(grant.request.payload.redirect_uri)
    context = {
        "site": client.row.name,
        "site_host": redirect.hostname,
        "scopes": [SCOPES[name] for name in scope_list(scope)],
        "action": _here(request),
    }
    page = render(request, "oidc/consent.html", context)
    # Allowing redirects to the linked site: Chromium applies form-action to a form's redirects too.
    origin = f"{redirect.scheme}://{redirect.netloc}"
    page.headers["Content-Security-Policy"] = PAGE_POLICY.replace("form-action 'self'", f"form-action 'self' {origin}")
    return page


@router.api_route("/oidc/authorize", methods=["GET", "POST"], response_class=HTMLResponse)
def authorize(
    request: Request,
    form: FormPairs,
    session: DbSession,
    keys: Keys,
    settings: AppSettings,
    user: OptionalUser,
) -> Response:
    """Authorization endpoint: login if needed, then remembered consent, or the consent page and its answer."""
    provider = Provider(session=session, keys=keys, settings=settings)
    try:
        oauth_request = server.StarletteRequest(request, form)
        grant = provider.get_consent_grant(oauth_request, end_user=_end_user(user))
        if "openid" not in scope_list(oauth_request.scope):
            raise InvalidScopeError(
                "this provider serves OpenID Connect: include the openid scope",
                redirect_uri=grant.redirect_uri,
                state=oauth_request.payload.state,
            )
    except OAuth2Error as error:
        return _refused(request, provider, error)
    except ValueError:  # authlib refuses to quote some characters of a bad parameter back in its description
        return render_error(request, AuthorizationRefused("the request's parameters cannot be used"))
    if request.method == "POST":
        fields = dict(form)
        try:
            check_csrf(request, fields.get("csrf"))
        except Forbidden as exc:
            return render_error(request, exc)
    if user is None:
        return _to_login(request)
    if _login_too_old(user, oauth_request.payload.data):
        return _to_reauthentication(request)
    end_user = _end_user(user)
    scope = oauth_request.scope
    client_id = grant.request.client.get_client_id()
    prompts = set(oauth_request.payload.data.get("prompt", "").split())
    remembered = consent.consent_covers(session, resident_id=user.resident_id, client_id=client_id, scope=scope)
    if request.method == "GET":
        if remembered and "consent" not in prompts:
            return provider.create_authorization_response(oauth_request, grant_user=end_user, grant=grant)
        if "none" in prompts:
            error = ConsentRequiredError(redirect_uri=grant.redirect_uri, state=oauth_request.payload.state)
            return provider.handle_error_response(None, error)
        if needs_reauthentication(request, user):
            return _to_reauthentication(request)
        return _consent_page(request, grant, scope)
    allowed = dict(form).get("decision") == "allow"
    if allowed and needs_reauthentication(request, user):
        return _to_reauthentication(request)
    if allowed:
        consent.grant_consent(session, user=end_user, client_id=client_id, scope=scope)  # type: ignore[arg-type]
    granted = end_user if allowed else None
    answer = provider.create_authorization_response(oauth_request, grant_user=granted, grant=grant)
    if answer.status_code == 302:
        answer.status_code = 303  # the browser follows a form's answer with a GET
    return answer


@router.get("/portal/linked-sites", response_class=HTMLResponse)
def linked_sites(request: Request, session: ReadSession, user: CurrentUser) -> Response:
    """The linked sites this resident let in, what each may read, and a way to take it back."""
    sites = consent.linked_sites(session, resident_id=user.resident_id)
    accesses = consent.site_accesses(session, subject=user.subject)
    context = {"sites": sites, "accesses": accesses, "scopes": SCOPES, "jst": clock.JST}
    return render(request, "oidc/linked_sites.html", context)


@router.post("/portal/linked-sites/{client_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, client_id: str, form: FormPairs, session: DbSession, user: CurrentUser) -> Response:
    """Withdraw consent: the site's tokens stop working and its next login asks again."""
    try:
        check_csrf(request, dict(form).get("csrf"))
        consent.revoke_consent(session, resident_id=user.resident_id, subject=user.subject, client_id=client_id)
    except (Forbidden, service.LinkedSiteNotFound) as exc:
        return render_error(request, exc)
    return RedirectResponse("/portal/linked-sites?revoked=1", status_code=303)


@router.api_route("/oidc/logout", methods=["GET", "POST"], response_class=HTMLResponse)
def logout(
    request: Request,
    form: FormPairs,
    session: DbSession,
    keys: Keys,
    settings: AppSettings,
    user: OptionalUser,
) -> Response:
    """RP-initiated logout: with a valid id_token_hint for this resident, end the portal session and go back.

    Without one (or for another person's token), the resident confirms on a page first (RP-Initiated Logout
    §6). The post-logout URI must be registered exactly; otherwise the resident stays here.
    """
    provider = Provider(session=session, keys=keys, settings=settings)
    try:
        ending = provider.validate_endpoint_request("end_session", server.StarletteRequest(request, form))
    except OAuth2Error as error:
        return render_error(request, AuthorizationRefused(f"{error.error}: {error.description or ''}"))
    except ValueError:
        return render_error(request, AuthorizationRefused("the logout request's parameters cannot be used"))
    hinted = ending.id_token_claims or {}
    client = ending.client
    matches = (
        user is not None
        and client is not None
        and hinted.get("sub") == service.subject_for(keys, client.row, user.subject)
    )
    if user is not None and not matches:
        if request.method == "GET":
            page = render(request, "oidc/logout.html", {"site": client.row.name if client else None})
            if ending.redirect_uri:
                target = urlsplit(ending.redirect_uri)
                origin = f"{target.scheme}://{target.netloc}"
                page.headers["Content-Security-Policy"] = PAGE_POLICY.replace(
                    "form-action 'self'", f"form-action 'self' {origin}"
                )
            return page
        try:
            check_csrf(request, dict(form).get("csrf"))
        except Forbidden as exc:
            return render_error(request, exc)
    token = request.session.get(sessions.COOKIE_KEY)
    if user is not None and isinstance(token, str):
        portal_auth.end(session, token=token)
    request.session.clear()
    if ending.redirect_uri:
        return RedirectResponse(ending.redirect_uri, status_code=303)
    return render(request, "oidc/logged_out.html", {})
