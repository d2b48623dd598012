"""The demo concert: an organiser, its usher, and tickets bound to 山田花子's and 高橋健太's cards."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.carduses.tickets import service
from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.orgs import service as orgs
from openmyna.orgs.demo import DEMO_STAFF_PASSWORD, DemoLogin

ORGANISER, EVENT = "openmyna-live", "OML-2026"
USHER = DemoLogin("usher", DEMO_STAFF_PASSWORD, "usher", ORGANISER)
TICKET_HOLDERS = (("parent", "A-12"), ("employee", "A-13"))


def seed_concert(session: Session, *, keys: KeyRing, persona_cards: dict[str, int]) -> None:
    """The organiser and a concert a week from today, with tickets for two personas (as a sale issues them)."""
    orgs.add_organisation(
        session, keys=keys, code=ORGANISER, name="オープンマイナ・ライブ", kind=service.ORGANISER_KIND, custodial=True
    )
    orgs.add_staff(
        session,
        org_code=USHER.org,
        username=USHER.username,
        password=USHER.password,
        display_name="入場口 係員",
        role=USHER.role,
    )
    doors = dt.datetime.combine(clock.today() + dt.timedelta(days=7), dt.time(17, 30), tzinfo=clock.JST)
    event = service.add_event(
        session,
        organiser=ORGANISER,
        code=EVENT,
        name="マイナ・サウンド・フェスティバル 2026",
        venue="日本武道館",
        starts_at=doors,
        capacity=10_000,
    )
    for persona, seat in TICKET_HOLDERS:
        if persona in persona_cards:
            subject = cards.get_card(session, card_id=persona_cards[persona]).subject
            service.issue(session, keys=keys, event=event.code, subject=subject, seat=seat)
