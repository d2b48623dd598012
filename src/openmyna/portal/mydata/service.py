"""Menu B, わたしの情報: the portal asks the agencies over the exchange network, as any agency would.

The portal is an organisation (``mynaportal``, a platform operator) with its own agency-specific code
for the person, and the exchange table's ``self_information`` rows let it ask the town for the
resident record and local tax and the pension office for pension data. Each question is therefore an
exchange recorded for both sides in the log, and shows up in menu A. The card and its certificates are
the platform's own records; reading them is an access event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.core import audit
from openmyna.core.crypto import KeyRing
from openmyna.jpki import service as jpki
from openmyna.network import enrolment
from openmyna.network import service as network
from openmyna.network.models import CodeLink
from openmyna.network.providers import Provider
from openmyna.network.table import ExchangeTable
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry

PORTAL_ORG = "mynaportal"
BUSINESS = "self_information"
CARD_ACTION = "portal.mydata.card"
ASKS = (("municipality", "resident_record"), ("municipality", "local_tax"))
PENSION_ASKS = (("pension_office", "pension_benefit"), ("pension_office", "pension_enrolment"))


@dataclass(frozen=True)
class Fetched:
    item: str
    provider: str
    result: str  # answered | no_data | refused
    data: dict[str, Any] | None
    reason: str = ""


def ensure_portal(session: Session, *, keys: KeyRing) -> None:
    """The portal's own organisation (seeded by ``openmyna seed``; made here for an older database)."""
    if session.scalar(select(orgs.Organisation.code).where(orgs.Organisation.code == PORTAL_ORG)) is None:
        orgs.add_organisation(
            session, keys=keys, code=PORTAL_ORG, name="マイナポータル", kind="platform_operator", custodial=True
        )


def portal_code(session: Session, *, keys: KeyRing, link: bytes) -> str:
    """The portal's agency-specific code for the person (obtained once, recorded as any agency's is)."""
    code = network.code_for(keys, agency=PORTAL_ORG, link=link)
    known = session.scalar(select(CodeLink.id).where(CodeLink.agency == PORTAL_ORG, CodeLink.code == code))
    if known is None:
        enrolment.enrol(
            session,
            keys=keys,
            agency=PORTAL_ORG,
            people=[enrolment.Enrolee(link)],
            purpose="code obtained for わたしの情報 (menu B)",
        )
    return code


def _pension_office(session: Session) -> str | None:
    offices = select(orgs.Organisation.code).where(orgs.Organisation.kind == "pension_office")
    return session.scalar(offices.order_by(orgs.Organisation.code))


def fetch(
    session: Session, *, keys: KeyRing, table: ExchangeTable, providers: dict[str, Provider], resident_id: int
) -> list[Fetched]:
    """Ask every agency for my data over the network; each question is an exchange recorded in the log."""
    ensure_portal(session, keys=keys)
    resident = registry.find_resident(session, resident_id=resident_id)
    if resident is None:
        return []
    # The hub's link, as the town's enrolment made it (the registry's lookup index may be of a newer key).
    link = enrolment.person_link(keys, registry.my_number_of(keys, resident))
    code = portal_code(session, keys=keys, link=link)
    pension = _pension_office(session)
    asks = [(resident.municipality_code, item) for _kind, item in ASKS]
    asks += [(pension, item) for _kind, item in PENSION_ASKS if pension]
    found = []
    for provider, item in asks:
        outcome = network.ask(
            session,
            keys=keys,
            table=table,
            requester=PORTAL_ORG,
            providers=providers,
            query=network.Query(BUSINESS, provider, item, code, "わたしの情報"),
        )
        if isinstance(outcome, network.Refused):
            found.append(Fetched(item, provider, "refused", None, outcome.error.detail))
        else:
            found.append(Fetched(item, provider, outcome.result, outcome.data))
    return found


def card_status(session: Session, *, resident_id: int, subject: str, actor: str | None = None) -> list[dict[str, Any]]:
    """My cards and their certificates' status, from the platform's own records (an access event)."""
    rows = []
    for card in cards.list_cards(session, resident_id=resident_id, limit=20):
        certificates = []
        for kind in ("auth", "sign"):
            serial = getattr(card, f"{kind}_serial")
            if serial:
                row = jpki.certificate(session, serial=serial)
                certificates.append(
                    {"kind": kind, "status": row.status, "not_after": jpki.aware(row.not_after).date().isoformat()}
                )
        rows.append(
            {
                "id": card.id,
                "state": card.state,
                "expires_on": card.expires_on.isoformat() if card.expires_on else "",
                "certificates": certificates,
            }
        )
    audit.record_access(session, subject=subject, actor_org="portal", actor=actor or subject, action=CARD_ACTION)
    return rows
