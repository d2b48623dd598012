"""What crosses the gate API."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from openmyna.core.validation import StrictModel

MAX_B64 = 8192


class EnterIn(StrictModel):
    challenge: str = Field(max_length=MAX_B64, description="base64 of the challenge, as issued to this gate")
    certificate: str = Field(max_length=MAX_B64, description="base64 of the card's authentication certificate (DER)")
    signature: str = Field(max_length=MAX_B64, description="base64 of the card's signature over the challenge")
    app: dict[str, Any] = Field(description="The employer's application as read from the card's free space")


class GateOut(StrictModel):
    code: str
    name: str
    employer: str
