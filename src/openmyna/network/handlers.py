"""What the network does when the registry opens a record (subscribed by ``openmyna.app.wiring``).

A birth or a move in gives the town its code for the person and its local id pointing at the new
record, through :func:`openmyna.network.enrolment.enrol`. Closing a record (a move out, abroad, a death)
changes no link: the town's local id keeps pointing at its removed record (除票), which answers with its
status and date; the codes of other agencies never change.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.network import enrolment
from openmyna.registry import service as registry
from openmyna.registry.events import ResidentRegistered

_keys: KeyRing | None = None


def configure(keys: KeyRing) -> None:
    """Give the handlers this process's key ring (done by the wiring)."""
    global _keys
    _keys = keys


def _ring() -> KeyRing:
    if _keys is None:
        raise RuntimeError("network handlers are not configured: call openmyna.app.wiring.wire(keys=...)")
    return _keys


def on_registered(session: Session, event: ResidentRegistered) -> None:
    keys = _ring()
    resident = registry.find_resident(session, resident_id=event.resident_id)
    if resident is None:
        raise LookupError(f"registered resident {event.resident_id} is not in the session")
    link = enrolment.person_link(keys, registry.my_number_of(keys, resident))
    enrolment.enrol(
        session,
        keys=keys,
        agency=resident.municipality_code,
        people=[enrolment.Enrolee(link, resident.id)],
        purpose=f"code obtained on registration ({event.kind})",
    )
