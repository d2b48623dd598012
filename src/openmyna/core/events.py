"""In-process domain events, delivered inside the publisher's unit of work.

A lower floor publishes (the registry: "this resident's address changed"); a higher floor subscribes
(the card: "revoke the signing certificate"). Handlers run synchronously in the same transaction, so
the change and its consequences commit or roll back together. Subscriptions are made once by the
assembling layer (``openmyna.app.wiring``), never by importing a module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

E = TypeVar("E")
Handler = Callable[[Session, Any], None]

_handlers: defaultdict[type, list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[Session, E], None]) -> None:
    """Call ``handler(session, event)`` for every published event of ``event_type``; idempotent."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def publish(session: Session, event: object) -> None:
    """Deliver ``event`` to its subscribers now, in the caller's transaction."""
    for handler in list(_handlers[type(event)]):
        handler(session, event)


def clear() -> None:
    """Forget every subscription (tests)."""
    _handlers.clear()
