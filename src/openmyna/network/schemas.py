"""What crosses the network API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openmyna.core.timefmt import UtcDateTime
from openmyna.core.validation import SafeText, StrictModel


class _Strict(StrictModel):
    model_config = ConfigDict(str_strip_whitespace=True)


class QueryIn(_Strict):
    business: SafeText = Field(max_length=64, examples=["national_pension_premium"])
    provider: SafeText = Field(max_length=32, description="The provider organisation's code", examples=["131016"])
    item: SafeText = Field(max_length=64, examples=["local_tax"])
    subject_code: SafeText = Field(max_length=64, description="The person, as the REQUESTER's agency-specific code")
    purpose_reference: SafeText = Field(default="", max_length=100, description="e.g. the application number")


class AnswerOut(BaseModel):
    exchange_id: str
    result: Literal["answered", "no_data"]
    data: dict[str, Any] | None
    asked_at: UtcDateTime
    answered_at: UtcDateTime


class CodeRequest(_Strict):
    my_number: SafeText = Field(max_length=20, description="Sent once, to obtain the agency's own code")


class CodeOut(BaseModel):
    agency: str
    code: str


class ProvideIn(_Strict):
    agency: SafeText = Field(max_length=32)
    item: SafeText = Field(max_length=64)
    business: SafeText = Field(max_length=64)
    code: SafeText = Field(max_length=64)


class ProvideOut(BaseModel):
    data: dict[str, Any] | None


class TreeHeadOut(BaseModel):
    tree_size: int
    timestamp: int
    sha256_root_hash: str
    tree_head_signature: str
    signature_algorithm: str
    sha256_map_root: str | None = None
    map_head_signature: str | None = None


class ProofOut(BaseModel):
    leaf_index: int | None = None
    tree_size: int
    audit_path: list[str] = Field(default_factory=list)
    consistency: list[str] = Field(default_factory=list)


class TableRowOut(BaseModel):
    requester: str
    business: str
    provider: str
    items: list[str]
    legal_reference: str


class TableDiffOut(BaseModel):
    added: list[dict[str, str]]
    removed: list[dict[str, str]]


class HistoryOut(BaseModel):
    total: int
    tree_head: TreeHeadOut | None
    items: list[dict[str, Any]]
    completeness: dict[str, Any] | None = None
