"""What the proxy API takes and answers."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from openmyna.core.validation import PersonName, SafeText, StrictModel

MenuKey = Literal["history", "mydata", "notices", "payments"]


class GrantIn(StrictModel):
    family_name: PersonName = Field(
        min_length=1, max_length=50, description="the proxy's family name as in the registry"
    )
    given_name: PersonName = Field(min_length=1, max_length=50)
    birth_date: dt.date = Field(description="the proxy's date of birth")
    menus: list[MenuKey] = Field(min_length=1, max_length=4)
    ends_on: dt.date = Field(description="the last day (Japan time) the proxy may act; at most a year ahead")


class GrantOut(StrictModel):
    id: int
    state: Literal["pending", "active", "expired", "withdrawn", "resigned"]
    menus: list[str]
    ends_on: str
    proxy_name: str
    principal_name: str
    created_at: str
    accepted_at: str


class InvitationOut(StrictModel):
    grant: GrantOut
    invitation_code: str = Field(description="shown once; hand it to the proxy in person")


class AcceptIn(StrictModel):
    code: SafeText = Field(min_length=1, max_length=64)


class ActingOut(StrictModel):
    grant_id: int
    principal_name: str


class ProxyOverview(StrictModel):
    given: list[GrantOut]
    held: list[GrantOut]
    acting: ActingOut | None
