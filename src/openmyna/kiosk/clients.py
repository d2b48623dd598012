"""How the three roles reach each other: in this process, or over HTTP as organisations.

Over HTTP each caller authenticates with its organisation's key (client credentials + private_key_jwt,
``orgs.client``): a store as a ``kiosk_operator`` (scope ``kiosk:request``), the centre as the
``platform_operator`` that runs it (scope ``kiosk:route``). A refusal from the far side arrives as
problem+json and is raised again here with the same type, so every layer reports the same reason.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session

from openmyna.core.errors import DomainError
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import Responder
from openmyna.kiosk import centre
from openmyna.kiosk import municipality as server
from openmyna.kiosk.municipalities import Municipality
from openmyna.orgs.client import OrgTokenSource, TokenRefused
from openmyna.orgs.service import Caller

PROBLEM_PREFIX = "https://openmyna.example/problems/"


class RemoteRefusal(DomainError):
    """A refusal the far side answered with; keeps its type, status and titles."""

    def __init__(self, body: dict[str, Any], status: int) -> None:
        super().__init__(str(body.get("detail", "")), **{k: v for k, v in body.items() if k not in _BASE_FIELDS})
        self.slug = str(body.get("type", "")).removeprefix(PROBLEM_PREFIX) or "remote-refusal"  # type: ignore[misc]
        self.status = status  # type: ignore[misc]
        self.title_en = str(body.get("title", "Refused"))  # type: ignore[misc]
        self.title_ja = str(body.get("title_ja", "要求を処理できません"))  # type: ignore[misc]


_BASE_FIELDS = {"type", "title", "title_ja", "status", "detail"}


def _issued(body: dict[str, Any]) -> server.Issued:
    return server.Issued(
        number=body["number"],
        kind=body["kind"],
        fee=int(body["fee"]),
        copies=int(body["copies"]),
        pdf=base64.b64decode(body["pdf"]),
        summary=body["summary"],
        replayed=bool(body["replayed"]),
    )


def _post(
    tokens: OrgTokenSource, url: str, payload: dict[str, Any], down: type[DomainError], name: str
) -> dict[str, Any]:
    try:
        response = tokens.client.post(url, json=payload, headers={"Authorization": f"Bearer {tokens.bearer()}"})
    except (httpx.HTTPError, TokenRefused) as exc:
        raise down(f"{name} did not answer: {exc}") from exc
    if response.status_code == 401:
        tokens.forget()
    if response.status_code >= 500 and "problem" not in response.headers.get("content-type", ""):
        raise down(f"{name} answered {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise down(f"{name} answered something that is not JSON ({response.status_code})") from exc
    if response.status_code != 200:
        raise RemoteRefusal(body, response.status_code)
    return dict(body)


@dataclass
class InProcessMunicipality:
    """The municipality's server in this process (the default): a plain call in the centre's unit of work."""

    config: CaConfig
    caller: Caller
    base_url: str

    def issue(self, session: Session, *, municipality: Municipality, request: server.Request) -> server.Issued:
        return server.issue(
            session,
            config=self.config,
            municipality=municipality,
            request=request,
            caller=self.caller,
            base_url=self.base_url,
        )


class HttpMunicipality:
    """A municipality's server in another process, called as the centre's organisation."""

    def __init__(self, *, base_url: str, centre_org: str, private_pem: bytes, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = OrgTokenSource(
            base_url=self.base_url,
            org_code=centre_org,
            private_pem=private_pem,
            scope="kiosk:route",
            client=httpx.Client(timeout=timeout),
        )

    def issue(self, session: Session, *, municipality: Municipality, request: server.Request) -> server.Issued:
        payload = {
            "subject": request.subject,
            "kind": request.kind,
            "options": request.options.as_dict(),
            "copies": request.copies,
            "store": request.store,
            "request_key": request.request_key,
        }
        body = _post(
            self.tokens,
            f"{self.base_url}/api/kiosk/municipality/certificates",
            payload,
            centre.MunicipalityDown,
            f"the certificate server of {municipality.name_en}",
        )
        return _issued(body)


class CentreUnreachable(DomainError):
    slug = "kiosk-centre-down"
    status = 503
    title_ja = "証明書交付センターに接続できません。手数料はいただいていません"
    title_en = "The issuance centre cannot be reached; nothing was charged"


@dataclass
class InProcessCentre:
    """The issuance centre in this process (the default)."""

    responder: Responder
    municipalities: dict[str, Municipality]
    client: centre.MunicipalityClient
    caller: Caller

    def request(self, session: Session, request: centre.CardRequest) -> server.Issued:
        routed = centre.route(
            session,
            responder=self.responder,
            municipalities=self.municipalities,
            client=self.client,
            request=request,
            caller=self.caller,
        )
        centre.record_routing(session, routed=routed, request=request, caller=self.caller)
        return routed.issued


class HttpCentre:
    """The issuance centre in another process, called as the store's organisation."""

    def __init__(self, *, base_url: str, store: str, private_pem: bytes, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = OrgTokenSource(
            base_url=self.base_url,
            org_code=store,
            private_pem=private_pem,
            scope="kiosk:request",
            client=httpx.Client(timeout=timeout),
        )

    def request(self, session: Session, request: centre.CardRequest) -> server.Issued:
        payload = {
            "request_key": request.request_key,
            "signed_at": request.signed_at.isoformat(),
            "kind": request.kind,
            "options": request.options.as_dict(),
            "copies": request.copies,
            "tendered": request.tendered,
            "certificate": base64.b64encode(request.certificate).decode(),
            "signature": base64.b64encode(request.signature).decode(),
        }
        body = _post(
            self.tokens, f"{self.base_url}/api/kiosk/centre/requests", payload, CentreUnreachable, "the centre"
        )
        return _issued(body)
