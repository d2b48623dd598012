"""The card reader: the only way into a chip — read a certificate, verify a PIN, sign, read the face data.

:class:`Reader` is the interface; :class:`VirtualReader` drives the virtual chip stored in the database.
A PC/SC backend for a physical card (pyscard, selecting the JPKI AP by its AID) implements the same
methods. Each command is its own unit of work, like an APDU to a real chip: a wrong PIN is counted
even though the command fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from openmyna.card import service
from openmyna.card.chip import Chip, ChipError, KeyKind, PinApp
from openmyna.core.crypto import KeyRing

T = TypeVar("T")


class Reader(Protocol):
    def certificate(self, kind: KeyKind, *, pin: str | None = None) -> bytes: ...
    def verify_pin(self, app: PinApp, pin: str) -> None: ...
    def tries_left(self, app: PinApp) -> int: ...
    def sign(self, kind: KeyKind, pin: str, *, data: bytes | None = None, digest: bytes | None = None) -> bytes: ...
    def read_face(self, pin: str) -> dict[str, str]: ...
    def read_app(self, name: str) -> dict[str, Any]: ...


class VirtualReader:
    """A reader with one virtual card inserted."""

    def __init__(self, session_factory: sessionmaker[Session], keys: KeyRing, card_id: int) -> None:
        self._factory, self._keys, self.card_id = session_factory, keys, card_id

    def _command(self, operation: Callable[[Chip], T]) -> T:
        failure: ChipError | None = None
        with self._factory() as session, session.begin():
            try:
                result = service.use_chip(session, keys=self._keys, card_id=self.card_id, operation=operation)
            except ChipError as exc:  # commit the counter, then report
                failure = exc
        if failure is not None:
            raise failure
        return result

    def certificate(self, kind: KeyKind, *, pin: str | None = None) -> bytes:
        return self._command(lambda chip: chip.certificate(kind, pin=pin))

    def verify_pin(self, app: PinApp, pin: str) -> None:
        self._command(lambda chip: chip.verify_pin(app, pin))

    def tries_left(self, app: PinApp) -> int:
        return self._command(lambda chip: chip.tries_left(app))

    def sign(self, kind: KeyKind, pin: str, *, data: bytes | None = None, digest: bytes | None = None) -> bytes:
        return self._command(lambda chip: chip.sign(kind, pin, data=data, digest=digest))

    def read_face(self, pin: str) -> dict[str, str]:
        return self._command(lambda chip: chip.read_face(pin))

    def read_app(self, name: str) -> dict[str, Any]:
        """An application in the card's free space (an employer's employee ID): no PIN, as a gate reads it."""
        return self._command(lambda chip: chip.read_app(name))
