"""Organisations, OAuth2 client credentials with private_key_jwt (RFC 7523), and staff passwords."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwk, jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing, private_key_pem, public_key_pem
from openmyna.core.errors import Conflict, DomainError, InvalidInput, NotFound, Unauthorized
from openmyna.core.validation import unsafe_character
from openmyna.orgs.models import Organisation, SpentAssertion, StaffUser

ORG_KINDS = (
    "municipality",
    "ministry",
    "pension_office",
    "insurer",
    "medical_institution",
    "clearing_house",
    "kiosk_operator",
    "platform_operator",
    "linked_site",
    "employer",
    "shop",
    "delivery",
    "business",
    "organiser",
)
KIND_SCOPES: dict[str, tuple[str, ...]] = {
    "municipality": (
        "registry:read",
        "registry:write",
        "network:query",
        "card:read",
        "card:write",
        "corporate:write",
        "notices:send",
        "payments:request",
        "eservice:read",
    ),
    "ministry": ("network:query", "corporate:write", "notices:send", "payments:request", "gates:operate"),
    "pension_office": ("network:query", "notices:send", "payments:request", "eservice:read"),
    "insurer": ("network:query", "payments:request", "health:enrol"),
    "medical_institution": ("health:check",),  # a reception terminal asks for eligibility (オンライン資格確認)
    "clearing_house": (),  # answers eligibility for every insurer (支払基金等)
    "kiosk_operator": ("kiosk:request",),  # a store terminal asks the issuance centre
    "platform_operator": ("registry:read", "network:provide", "jpki:verify", "kiosk:route"),  # kiosk:route: the centre
    "linked_site": ("jpki:verify",),
    "employer": ("gates:operate",),  # registers employee IDs on cards and runs its gates
    "shop": (),
    "organiser": ("tickets:operate",),  # an event organiser: binds tickets to card holders, runs its venue doors
    "delivery": ("notices:deliver",),  # 民間送達: copies of notices the resident agreed to
    "business": ("ekyc:use",),  # a bank or phone company verifying customers through a platform operator
}
STAFF_ROLES: dict[str, tuple[str, ...]] = {
    "clerk": ("registry:read", "registry:write", "card:read", "card:write", "notices:send", "eservice:decide"),
    "viewer": ("registry:read",),
    "reception": ("health:check",),  # a medical institution's reception desk
    "guard": ("gates:operate",),  # an employer's building security: gates and employee IDs
    "usher": ("tickets:operate",),  # an event organiser's door staff (もぎり): the venue page
}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ACCESS_TOKEN_AUDIENCE = "openmyna"
_MAX_ASSERTION_LIFETIME = dt.timedelta(hours=1)
_hasher = PasswordHasher()
_ASSERTION_ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"]


class OAuthError(DomainError):
    """An RFC 6749 §5.2 error; the token endpoint renders ``error`` as the OAuth field too."""

    slug = "oauth"
    status = 400
    title_ja = "トークンを発行できません"
    title_en = "Token request refused"

    def __init__(self, error: str, detail: str, *, status: int = 400) -> None:
        super().__init__(detail, error=error, error_description=detail)
        self.error = error
        self.status = status  # type: ignore[misc]


@dataclass(frozen=True)
class Caller:
    """Who is calling: an organisation's system (token) or one of its staff (session)."""

    org_code: str
    actor: str
    scopes: frozenset[str]
    via: str

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class NewOrganisation:
    organisation: Organisation
    private_key_pem: bytes


def _custody_context(code: str) -> bytes:
    return f"orgs.custodial_key:{code}".encode()


def add_organisation(
    session: Session,
    *,
    keys: KeyRing,
    code: str,
    name: str,
    kind: str,
    name_en: str = "",
    scopes: tuple[str, ...] | None = None,
    custodial: bool = False,
    public_key: str | None = None,
) -> NewOrganisation:
    """Register an organisation; generate its P-256 key pair unless it brings its own public key.

    With ``custodial`` the platform keeps the private key sealed, for agencies hosted in this process.
    """
    if kind not in ORG_KINDS:
        raise InvalidInput(f"unknown organisation kind {kind!r}; expected one of {', '.join(ORG_KINDS)}")
    if not code or len(code) > 32 or not code.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput("an organisation code is 1–32 letters, digits, '-' or '_'")
    if session.scalar(select(Organisation.id).where(Organisation.code == code)) is not None:
        raise Conflict(f"organisation {code} already exists")
    granted = KIND_SCOPES[kind] if scopes is None else scopes
    unknown = set(granted) - set(KIND_SCOPES[kind])
    if unknown:
        raise InvalidInput(f"a {kind} may not hold the scopes {', '.join(sorted(unknown))}")
    private_pem = b""
    if public_key is None:
        private = ec.generate_private_key(ec.SECP256R1())
        private_pem = private_key_pem(private)
        public_pem = public_key_pem(private).decode()
    else:
        try:
            serialization.load_pem_public_key(public_key.encode())
        except ValueError as exc:
            raise InvalidInput(f"the public key is not a PEM SubjectPublicKeyInfo: {exc}") from exc
        public_pem = public_key
    organisation = Organisation(
        code=code,
        name=name,
        name_en=name_en,
        kind=kind,
        scopes=" ".join(granted),
        public_key_pem=public_pem,
        custodial_key=keys.seal(private_pem, context=_custody_context(code)) if custodial and private_pem else None,
        created_at=clock.now(),
    )
    session.add(organisation)
    session.flush()
    return NewOrganisation(organisation, private_pem)


def get_organisation(session: Session, code: str) -> Organisation:
    organisation = session.scalar(select(Organisation).where(Organisation.code == code))
    if organisation is None:
        raise NotFound(f"no organisation with code {code}")
    return organisation


def list_organisations(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.code)))


def custodial_private_key(keys: KeyRing, organisation: Organisation) -> bytes:
    if organisation.custodial_key is None:
        raise NotFound(f"the platform holds no private key for {organisation.code}")
    return keys.open(organisation.custodial_key, context=_custody_context(organisation.code))


def jose_key_type(pem: bytes) -> Literal["EC", "RSA", "OKP"]:
    """The JOSE key type of a PEM key, public or private."""
    try:
        key: object = serialization.load_pem_public_key(pem)
    except ValueError:
        key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return "EC"
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RSA"
    return "OKP"


def _verify_assertion(organisation: Organisation, assertion: str) -> dict[str, object]:
    try:
        key = jwk.import_key(organisation.public_key_pem, key_type=jose_key_type(organisation.public_key_pem.encode()))
        token = jwt.decode(assertion, key, algorithms=_ASSERTION_ALGORITHMS)
    except (JoseError, ValueError) as exc:
        raise OAuthError("invalid_client", f"client assertion signature does not verify: {exc}", status=401) from exc
    return dict(token.claims)


def exchange_client_assertion(
    session: Session,
    *,
    keys: KeyRing,
    client_id: str | None,
    assertion_type: str | None,
    assertion: str | None,
    requested_scope: str | None,
    audiences: set[str],
    issuer: str,
    ttl_seconds: int,
) -> dict[str, object]:
    """The client-credentials grant authenticated by private_key_jwt; returns the token response."""
    if assertion_type != ASSERTION_TYPE or not assertion:
        raise OAuthError(
            "invalid_client", f"client_assertion_type must be {ASSERTION_TYPE} with a client_assertion", status=401
        )
    try:
        unverified = json.loads(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError) as exc:
        raise OAuthError("invalid_client", f"client_assertion is not a JWT: {exc}", status=401) from exc
    if not isinstance(unverified, dict):
        raise OAuthError("invalid_client", "the client assertion's payload is not a JSON object", status=401)
    subject = client_id or str(unverified.get("iss", ""))
    if len(subject) > 64 or unsafe_character(subject) is not None:
        raise OAuthError("invalid_client", "the client id holds characters no client id has", status=401)
    organisation = session.scalar(select(Organisation).where(Organisation.code == subject))
    if organisation is None or not organisation.active:
        raise OAuthError("invalid_client", f"unknown or inactive client {subject!r}", status=401)
    claims = _verify_assertion(organisation, assertion)
    now = clock.now()
    if claims.get("iss") != organisation.code or claims.get("sub") != organisation.code:
        raise OAuthError("invalid_client", "iss and sub of the client assertion must both be the client_id", status=401)
    aud = claims.get("aud")
    aud_values = {aud} if isinstance(aud, str) else set(aud or [])  # type: ignore[arg-type]
    if not aud_values & audiences:
        raise OAuthError("invalid_client", f"aud must be the token endpoint ({sorted(audiences)[0]})", status=401)
    exp, jti = claims.get("exp"), claims.get("jti")
    if not isinstance(exp, int | float) or not isinstance(jti, str) or not jti:
        raise OAuthError("invalid_client", "the client assertion needs exp and jti", status=401)
    if isinstance(exp, bool) or not 0 < exp < 2**40 or len(jti) > 128 or unsafe_character(jti) is not None:
        raise OAuthError("invalid_client", "exp or jti of the client assertion is out of range", status=401)
    expires = dt.datetime.fromtimestamp(exp, dt.UTC)
    if expires <= now:
        raise OAuthError("invalid_client", "the client assertion has expired", status=401)
    if expires - now > _MAX_ASSERTION_LIFETIME:
        raise OAuthError("invalid_client", "the client assertion lives longer than one hour", status=401)
    session.execute(delete(SpentAssertion).where(SpentAssertion.expires_at < now))
    try:
        with session.begin_nested():
            session.add(SpentAssertion(client_id=organisation.code, jti=jti, expires_at=expires))
    except IntegrityError as exc:
        raise OAuthError("invalid_client", "this client assertion was already used (jti replay)", status=401) from exc
    allowed = set(organisation.scopes.split())
    wanted = set(requested_scope.split()) if requested_scope else allowed
    if not wanted <= allowed:
        raise OAuthError("invalid_scope", f"{organisation.code} may not have {', '.join(sorted(wanted - allowed))}")
    return issue_access_token(keys, org_code=organisation.code, scopes=wanted, issuer=issuer, ttl_seconds=ttl_seconds)


def issue_access_token(
    keys: KeyRing, *, org_code: str, scopes: set[str], issuer: str, ttl_seconds: int
) -> dict[str, object]:
    """A short-lived ES256 JWT access token that any process with the master key can verify."""
    now = int(clock.now().timestamp())
    claims = {
        "iss": issuer,
        "sub": org_code,
        "aud": ACCESS_TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": secrets.token_urlsafe(16),
        "scope": " ".join(sorted(scopes)),
    }
    token = jwt.encode({"alg": "ES256", "typ": "at+jwt"}, claims, _platform_key(keys))
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl_seconds, "scope": claims["scope"]}


@lru_cache(maxsize=8)
def _platform_key(keys: KeyRing) -> ECKey:
    return ECKey.import_key(private_key_pem(keys.platform_signing_key))


@lru_cache(maxsize=4096)
def _verified_claims(keys: KeyRing, token: str) -> tuple[str, frozenset[str], int]:
    """Signature and audience of a token, checked once per token (clients reuse a token for minutes)."""
    try:
        decoded = jwt.decode(token, _platform_key(keys), algorithms=["ES256"])
    except (JoseError, ValueError) as exc:
        raise Unauthorized("the access token is malformed or its signature does not verify") from exc
    claims = decoded.claims
    if claims.get("aud") != ACCESS_TOKEN_AUDIENCE:
        raise Unauthorized("the access token is not for this platform")
    exp = claims.get("exp")
    if not isinstance(exp, int):
        raise Unauthorized("the access token has no expiry")
    return str(claims["sub"]), frozenset(str(claims.get("scope", "")).split()), exp


def verify_access_token(keys: KeyRing, token: str) -> Caller:
    """Check signature, audience and expiry of an access token and return the caller it names."""
    subject, scopes, exp = _verified_claims(keys, token)
    if exp <= clock.now().timestamp():
        raise Unauthorized("the access token has expired; request a new one")
    return Caller(org_code=subject, actor=f"system:{subject}", scopes=scopes, via="token")


def token_subject(keys: KeyRing, token: str) -> str | None:
    """Whom a validly signed access token names, even if it has expired (to attribute a refusal)."""
    try:
        return str(jwt.decode(token, _platform_key(keys), algorithms=["ES256"]).claims.get("sub"))
    except (JoseError, ValueError):
        return None


def add_staff(
    session: Session, *, org_code: str, username: str, password: str, display_name: str, role: str
) -> StaffUser:
    if role not in STAFF_ROLES:
        raise InvalidInput(f"unknown staff role {role!r}; expected one of {', '.join(STAFF_ROLES)}")
    password_hash = hash_staff_password(password)
    organisation = get_organisation(session, org_code)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise Conflict(f"staff user {username} already exists")
    user = StaffUser(
        username=username,
        display_name=display_name,
        password_hash=password_hash,
        role=role,
        organisation=organisation,
    )
    session.add(user)
    session.flush()
    return user


def hash_staff_password(password: str) -> str:
    """The argon2id hash of a new staff password, which has at least 8 characters."""
    if len(password) < 8:
        raise InvalidInput("a staff password has at least 8 characters")
    return _hasher.hash(password)


def authenticate_staff(session: Session, *, username: str, password: str) -> StaffUser:
    """The staff user for these credentials, or :class:`Unauthorized` (same message either way)."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    failure = Unauthorized("the user name or password is wrong")
    if user is None or not user.active:
        _hasher.hash(password)  # spend the same time as a real check
        raise failure
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError) as exc:
        raise failure from exc
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def staff_caller(user: dict[str, str]) -> Caller:
    return Caller(
        org_code=user["org"],
        actor=f"staff:{user['username']}",
        scopes=frozenset(STAFF_ROLES.get(user["role"], ())),
        via="session",
    )
