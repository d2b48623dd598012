"""Demo employers, gates and employee IDs: 高橋健太's company badge, 山田花子's ministry ID (国家公務員身分証)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from openmyna.carduses import service
from openmyna.core.crypto import KeyRing
from openmyna.orgs import service as orgs
from openmyna.orgs.demo import DEMO_STAFF_PASSWORD, DemoLogin

EMPLOYER, MINISTRY = "openmyna-corp", "mhlw"
GATES = (
    ("OMC-1F", "オープンマイナ株式会社 本社1階ゲート", EMPLOYER),
    ("MHLW-5A", "中央合同庁舎第5号館 入口", MINISTRY),
)
GUARD = DemoLogin("guard", DEMO_STAFF_PASSWORD, "guard", EMPLOYER)


def seed_gates(session: Session, *, keys: KeyRing, persona_cards: dict[str, int]) -> None:
    """One employer and the ministry with a gate each, a guard login, and badges on two personas' cards."""
    orgs.add_organisation(
        session, keys=keys, code=EMPLOYER, name="オープンマイナ株式会社", kind="employer", custodial=True
    )
    orgs.add_staff(
        session,
        org_code=GUARD.org,
        username=GUARD.username,
        password=GUARD.password,
        display_name="本社 警備室",
        role=GUARD.role,
    )
    for code, name, employer in GATES:
        service.add_gate(session, code=code, name=name, employer=employer)
    for persona, employer, employee_id in (("employee", EMPLOYER, "E10042"), ("parent", MINISTRY, "MHLW-2041")):
        if persona in persona_cards:
            service.register_badge(
                session, keys=keys, employer=employer, card_id=persona_cards[persona], employee_id=employee_id
            )
