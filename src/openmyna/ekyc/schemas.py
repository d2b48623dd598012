"""What crosses the platform operator's eKYC API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from openmyna.core.timefmt import UtcDateTime
from openmyna.core.validation import SafeText, StrictModel

MAX_B64 = 8192
Fact = Literal["name", "birth_date", "sex", "address"]


class ChallengeIn(StrictModel):
    purpose: Literal["account_opening", "login"] = Field(
        description="account_opening: the signing certificate's facts (eKYC); login: the authentication certificate"
    )


class ChallengeOut(StrictModel):
    challenge: str = Field(description="base64 of the bytes to sign (they name the business and the purpose)")
    expires_at: UtcDateTime
    business: str
    purpose: str


class VerificationIn(StrictModel):
    challenge: str = Field(max_length=MAX_B64, description="base64 of the challenge, as issued for account_opening")
    application: SafeText = Field(
        max_length=200,
        description="What the customer applies for (e.g. 普通預金口座開設); signed after the challenge and a newline",
    )
    certificate: str = Field(max_length=MAX_B64, description="base64 of the card's signing certificate (DER)")
    signature: str = Field(
        max_length=MAX_B64, description="base64 of the PKCS#1 v1.5/SHA-256 signature over challenge, LF, application"
    )
    facts: list[Fact] | None = Field(
        default=None, max_length=4, description="The facts wanted (default: all the business is registered for)"
    )


class VerificationOut(StrictModel):
    verification_id: str = Field(description="Keep it: the status of this customer's certificate is asked with it")
    pseudonym: str = Field(description="The business's own, stable name for the holder (the same at login)")
    facts: dict[str, str] = Field(description="Only the facts the business is registered for and asked")
    certificate_serial: str
    certificate_not_after: UtcDateTime


class Replacement(StrictModel):
    serial: str
    facts: dict[str, str] = Field(description="The new certificate's facts the business may see (e.g. the new address)")


class StatusOut(StrictModel):
    verification_id: str
    status: Literal["good", "revoked", "suspended", "expired", "not_yet_valid"]
    revoked_at: UtcDateTime | None = None
    reason: str | None = Field(default=None, description="RFC 5280 CRLReason; affiliation_changed: the facts changed")
    replaced_by: Replacement | None = Field(default=None, description="The certificate that replaced it (a move)")


class LoginIn(StrictModel):
    challenge: str = Field(max_length=MAX_B64, description="base64 of the challenge, as issued for login")
    certificate: str = Field(max_length=MAX_B64, description="base64 of the card's authentication certificate (DER)")
    signature: str = Field(max_length=MAX_B64, description="base64 of the signature over the challenge")


class LoginOut(StrictModel):
    pseudonym: str = Field(description="The business's own name for the holder: bind it to the account")
    business: str
    authenticated_at: UtcDateTime


class BusinessOut(StrictModel):
    code: str
    name: str
    kind: str
    operator: str
    facts: list[str]
    registered_at: UtcDateTime
