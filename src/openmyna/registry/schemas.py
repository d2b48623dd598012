"""What crosses the registry API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from openmyna.core.validation import Id, PersonName, SafeText, StrictModel

Sex = Literal["male", "female"]
RelationshipCode = Literal["head", "spouse", "child", "parent", "grandchild", "sibling", "other_relative", "cohabitant"]


class _Strict(StrictModel):
    model_config = ConfigDict(str_strip_whitespace=True)


class AddressIn(_Strict):
    postal_code: str = Field(pattern=r"^\d{3}-?\d{4}$", examples=["102-0072"])
    town: SafeText | None = Field(
        default=None, max_length=100, description="Town and chōme; defaults to the postal area"
    )
    block: SafeText = Field(min_length=1, max_length=100, examples=["3番5号"])
    building: SafeText = Field(default="", max_length=100)


class HouseholdChoice(_Strict):
    household_id: Id | None = Field(default=None, description="Join this household; omit to form a new one")
    relationship: RelationshipCode = "head"


class ResidentCreate(_Strict):
    kind: Literal["birth", "move_in"]
    family_name: PersonName = Field(min_length=1, max_length=50)
    given_name: PersonName = Field(min_length=1, max_length=50)
    family_name_kana: PersonName = Field(min_length=1, max_length=100)
    given_name_kana: PersonName = Field(min_length=1, max_length=100)
    former_family_name: PersonName = Field(default="", max_length=50)
    former_family_name_kana: PersonName = Field(default="", max_length=100)
    birth_date: dt.date
    sex: Sex
    event_date: dt.date = Field(description="Date of birth or of moving in")
    notified_on: dt.date | None = None
    my_number: SafeText | None = Field(default=None, max_length=20, description="Moving in: the number issued before")
    previous_address: SafeText = Field(default="", max_length=300)
    address: AddressIn | None = None
    household: HouseholdChoice = HouseholdChoice()


class ResidentChange(_Strict):
    reason: Literal["name_change", "former_name", "correction"]
    event_date: dt.date
    notified_on: dt.date | None = None
    family_name: PersonName | None = Field(default=None, min_length=1, max_length=50)
    given_name: PersonName | None = Field(default=None, min_length=1, max_length=50)
    family_name_kana: PersonName | None = Field(default=None, min_length=1, max_length=100)
    given_name_kana: PersonName | None = Field(default=None, min_length=1, max_length=100)
    former_family_name: PersonName | None = Field(default=None, max_length=50)
    former_family_name_kana: PersonName | None = Field(default=None, max_length=100)


class MoveWithin(_Strict):
    event_date: dt.date
    notified_on: dt.date | None = None
    address: AddressIn
    with_household: StrictBool = Field(default=False, description="Move every member of the household together")
    household: HouseholdChoice = HouseholdChoice()


class MoveOut(_Strict):
    event_date: dt.date
    notified_on: dt.date | None = None
    destination: SafeText = Field(min_length=1, max_length=300, examples=["大阪府大阪市北区梅田一丁目1番1号"])
    destination_country: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}$",
        examples=["US"],
        description="A move abroad (国外転出): the country, ISO 3166-1 alpha-2 (not JP); omit for a move within Japan",
    )
    with_household: StrictBool = False


class Death(_Strict):
    event_date: dt.date = Field(description="Date of death")
    notified_on: dt.date | None = None


class HeadChange(_Strict):
    resident_id: Id
    event_date: dt.date


class MyNumberLookup(_Strict):
    my_number: SafeText = Field(max_length=20)


class ResidentOut(BaseModel):
    id: int
    resident_code: str
    my_number: str = Field(description="Always masked")
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_family_name: str
    former_family_name_kana: str
    display_name: str = Field(description="Name with the former surname in brackets (旧姓併記)")
    birth_date: dt.date
    sex: Sex
    postal_code: str
    address: str
    municipality_code: str
    household_id: int | None
    relationship: str
    status: Literal["resident", "moved_out", "deceased"]
    became_resident_on: dt.date
    address_since: dt.date
    previous_address: str
    removed_on: dt.date | None
    destination_address: str
    destination_country: str = Field(description="After a move abroad, the country (ISO 3166-1 alpha-2); else empty")


class VersionOut(BaseModel):
    seq: int
    event: str
    valid_from: dt.date
    valid_to: dt.date | None
    notified_on: dt.date
    record: dict[str, object]


class ResidentDetail(ResidentOut):
    history: list[VersionOut]


class ResidentPage(BaseModel):
    total: int
    items: list[ResidentOut]


class HouseholdOut(BaseModel):
    id: int
    address: str
    postal_code: str
    formed_on: dt.date
    dissolved_on: dt.date | None
    head_id: int | None
    members: list[ResidentOut]
