"""What crosses the ticket API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator

from openmyna.carduses.schemas import MAX_B64
from openmyna.carduses.tickets.service import MAX_CAPACITY
from openmyna.core.validation import SafeText, StrictModel

CODE = r"^[A-Za-z0-9-]{1,20}$"


class EventIn(StrictModel):
    code: str = Field(pattern=CODE, description="The event's code, 1–20 letters, digits or '-'")
    name: SafeText = Field(min_length=1, max_length=200)
    venue: SafeText = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime = Field(description="When the doors open (with a UTC offset)")
    capacity: int = Field(ge=1, le=MAX_CAPACITY)

    @field_validator("starts_at")
    @classmethod
    def _plausible(cls, value: dt.datetime) -> dt.datetime:
        if not 2000 <= value.year <= 2999:
            raise ValueError("an event starts between the years 2000 and 2999")
        return value


class EventOut(StrictModel):
    code: str
    name: str
    venue: str
    organiser: str
    starts_at: dt.datetime
    capacity: int


class ChallengeIn(StrictModel):
    purpose: Literal["bind", "resale", "transfer", "enter"] = Field(
        description="bind (a sale), resale (the holder lists it), transfer (the buyer), enter (the door)"
    )


class ProofIn(StrictModel):
    challenge: str = Field(max_length=MAX_B64, description="base64 of the challenge, as issued for this purpose")
    certificate: str = Field(max_length=MAX_B64, description="base64 of the card's authentication certificate (DER)")
    signature: str = Field(max_length=MAX_B64, description="base64 of the card's signature over the challenge")


class BindIn(ProofIn):
    seat: SafeText = Field(default="", max_length=32, description="The seat, if the event has numbered seats")


class TicketOut(StrictModel):
    number: str
    event: str
    seat: str
    status: Literal["valid", "listed", "used"]
    holder: str = Field(description="The holder's pseudonym at this organiser (not a global identifier)")
    transfers: int
