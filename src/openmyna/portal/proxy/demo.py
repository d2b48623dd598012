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


def seed_proxy(session: Session, *, persona_ids: dict[str, int]) -> int | None:
    """The demo grant, accepted; its id (None when either persona is missing)."""
    principal_id, proxy_id = persona_ids.get(PRINCIPAL), persona_ids.get(PROXY)
    principal = registry.find_resident(session, resident_id=principal_id) if principal_id else None
    proxy = registry.find_resident(session, resident_id=proxy_id) if proxy_id else None
    if principal is None or proxy is None:
        return None
    made = service.create_grant(
        session,
        principal_resident_id=principal.id,
        principal_subject=registry.subject_of(principal),
        family_name=proxy.family_name,
        given_name=proxy.given_name,
        birth_date=proxy.birth_date,
        menus=MENUS,
        ends_on=clock.today() + dt.timedelta(days=365),
    )
    service.accept(session, code=made.code, resident_id=proxy.id, subject=registry.subject_of(proxy))
    return made.grant.id
