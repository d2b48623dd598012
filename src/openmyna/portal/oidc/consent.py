"""The resident's consent to linked sites: remembered, widened, revoked, and what each site did with it.

Plain functions over a Session; revoking stops the site's tokens at once. The linked-sites page reads the
consents and the access events linked sites caused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from openmyna.core import audit
from openmyna.core.timefmt import as_utc
from openmyna.portal.oidc.claims import scope_list
from openmyna.portal.oidc.models import AccessToken, Consent, RelyingParty
from openmyna.portal.oidc.service import EndUser, LinkedSiteNotFound, find_relying_party, utc_now


@dataclass(frozen=True)
class LinkedSite:
    """One row of the resident's linked-sites page."""

    client_id: str
    name: str
    scopes: list[str]
    granted_at: dt.datetime
    last_used_at: dt.datetime | None


# Consent ----------------------------------------------------------------------------------------------


def _consent(session: Session, *, resident_id: int, client_id: str) -> Consent | None:
    return session.scalar(select(Consent).where(Consent.resident_id == resident_id, Consent.client_id == client_id))


def consent_covers(session: Session, *, resident_id: int, client_id: str, scope: str) -> bool:
    """Whether the resident's remembered (unrevoked) consent already includes every scope asked for."""
    consent = _consent(session, resident_id=resident_id, client_id=client_id)
    if consent is None or consent.revoked_at is not None:
        return False
    return set(scope_list(scope)) <= set(consent.scope.split())


def consent_active_since(session: Session, *, resident_id: int, client_id: str, instant: dt.datetime) -> bool:
    """Whether consent was given at or before ``instant`` and not revoked since (a code from before a revocation)."""
    consent = _consent(session, resident_id=resident_id, client_id=client_id)
    return consent is not None and consent.revoked_at is None and as_utc(consent.granted_at) <= as_utc(instant)


def grant_consent(session: Session, *, user: EndUser, client_id: str, scope: str) -> None:
    """Remember the resident's consent to these scopes (added to what was consented before, unless revoked)."""
    now = utc_now()
    asked = scope_list(scope)
    consent = _consent(session, resident_id=user.resident_id, client_id=client_id)
    if consent is None:
        session.add(
            Consent(
                resident_id=user.resident_id,
                subject=user.subject,
                client_id=client_id,
                scope=" ".join(asked),
                granted_at=now,
            )
        )
    else:
        kept = [] if consent.revoked_at is not None else consent.scope.split()
        consent.scope = " ".join(scope_list(" ".join(kept + asked)))
        consent.granted_at = now
        consent.revoked_at = None
    session.flush()
    audit.record_access(
        session, subject=user.subject, actor_org="portal", actor=user.subject, action="oidc.consent", purpose=client_id
    )


def revoke_consent(session: Session, *, resident_id: int, subject: str, client_id: str) -> None:
    """Withdraw consent from a linked site: its tokens stop working at once and the next login asks again."""
    known = find_relying_party(session, client_id)  # also refuses ids no column could hold
    consent = _consent(session, resident_id=resident_id, client_id=client_id) if known else None
    if consent is None or consent.revoked_at is not None:
        raise LinkedSiteNotFound(f"you have no consent to revoke for {client_id}")
    now = utc_now()
    consent.revoked_at = now
    session.execute(
        update(AccessToken)
        .where(
            AccessToken.resident_id == resident_id,
            AccessToken.client_id == client_id,
            AccessToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    audit.record_access(
        session, subject=subject, actor_org="portal", actor=subject, action="oidc.consent_revoked", purpose=client_id
    )


@dataclass(frozen=True)
class SiteAccess:
    """One thing a linked site did with the resident's data: a token issued, or the facts read."""

    occurred_at: dt.datetime
    client_id: str
    name: str
    action: str
    scope: str


def site_accesses(session: Session, *, subject: str, limit: int = 20) -> list[SiteAccess]:
    """The resident's access events caused by linked sites, newest first (what the linked-sites page shows)."""
    rows = session.execute(
        select(audit.AccessEvent, RelyingParty.name)
        .join(RelyingParty, RelyingParty.client_id == audit.AccessEvent.actor_org)
        .where(audit.AccessEvent.subject == subject, audit.AccessEvent.actor.startswith("oidc:"))
        .order_by(audit.AccessEvent.occurred_at.desc(), audit.AccessEvent.id.desc())
        .limit(limit)
    ).all()
    return [
        SiteAccess(
            occurred_at=as_utc(event.occurred_at),
            client_id=event.actor_org,
            name=name,
            action="userinfo" if event.action == "registry.read" else event.action.removeprefix("oidc."),
            scope=event.purpose.removeprefix("oidc.userinfo: "),
        )
        for event, name in rows
    ]


def linked_sites(session: Session, *, resident_id: int) -> list[LinkedSite]:
    """The linked sites the resident consented to and has not revoked, most recently granted first."""
    rows = session.execute(
        select(Consent, RelyingParty.name)
        .join(RelyingParty, RelyingParty.client_id == Consent.client_id)
        .where(Consent.resident_id == resident_id, Consent.revoked_at.is_(None))
        .order_by(Consent.granted_at.desc(), Consent.id.desc())
    ).all()
    return [
        LinkedSite(
            client_id=consent.client_id,
            name=name,
            scopes=consent.scope.split(),
            granted_at=as_utc(consent.granted_at),
            last_used_at=as_utc(consent.last_used_at) if consent.last_used_at else None,
        )
        for consent, name in rows
    ]
