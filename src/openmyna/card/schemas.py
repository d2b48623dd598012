"""What crosses the card API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from openmyna.core.timefmt import UtcDateTime
from openmyna.core.validation import Id, SafeText, StrictModel


class Application(StrictModel):
    resident_id: Id
    channel: Literal["self", "employer", "municipal_visit"] = "self"
    employer_code: SafeText = Field(default="", max_length=32)
    with_signing: StrictBool | None = Field(default=None, description="Default: only holders aged 15 or over")


class BulkApplication(StrictModel):
    employer_code: SafeText = Field(min_length=1, max_length=32)
    resident_ids: list[Id] = Field(min_length=1, max_length=5000)


class HandOver(StrictModel):
    auth_pin: SafeText = Field(max_length=16, description="4 digits")
    sign_pin: SafeText | None = Field(default=None, max_length=16, description="6–16 characters A–Z 0–9")
    face_pin: SafeText | None = Field(default=None, max_length=16, description="4 digits; default the auth PIN")
    identity_checked: StrictBool
    delivery: Literal["counter", "post"] = "counter"


class LostReport(StrictModel):
    via: Literal["holder", "hotline"] = "holder"


class Revocation(StrictModel):
    reason: Literal["death", "moved_abroad", "loss_confirmed", "returned"]


class PinReset(StrictModel):
    app: Literal["auth", "sign", "face"]
    new_pin: SafeText = Field(max_length=16)
    identity_checked: StrictBool


class EventOut(BaseModel):
    event: str
    from_state: str
    to_state: str
    at: UtcDateTime
    actor_org: str
    actor: str
    detail: str


class CardOut(BaseModel):
    id: int
    resident_id: int
    resident_code: str
    state: str
    channel: str
    employer_code: str
    applied_on: dt.date
    issued_on: dt.date | None
    expires_on: dt.date | None
    with_signing: bool
    auth_serial: str | None
    sign_serial: str | None
    abroad_since: dt.date | None = Field(description="The holder moved abroad on this date and kept the card")


class CardDetail(CardOut):
    events: list[EventOut]


class StatsRow(BaseModel):
    event: str
    label_ja: str
    label_en: str
    cumulative: int
    in_period: int
    days: int
    daily_average: float
    weekdays_only: bool


class StatsOut(BaseModel):
    start: dt.date
    end: dt.date
    rows: list[StatsRow]
