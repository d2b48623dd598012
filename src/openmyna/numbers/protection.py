"""The My Number's one home: how it is sealed, indexed, linked and pseudonymised, and under which keys.

Every package that stores, finds or names a person by their number calls this module; none touches a key.
Each purpose has its own key derived from the master key by the :class:`~openmyna.core.crypto.KeyRing`:

==================  ===================================  =================================  =============
value               key (HKDF info after ``openmyna/``)   used for                           rotated
==================  ===================================  =================================  =============
sealed number       ``my-number/seal/g{G}`` (AES-GCM)     the registry's stored number       yes
lookup              ``my-number/lookup/g{G}`` (HMAC)      the registry's index               yes
person link         ``lookup-hmac/v1`` (HMAC)             the hub's link to a person, agency never
                                                          codes, the issued-numbers ledger
pseudonym           (the link's first 128 bits, hex)      access events, exchange-log        never
                                                          entries, session subjects
==================  ===================================  =================================  =============

Generation 0 is the layout of databases made before generations existed: the number sealed under
``field-encryption/v1`` and the lookup equal to the person link. ``openmyna keys rotate`` moves every row
to a new generation; the link and the pseudonym never change, so log entries already signed stay valid.
The pseudonym is the public half of the link: the network only holds links and must name the person in
its records, and nobody can compute an agency's code from it (that needs the whole link and the code key).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import FIELD_ENCRYPTION, KeyRing
from openmyna.numbers.models import NumberKeyState

IDENTITY = "lookup-hmac/v1"  # the historic name of the link key: links issued under it stay valid
PSEUDONYM_PREFIX = "person:"
_CONTEXT = b"registry.resident.my_number"
_STATE_ID = 1
_COMPACT_ONLY = "protect and link compact 12-digit My Numbers (check them with numbers.formats first)"


@dataclass(frozen=True)
class Protected:
    """A number as it is stored: its index, its ciphertext, and the key generation of both."""

    lookup: bytes
    sealed: bytes
    generation: int


@dataclass(frozen=True)
class Generations:
    """The generation new rows get, and the one a running rotation has not finished moving rows from."""

    current: int
    previous: int | None = None

    @property
    def readable(self) -> tuple[int, ...]:
        return (self.current,) if self.previous is None else (self.current, self.previous)


def _check(number: str) -> bytes:
    if len(number) != 12 or not number.isascii() or not number.isdigit():
        raise ValueError(_COMPACT_ONLY)
    return number.encode()


def person_link(keys: KeyRing, number: str) -> bytes:
    """The hub's keyed link to the person holding ``number``: stable for life, never the number itself."""
    return keys.mac(IDENTITY, b"my-number:" + _check(number))


def person_links(keys: KeyRing, numbers: list[str]) -> list[bytes]:
    """:func:`person_link` of each number (bulk issuance), checked and hashed as a batch."""
    joined = "".join(numbers)
    if set(map(len, numbers)) - {12} or not joined.isascii() or not joined.isdigit():
        raise ValueError(_COMPACT_ONLY)
    return keys.macs(IDENTITY, [("my-number:" + number).encode() for number in numbers])


def pseudonym_of_link(link: bytes) -> str:
    """The person's name in access events and exchange records, from the hub's link."""
    return PSEUDONYM_PREFIX + link[:16].hex()


def pseudonym(keys: KeyRing, number: str) -> str:
    return pseudonym_of_link(person_link(keys, number))


PAIRWISE_KEY = "oidc-pairwise-subject/v1"  # the key ring's purpose for pairwise subject identifiers


def pairwise_subject(keys: KeyRing, *, sector: str, person: str) -> str:
    """The person's name for one sector (OpenID Connect Core §8.1): stable there, unlinkable across sectors.

    A linked site's ``sub`` (its sector is its host), a private business's holder pseudonym (eKYC) and an
    event organiser's ticket holder (``ticket-organiser:<code>``) are all this. ``person`` is the platform's
    internal key of the person; it enters only the HMAC, so neither it nor the My Number can be read from,
    or matched across sectors by, the result.
    """
    digest = keys.mac(PAIRWISE_KEY, f"{sector.lower()}\n{person}".encode())
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def lookup(keys: KeyRing, number: str, *, generation: int) -> bytes:
    """The registry's index of ``number`` under ``generation``'s lookup key."""
    if generation == 0:
        return person_link(keys, number)
    return keys.mac(f"my-number/lookup/g{generation}", _check(number))


def lookups(keys: KeyRing, number: str, *, generations: Generations) -> list[bytes]:
    """Every index ``number`` may be stored under right now (two while a rotation runs)."""
    return [lookup(keys, number, generation=g) for g in generations.readable]


def _seal_purpose(generation: int) -> str:
    return FIELD_ENCRYPTION if generation == 0 else f"my-number/seal/g{generation}"


def protect(keys: KeyRing, number: str, *, generation: int) -> Protected:
    """Seal and index ``number`` under ``generation``'s keys."""
    sealed = keys.seal_for(_seal_purpose(generation), _check(number), context=_CONTEXT)
    return Protected(lookup(keys, number, generation=generation), sealed, generation)


def protect_many(keys: KeyRing, numbers: list[str], *, generation: int) -> list[tuple[Protected, bytes]]:
    """:func:`protect` of each number (loading a town), each with its :func:`person_link`, hashed as a batch."""
    links = person_links(keys, numbers)
    indexes = links if generation == 0 else keys.macs(f"my-number/lookup/g{generation}", [n.encode() for n in numbers])
    purpose = _seal_purpose(generation)
    return [
        (Protected(index, keys.seal_for(purpose, number.encode(), context=_CONTEXT), generation), link)
        for number, index, link in zip(numbers, indexes, links, strict=True)
    ]


def reveal(keys: KeyRing, sealed: bytes, *, generation: int) -> str:
    """The number a row holds (for its holder, the card's face, the hub's link); never log it."""
    return keys.open_for(_seal_purpose(generation), sealed, context=_CONTEXT).decode()


def generations(session: Session | Connection, *, for_write: bool = False) -> Generations:
    """The key state; ``for_write`` holds it shared until the transaction ends, so a rotation starting or
    finishing waits for writers that chose their generation before it (PostgreSQL; SQLite writes one at a time)."""
    query = select(NumberKeyState.current, NumberKeyState.previous).where(NumberKeyState.id == _STATE_ID)
    row = session.execute(query.with_for_update(read=True) if for_write else query).one()
    return Generations(row.current, row.previous)


def begin_rotation(session: Session) -> Generations:
    """Start moving rows to a new generation, or return the rotation already under way (resumable)."""
    state = session.execute(select(NumberKeyState).where(NumberKeyState.id == _STATE_ID).with_for_update()).scalar_one()
    if state.previous is None:
        state.previous, state.current, state.changed_at = state.current, state.current + 1, clock.now()
    return Generations(state.current, state.previous)


def finish_rotation(session: Session, *, generation: int) -> None:
    """Declare the rotation to ``generation`` complete: lookups stop trying the previous generation."""
    session.execute(
        update(NumberKeyState)
        .where(NumberKeyState.id == _STATE_ID, NumberKeyState.current == generation)
        .values(previous=None, changed_at=clock.now())
    )
