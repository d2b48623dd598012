"""The OAuth2 token endpoint (client credentials + private_key_jwt) and the organisation directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import JSONResponse

from openmyna.core.validation import SafeText
from openmyna.core.web import AppSettings, DbSession, Keys, UnitOfWorkRoute
from openmyna.orgs import service
from openmyna.orgs.dependencies import CurrentCaller
from openmyna.orgs.schemas import OrganisationOut, TokenResponse

router = APIRouter(route_class=UnitOfWorkRoute, tags=["organisations"])


@router.post("/oauth/token", response_model=TokenResponse)
def token(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    keys: Keys,
    grant_type: Annotated[str, Form()],
    client_assertion_type: Annotated[str | None, Form()] = None,
    client_assertion: Annotated[str | None, Form()] = None,
    # Checked by the service, so a client id no client has is RFC 6749's invalid_client (401), not a 422.
    client_id: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """Exchange a signed client assertion (RFC 7523) for a short-lived access token."""
    if grant_type != "client_credentials":
        raise service.OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported")
    audiences = {settings.token_endpoint, str(request.url)}
    body = service.exchange_client_assertion(
        session,
        keys=keys,
        client_id=client_id,
        assertion_type=client_assertion_type,
        assertion=client_assertion,
        requested_scope=scope,
        audiences=audiences,
        issuer=settings.base_url,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _out(org: service.Organisation) -> OrganisationOut:
    return OrganisationOut(
        code=org.code,
        name=org.name,
        name_en=org.name_en,
        kind=org.kind,
        scopes=org.scopes.split(),
        public_key_pem=org.public_key_pem,
    )


@router.get("/api/orgs", response_model=list[OrganisationOut])
def list_organisations(session: DbSession, _caller: CurrentCaller) -> list[OrganisationOut]:
    """The registered organisations with their roles and public keys."""
    return [_out(org) for org in service.list_organisations(session)]


@router.get("/api/orgs/{code}", response_model=OrganisationOut)
def get_organisation(code: Annotated[SafeText, Path(max_length=32)], session: DbSession) -> OrganisationOut:
    """One organisation's public record (anyone may fetch a public key)."""
    return _out(service.get_organisation(session, code))
