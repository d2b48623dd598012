"""Which claims each scope releases and how the consent page names them.

Scopes follow OpenID Connect Core §5.4 with one narrowing: ``profile`` releases the name and its reading
only, and the date of birth and the sex are scopes of their own (``birthdate``, ``gender``), so a resident
consents to each separately. Kana readings use the claim language tag ``#ja-Kana-JP`` (Core §5.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openmyna.registry.models import Resident

KANA = "#ja-Kana-JP"


@dataclass(frozen=True)
class ScopeInfo:
    """A scope a linked site may ask for: the claims it releases and how the consent page says so."""

    name: str
    claims: tuple[str, ...]
    label_key: str


SCOPES: dict[str, ScopeInfo] = {
    info.name: info
    for info in (
        ScopeInfo("openid", ("sub",), "oidc.scope.openid"),
        ScopeInfo(
            "profile",
            (
                "name",
                "family_name",
                "given_name",
                "name" + KANA,
                "family_name" + KANA,
                "given_name" + KANA,
            ),
            "oidc.scope.profile",
        ),
        ScopeInfo("address", ("address",), "oidc.scope.address"),
        ScopeInfo("birthdate", ("birthdate",), "oidc.scope.birthdate"),
        ScopeInfo("gender", ("gender",), "oidc.scope.gender"),
    )
}
SCOPES_SUPPORTED = tuple(SCOPES)
CLAIMS_SUPPORTED = (
    *(claim for info in SCOPES.values() for claim in info.claims),
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "amr",
)


def scope_list(scope: str | None) -> list[str]:
    """The scopes of a space-separated value, each once, in the order of :data:`SCOPES` (what the page lists)."""
    asked = set((scope or "").split())
    return [name for name in SCOPES if name in asked]


def released_claims(resident: Resident, *, sub: str, scope: str) -> dict[str, Any]:
    """The userinfo claims ``scope`` releases about ``resident``, and no others."""
    granted = set(scope_list(scope))
    claims: dict[str, Any] = {"sub": sub}
    if "profile" in granted:
        claims.update(
            {
                "name": f"{resident.family_name} {resident.given_name}",
                "family_name": resident.family_name,
                "given_name": resident.given_name,
                "name" + KANA: f"{resident.family_name_kana} {resident.given_name_kana}",
                "family_name" + KANA: resident.family_name_kana,
                "given_name" + KANA: resident.given_name_kana,
            }
        )
    if "address" in granted:
        street = resident.address_town + resident.address_block
        if resident.address_building:
            street += " " + resident.address_building
        claims["address"] = {
            "formatted": resident.address,
            "postal_code": resident.postal_code,
            "region": resident.prefecture,
            "locality": resident.city,
            "street_address": street,
            "country": "JP",
        }
    if "birthdate" in granted:
        claims["birthdate"] = resident.birth_date.isoformat()
    if "gender" in granted:
        claims["gender"] = resident.sex
    return claims
