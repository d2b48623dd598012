"""What crosses the numbers API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from openmyna.core.validation import SafeText, StrictModel


class NumberCheckRequest(StrictModel):
    number: SafeText = Field(max_length=40, examples=["6214-9832-0257"])
    kind: Literal["auto", "my_number", "corporate_number", "local_government_code", "resident_code"] = "auto"


class NumberCheckResult(BaseModel):
    kind: str
    valid: bool
    reason: str
    formatted: str
