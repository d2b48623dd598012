"""The demo linked sites' registration: two sectors on a loopback demo, re-aimed when the base URL moves."""

from __future__ import annotations

from sqlalchemy.orm import Session

from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.portal.oidc import demo_rp, service


def test_demo_sites_are_registered_once_as_two_sectors_and_follow_the_base_url(
    db: Session, keys: KeyRing, settings: Settings
) -> None:
    loopback = settings.model_copy(update={"base_url": "http://127.0.0.1:8000"})
    assert demo_rp.seed(db, settings=loopback, keys=keys) == ["demo-etax", "demo-bank"]
    demo_rp.seed(db, settings=loopback, keys=keys)  # again: nothing new
    etax, bank = (service.find_relying_party(db, name) for name in ("demo-etax", "demo-bank"))
    assert etax is not None and bank is not None
    assert etax.redirect_uris == ["http://127.0.0.1:8000/demo-rp/etax/callback"]
    assert bank.redirect_uris == ["http://localhost:8000/demo-rp/bank/callback"]
    assert (etax.sector, bank.sector) == ("127.0.0.1", "localhost")
    assert service.secret_matches(etax, demo_rp.client_secret(keys, demo_rp.SITES["etax"]))
    assert len(service.list_relying_parties(db)) == 2

    moved = settings.model_copy(update={"base_url": "http://127.0.0.1:8001"})
    demo_rp.seed(db, settings=moved, keys=keys)
    assert etax.redirect_uris == ["http://127.0.0.1:8001/demo-rp/etax/callback"]
    assert etax.post_logout_redirect_uris == ["http://127.0.0.1:8001/demo-rp/etax"]
