"""What the registry tells higher floors about a resident's record."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class ResidentRegistered:
    """A new record opened: a birth or a move in (the network issues the town's code and local id)."""

    resident_id: int
    kind: str  # "birth" | "move_in"
    on: dt.date


@dataclass(frozen=True)
class ResidentFactsChanged:
    """Name or address facts of a current resident changed (the card revokes a signing certificate)."""

    resident_id: int
    changed: frozenset[str]  # subset of {"name", "address"}
    on: dt.date


@dataclass(frozen=True)
class ResidentRemoved:
    """A record closed: the person died or moved out of the municipality."""

    resident_id: int
    reason: str  # "death" | "move_out"
    on: dt.date


@dataclass(frozen=True)
class ResidentReturned:
    """Someone whose record here was closed by a move out (or abroad) moved back in (転入): a new record.

    The card follows the person from the removed record to the new one.
    """

    resident_id: int
    previous_resident_id: int
    on: dt.date
