"""Subscriptions between floors, made once by the assembling layer (idempotent)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from openmyna.card import handlers as card_handlers
from openmyna.core import events
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.eservice.events import ResidentsToNotify
from openmyna.jpki.authority import CaConfig
from openmyna.kiosk import rules as kiosk_rules
from openmyna.network import handlers as network_handlers
from openmyna.portal.notices import service as notices
from openmyna.registry.events import ResidentFactsChanged, ResidentRegistered, ResidentRemoved, ResidentReturned


def notify_residents(session: Session, event: ResidentsToNotify) -> None:
    """eservice's decisions and reminders become portal notices, in the same transaction."""
    notices.deliver(
        session,
        sender_org=event.sender_org,
        kind=event.kind,
        title=event.title,
        body=event.body,
        subjects=event.subjects,
        due_date=event.due_date,
    )


def wire(settings: Settings | None = None, keys: KeyRing | None = None) -> None:
    """Subscribe every domain's handlers; with keys (and settings), also give them this process's configuration."""
    if settings is not None:
        kiosk_rules.configure(enforce_hours=settings.kiosk_enforce_hours)
    if settings is not None and keys is not None:
        card_handlers.configure(CaConfig.from_settings(settings, keys))
    if keys is not None:
        network_handlers.configure(keys)
    events.subscribe(ResidentRegistered, network_handlers.on_registered)
    events.subscribe(ResidentFactsChanged, card_handlers.on_facts_changed)
    events.subscribe(ResidentRemoved, card_handlers.on_resident_removed)
    events.subscribe(ResidentReturned, card_handlers.on_resident_returned)
    events.subscribe(ResidentsToNotify, notify_residents)
