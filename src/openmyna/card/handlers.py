"""What the card does when the registry changes a holder's record (subscribed by ``openmyna.app.wiring``).

A name or address change revokes the SIGNING certificate (it carries those facts); the authentication
certificate stays. Death, or a move abroad, revokes the card and everything on it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.card import service
from openmyna.card.models import Card
from openmyna.jpki import service as jpki
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.events import ResidentFactsChanged, ResidentRemoved

PREFECTURES = (
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
)

_config: jpki.CaConfig | None = None


def configure(config: jpki.CaConfig) -> None:
    """Give the handlers the CA configuration of this process (done by the wiring)."""
    global _config
    _config = config


def _ca() -> jpki.CaConfig:
    if _config is None:
        raise RuntimeError("card handlers are not configured: call openmyna.app.wiring.wire(settings, keys)")
    return _config


def _system(card: Card) -> Caller:
    return Caller(org_code=card.municipality_code, actor="system:registry-event", scopes=frozenset(), via="event")


def _live_cards(session: Session, resident_id: int) -> list[Card]:
    return list(
        session.scalars(select(Card).where(Card.resident_id == resident_id, Card.state.in_(service.LIVE_STATES)))
    )


def revoke_signing(session: Session, card: Card, why: str) -> None:
    if not card.sign_serial or jpki.certificate(session, serial=card.sign_serial).status == "revoked":
        return
    jpki.revoke(session, config=_ca(), serial=card.sign_serial, reason="affiliation_changed")
    service._step(
        session,
        card,
        event="signing_revoked",
        to=card.state,
        caller=_system(card),
        allowed=service.LIVE_STATES,
        detail=why,
    )


def on_facts_changed(session: Session, event: ResidentFactsChanged) -> None:
    if not event.changed & {"name", "address"}:
        return
    for card in _live_cards(session, event.resident_id):
        revoke_signing(session, card, f"{'/'.join(sorted(event.changed))} changed on {event.on.isoformat()}")


def is_abroad(destination: str) -> bool:
    return not destination.strip().startswith(PREFECTURES)


def on_resident_removed(session: Session, event: ResidentRemoved) -> None:
    cards = _live_cards(session, event.resident_id)
    if not cards:
        return
    abroad = False
    if event.reason == "move_out":
        caller = _system(cards[0])
        resident = registry.get_resident(
            session, resident_id=event.resident_id, caller=caller, purpose="card: move-out"
        )
        abroad = is_abroad(resident.destination_address)
    for card in cards:
        if event.reason == "death" or abroad:
            reason = "death" if event.reason == "death" else "moved_abroad"
            service.revoke_card(session, config=_ca(), card_id=card.id, reason=reason, caller=_system(card))
        else:
            revoke_signing(session, card, f"moved out on {event.on.isoformat()}")
