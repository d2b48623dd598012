"""Two demo linked sites a person can click through: an e-Tax-like and a bank-like page.

Each is a real OpenID Connect client built with authlib's Starlette client: it reads the provider's discovery
document and keys over HTTP, sends PKCE (S256) and a nonce, checks the id_token, reads userinfo and logs out
through the end-session endpoint. It shares only the process with the provider, never its tables or keys:
its client secret is derived from the master key so the seeder and every process agree on it.

On a loopback demo the bank answers on ``localhost`` and e-Tax on ``127.0.0.1`` (the provider's host), so they
are two pairwise sectors and see two different ``sub`` values for the same person.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.core.headers import PAGE_POLICY
from openmyna.core.web import UnitOfWorkRoute, render
from openmyna.portal.oidc import service

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


@dataclass(frozen=True)
class DemoSite:
    key: str
    name: str
    name_en: str
    scope: str
    auth_method: str
    other_host: bool


SITES = {
    site.key: site
    for site in (
        DemoSite("etax", "e-Tax（デモ）", "e-Tax (demo)", "openid profile address", "client_secret_basic", False),
        DemoSite(
            "bank",
            "みらい銀行（デモ）",
            "Mirai Bank (demo)",
            "openid profile address birthdate gender",
            "client_secret_post",
            True,
        ),
    )
}


def client_id(site: DemoSite) -> str:
    return f"demo-{site.key}"


def client_secret(keys: KeyRing, site: DemoSite) -> str:
    return keys.mac("demo-rp/client-secret/v1", client_id(site).encode()).hex()


def site_base(settings: Settings, site: DemoSite) -> str:
    """Where the site is served: the bank on ``localhost`` when the platform is on 127.0.0.1 (its own sector)."""
    parts = urlsplit(settings.base_url.rstrip("/"))
    if site.other_host and parts.hostname == "127.0.0.1":
        parts = parts._replace(netloc=parts.netloc.replace("127.0.0.1", "localhost", 1))
    return urlunsplit(parts) + f"/demo-rp/{site.key}"


def registration(settings: Settings, keys: KeyRing, site: DemoSite) -> dict[str, Any]:
    """What the seeder registers for the site (``portal.oidc.service.register_relying_party`` arguments)."""
    base = site_base(settings, site)
    return {
        "name": site.name,
        "redirect_uris": [base + "/callback"],
        "post_logout_redirect_uris": [base],
        "client_id": client_id(site),
        "client_secret": client_secret(keys, site),
    }


def seed(session: Session, *, settings: Settings, keys: KeyRing) -> list[str]:
    """Register the demo sites for this base URL (again after a change of host or port); their client ids."""
    for site in SITES.values():
        wanted = registration(settings, keys, site)
        existing = service.find_relying_party(session, wanted["client_id"])
        if existing is None:
            service.register_relying_party(session, keys=keys, **wanted)
        elif existing.redirect_uris != wanted["redirect_uris"]:
            existing.redirect_uris = wanted["redirect_uris"]
            existing.post_logout_redirect_uris = wanted["post_logout_redirect_uris"]
            existing.sector = urlsplit(wanted["redirect_uris"][0]).hostname or ""
    return [client_id(site) for site in SITES.values()]


def _oauth(request: Request) -> OAuth:
    """One authlib client registry per application, made on first use."""
    app = request.app
    oauth: OAuth | None = getattr(app.state, "demo_rp_oauth", None)
    if oauth is None:
        settings: Settings = app.state.settings
        oauth = OAuth()
        for site in SITES.values():
            oauth.register(
                name=site.key,
                client_id=client_id(site),
                client_secret=client_secret(app.state.keys, site),
                server_metadata_url=settings.base_url.rstrip("/") + "/.well-known/openid-configuration",
                client_kwargs={
                    "scope": site.scope,
                    "code_challenge_method": "S256",
                    "token_endpoint_auth_method": site.auth_method,
                    "trust_env": False,
                },
            )
        app.state.demo_rp_oauth = oauth
    return oauth


def _site(request: Request, key: str) -> DemoSite | Response:
    """The site, or a redirect to where it is served (its own host), or a 404 page."""
    site = SITES.get(key)
    if site is None:
        return render(request, "error.html", {"title": "Not found", "detail": key}, status_code=404)
    home = site_base(request.app.state.settings, site)
    here = urlsplit(str(request.url))
    if urlsplit(home).netloc != here.netloc:
        target = urlsplit(home)._replace(path=here.path, query=here.query)
        return RedirectResponse(urlunsplit(target), status_code=302)
    return site


def _page(request: Request, site: DemoSite, *, status_code: int = 200, **context: Any) -> Response:
    session = request.session.get(f"demo_rp:{site.key}") or {}
    if "csrf" not in session:
        session = {**session, "csrf": secrets.token_urlsafe(16)}
        request.session[f"demo_rp:{site.key}"] = session
    page = render(
        request,
        "demorp/site.html",
        {"site": site, "user": session.get("userinfo"), "rp_csrf": session["csrf"], **context},
        status_code=status_code,
    )
    issuer = urlsplit(request.app.state.settings.base_url)
    # The logout form's redirect goes to the provider's origin, which form-action must allow.
    page.headers["Content-Security-Policy"] = PAGE_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {issuer.scheme}://{issuer.netloc}"
    )
    return page


@router.get("/demo-rp/{key}", response_class=HTMLResponse)
async def home(request: Request, key: str) -> Response:
    site = _site(request, key)
    return site if isinstance(site, Response) else _page(request, site)


@router.get("/demo-rp/{key}/login")
async def login(request: Request, key: str) -> Response:
    """Start the code flow: authlib makes the state, nonce and PKCE verifier and keeps them in this site's cookie."""
    site = _site(request, key)
    if isinstance(site, Response):
        return site
    redirect_uri = site_base(request.app.state.settings, site) + "/callback"
    client = _oauth(request).create_client(site.key)
    return await client.authorize_redirect(request, redirect_uri)  # type: ignore[no-any-return]


@router.get("/demo-rp/{key}/callback", response_class=HTMLResponse)
async def callback(request: Request, key: str) -> Response:
    """Code for tokens, id_token checked (signature, issuer, audience, nonce), then userinfo."""
    site = _site(request, key)
    if isinstance(site, Response):
        return site
    client = _oauth(request).create_client(site.key)
    try:
        token = await client.authorize_access_token(request)
        userinfo = dict(await client.userinfo(token=token))
    except OAuthError as error:
        return _page(request, site, error=f"{error.error}: {error.description or ''}", status_code=400)
    if userinfo.get("sub") != token["userinfo"]["sub"]:
        return _page(request, site, error="userinfo sub differs from the id_token's", status_code=400)
    request.session[f"demo_rp:{site.key}"] = {
        "csrf": secrets.token_urlsafe(16),
        "userinfo": userinfo,
        "id_token": token["id_token"],
    }
    return RedirectResponse(f"/demo-rp/{site.key}", status_code=303)


@router.post("/demo-rp/{key}/logout")
async def logout(request: Request, key: str, csrf: str = Form("")) -> Response:
    """Forget the visitor here, then ask the provider to end its session too (RP-initiated logout)."""
    site = _site(request, key)
    if isinstance(site, Response):
        return site
    state = request.session.pop(f"demo_rp:{site.key}", None) or {}
    if not state.get("csrf") or not secrets.compare_digest(state["csrf"], csrf) or "id_token" not in state:
        return RedirectResponse(f"/demo-rp/{site.key}", status_code=303)
    client = _oauth(request).create_client(site.key)
    return await client.logout_redirect(  # type: ignore[no-any-return]
        request,
        post_logout_redirect_uri=site_base(request.app.state.settings, site),
        id_token_hint=state["id_token"],
    )
