"""When and to whom the kiosk issues: hours, closed days, age. Every "now" from ``core.clock``."""

from __future__ import annotations

import datetime as dt

from openmyna.core import clock
from openmyna.core.errors import Conflict, DomainError, Forbidden
from openmyna.kiosk.municipalities import Municipality

OPENS = dt.time(6, 30)
CLOSES = dt.time(23, 0)
MIN_AGE = 15


class OutOfHours(DomainError):
    slug = "kiosk-out-of-hours"
    status = 409
    title_ja = "ただいまの時間は証明書を交付できません（6時30分から23時まで）"
    title_en = "Certificates are issued from 6:30 to 23:00 only"


class ClosedDay(OutOfHours):
    slug = "kiosk-closed-day"
    title_ja = "本日は証明書を交付できません（年末年始・保守日）"
    title_en = "No certificates today (year-end holidays or maintenance)"


class TooYoung(Forbidden):
    slug = "kiosk-too-young"
    title_ja = "15歳未満の方はコンビニ交付を利用できません"
    title_en = "Residents under 15 cannot use convenience-store issuance"


class KindNotOffered(Conflict):
    slug = "kiosk-kind-not-offered"
    title_ja = "お住まいの市区町村はこの証明書をコンビニで交付していません"
    title_en = "Your municipality does not issue this certificate at stores"


_enforce_hours = True


def configure(*, enforce_hours: bool) -> None:
    """This process's choice (``OPENMYNA_KIOSK_ENFORCE_HOURS``): only a test or benchmark deployment turns it off."""
    global _enforce_hours
    _enforce_hours = enforce_hours


def year_end(day: dt.date) -> bool:
    """12/29–1/3: closed everywhere."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def check_open(municipality: Municipality | None = None, *, at: dt.datetime | None = None) -> None:
    """Refuse outside 6:30–23:00 Japan time, on 12/29–1/3, and on the municipality's maintenance days."""
    if not _enforce_hours:
        return
    local = (at or clock.now()).astimezone(clock.JST)
    if year_end(local.date()):
        raise ClosedDay("the service is closed from 29 December to 3 January", day=local.date().isoformat())
    if municipality is not None and local.date() in municipality.maintenance_days:
        raise ClosedDay(f"{municipality.name_en}'s certificate server is down for maintenance today")
    if not OPENS <= local.time() < CLOSES:
        raise OutOfHours(f"it is {local:%H:%M} in Japan; the service runs 6:30–23:00")


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_age(birth: dt.date) -> None:
    if age_on(birth, clock.today()) < MIN_AGE:
        raise TooYoung("the card holder is under 15")


def check_offered(municipality: Municipality, kind: str) -> int:
    """The fee of one copy, or a refusal when the municipality does not offer ``kind``."""
    fee = municipality.fees.get(kind)  # type: ignore[call-overload]
    if fee is None:
        raise KindNotOffered(f"{municipality.name_en} does not issue {kind} at stores", kind=kind)
    return int(fee)
