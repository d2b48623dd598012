"""Providers answer data items for their own code of a person: in-process for the agencies hosted here,
over HTTP for an agency running elsewhere. Both sit behind :class:`Provider`."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import httpx
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import DomainError
from openmyna.localtax import service as localtax
from openmyna.network.models import LocalId
from openmyna.orgs.client import OrgTokenSource, TokenRefused
from openmyna.pension import service as pension
from openmyna.registry import service as registry

NOT_HELD = None


class ProviderUnavailable(DomainError):
    slug = "provider-unavailable"
    status = 502
    title_ja = "情報提供者に接続できません"
    title_en = "The provider could not be reached"


class Provider(Protocol):
    def provide(
        self, session: Session, *, agency: str, kind: str, item: str, business: str, code: str
    ) -> dict[str, Any] | None:
        """The item's data for the person the provider knows as ``code``, or None if it holds none."""


_LOCAL_REF = select(LocalId.local_ref).where(LocalId.agency == bindparam("agency"), LocalId.code == bindparam("code"))


def local_ref(session: Session, *, agency: str, code: str) -> int | None:
    return session.connection().execute(_LOCAL_REF, {"agency": agency, "code": code}).scalar()


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def resident_record(session: Session, resident_id: int) -> dict[str, Any] | None:
    """住民票関係情報: the household and relationships, not the four basic facts.

    A removed record (除票: moved out, died) answers with its status and the date it closed, without a
    household: the household it left is no longer the person's.
    """
    resident = registry.find_resident(session, resident_id=resident_id)
    if resident is None:
        return None
    record = {
        "status": resident.status,
        "relationship": resident.relationship_code,
        "resident_since": resident.became_resident_on.isoformat(),
        "removed_on": resident.removed_on.isoformat() if resident.removed_on else None,
    }
    if resident.removed_on is not None:
        return record
    today = clock.today()
    members = registry.household_members(session, resident=resident)
    return {
        **record,
        "household_size": len(members),
        "household": [
            {"relationship": m.relationship_code, "sex": m.sex, "age": _age(m.birth_date, today)} for m in members
        ],
    }


def local_tax(session: Session, resident_id: int) -> dict[str, Any] | None:
    assessments = localtax.assessments_for(session, resident_id=resident_id)
    if not assessments:
        return None
    return {
        "assessments": [
            {
                "fiscal_year": a.fiscal_year,
                "income": a.income,
                "taxable_income": a.taxable_income,
                "municipal_tax": a.municipal_tax,
                "prefectural_tax": a.prefectural_tax,
                "dependants": a.dependants,
                "taxed": a.taxed,
            }
            for a in assessments
        ]
    }


def pension_benefit(session: Session, member_id: int) -> dict[str, Any] | None:
    benefits = pension.benefits(session, member_id=member_id)
    return {"benefits": benefits} if benefits else None


def pension_enrolment(session: Session, member_id: int) -> dict[str, Any] | None:
    return pension.enrolment(session, member_id=member_id)


_IN_PROCESS = {
    ("municipality", "resident_record"): resident_record,
    ("municipality", "local_tax"): local_tax,
    ("pension_office", "pension_benefit"): pension_benefit,
    ("pension_office", "pension_enrolment"): pension_enrolment,
}


class InProcessProvider:
    """The agencies whose ledgers live in this process: the town hall and the pension office."""

    def provide(
        self, session: Session, *, agency: str, kind: str, item: str, business: str, code: str
    ) -> dict[str, Any] | None:
        reader = _IN_PROCESS.get((kind, item))
        ref = local_ref(session, agency=agency, code=code)
        if reader is None or ref is None:
            return NOT_HELD
        return reader(session, ref)


class HttpProvider:
    """A provider in another process: the hub authenticates with its own key (private_key_jwt) and asks."""

    def __init__(self, *, base_url: str, hub_code: str, hub_private_pem: bytes, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.hub_code = hub_code
        self.client = httpx.Client(timeout=timeout)
        self._tokens = OrgTokenSource(
            base_url=self.base_url,
            org_code=hub_code,
            private_pem=hub_private_pem,
            scope="network:provide",
            client=self.client,
        )

    def _bearer(self) -> str:
        try:
            return self._tokens.bearer()
        except TokenRefused as exc:
            raise ProviderUnavailable(
                f"the provider at {self.base_url} refused the hub's credentials ({exc.status})"
            ) from exc

    def provide(
        self, session: Session, *, agency: str, kind: str, item: str, business: str, code: str
    ) -> dict[str, Any] | None:
        try:
            response = self.client.post(
                f"{self.base_url}/api/network/provide",
                headers={"Authorization": f"Bearer {self._bearer()}"},
                json={"agency": agency, "item": item, "business": business, "code": code},
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the provider at {self.base_url} did not answer: {exc}") from exc
        if response.status_code != 200:
            raise ProviderUnavailable(f"the provider at {self.base_url} answered {response.status_code}")
        return response.json().get("data")


def hub_private_key(session: Session, keys: KeyRing, hub_code: str) -> bytes:
    from openmyna.orgs import service as orgs

    return orgs.custodial_private_key(keys, orgs.get_organisation(session, hub_code))
