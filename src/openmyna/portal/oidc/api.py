"""The OpenID provider's machine endpoints: discovery, JWKS, token and userinfo.

They speak OAuth 2.0 / OpenID Connect (``error`` / ``error_description`` JSON, ``WWW-Authenticate``), which
relying-party libraries expect, so they stay out of the OpenAPI document; discovery describes them.
"""

from __future__ import annotations

from typing import Annotated, Any

from authlib.oauth2.rfc6749 import OAuth2Error
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from openmyna.core.web import AppSettings, DbSession, Keys, UnitOfWorkRoute
from openmyna.portal.oidc import server, service

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def form_pairs(request: Request) -> list[tuple[str, str]]:
    """A POST's form fields (read in the event loop, so the sync endpoint gets plain values)."""
    if request.method != "POST":
        return []
    form = await request.form()
    return [(name, value) for name, value in form.multi_items() if isinstance(value, str)]


FormPairs = Annotated[list[tuple[str, str]], Depends(form_pairs)]


@router.get("/.well-known/openid-configuration")
async def configuration(settings: AppSettings) -> JSONResponse:
    """OpenID Connect Discovery: where everything is and what is supported."""
    return JSONResponse(server.discovery(settings), headers={"Cache-Control": "max-age=300"})


@router.get("/oidc/jwks")
async def jwks(keys: Keys) -> JSONResponse:
    """The public key id_tokens are signed with."""
    return JSONResponse(server.jwks(keys), headers={"Cache-Control": "max-age=300"})


@router.post("/oidc/token")
def token(request: Request, form: FormPairs, session: DbSession, keys: Keys, settings: AppSettings) -> Response:
    """Code for tokens (client_secret_basic or client_secret_post, PKCE verifier); authlib validates it all."""
    provider = server.Provider(session=session, keys=keys, settings=settings)
    try:
        oauth_request = server.StarletteRequest(request, form)
    except OAuth2Error as error:
        return provider.handle_error_response(None, error)
    return provider.create_token_response(oauth_request)


def _bearer_error(description: str) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_token", "error_description": description},
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"', **NO_STORE},
    )


@router.api_route("/oidc/userinfo", methods=["GET", "POST"])
def userinfo(request: Request, form: FormPairs, session: DbSession, keys: Keys) -> Response:
    """The consented claims of the token's resident (RFC 6750 bearer in the header or, by POST, the form)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    access_token = credentials.strip() if scheme.lower() == "bearer" else dict(form).get("access_token", "")
    if not access_token or len(access_token) > 512:
        return _bearer_error("no bearer token")
    owner = service.token_owner(session, access_token=access_token)
    if owner is None:
        return _bearer_error("the access token is unknown, expired or revoked")
    claims: dict[str, Any] = service.userinfo(session, keys=keys, token=owner)
    return JSONResponse(claims, headers=NO_STORE)
