"""Subscriptions between floors, made once by the assembling layer (idempotent)."""

from __future__ import annotations

from openmyna.card import handlers as card_handlers
from openmyna.core import events
from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.jpki.authority import CaConfig
from openmyna.registry.events import ResidentFactsChanged, ResidentRemoved


def wire(settings: Settings | None = None, keys: KeyRing | None = None) -> None:
    """Subscribe every domain's handlers; with settings and keys, also give them this process's configuration."""
    if settings is not None and keys is not None:
        card_handlers.configure(CaConfig.from_settings(settings, keys))
    events.subscribe(ResidentFactsChanged, card_handlers.on_facts_changed)
    events.subscribe(ResidentRemoved, card_handlers.on_resident_removed)
