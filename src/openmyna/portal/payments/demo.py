"""The demo town's payment requests: something for the personas to pay in Mynaportal."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.orgs.service import Caller
from openmyna.portal.payments import service

# (persona, kind, purpose, amount in yen, days until due)
DEMO_REQUESTS = (
    ("parent", "tax", "令和8年度 個人住民税（普通徴収）第1期", 18_500, 30),
    ("parent", "fee", "住民票の写し 交付手数料（郵送請求）", 300, 14),
    ("single_parent", "fee", "保育料 12月分", 12_000, 20),
    ("pensioner", "insurance", "令和8年度 介護保険料 第5期", 4_200, 25),
)


def seed_requests(session: Session, *, municipality_code: str, persona_ids: dict[str, int]) -> int:
    """The town's requests to the personas, through the same service the payee API calls; how many."""
    town = Caller(
        org_code=municipality_code,
        actor=f"system:{municipality_code}",
        scopes=frozenset({service.PAYMENT_SCOPE}),
        via="token",
    )
    made = 0
    for persona, kind, purpose, amount, days in DEMO_REQUESTS:
        if persona not in persona_ids:
            continue
        due = clock.today() + dt.timedelta(days=days)
        payload = {"resident_id": persona_ids[persona], "kind": kind, "purpose": purpose, "amount": amount}
        service.create_request(
            session,
            caller=town,
            idempotency_key=f"demo-{persona}-{made}",
            payload=payload | {"due_date": due.isoformat()},
            resident_id=persona_ids[persona],
            subject=None,
            kind=kind,
            purpose=purpose,
            amount=amount,
            due_date=due,
        )
        made += 1
    return made
