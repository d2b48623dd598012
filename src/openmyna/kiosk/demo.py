"""Demo data of convenience-store issuance: two stores (kiosk operators) and the personas' registered seals."""

from __future__ import annotations

from sqlalchemy.orm import Session

from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import Conflict
from openmyna.jpki.authority import CaConfig
from openmyna.orgs import service as orgs
from openmyna.orgs.service import Caller
from openmyna.registry import seals
from openmyna.registry import service as registry

STORES = (
    ("store-chiyoda-1", "コンビニ 千代田一番町店", "Convenience store, Chiyoda Ichibancho"),
    ("store-chiyoda-2", "コンビニ 神田駅前店", "Convenience store, Kanda Station"),
)
DEFAULT_STORE = STORES[0][0]


def ensure_stores(session: Session, *, keys: KeyRing) -> None:
    """The demo stores, each a ``kiosk_operator`` whose key the platform holds (idempotent)."""
    existing = {o.code for o in orgs.list_organisations(session)}
    for code, name, name_en in STORES:
        if code not in existing:
            orgs.add_organisation(
                session, keys=keys, code=code, name=name, name_en=name_en, kind="kiosk_operator", custodial=True
            )


def seed_seals(session: Session, *, municipality_code: str, persona_ids: dict[str, int]) -> None:
    """A registered seal for every persona old enough (15+)."""
    clerk = Caller(org_code=municipality_code, actor="staff:demo-seed", scopes=frozenset(), via="seed")
    for resident_id in persona_ids.values():
        resident = registry.find_resident(session, resident_id=resident_id)
        if resident is None:
            continue
        try:
            seals.register(
                session, resident_id=resident_id, seal_png=seals.demo_seal_png(resident.family_name), caller=clerk
            )
        except Conflict:
            continue  # under 15, or not a current resident


def ensure_signers(session: Session, *, config: CaConfig, settings: Settings) -> None:
    """The participating towns' document keys and the time-stamping unit, made now rather than at the first print."""
    from openmyna.kiosk import runtime, signing

    for town in runtime.participating(settings).values():
        signing.municipality_signer(session, config=config, code=town.code, name=town.name)
    signing.tsa_signer(session, config=config)
