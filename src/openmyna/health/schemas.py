"""What crosses the eligibility API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from openmyna.core.validation import StrictModel

MAX_B64 = 8192


class ChallengeIn(StrictModel):
    share_records: bool = Field(
        default=False, description="The patient agreed on the terminal to share medicine records (薬剤情報)"
    )


class ChallengeOut(StrictModel):
    challenge: str = Field(description="base64 of the bytes the card signs (they name the clinic and the consent)")
    expires_at: str
    clinic: str


class EligibilityIn(StrictModel):
    challenge: str = Field(max_length=MAX_B64, description="base64 of the challenge, as issued")
    certificate: str = Field(max_length=MAX_B64, description="base64 of the card's authentication certificate (DER)")
    signature: str = Field(max_length=MAX_B64, description="base64 of the RSASSA-PKCS1-v1_5/SHA-256 signature")
    face_check: Literal["not_used", "matched", "not_matched"] = Field(
        default="not_used",
        description="The terminal's own face check (顔認証), reported as its decision: the platform cannot see it",
    )


class ClinicOut(StrictModel):
    code: str
    name: str
    name_en: str
