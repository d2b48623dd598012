"""What the registry tells higher floors about a resident's record."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


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
