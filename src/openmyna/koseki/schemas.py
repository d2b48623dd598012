"""Request and response bodies of the family register's API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from openmyna.core.validation import Id, PersonName, SafeText, StrictModel

EventKind = Literal["出生", "婚姻", "離婚", "養子縁組", "入籍", "転籍", "分籍", "死亡"]


class _Strict(StrictModel):
    model_config = ConfigDict(str_strip_whitespace=True)


class EventIn(_Strict):
    kind: EventKind
    date: dt.date
    detail: SafeText = Field(default="", max_length=200, examples=["東京都千代田区で出生　父届出"])


class MemberIn(_Strict):
    family_name: PersonName = Field(min_length=1, max_length=50)
    given_name: PersonName = Field(min_length=1, max_length=50)
    birth_date: dt.date
    sex: Literal["male", "female"]
    relation: SafeText = Field(min_length=1, max_length=20, examples=["長男"], description="父母との続柄, or 夫・妻")
    father: PersonName = Field(default="", max_length=100)
    mother: PersonName = Field(default="", max_length=100)
    resident_id: Id | None = Field(default=None, description="The member's resident record here, if any")
    events: list[EventIn] = Field(default_factory=list, max_length=20)


class RegisterIn(_Strict):
    """A new register (編製) kept by the calling municipality, which is its 本籍's."""

    honseki: SafeText = Field(min_length=1, max_length=300, examples=["東京都千代田区九段南一丁目2番"])
    head_name: PersonName = Field(min_length=1, max_length=100, description="筆頭者")
    made_on: dt.date
    made_reason: SafeText = Field(min_length=1, max_length=40, examples=["婚姻"])
    members: list[MemberIn] = Field(min_length=1, max_length=50)


class EventOut(BaseModel):
    kind: str
    date: dt.date
    detail: str


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    family_name: str
    given_name: str
    birth_date: dt.date
    sex: str
    relation: str
    father: str
    mother: str
    resident_id: int | None
    events: list[EventOut]
    left_on: dt.date | None
    left_reason: str


class RegisterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    honseki_municipality_code: str
    honseki: str
    head_name: str
    made_on: dt.date
    made_reason: str
    members: list[MemberOut]
