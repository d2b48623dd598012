"""民間送達: delivery services receive copies of a resident's notices, per kind, only with consent.

A delivery service is an organisation of kind ``delivery`` (scope ``notices:deliver``). The resident
chooses, per service, which kinds of notice it may receive; consent can be withdrawn at any time, after
which the service receives nothing more of that kind. A service receives only notices that arrived
while the consent stood (from the moment it was given), each copy once. Every copy handed over is a
row the resident sees on the delivery page and an access event of the person.

The service knows the person only by a reference of its own (an HMAC of the pseudonym keyed by the
platform and the service's code), shown to the resident on the consent page so they can link it to
their account at the service; two services cannot join their references.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from openmyna.core import audit
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import Forbidden, InvalidInput, NotFound
from openmyna.orgs.models import Organisation
from openmyna.orgs.service import Caller
from openmyna.portal.notices.models import NOTICE_KINDS, Delivery, DeliveryConsent, Notice, NoticeMessage
from openmyna.portal.notices.service import now_utc

DELIVERY_KIND = "delivery"
DELIVER_SCOPE = "notices:deliver"
DELIVERED_ACTION = "notice.delivered"
CONSENT_ACTION = "notice.delivery-consent"


class DeliveryServiceNotFound(NotFound):
    slug = "delivery-service-not-found"
    title_ja = "送達事業者が見つかりません"
    title_en = "Delivery service not found"


@dataclass(frozen=True)
class ServiceChoice:
    """A delivery service as the consent page shows it, with the kinds the resident allows now."""

    code: str
    name: str
    name_en: str
    reference: str
    kinds: frozenset[str]


def recipient_reference(keys: KeyRing, *, org_code: str, subject: str) -> str:
    """The person's reference at one delivery service (pairwise: unlinkable across services)."""
    return keys.mac("notice-delivery-recipient/v1", f"{org_code}|{subject}".encode()).hex()[:24]


def delivery_services(session: Session) -> list[Organisation]:
    query = select(Organisation).where(Organisation.kind == DELIVERY_KIND, Organisation.active.is_(True))
    return list(session.scalars(query.order_by(Organisation.code)))


def _service(session: Session, code: str) -> Organisation:
    found = session.scalar(
        select(Organisation).where(
            Organisation.code == code, Organisation.kind == DELIVERY_KIND, Organisation.active.is_(True)
        )
    )
    if found is None:
        raise DeliveryServiceNotFound(f"no delivery service {code}")
    return found


def _active(session: Session, *, subject: str, org_code: str | None = None) -> list[DeliveryConsent]:
    query = select(DeliveryConsent).where(DeliveryConsent.subject == subject, DeliveryConsent.withdrawn_at.is_(None))
    if org_code is not None:
        query = query.where(DeliveryConsent.org_code == org_code)
    return list(session.scalars(query))


def choices(session: Session, *, keys: KeyRing, subject: str) -> list[ServiceChoice]:
    """Every delivery service, each with the resident's reference there and the kinds allowed now."""
    allowed: dict[str, set[str]] = {}
    for consent in _active(session, subject=subject):
        allowed.setdefault(consent.org_code, set()).add(consent.kind)
    return [
        ServiceChoice(
            code=org.code,
            name=org.name,
            name_en=org.name_en,
            reference=recipient_reference(keys, org_code=org.code, subject=subject),
            kinds=frozenset(allowed.get(org.code, ())),
        )
        for org in delivery_services(session)
    ]


def set_consent(session: Session, *, subject: str, org_code: str, kinds: set[str]) -> tuple[set[str], set[str]]:
    """Make ``kinds`` exactly the kinds ``org_code`` may receive: ``(granted, withdrawn)``, each an access event."""
    unknown = kinds - set(NOTICE_KINDS)
    if unknown:
        raise InvalidInput(f"unknown notice kinds {', '.join(sorted(unknown))}")
    _service(session, org_code)
    now = now_utc()
    current = {consent.kind: consent for consent in _active(session, subject=subject, org_code=org_code)}
    granted = kinds - current.keys()
    withdrawn = current.keys() - kinds
    for kind in sorted(granted):
        session.add(DeliveryConsent(subject=subject, org_code=org_code, kind=kind, granted_at=now))
    for kind in withdrawn:
        current[kind].withdrawn_at = now
    for verb, changed in (("grant", granted), ("withdraw", withdrawn)):
        if changed:
            audit.record_access(
                session,
                subject=subject,
                actor_org="portal",
                actor=subject,
                action=CONSENT_ACTION,
                purpose=f"{verb}:{org_code}:{','.join(sorted(changed))}",
            )
    return granted, set(withdrawn)


def fetch(session: Session, *, keys: KeyRing, caller: Caller, limit: int) -> list[dict[str, object]]:
    """Hand the calling service its next copies (oldest first), each recorded as a delivery and an access event."""
    if not caller.allows(DELIVER_SCOPE):
        raise Forbidden(f"{caller.actor} lacks the scope {DELIVER_SCOPE}", required_scope=DELIVER_SCOPE)
    org_code = caller.org_code
    query = (
        select(Notice, NoticeMessage, DeliveryConsent.id)
        .join(NoticeMessage, NoticeMessage.id == Notice.message_id)
        .join(
            DeliveryConsent,
            and_(
                DeliveryConsent.subject == Notice.subject,
                DeliveryConsent.org_code == org_code,
                DeliveryConsent.kind == NoticeMessage.kind,
                DeliveryConsent.withdrawn_at.is_(None),
                Notice.created_at >= DeliveryConsent.granted_at,
            ),
        )
        .outerjoin(Delivery, and_(Delivery.notice_id == Notice.id, Delivery.org_code == org_code))
        .where(Delivery.id.is_(None))
        .order_by(Notice.id)
        .limit(limit)
    )
    now = now_utc()
    copies: list[dict[str, object]] = []
    for notice, message, consent_id in session.execute(query).all():
        delivery = Delivery(
            notice_id=notice.id, subject=notice.subject, org_code=org_code, consent_id=consent_id, delivered_at=now
        )
        session.add(delivery)
        session.flush()
        audit.record_access(
            session,
            subject=notice.subject,
            actor_org=org_code,
            actor=caller.actor,
            action=DELIVERED_ACTION,
            purpose=f"notice:{notice.id}",
        )
        copies.append(
            {
                "delivery_id": delivery.id,
                "recipient": recipient_reference(keys, org_code=org_code, subject=notice.subject),
                "kind": message.kind,
                "sender": message.sender_org,
                "title": message.title,
                "body": message.body,
                "due_date": message.due_date,
                "sent_at": notice.created_at,
            }
        )
    return copies


def deliveries_of(session: Session, *, subject: str, limit: int = 100) -> list[tuple[Delivery, NoticeMessage, str]]:
    """Every copy handed to a service, newest first, with the notice's message and the service's name."""
    query = (
        select(Delivery, NoticeMessage, Organisation.name)
        .join(Notice, Notice.id == Delivery.notice_id)
        .join(NoticeMessage, NoticeMessage.id == Notice.message_id)
        .join(Organisation, Organisation.code == Delivery.org_code)
        .where(Delivery.subject == subject)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    return [(d, m, name) for d, m, name in session.execute(query).all()]
