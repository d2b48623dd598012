"""What the card does when the registry changes a holder's record (subscribed by ``openmyna.app.wiring``).

A name or address change revokes the SIGNING certificate (it carries those facts); the authentication
certificate stays. A move abroad (国外転出) keeps the card and its authentication certificate (continued use
abroad, 海外転出後の継続利用): the card records the move and the signing certificate goes as with any address
change; a new one, carrying the 国外転出者 statement, can then be issued. Moving back in (転入) takes the card
to the person's new record. Death revokes the card and everything on it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.card import service
from openmyna.card.models import Card
from openmyna.jpki import service as jpki
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.events import ResidentFactsChanged, ResidentRemoved, ResidentReturned

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


def _follow(session: Session, card: Card, resident: registry.Resident, *, event: str, detail: str) -> None:
    """Record where the holder now lives: on the card, in the chip's face data, and for the CA's verifiers."""
    card.abroad_since = registry.abroad_since(resident)
    service._step(
        session, card, event=event, to=card.state, caller=_system(card), allowed=service.LIVE_STATES, detail=detail
    )
    keys = _ca().keys
    if card.chip_sealed is not None:
        chip = service.open_chip(keys, card)
        if chip.state["face"]:
            service.write_face(chip, my_number=chip.state["face"]["my_number"], resident=resident)
            service.store_chip(keys, card, chip)
    jpki.note_holder_abroad(session, holder_ref=f"card:{card.id}", since=card.abroad_since)


def on_resident_removed(session: Session, event: ResidentRemoved) -> None:
    cards = _live_cards(session, event.resident_id)
    if not cards:
        return
    if event.reason == "death":
        for card in cards:
            service.revoke_card(session, config=_ca(), card_id=card.id, reason="death", caller=_system(card))
        return
    resident = registry.get_resident(
        session, resident_id=event.resident_id, caller=_system(cards[0]), purpose="card: move-out"
    )
    abroad = registry.abroad_since(resident) is not None
    for card in cards:
        revoke_signing(session, card, f"moved {'abroad' if abroad else 'out'} on {event.on.isoformat()}")
        if abroad:
            _follow(session, card, resident, event="moved_abroad", detail=f"{resident.destination_country}, kept")


def on_resident_returned(session: Session, event: ResidentReturned) -> None:
    """The person moved back in: the card moves to the new record, whose address the signing certificate lacks."""
    cards = _live_cards(session, event.previous_resident_id)
    if not cards:
        return
    resident = registry.get_resident(
        session, resident_id=event.resident_id, caller=_system(cards[0]), purpose="card: move-in"
    )
    for card in cards:
        revoke_signing(session, card, f"moved in on {event.on.isoformat()}")
        card.resident_id, card.resident_code = resident.id, resident.resident_code
        card.municipality_code = resident.municipality_code
        _follow(session, card, resident, event="moved_in", detail=f"record {resident.resident_code}")
