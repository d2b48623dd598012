"""Registry operations: register, change, move, death, lookup, and the record as of a date.

Every change closes the current history version and opens a new one, so a certificate "as of
date D" and a removed record (除票) can be produced later. Every read is an access event.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import jaconv
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from openmyna.core import audit, clock, events
from openmyna.core.crypto import KeyRing
from openmyna.core.db import prefix_match
from openmyna.core.errors import Conflict, InvalidInput, NotFound
from openmyna.numbers import formats, protection
from openmyna.numbers import service as numbers
from openmyna.orgs.service import Caller
from openmyna.registry import addresses
from openmyna.registry.events import ResidentFactsChanged, ResidentRegistered, ResidentRemoved, ResidentReturned
from openmyna.registry.models import DECEASED, MOVED_OUT, RESIDENT, Household, Resident, ResidentVersion
from openmyna.registry.schemas import (
    AddressIn,
    Death,
    HouseholdChoice,
    MoveOut,
    MoveWithin,
    ResidentChange,
    ResidentCreate,
)

_KANA_EXTRA = set("ー・　 ヽヾ")


class ResidentNotFound(NotFound):
    slug = "resident-not-found"
    title_ja = "住民が見つかりません"
    title_en = "Resident not found"


class NotAResident(Conflict):
    slug = "not-a-resident"
    title_ja = "住民登録がありません"
    title_en = "Not a current resident"


class DuplicateMyNumber(Conflict):
    slug = "duplicate-my-number"
    title_ja = "個人番号が重複しています"
    title_en = "Duplicate My Number"


class ImpossibleDate(InvalidInput):
    slug = "impossible-date"
    title_ja = "日付が正しくありません"
    title_en = "Impossible date"


class InvalidKana(InvalidInput):
    slug = "invalid-kana"
    title_ja = "フリガナが正しくありません"
    title_en = "Invalid kana"


def normalise_kana(value: str, *, field: str) -> str:
    """Half-width or hiragana input to full-width katakana, as the registry stores it."""
    text = jaconv.hira2kata(jaconv.h2z(value.strip(), kana=True, ascii=False, digit=False))
    if not text or any(not ("ァ" <= ch <= "ヶ" or ch in _KANA_EXTRA) for ch in text):
        raise InvalidKana(f"{field}: {value!r} is not katakana or hiragana", field=field)
    return text.replace(" ", "　")


def subject_of(resident: Resident) -> str:
    """The person's key for access events: the same for every record the person ever had."""
    return resident.pseudonym


def my_number_of(keys: KeyRing, resident: Resident) -> str:
    return protection.reveal(keys, resident.my_number_sealed, generation=resident.my_number_generation)


def _protected_columns(keys: KeyRing, number: str, *, generation: int) -> dict[str, Any]:
    """The stored form of a resident's number (``numbers.protection``), as column values."""
    protected = protection.protect(keys, number, generation=generation)
    return {
        "my_number_lookup": protected.lookup,
        "my_number_sealed": protected.sealed,
        "my_number_generation": protected.generation,
        "pseudonym": protection.pseudonym(keys, number),
    }


def snapshot(resident: Resident) -> dict[str, Any]:
    """The record's displayable facts (never the My Number) for the history."""
    return {
        "family_name": resident.family_name,
        "given_name": resident.given_name,
        "family_name_kana": resident.family_name_kana,
        "given_name_kana": resident.given_name_kana,
        "former_family_name": resident.former_family_name,
        "former_family_name_kana": resident.former_family_name_kana,
        "birth_date": resident.birth_date.isoformat(),
        "sex": resident.sex,
        "postal_code": resident.postal_code,
        "address": resident.address,
        "household_id": resident.household_id,
        "relationship": resident.relationship_code,
        "status": resident.status,
        "became_resident_on": resident.became_resident_on.isoformat(),
        "address_since": resident.address_since.isoformat(),
        "previous_address": resident.previous_address,
        "removed_on": resident.removed_on.isoformat() if resident.removed_on else None,
        "destination_address": resident.destination_address,
        "destination_country": resident.destination_country,
    }


def abroad_since(resident: Resident) -> dt.date | None:
    """The date of a move abroad if the person lives abroad now (国外転出者: the record closed by it), else None."""
    if resident.status == MOVED_OUT and resident.destination_country:
        return resident.removed_on
    return None


def _check_dates(event_date: dt.date, notified_on: dt.date | None, *, not_before: dt.date | None = None) -> dt.date:
    today = clock.today()
    if event_date > today:
        raise ImpossibleDate(f"event_date {event_date} is in the future (today is {today})", field="event_date")
    notified = notified_on or today
    if notified > today:
        raise ImpossibleDate(f"notified_on {notified} is in the future", field="notified_on")
    if not_before is not None and event_date < not_before:
        raise ImpossibleDate(
            f"event_date {event_date} is before the latest change on record ({not_before}); "
            "changes are recorded in date order",
            field="event_date",
        )
    return notified


def _append_version(resident: Resident, *, event: str, event_date: dt.date, notified_on: dt.date) -> None:
    if resident.history:
        resident.history[-1].valid_to = event_date
    resident.history.append(
        ResidentVersion(
            seq=len(resident.history) + 1,
            event=event,
            valid_from=event_date,
            notified_on=notified_on,
            recorded_at=clock.now(),
            snapshot=snapshot(resident),
        )
    )
    resident.version = len(resident.history)


def _latest_date(resident: Resident) -> dt.date:
    return resident.history[-1].valid_from if resident.history else resident.birth_date


def _require_current(resident: Resident) -> None:
    if resident.status == DECEASED:
        raise NotAResident(f"resident {resident.id} died on {resident.removed_on}; the record is closed")
    if resident.status == MOVED_OUT:
        raise NotAResident(f"resident {resident.id} moved out on {resident.removed_on}; the record is closed")


def new_resident_code(session: Session) -> str:
    """A random, unused 11-digit resident code (住民票コード)."""
    generator = secrets.SystemRandom()
    while True:
        body = f"{generator.randrange(10**10):010d}"
        code = body + formats.resident_code_check_digit(body)
        if session.scalar(select(Resident.id).where(Resident.resident_code == code)) is None:
            return code


def _load(session: Session, resident_id: int) -> Resident:
    resident = session.get(Resident, resident_id, options=[selectinload(Resident.history)])
    if resident is None:
        raise ResidentNotFound(f"no resident with id {resident_id}")
    return resident


def _household(session: Session, household_id: int, municipality_code: str) -> Household:
    household = session.get(Household, household_id)
    if household is None or household.dissolved_on is not None or household.municipality_code != municipality_code:
        raise NotFound(f"no current household with id {household_id}", field="household.household_id")
    return household


def _new_household(municipality_code: str, area: addresses.PostalArea, address: AddressIn, on: dt.date) -> Household:
    return Household(
        municipality_code=municipality_code,
        postal_code=area.postal_code,
        address_town=area.town,
        address_block=address.block,
        address_building=address.building,
        formed_on=on,
    )


def _place(
    session: Session,
    resident: Resident,
    *,
    municipality_code: str,
    choice: HouseholdChoice,
    address: AddressIn | None,
    on: dt.date,
) -> None:
    """Put the resident into a new or existing household and take its address."""
    if choice.household_id is None:
        if address is None:
            raise InvalidInput("an address is needed to form a new household", field="address")
        if choice.relationship != "head":
            raise InvalidInput("the first member of a new household is its head", field="household.relationship")
        area = addresses.resolve(municipality_code, address.postal_code, address.town)
        household = _new_household(municipality_code, area, address, on)
        session.add(household)
    else:
        household = _household(session, choice.household_id, municipality_code)
        if choice.relationship == "head" and any(
            m.relationship_code == "head" and m.status == RESIDENT for m in household.members if m is not resident
        ):
            raise Conflict(f"household {household.id} already has a head", field="household.relationship")
        area = addresses.resolve(municipality_code, household.postal_code, household.address_town)
    resident.household = household
    resident.relationship_code = choice.relationship
    resident.municipality_code = municipality_code
    resident.prefecture, resident.city = area.prefecture, area.city
    resident.postal_code, resident.address_town = area.postal_code, household.address_town
    resident.address_block, resident.address_building = household.address_block, household.address_building


def create_resident(
    session: Session, *, keys: KeyRing, municipality_code: str, data: ResidentCreate, caller: Caller
) -> Resident:
    """Register a newborn (a new My Number is issued) or someone moving in (with their number, if any)."""
    if data.birth_date > clock.today():
        raise ImpossibleDate(f"birth_date {data.birth_date} is in the future", field="birth_date")
    notified = _check_dates(data.event_date, data.notified_on, not_before=data.birth_date)
    if data.kind == "birth" and data.my_number:
        raise InvalidInput("a newborn gets a new My Number; do not send one", field="my_number")
    earlier: int | None = None  # the removed record of someone moving back in
    generations = protection.generations(session, for_write=True)
    if data.my_number:
        number = formats.require(formats.check_my_number(data.my_number), field="my_number")
        stored_as = Resident.my_number_lookup.in_(protection.lookups(keys, number, generations=generations))
        holders = set(session.scalars(select(Resident.status).where(stored_as)))
        if RESIDENT in holders:
            raise DuplicateMyNumber("this My Number already belongs to a current resident", field="my_number")
        if DECEASED in holders:
            raise DuplicateMyNumber("this My Number belonged to a resident who has died", field="my_number")
        numbers.register_existing_my_number(session, keys=keys, number=number)
        earlier = session.scalar(
            select(Resident.id).where(stored_as, Resident.status == MOVED_OUT).order_by(Resident.id.desc()).limit(1)
        )
    else:
        number = numbers.issue_my_numbers(session, keys=keys, count=1)[0]
    resident = Resident(
        resident_code=new_resident_code(session),
        **_protected_columns(keys, number, generation=generations.current),
        family_name=data.family_name,
        given_name=data.given_name,
        family_name_kana=normalise_kana(data.family_name_kana, field="family_name_kana"),
        given_name_kana=normalise_kana(data.given_name_kana, field="given_name_kana"),
        former_family_name=data.former_family_name,
        former_family_name_kana=(
            normalise_kana(data.former_family_name_kana, field="former_family_name_kana")
            if data.former_family_name_kana
            else ""
        ),
        birth_date=data.birth_date,
        sex=data.sex,
        status=RESIDENT,
        became_resident_on=data.event_date,
        address_since=data.event_date,
        previous_address=data.previous_address,
    )
    _set_search_keys(resident)
    _place(
        session,
        resident,
        municipality_code=municipality_code,
        choice=data.household,
        address=data.address,
        on=data.event_date,
    )
    session.add(resident)
    _append_version(resident, event=data.kind, event_date=data.event_date, notified_on=notified)
    session.flush()
    _touch(session, resident, caller, f"register:{data.kind}")
    events.publish(session, ResidentRegistered(resident.id, data.kind, data.event_date))
    if earlier is not None:
        events.publish(session, ResidentReturned(resident.id, earlier, data.event_date))
    return resident


def _set_search_keys(resident: Resident) -> None:
    resident.full_name = resident.family_name + resident.given_name
    resident.full_kana = resident.family_name_kana + resident.given_name_kana


def _touch(session: Session, resident: Resident, caller: Caller, action: str, purpose: str = "") -> None:
    audit.record_access(
        session,
        subject=subject_of(resident),
        actor_org=caller.org_code,
        actor=caller.actor,
        action=f"registry.{action}",
        purpose=purpose,
    )


def change_resident(session: Session, *, resident_id: int, data: ResidentChange, caller: Caller) -> Resident:
    """Change names or the former surname (婚姻, 旧姓併記) or correct an entry."""
    resident = _load(session, resident_id)
    _require_current(resident)
    notified = _check_dates(data.event_date, data.notified_on, not_before=_latest_date(resident))
    changes = data.model_dump(exclude_unset=True, exclude={"reason", "event_date", "notified_on"})
    if not changes:
        raise InvalidInput("nothing to change: send at least one name field")
    for field, value in changes.items():
        if field.endswith("_kana") and value:
            value = normalise_kana(value, field=field)
        setattr(resident, field, value if value is not None else "")
    if resident.former_family_name_kana and not resident.former_family_name:
        raise InvalidInput("a former surname's kana needs the former surname itself", field="former_family_name")
    _set_search_keys(resident)
    _append_version(resident, event=data.reason, event_date=data.event_date, notified_on=notified)
    _touch(session, resident, caller, "change")
    if changes.keys() & {"family_name", "given_name", "former_family_name"}:
        session.flush()
        events.publish(session, ResidentFactsChanged(resident.id, frozenset({"name"}), data.event_date))
    return resident


def _members_to_move(resident: Resident, with_household: bool) -> list[Resident]:
    if not with_household:
        return [resident]
    assert resident.household is not None
    return [m for m in resident.household.members if m.status == RESIDENT]


def _leaving_head_check(resident: Resident, with_household: bool) -> None:
    household = resident.household
    if with_household or household is None or resident.relationship_code != "head":
        return
    others = [m for m in household.members if m is not resident and m.status == RESIDENT]
    if others:
        raise Conflict(
            f"resident {resident.id} heads household {household.id} where others remain; move the whole household "
            "(with_household) or name a new head first",
            field="with_household",
        )


def move_within(
    session: Session, *, resident_id: int, municipality_code: str, data: MoveWithin, caller: Caller
) -> Resident:
    """A move inside the municipality (転居): alone (to a new or existing household) or the whole household."""
    resident = _load(session, resident_id)
    _require_current(resident)
    _leaving_head_check(resident, data.with_household)
    old_household = resident.household
    for member in _members_to_move(resident, data.with_household):
        member_loaded = _load(session, member.id)
        notified = _check_dates(data.event_date, data.notified_on, not_before=_latest_date(member_loaded))
        previous = member_loaded.address
        if data.with_household:
            area = addresses.resolve(municipality_code, data.address.postal_code, data.address.town)
            household = member_loaded.household
            assert household is not None
            household.postal_code, household.address_town = area.postal_code, area.town
            household.address_block, household.address_building = data.address.block, data.address.building
            member_loaded.postal_code, member_loaded.address_town = area.postal_code, area.town
            member_loaded.address_block, member_loaded.address_building = data.address.block, data.address.building
        else:
            _place(
                session,
                member_loaded,
                municipality_code=municipality_code,
                choice=data.household,
                address=data.address,
                on=data.event_date,
            )
        member_loaded.previous_address = previous
        member_loaded.address_since = data.event_date
        _append_version(member_loaded, event="move_within", event_date=data.event_date, notified_on=notified)
        _touch(session, member_loaded, caller, "move_within")
        session.flush()
        events.publish(session, ResidentFactsChanged(member_loaded.id, frozenset({"address"}), data.event_date))
    _dissolve_if_empty(old_household, data.event_date)
    return resident


def _dissolve_if_empty(household: Household | None, on: dt.date) -> None:
    if household is not None and not any(m.status == RESIDENT and m.household is household for m in household.members):
        household.dissolved_on = on


def _close(
    session: Session,
    resident: Resident,
    *,
    status: str,
    event: str,
    event_date: dt.date,
    notified: dt.date,
    caller: Caller,
    destination: str = "",
    country: str = "",
) -> None:
    resident.status = status
    resident.removed_on = event_date
    resident.destination_address = destination
    resident.destination_country = country
    _append_version(resident, event=event, event_date=event_date, notified_on=notified)
    _touch(session, resident, caller, event)
    session.flush()
    events.publish(session, ResidentRemoved(resident.id, event, event_date))


def move_out(session: Session, *, resident_id: int, data: MoveOut, caller: Caller) -> Resident:
    """A move out of the municipality (転出), or abroad (国外転出): the record becomes a removed record (除票)."""
    if data.destination_country == "JP":
        raise InvalidInput("a move within Japan names no country", field="destination_country")
    resident = _load(session, resident_id)
    _require_current(resident)
    _leaving_head_check(resident, data.with_household)
    household = resident.household
    for member in _members_to_move(resident, data.with_household):
        member_loaded = _load(session, member.id)
        notified = _check_dates(data.event_date, data.notified_on, not_before=_latest_date(member_loaded))
        _close(
            session,
            member_loaded,
            status=MOVED_OUT,
            event="move_out",
            event_date=data.event_date,
            notified=notified,
            caller=caller,
            destination=data.destination,
            country=data.destination_country or "",
        )
    _dissolve_if_empty(household, data.event_date)
    return resident


def record_death(session: Session, *, resident_id: int, data: Death, caller: Caller) -> Resident:
    """A death (死亡届): the record closes; a head's household stays until a new head is named.

    Someone who moved abroad is still recorded here (the removed record keeps their country), so a death
    abroad closes that record too, keeping where they lived.
    """
    resident = _load(session, resident_id)
    if abroad_since(resident) is None:
        _require_current(resident)
    notified = _check_dates(data.event_date, data.notified_on, not_before=_latest_date(resident))
    _close(
        session,
        resident,
        status=DECEASED,
        event="death",
        event_date=data.event_date,
        notified=notified,
        caller=caller,
        destination=resident.destination_address,
        country=resident.destination_country,
    )
    _dissolve_if_empty(resident.household, data.event_date)
    return resident


def change_head(
    session: Session,
    *,
    household_id: int,
    resident_id: int,
    event_date: dt.date,
    municipality_code: str,
    caller: Caller,
) -> Household:
    """Name a new head (世帯主変更); the former head, if still there, becomes a relative of the new one."""
    household = _household(session, household_id, municipality_code)
    new_head = _load(session, resident_id)
    _require_current(new_head)
    if new_head.household_id != household.id:
        raise Conflict(f"resident {resident_id} is not a member of household {household_id}", field="resident_id")
    for member in household.members:
        if member.status != RESIDENT or member.relationship_code != "head" or member is new_head:
            continue
        loaded = _load(session, member.id)
        notified = _check_dates(event_date, None, not_before=_latest_date(loaded))
        loaded.relationship_code = "other_relative"
        _append_version(loaded, event="head_change", event_date=event_date, notified_on=notified)
        _touch(session, loaded, caller, "head_change")
    notified = _check_dates(event_date, None, not_before=_latest_date(new_head))
    new_head.relationship_code = "head"
    _append_version(new_head, event="head_change", event_date=event_date, notified_on=notified)
    _touch(session, new_head, caller, "head_change")
    return household


def get_resident(session: Session, *, resident_id: int, caller: Caller, purpose: str = "") -> Resident:
    resident = _load(session, resident_id)
    _touch(session, resident, caller, "read", purpose)
    return resident


def lookup_by_my_number(session: Session, *, keys: KeyRing, number: str, caller: Caller) -> Resident:
    """The person's current record, or their latest removed one, found through the keyed hash."""
    compact = formats.require(formats.check_my_number(number), field="my_number")
    candidates = protection.lookups(keys, compact, generations=protection.generations(session))
    query = (
        select(Resident)
        .where(Resident.my_number_lookup.in_(candidates))
        .order_by((Resident.status == RESIDENT).desc(), Resident.id.desc())
        .limit(1)
    )
    resident = session.scalar(query)
    if resident is None:
        raise ResidentNotFound("no resident record carries this My Number")
    _touch(session, resident, caller, "lookup_by_my_number")
    return resident


def lookup_by_subject(session: Session, *, subject: str, caller: Caller, purpose: str = "") -> Resident:
    """The person's current record (or latest removed one) by the pseudonym :func:`subject_of` gives them.

    Lets an agency address a person without their My Number (a payment request, a notice).
    """
    digits = subject.removeprefix("person:")
    if not subject.startswith("person:") or len(digits) != 32 or any(c not in "0123456789abcdef" for c in digits):
        raise ResidentNotFound("a pseudonym is person: followed by 32 lower-case hexadecimal digits", field="subject")
    query = (
        select(Resident)
        .where(Resident.pseudonym == subject)
        .order_by((Resident.status == RESIDENT).desc(), Resident.id.desc())
        .limit(1)
    )
    resident = session.scalar(query)
    if resident is None:
        raise ResidentNotFound("no resident record has this pseudonym", field="subject")
    _touch(session, resident, caller, "lookup_by_subject", purpose)
    return resident


def search(
    session: Session,
    *,
    caller: Caller,
    name: str | None = None,
    kana: str | None = None,
    birth_date: dt.date | None = None,
    status: str | None = RESIDENT,
    limit: int = 20,
    offset: int = 0,
) -> tuple[int, list[Resident]]:
    """Residents whose full name or kana starts with the query (spaces ignored), newest records last."""
    if not (name or kana or birth_date):
        raise InvalidInput("give at least one of name, kana or birth_date")
    query = select(Resident)
    if name:
        query = query.where(prefix_match(Resident.full_name, name.replace(" ", "").replace("　", "")))
    if kana:
        query = query.where(prefix_match(Resident.full_kana, normalise_kana(kana, field="kana").replace("　", "")))
    if birth_date:
        query = query.where(Resident.birth_date == birth_date)
    if status:
        query = query.where(Resident.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    residents = list(session.scalars(query.order_by(Resident.full_kana, Resident.id).limit(limit).offset(offset)))
    for resident in residents:
        _touch(session, resident, caller, "search")
    return total, residents


def as_of(session: Session, *, resident_id: int, on: dt.date, caller: Caller) -> ResidentVersion:
    """The record as it stood on ``on`` (for a certificate as of that date, or a removed record)."""
    resident = _load(session, resident_id)
    version = next((v for v in reversed(resident.history) if v.valid_from <= on), None)
    if version is None:
        raise NotAResident(f"resident {resident_id} was not on the registry on {on}")
    _touch(session, resident, caller, "read_as_of", on.isoformat())
    return version


def get_household(session: Session, *, household_id: int, caller: Caller) -> Household:
    household = session.get(Household, household_id, options=[selectinload(Household.members)])
    if household is None:
        raise NotFound(f"no household with id {household_id}")
    for member in household.members:
        _touch(session, member, caller, "read_household")
    return household


def household_head(household: Household) -> Resident | None:
    return next((m for m in household.members if m.relationship_code == "head" and m.status == RESIDENT), None)


def household_address(household: Household) -> str:
    prefecture, city = formats.municipality(household.municipality_code) or ("", "")
    building = f" {household.address_building}" if household.address_building else ""
    return f"{prefecture}{city}{household.address_town}{household.address_block}{building}"


def find_resident(session: Session, *, resident_id: int) -> Resident | None:
    """The record, or None; for callers that record the access themselves (the exchange log)."""
    return session.get(Resident, resident_id)


def household_members(session: Session, *, resident: Resident) -> list[Resident]:
    """Current members of the resident's household (the resident alone if the record has none)."""
    if resident.household_id is None:
        return [resident]
    return list(
        session.scalars(
            select(Resident)
            .where(Resident.household_id == resident.household_id, Resident.status == RESIDENT)
            .order_by(Resident.id)
        )
    )


def count_residents(session: Session, *, municipality_codes: list[str]) -> int:
    """Current residents of these municipalities (a count: no one's data is read)."""
    if not municipality_codes:
        return 0
    query = select(func.count()).where(Resident.status == RESIDENT, Resident.municipality_code.in_(municipality_codes))
    return session.scalar(query) or 0


def record_ids_by_subject(session: Session, subjects: list[str]) -> dict[str, int]:
    """The id of each person's latest record, by the pseudonym :func:`subject_of` gives them (no personal data read).

    For pages that link an access event to the record it was about (the counter's recent operations).
    """
    if not subjects:
        return {}
    rows = session.execute(
        select(Resident.pseudonym, func.max(Resident.id))
        .where(Resident.pseudonym.in_(set(subjects)))
        .group_by(Resident.pseudonym)
    )
    return {pseudonym: record_id for pseudonym, record_id in rows}
