"""authlib's framework-independent authorization server, glued to Starlette requests and this domain's tables.

authlib does the protocol (request validation, redirect-URI and client checks, client_secret_basic and
client_secret_post, PKCE, nonce, the id_token with at_hash); this module supplies what it asks of a host:
where clients, codes and tokens live, how a response is sent, and the provider's signing key. A provider
is built per request around that request's session.
"""

from __future__ import annotations

import functools
import secrets
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, ClassVar

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.core.timefmt import as_utc
from openmyna.core.validation import unsafe_character
from openmyna.portal.oidc import consent, service
from openmyna.portal.oidc.claims import CLAIMS_SUPPORTED, SCOPES, scope_list
from openmyna.portal.oidc.models import AuthorizationCode, RelyingParty

ID_TOKEN_ALG = "ES256"
ID_TOKEN_LIFETIME_SECONDS = 600
MAX_NONCE_LENGTH = 255
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
PATHS = {
    "authorization_endpoint": "/oidc/authorize",
    "token_endpoint": "/oidc/token",
    "userinfo_endpoint": "/oidc/userinfo",
    "jwks_uri": "/oidc/jwks",
    "end_session_endpoint": "/oidc/logout",
}


@functools.lru_cache(maxsize=4)  # one key ring per application; the key never changes under it
def signing_jwk(keys: KeyRing) -> ECKey:
    """The provider's id_token key as a JWK, with its RFC 7638 thumbprint as ``kid`` (same in every process)."""
    key = ECKey.import_key(keys.oidc_signing_key)
    key.ensure_kid()
    return key


def jwks(keys: KeyRing) -> dict[str, Any]:
    """The public half of the signing key, as the jwks_uri serves it."""
    public = signing_jwk(keys).as_dict(private=False)
    return {"keys": [{**public, "use": "sig", "alg": ID_TOKEN_ALG}]}


def issuer(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def discovery(settings: Settings) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 §3 metadata, issuer = ``OPENMYNA_BASE_URL``."""
    base = issuer(settings)
    return {
        "issuer": base,
        **{name: base + path for name, path in PATHS.items()},
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": [ID_TOKEN_ALG],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "claim_types_supported": ["normal"],
        "claims_locales_supported": ["ja", "ja-Kana-JP"],
        "ui_locales_supported": ["ja", "en"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
    }


class _Payload(OAuth2Payload):
    """Query and form parameters of a request; the first value of each name, all values in ``datalist``."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in pairs:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class StarletteRequest(OAuth2Request):
    """A Starlette request as authlib reads it (its headers are already case-insensitive)."""

    def __init__(self, request: Request, form: list[tuple[str, str]]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._args = dict(request.query_params)
        self._form = dict(form)
        self.payload = _Payload([*request.query_params.multi_items(), *form])

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class Client(ClientMixin):
    """A linked site as authlib asks about it."""

    def __init__(self, relying_party: RelyingParty) -> None:
        self.row = relying_party
        self.client_id = relying_party.client_id
        self.client_metadata = {"post_logout_redirect_uris": list(relying_party.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # OpenID Connect requires redirect_uri in every request

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(scope_list(scope))  # unknown scopes are ignored (Core §5.4)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris  # exact match only

    def check_client_secret(self, client_secret: str) -> bool:
        return service.secret_matches(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class Code(AuthorizationCodeMixin):
    """A spent authorization code as authlib reads it."""

    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(as_utc(self.row.auth_time).timestamp())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return list(self.row.amr)


class S256Required(CodeChallenge):
    """PKCE is mandatory and only S256 is accepted (plain would send the verifier's equal in the clear)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(AuthorizationCodeGrant):
    """The authorization code grant over ``oidc_codes``: single use, 60 seconds, bound to consent."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)
    server: Provider

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        service.save_code(
            self.server.session,
            code=code,
            client_id=request.client.get_client_id(),
            user=request.user,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        row = service.claim_code(self.server.session, code=code, client_id=client.get_client_id())
        return Code(row) if row is not None else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Nothing to do: :func:`service.claim_code` spent it."""

    def authenticate_user(self, authorization_code: Code) -> service.EndUser | None:
        row = authorization_code.row
        if not consent.consent_active_since(
            self.server.session, resident_id=row.resident_id, client_id=row.client_id, instant=row.created_at
        ):
            return None  # consent revoked after the code was issued: invalid_grant
        return service.EndUser(row.resident_id, row.subject, as_utc(row.auth_time), "card" if row.amr else "")


class OpenIDExtension(OpenIDCode):
    """id_tokens signed ES256 with the provider's derived key; ``sub`` pairwise for the linked site's sector."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def validate_openid_authorization_request(self, grant: Any, redirect_uri: str) -> None:
        """A nonce is stored with its code: it must fit the column and be text every database keeps."""
        nonce = grant.request.payload.data.get("nonce") or ""
        if len(nonce) > MAX_NONCE_LENGTH or unsafe_character(nonce):
            raise InvalidRequestError(f"the nonce must be at most {MAX_NONCE_LENGTH} printable characters")
        super().validate_openid_authorization_request(grant, redirect_uri)

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return service.nonce_used(self.provider.session, client_id=request.payload.client_id, nonce=nonce)

    def resolve_client_private_key(self, client: Client) -> ECKey:
        return signing_jwk(self.provider.keys)

    def get_client_algorithm(self, client: Client) -> str:
        return ID_TOKEN_ALG

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": ID_TOKEN_ALG, "kid": signing_jwk(self.provider.keys).kid or "", "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = int(clock.now().timestamp())
        return {
            "iss": issuer(self.provider.settings),
            "aud": client.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME_SECONDS,
        }

    def generate_user_info(self, user: service.EndUser, scope: str) -> dict[str, str]:
        client: Client = self.provider.current_client
        return {"sub": service.subject_for(self.provider.keys, client.row, user.subject)}


class EndSession(EndSessionEndpoint):
    """RP-initiated logout's request checks (id_token_hint signature, registered post-logout URI)."""

    def get_server_jwks(self) -> dict[str, Any]:
        return jwks(self.server.keys)

    def get_algorithms(self) -> list[str]:
        return [ID_TOKEN_ALG]

    def end_session(self, end_session_request: Any) -> None:
        """Ending the portal session is the view's (it holds the cookie)."""


class Provider(AuthorizationServer):
    """The OpenID provider for one request: authlib's server over this request's session."""

    def __init__(self, *, session: Session, keys: KeyRing, settings: Settings) -> None:
        super().__init__(scopes_supported=None)
        self.session = session
        self.keys = keys
        self.settings = settings
        self.current_client: Client | None = None
        self.register_grant(CodeGrant, [S256Required(), OpenIDExtension(self)])
        self.register_token_generator("default", self._bearer)
        self.register_endpoint(EndSession)

    def query_client(self, client_id: str) -> Client | None:
        relying_party = service.find_relying_party(self.session, client_id)
        self.current_client = Client(relying_party) if relying_party is not None else None
        return self.current_client

    def _bearer(self, grant_type: str, client: Client, scope: str | None = None, **_: Any) -> dict[str, Any]:
        """An opaque bearer token (kept hashed by ``save_token``); no refresh tokens are issued."""
        return {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "expires_in": self.settings.access_token_ttl_seconds,
            "scope": scope,
        }

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        service.issue_token(
            self.session,
            access_token=token["access_token"],
            code=request.authorization_code.row,
            expires_in=token["expires_in"],
        )

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request  # the views build :class:`StarletteRequest` themselves (the form is read asynchronously)

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        """authlib's answer as a Starlette response; a redirect to the linked site names this issuer (RFC 9207)."""
        if status == 302:
            headers = [
                (name, add_params_to_uri(value, {"iss": issuer(self.settings)}) if name == "Location" else value)
                for name, value in headers
            ]
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body or b"", status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: every event worth keeping is an access event written by ``service``."""
