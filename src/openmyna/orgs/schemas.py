"""What crosses the organisations and token APIs."""

from __future__ import annotations

from pydantic import BaseModel


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OrganisationOut(BaseModel):
    code: str
    name: str
    name_en: str
    kind: str
    scopes: list[str]
    public_key_pem: str
