"""The OpenID provider's rules: linked sites, remembered consent, single-use codes, access tokens, userinfo.

Plain functions over a Session (the request owns the unit of work). Every token issued and every userinfo
read is an access event of the person; the claims themselves come from the registry through its service.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import InvalidInput, NotFound
from openmyna.core.timefmt import as_utc
from openmyna.core.validation import unsafe_character
from openmyna.numbers.protection import pairwise_subject
from openmyna.orgs import service as orgs
from openmyna.portal.oidc.claims import released_claims
from openmyna.portal.oidc.models import AccessToken, AuthorizationCode, Consent, RelyingParty
from openmyna.registry import service as registry

LINKED_SITE_KIND = "linked_site"
CODE_LIFETIME = dt.timedelta(seconds=60)
MAX_URI_LENGTH = 2000


class InvalidClientMetadata(InvalidInput):
    """A linked site's registration was refused (a name or redirect URI that cannot be used)."""

    slug = "oidc-invalid-client-metadata"
    title_ja = "連携サイトを登録できません"
    title_en = "The linked site cannot be registered"


class LinkedSiteNotFound(NotFound):
    slug = "oidc-linked-site-not-found"
    title_ja = "連携サイトが見つかりません"
    title_en = "No such linked site"


@dataclass(frozen=True)
class EndUser:
    """The resident an authorization is for, as the grant sees them (plain values)."""

    resident_id: int
    subject: str
    auth_time: dt.datetime
    method: str


@dataclass(frozen=True)
class NewRelyingParty:
    client_id: str
    client_secret: str


def utc_now() -> dt.datetime:
    return clock.now().astimezone(dt.UTC)  # one zone on both databases: SQLite keeps no offset


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _checked_uri(uri: str, *, field: str) -> str:
    parts = urlsplit(uri)
    problem = unsafe_character(uri)
    if problem or len(uri) > MAX_URI_LENGTH or " " in uri:
        raise InvalidClientMetadata(f"{field}: not a usable URI ({problem or 'too long or contains a space'})")
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment or parts.username:
        raise InvalidClientMetadata(f"{field}: {uri!r} must be an absolute http(s) URI without fragment or user")
    return uri


def register_relying_party(
    session: Session,
    *,
    keys: KeyRing,
    name: str,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str] = (),
    client_id: str | None = None,
    client_secret: str | None = None,
) -> NewRelyingParty:
    """Register a linked site: an organisation of kind ``linked_site`` and its OpenID Connect client.

    Every redirect URI must share one host, the sector of its pairwise subjects. Without post-logout URIs,
    the origin (``scheme://host[:port]/``) of each redirect URI is registered for RP-initiated logout.
    """
    name = name.strip()
    if not name or len(name) > 200 or unsafe_character(name):
        raise InvalidClientMetadata("the name must be 1–200 characters of plain text")
    if not redirect_uris:
        raise InvalidClientMetadata("give at least one redirect URI")
    uris = [_checked_uri(uri, field="redirect_uri") for uri in dict.fromkeys(redirect_uris)]
    hosts = {urlsplit(uri).hostname for uri in uris}
    if len(hosts) != 1:
        raise InvalidClientMetadata(f"every redirect URI must share one host (the pairwise sector), got {hosts}")
    logout = [_checked_uri(uri, field="post_logout_redirect_uri") for uri in dict.fromkeys(post_logout_redirect_uris)]
    if not logout:
        logout = list(dict.fromkeys(f"{urlsplit(uri).scheme}://{urlsplit(uri).netloc}/" for uri in uris))
    client_id = client_id or "rp-" + secrets.token_hex(8)
    client_secret = client_secret or secrets.token_urlsafe(32)
    organisation = orgs.add_organisation(session, keys=keys, code=client_id, name=name, kind=LINKED_SITE_KIND)
    session.add(
        RelyingParty(
            client_id=client_id,
            organisation_id=organisation.organisation.id,
            name=name,
            secret_hash=digest(client_secret),
            redirect_uris=uris,
            post_logout_redirect_uris=logout,
            sector=hosts.pop() or "",
            created_at=utc_now(),
        )
    )
    session.flush()
    return NewRelyingParty(client_id, client_secret)


def find_relying_party(session: Session, client_id: str) -> RelyingParty | None:
    if not client_id or len(client_id) > 32 or unsafe_character(client_id):
        return None
    return session.scalar(select(RelyingParty).where(RelyingParty.client_id == client_id))


def list_relying_parties(session: Session) -> list[RelyingParty]:
    return list(session.scalars(select(RelyingParty).order_by(RelyingParty.client_id)))


def secret_matches(relying_party: RelyingParty, secret: str) -> bool:
    return hmac.compare_digest(relying_party.secret_hash, digest(secret))


def subject_for(keys: KeyRing, relying_party: RelyingParty, person: str) -> str:
    """The ``sub`` this linked site sees for ``person`` (pairwise by its sector)."""
    return pairwise_subject(keys, sector=relying_party.sector, person=person)


# Codes ------------------------------------------------------------------------------------------------


def save_code(
    session: Session,
    *,
    code: str,
    client_id: str,
    user: EndUser,
    redirect_uri: str,
    scope: str,
    nonce: str | None,
    code_challenge: str,
    code_challenge_method: str,
) -> None:
    now = utc_now()
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            client_id=client_id,
            resident_id=user.resident_id,
            subject=user.subject,
            redirect_uri=redirect_uri,
            scope=scope,
            nonce=nonce,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            auth_time=as_utc(user.auth_time),
            amr=["hwk", "pin"] if user.method in ("card", "qr") else [],
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )


def claim_code(session: Session, *, code: str, client_id: str) -> AuthorizationCode | None:
    """Spend a code once, atomically; a code presented again revokes every token issued from it (RFC 6749 §4.1.2).

    Expired, unknown or another client's codes give None, as does a second use.
    """
    now = utc_now()
    spent = session.scalar(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.code_hash == digest(code),
            AuthorizationCode.client_id == client_id,
            AuthorizationCode.used_at.is_(None),
            AuthorizationCode.expires_at > now,
        )
        .values(used_at=now)
        .returning(AuthorizationCode)
    )
    if spent is not None:
        return spent
    replayed = session.scalar(
        select(AuthorizationCode).where(
            AuthorizationCode.code_hash == digest(code),
            AuthorizationCode.client_id == client_id,
            AuthorizationCode.used_at.is_not(None),
        )
    )
    if replayed is not None:
        revoked = session.scalars(
            update(AccessToken)
            .where(AccessToken.code_id == replayed.id, AccessToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(AccessToken.id)
        ).all()
        audit.record_access(
            session,
            subject=replayed.subject,
            actor_org=client_id,
            actor=f"oidc:{client_id}",
            action="oidc.code_replayed",
            purpose=f"revoked {len(revoked)} token(s)",
        )
    return None


def nonce_used(session: Session, *, client_id: str, nonce: str) -> bool:
    """Whether a code was already issued to this linked site with this nonce (a replayed request)."""
    found = session.scalar(
        select(AuthorizationCode.id).where(AuthorizationCode.client_id == client_id, AuthorizationCode.nonce == nonce)
    )
    return found is not None


def purge_expired(session: Session, *, grace: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Delete codes and access tokens that expired more than ``grace`` ago; how many rows went.

    A spent code is kept past its token's lifetime, so a replay still finds it and revokes what it issued.
    """
    cutoff = utc_now() - grace
    codes = session.execute(delete(AuthorizationCode).where(AuthorizationCode.expires_at < cutoff)).rowcount
    tokens = session.execute(delete(AccessToken).where(AccessToken.expires_at < cutoff)).rowcount
    return int(codes or 0) + int(tokens or 0)


# Tokens -----------------------------------------------------------------------------------------------


def issue_token(session: Session, *, access_token: str, code: AuthorizationCode, expires_in: int) -> None:
    """Store an access token issued from ``code``; the issuance is an access event of the person."""
    now = utc_now()
    session.add(
        AccessToken(
            token_hash=digest(access_token),
            client_id=code.client_id,
            resident_id=code.resident_id,
            subject=code.subject,
            scope=code.scope,
            code_id=code.id,
            issued_at=now,
            expires_at=now + dt.timedelta(seconds=expires_in),
        )
    )
    session.execute(
        update(Consent)
        .where(Consent.resident_id == code.resident_id, Consent.client_id == code.client_id)
        .values(last_used_at=now)
    )
    audit.record_access(
        session,
        subject=code.subject,
        actor_org=code.client_id,
        actor=f"oidc:{code.client_id}",
        action="oidc.token",
        purpose=code.scope,
    )


def token_owner(session: Session, *, access_token: str) -> AccessToken | None:
    """The live token ``access_token`` is (not expired, not revoked), or None."""
    return session.scalar(
        select(AccessToken).where(
            AccessToken.token_hash == digest(access_token),
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > utc_now(),
        )
    )


def userinfo(session: Session, *, keys: KeyRing, token: AccessToken) -> dict[str, Any]:
    """The claims the token's consented scopes release, read from the registry as an access of the linked site."""
    relying_party = find_relying_party(session, token.client_id)
    if relying_party is None:
        raise LinkedSiteNotFound(f"the linked site {token.client_id} is no longer registered")
    caller = orgs.Caller(org_code=token.client_id, actor=f"oidc:{token.client_id}", scopes=frozenset(), via="oidc")
    resident = registry.get_resident(
        session, resident_id=token.resident_id, caller=caller, purpose=f"oidc.userinfo: {token.scope}"
    )
    sub = subject_for(keys, relying_party, token.subject)
    return released_claims(resident, sub=sub, scope=token.scope)
