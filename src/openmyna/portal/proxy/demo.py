"""The demo town's proxy: 鈴木 一郎 (the pensioner, living alone) lets 高橋 健太 (the employee) use his
history, notices and payments for a year, made and accepted through the same service the pages call."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.portal.proxy import service
from openmyna.registry import service as registry

PRINCIPAL, PROXY = "pensioner", "employee"
MENUS = ("history", "notices", "payments")


def grant_between(
    session: Session, *, principal_id: int, proxy_id: int, menus: tuple[str, ...], days: int
) -> int | None:
    """A grant from one resident to another, made and accepted as the pages do it; its id (None: no such people)."""
    principal = registry.find_resident(session, resident_id=principal_id)
    proxy = registry.find_resident(session, resident_id=proxy_id)
    if principal is None or proxy is None:
        return None
    made = service.create_grant(
        session,
        principal_resident_id=principal.id,
        principal_subject=registry.subject_of(principal),
        family_name=proxy.family_name,
        given_name=proxy.given_name,
        birth_date=proxy.birth_date,
        menus=menus,
        ends_on=clock.today() + dt.timedelta(days=days),
    )
    service.accept(session, code=made.code, resident_id=proxy.id, subject=registry.subject_of(proxy))
    return made.grant.id


def seed_proxy(session: Session, *, persona_ids: dict[str, int]) -> int | None:
    """The demo grant, accepted, for a year; its id (None when either persona is missing)."""
    principal_id, proxy_id = persona_ids.get(PRINCIPAL), persona_ids.get(PROXY)
    if principal_id is None or proxy_id is None:
        return None
    return grant_between(session, principal_id=principal_id, proxy_id=proxy_id, menus=MENUS, days=365)
