"""Demo data of the notice menus: a delivery service, and a few notices from the town for every persona."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.orgs import service as orgs
from openmyna.portal.notices.models import Notice, NoticeMessage
from openmyna.portal.notices.service import now_utc
from openmyna.registry import service as registry
from openmyna.registry.models import Resident

DELIVERY_SERVICE = ("demo-post", "デモ郵便デジタル送達", "Demo digital post")
NOTICES = (
    (
        "deadline_reminder",
        "児童手当の現況届の提出期限について",
        "現況届を6月30日までに提出してください。",
        dt.date(2027, 6, 30),
    ),
    (
        "decision",
        "令和8年度 住民税決定通知",
        "令和8年度の住民税額を決定しました。詳細は添付の通知書をご覧ください。",
        None,
    ),
    (
        "payment_request",
        "固定資産税 第3期分の納付のお願い",
        "第3期分を12月25日までに納付してください。",
        dt.date(2026, 12, 25),
    ),
)


def seed_notices(session: Session, *, keys: KeyRing, municipality_code: str, persona_ids: dict[str, int]) -> None:
    """Register the demo delivery service and address the demo notices to every persona (by pseudonym)."""
    code, name, name_en = DELIVERY_SERVICE
    orgs.add_organisation(session, keys=keys, code=code, name=name, name_en=name_en, kind="delivery", custodial=True)
    now = now_utc()
    subjects = []
    for resident_id in persona_ids.values():
        resident = session.get(Resident, resident_id)
        if resident is not None:
            subjects.append(registry.subject_of(resident))
    for kind, title, body, due in NOTICES:
        message = NoticeMessage(
            sender_org=municipality_code, kind=kind, title=title, body=body, due_date=due, created_at=now
        )
        session.add(message)
        session.flush()
        session.add_all(Notice(message_id=message.id, subject=subject, created_at=now) for subject in subjects)
    session.flush()
