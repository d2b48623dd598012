"""What crosses the validity-check API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from openmyna.core.timefmt import UtcDateTime, UtcDateTimeIn
from openmyna.core.validation import MultilineText, StrictModel


class ValidityRequest(StrictModel):
    certificate: MultilineText = Field(
        min_length=16, max_length=20000, description="The certificate to check, PEM or base64 of DER"
    )
    at: UtcDateTimeIn | None = Field(default=None, description="Check as of this instant (default: now)")


class CertificateRef(BaseModel):
    serial: str
    kind: Literal["sign", "auth", "org"]
    certificate_pem: str
    url: str


class ValidityOut(BaseModel):
    serial: str
    kind: Literal["sign", "auth", "org"]
    status: Literal["good", "revoked", "suspended", "expired", "not_yet_valid"]
    at: UtcDateTime
    not_before: UtcDateTime
    not_after: UtcDateTime
    revoked_at: UtcDateTime | None = None
    reason: str | None = Field(default=None, description="RFC 5280 CRLReason, e.g. affiliation_changed")
    replaced_by: CertificateRef | None = Field(
        default=None, description="The certificate that replaced this one after the holder's facts changed"
    )
    holder_abroad_since: dt.date | None = Field(
        default=None,
        description="The holder has lived abroad (国外転出者) since this date: their record as of now, not as of `at`",
    )
