"""Staff-only REST endpoints for residents and households."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from openmyna.core.validation import IdParam, SafeText
from openmyna.core.web import DbSession, Keys, UnitOfWorkRoute
from openmyna.numbers import formats
from openmyna.orgs.dependencies import require_town_scope
from openmyna.orgs.service import Caller
from openmyna.registry import service
from openmyna.registry.models import Household, Resident
from openmyna.registry.schemas import (
    Death,
    HeadChange,
    HouseholdOut,
    MoveOut,
    MoveWithin,
    MyNumberLookup,
    ResidentChange,
    ResidentCreate,
    ResidentDetail,
    ResidentOut,
    ResidentPage,
    VersionOut,
)

router = APIRouter(route_class=UnitOfWorkRoute, prefix="/api/registry", tags=["registry"])
Reader = Annotated[Caller, Depends(require_town_scope("registry:read", other_kinds_may_read=True))]
Writer = Annotated[Caller, Depends(require_town_scope("registry:write"))]


def _municipality(request: Request) -> str:
    return request.app.state.settings.municipality_code


Municipality = Annotated[str, Depends(_municipality)]


def resident_out(resident: Resident, keys: Keys) -> ResidentOut:
    display = f"{resident.family_name} {resident.given_name}"
    if resident.former_family_name:
        display += f"（{resident.former_family_name}）"
    return ResidentOut(
        id=resident.id,
        resident_code=resident.resident_code,
        my_number=formats.mask_my_number(service.my_number_of(keys, resident)),
        family_name=resident.family_name,
        given_name=resident.given_name,
        family_name_kana=resident.family_name_kana,
        given_name_kana=resident.given_name_kana,
        former_family_name=resident.former_family_name,
        former_family_name_kana=resident.former_family_name_kana,
        display_name=display,
        birth_date=resident.birth_date,
        sex=resident.sex,  # type: ignore[arg-type]
        postal_code=resident.postal_code,
        address=resident.address,
        municipality_code=resident.municipality_code,
        household_id=resident.household_id,
        relationship=resident.relationship_code,
        status=resident.status,  # type: ignore[arg-type]
        became_resident_on=resident.became_resident_on,
        address_since=resident.address_since,
        previous_address=resident.previous_address,
        removed_on=resident.removed_on,
        destination_address=resident.destination_address,
        destination_country=resident.destination_country,
    )


def _version_out(version: service.ResidentVersion) -> VersionOut:
    return VersionOut(
        seq=version.seq,
        event=version.event,
        valid_from=version.valid_from,
        valid_to=version.valid_to,
        notified_on=version.notified_on,
        record=version.snapshot,
    )


def _detail(resident: Resident, keys: Keys) -> ResidentDetail:
    return ResidentDetail(
        **resident_out(resident, keys).model_dump(), history=[_version_out(v) for v in resident.history]
    )


def _household_out(household: Household, keys: Keys) -> HouseholdOut:
    head = service.household_head(household)
    return HouseholdOut(
        id=household.id,
        postal_code=household.postal_code,
        address=service.household_address(household),
        formed_on=household.formed_on,
        dissolved_on=household.dissolved_on,
        head_id=head.id if head else None,
        members=[resident_out(m, keys) for m in household.members],
    )


@router.post("/residents", response_model=ResidentDetail, status_code=201)
def create_resident(
    body: ResidentCreate, session: DbSession, keys: Keys, caller: Writer, municipality: Municipality
) -> ResidentDetail:
    """Register a birth (a new My Number is issued) or a move-in."""
    resident = service.create_resident(session, keys=keys, municipality_code=municipality, data=body, caller=caller)
    return _detail(resident, keys)


@router.get("/residents", response_model=ResidentPage)
def search_residents(
    session: DbSession,
    keys: Keys,
    caller: Reader,
    name: Annotated[SafeText | None, Query(max_length=50, description="Prefix of the full name, e.g. 山田花")] = None,
    kana: Annotated[
        SafeText | None, Query(max_length=100, description="Prefix of the full kana (half-width accepted)")
    ] = None,
    birth_date: dt.date | None = None,
    status: Literal["resident", "moved_out", "deceased", "any"] = "resident",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> ResidentPage:
    """Search by name, kana and birth date."""
    total, residents = service.search(
        session,
        caller=caller,
        name=name,
        kana=kana,
        birth_date=birth_date,
        status=None if status == "any" else status,
        limit=limit,
        offset=offset,
    )
    return ResidentPage(total=total, items=[resident_out(r, keys) for r in residents])


@router.post("/residents/lookup", response_model=ResidentOut)
def lookup_resident(body: MyNumberLookup, session: DbSession, keys: Keys, caller: Reader) -> ResidentOut:
    """Find a resident by My Number (sent in the body so it never appears in a URL or an access log)."""
    return resident_out(service.lookup_by_my_number(session, keys=keys, number=body.my_number, caller=caller), keys)


@router.get("/residents/{resident_id}", response_model=ResidentDetail)
def get_resident(resident_id: IdParam, session: DbSession, keys: Keys, caller: Reader) -> ResidentDetail:
    """A resident with the full history of the record."""
    return _detail(service.get_resident(session, resident_id=resident_id, caller=caller), keys)


@router.get("/residents/{resident_id}/as-of/{on}", response_model=VersionOut)
def resident_as_of(resident_id: IdParam, on: dt.date, session: DbSession, caller: Reader) -> VersionOut:
    """The record as it stood on a date."""
    return _version_out(service.as_of(session, resident_id=resident_id, on=on, caller=caller))


@router.patch("/residents/{resident_id}", response_model=ResidentDetail)
def change_resident(
    resident_id: IdParam, body: ResidentChange, session: DbSession, keys: Keys, caller: Writer
) -> ResidentDetail:
    """Change names or the former surname, or correct an entry."""
    return _detail(service.change_resident(session, resident_id=resident_id, data=body, caller=caller), keys)


@router.post("/residents/{resident_id}/move-within", response_model=ResidentDetail)
def move_within(
    resident_id: IdParam, body: MoveWithin, session: DbSession, keys: Keys, caller: Writer, municipality: Municipality
) -> ResidentDetail:
    """A move inside the municipality (転居)."""
    resident = service.move_within(
        session, resident_id=resident_id, municipality_code=municipality, data=body, caller=caller
    )
    return _detail(resident, keys)


@router.post("/residents/{resident_id}/move-out", response_model=ResidentDetail)
def move_out(resident_id: IdParam, body: MoveOut, session: DbSession, keys: Keys, caller: Writer) -> ResidentDetail:
    """A move out of the municipality (転出)."""
    return _detail(service.move_out(session, resident_id=resident_id, data=body, caller=caller), keys)


@router.post("/residents/{resident_id}/death", response_model=ResidentDetail)
def death(resident_id: IdParam, body: Death, session: DbSession, keys: Keys, caller: Writer) -> ResidentDetail:
    """Record a death (死亡届)."""
    return _detail(service.record_death(session, resident_id=resident_id, data=body, caller=caller), keys)


@router.get("/households/{household_id}", response_model=HouseholdOut)
def get_household(household_id: IdParam, session: DbSession, keys: Keys, caller: Reader) -> HouseholdOut:
    """A household with its members."""
    return _household_out(service.get_household(session, household_id=household_id, caller=caller), keys)


@router.post("/households/{household_id}/head", response_model=HouseholdOut)
def change_head(
    household_id: IdParam, body: HeadChange, session: DbSession, keys: Keys, caller: Writer, municipality: Municipality
) -> HouseholdOut:
    """Name a new head of household (世帯主変更)."""
    household = service.change_head(
        session,
        household_id=household_id,
        resident_id=body.resident_id,
        event_date=body.event_date,
        municipality_code=municipality,
        caller=caller,
    )
    session.flush()
    session.refresh(household)
    return _household_out(household, keys)
