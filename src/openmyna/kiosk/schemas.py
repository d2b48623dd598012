"""What crosses the kiosk's APIs: kiosk → centre, centre → municipality, and the public check."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from openmyna.core.timefmt import UtcDateTimeIn
from openmyna.core.validation import SafeText
from openmyna.kiosk.municipalities import Kind

REQUEST_KEY = r"^[A-Za-z0-9_-]{8,64}$"


class CentreRequestIn(BaseModel):
    """A store terminal's request: the card's signature over the challenge, and what is asked."""

    model_config = ConfigDict(extra="forbid")

    request_key: str = Field(pattern=REQUEST_KEY, description="one per request; a retry repeats it")
    signed_at: UtcDateTimeIn
    kind: Kind
    options: dict[str, bool] = Field(default_factory=dict, max_length=8)
    copies: int = Field(default=1, ge=1, le=10)
    tendered: int | None = Field(default=None, ge=0, le=100_000, description="yen paid in; none: pay the fee")
    certificate: str = Field(max_length=8192, description="base64 of the card's authentication certificate")
    signature: str = Field(max_length=1024, description="base64 of the card's signature over the challenge")


class MunicipalRequestIn(BaseModel):
    """The centre's request to a municipality: the person by pseudonym, never by number."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(pattern=r"^person:[0-9a-f]{32}$")
    kind: Kind
    options: dict[str, bool] = Field(default_factory=dict, max_length=8)
    copies: int = Field(default=1, ge=1, le=10)
    store: SafeText = Field(min_length=1, max_length=32)
    request_key: str = Field(pattern=REQUEST_KEY)


class IssuedOut(BaseModel):
    number: str
    kind: str
    fee: int
    copies: int
    pdf: str = Field(description="base64 of the signed PDF")
    summary: dict[str, Any]
    replayed: bool


class VerificationOut(BaseModel):
    number: str
    genuine: bool
    summary: dict[str, Any] | None = None
    issued_at: str | None = None
    signer_status: str | None = None
    pdf_sha256: str | None = None
