"""What crosses the eservice API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from openmyna.core.timefmt import UtcDateTime
from openmyna.core.validation import SafeText


class NeedOut(BaseModel):
    code: str
    name_ja: str
    name_en: str
    required: bool
    fetched: bool = Field(description="True: not needed, the municipality fetches it over the exchange network")
    reason_ja: str
    reason_en: str
    media_types: list[str]
    max_bytes: int


class ProcedureOut(BaseModel):
    municipality: str
    code: str
    name_ja: str
    name_en: str
    category: str
    situations: list[str]
    department: dict[str, str]
    who_may_apply: dict[str, str]
    conditions: list[dict[str, str]]
    signature_required: bool
    deadline: dict[str, Any]
    business: str | None
    needs: list[NeedOut]
    follows: list[str]


class ProcedureDetail(ProcedureOut):
    form: dict[str, Any] = Field(description="The form's JSON Schema (2020-12)")
    example: dict[str, Any]


class SearchOut(BaseModel):
    municipality: str
    situations: list[str]
    results: list[ProcedureOut]


class UploadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    procedure: SafeText = Field(max_length=64)
    code: SafeText = Field(max_length=32)
    filename: SafeText = Field(max_length=200)
    media_type: SafeText = Field(max_length=100)
    content: str = Field(description="base64 of the file")


class ContentIn(BaseModel):
    """An application without its signature: what the applicant signs (the server rebuilds the exact bytes)."""

    model_config = ConfigDict(extra="forbid")
    municipality: str = Field(pattern=r"^[0-9]{6}$")
    procedures: list[SafeText] = Field(min_length=1, max_length=10)
    data: dict[str, dict[str, Any]]
    attachments: list[UploadIn] = Field(default=[], max_length=20)
    life_event: SafeText | None = Field(default=None, max_length=32)


class ApplicationIn(ContentIn):
    """A signed application: the CMS signature is over the canonical content the server rebuilds from the rest."""

    signature: str = Field(description="base64 of the DER CMS SignedData (detached)")
    idempotency_key: SafeText | None = Field(default=None, max_length=128)


class ItemOut(BaseModel):
    procedure: str
    department: str
    status: str
    decision_reason: str


class ReceiptOut(BaseModel):
    application_id: str
    receipt_number: str
    receipt_date: dt.date
    received_at: UtcDateTime
    status: str
    created: bool
    items: list[ItemOut]


class PrepareIn(BaseModel):
    certificate: str = Field(description="base64 of the signing certificate (DER) read from the card")


class PrepareOut(BaseModel):
    digest: str = Field(description="base64 of the SHA-256 the card signs (over the CMS signed attributes)")


class CompleteIn(BaseModel):
    signature: str = Field(description="base64 of the card's RSA signature of the digest")


class ValidationOut(BaseModel):
    valid: bool
    errors: list[dict[str, str]]
