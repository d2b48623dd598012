"""The demo platform operator and its businesses: a bank (all four facts) and a phone company (no sex)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.ekyc import service
from openmyna.orgs import service as orgs

OPERATOR = "openmyna-pf"
BANK, PHONE = "openmyna-bank", "openmyna-mobile"
BUSINESSES = (
    (BANK, "オープンマイナ銀行", "bank", ["name", "birth_date", "sex", "address"]),
    (PHONE, "オープンマイナモバイル", "phone", ["name", "birth_date", "address"]),
)


def ensure_businesses(session: Session, *, keys: KeyRing) -> None:
    """The operator (a platform operator whose key the platform holds) and its two businesses (idempotent)."""
    existing = {o.code for o in orgs.list_organisations(session)}
    if OPERATOR not in existing:
        orgs.add_organisation(
            session,
            keys=keys,
            code=OPERATOR,
            name="オープンマイナ認証プラットフォーム",
            name_en="openmyna verification platform",
            kind="platform_operator",
            custodial=True,
        )
    registered = {b.code for b in service.list_businesses(session)}
    for code, name, kind, facts in BUSINESSES:
        if code not in registered:
            service.register_business(
                session, keys=keys, operator=OPERATOR, code=code, name=name, kind=kind, facts=facts
            )
