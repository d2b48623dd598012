"""The kiosk roles as one process wires them: in-process by default, over HTTP when URLs are set."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import Responder
from openmyna.kiosk import centre, clients
from openmyna.kiosk.municipalities import Municipality, municipalities
from openmyna.orgs import service as orgs
from openmyna.orgs.service import Caller


def centre_caller(settings: Settings) -> Caller:
    """The issuance centre acting in this process, under its organisation."""
    org = settings.kiosk_centre_org
    return Caller(org_code=org, actor=f"system:{org}", scopes=frozenset({"kiosk:route"}), via="in-process")


def participating(settings: Settings) -> dict[str, Municipality]:
    return municipalities(settings.kiosk_municipalities_dir)


def municipality_client(session: Session, *, settings: Settings, keys: KeyRing) -> centre.MunicipalityClient:
    """How the centre reaches municipalities: this process, or ``OPENMYNA_KIOSK_MUNICIPALITY_URL``."""
    if settings.kiosk_municipality_url:
        organisation = orgs.get_organisation(session, settings.kiosk_centre_org)
        return clients.HttpMunicipality(
            base_url=settings.kiosk_municipality_url,
            centre_org=settings.kiosk_centre_org,
            private_pem=orgs.custodial_private_key(keys, organisation),
        )
    return clients.InProcessMunicipality(
        config=CaConfig.from_settings(settings, keys), caller=centre_caller(settings), base_url=settings.base_url
    )


def centre_for(
    session: Session,
    *,
    settings: Settings,
    keys: KeyRing,
    store: str,
    responder: Responder | None = None,
    read_sessions: sessionmaker[Session] | None = None,
) -> clients.InProcessCentre | clients.HttpCentre:
    """How a store terminal reaches the centre: this process, or ``OPENMYNA_KIOSK_CENTRE_URL``."""
    if settings.kiosk_centre_url:
        organisation = orgs.get_organisation(session, store)
        return clients.HttpCentre(
            base_url=settings.kiosk_centre_url, store=store, private_pem=orgs.custodial_private_key(keys, organisation)
        )
    if responder is None:
        assert read_sessions is not None, "an in-process centre needs the OCSP responder or read sessions"
        responder = Responder(read_sessions, CaConfig.from_settings(settings, keys))
    return clients.InProcessCentre(
        responder=responder,
        municipalities=participating(settings),
        client=municipality_client(session, settings=settings, keys=keys),
        caller=centre_caller(settings),
    )
