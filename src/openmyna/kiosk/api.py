"""The kiosk's HTTP face: kiosk → centre, centre → municipality, the published certificates and the check."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from openmyna.core.db import unit_of_work
from openmyna.core.errors import InvalidInput
from openmyna.core.web import AppSettings, DbSession, Keys, ReadSession, UnitOfWorkRoute
from openmyna.jpki.api import Config, responder
from openmyna.jpki.ocsp import Responder
from openmyna.kiosk import centre, documents, municipality, runtime, signing
from openmyna.kiosk.schemas import CentreRequestIn, IssuedOut, MunicipalRequestIn, VerificationOut
from openmyna.orgs.dependencies import require_scope
from openmyna.orgs.service import Caller

router = APIRouter(route_class=UnitOfWorkRoute, tags=["kiosk"])
Store = Annotated[Caller, Depends(require_scope("kiosk:request"))]
TheCentre = Annotated[Caller, Depends(require_scope("kiosk:route"))]
OcspResponder = Annotated[Responder, Depends(responder)]


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{field}: not base64", field=field) from exc


def card_request_of(body: Any, *, store: str) -> centre.CardRequest:
    """The centre's request from what a terminal sent (the centre API's body, or the touch screen's)."""
    return centre.CardRequest(
        store=store,
        request_key=body.request_key,
        signed_at=body.signed_at,
        kind=body.kind,
        options=documents.Options.parse(body.options),
        copies=body.copies,
        tendered=body.tendered,
        certificate=_b64(body.certificate, "certificate"),
        signature=_b64(body.signature, "signature"),
    )


def _out(issued: municipality.Issued) -> IssuedOut:
    return IssuedOut(
        number=issued.number,
        kind=issued.kind,
        fee=issued.fee,
        copies=issued.copies,
        pdf=base64.b64encode(issued.pdf).decode(),
        summary=issued.summary,
        replayed=issued.replayed,
    )


@router.post("/api/kiosk/centre/requests", response_model=IssuedOut, summary="A store terminal asks the centre")
def centre_request(
    body: CentreRequestIn,
    http: Request,
    db: ReadSession,
    settings: AppSettings,
    keys: Keys,
    store: Store,
    ocsp: OcspResponder,
) -> IssuedOut:
    """The issuance centre: checks the card's signature and status, routes to the person's municipality.

    With the municipality in another process the centre routes on a read-only snapshot (holding no writer
    while the municipality writes) and records its access event afterwards; in this process, one unit of work.
    """
    request = card_request_of(body, store=store.org_code)
    caller = runtime.centre_caller(settings)

    def route(session: Session) -> centre.Routed:
        return centre.route(
            session,
            responder=ocsp,
            municipalities=runtime.participating(settings),
            client=runtime.municipality_client(session, settings=settings, keys=keys),
            request=request,
            caller=caller,
        )

    if settings.kiosk_municipality_url:
        routed = route(db)
        with unit_of_work(http.app.state.session_factory) as session:
            centre.record_routing(session, routed=routed, request=request, caller=caller)
    else:
        with unit_of_work(http.app.state.session_factory) as session:
            routed = route(session)
            centre.record_routing(session, routed=routed, request=request, caller=caller)
    return _out(routed.issued)


@router.post(
    "/api/kiosk/municipality/certificates",
    response_model=IssuedOut,
    summary="The centre asks a municipality's certificate server",
)
def municipal_certificate(
    body: MunicipalRequestIn, db: DbSession, settings: AppSettings, config: Config, caller: TheCentre
) -> IssuedOut:
    """The municipal certificate server: builds, signs and records the certificate (same one for a retry)."""
    places = runtime.participating(settings)
    resident_place = places.get(settings.municipality_code)
    if resident_place is None:
        raise centre.NotParticipating(f"municipality {settings.municipality_code} does not take part")
    request = municipality.Request(
        subject=body.subject,
        kind=body.kind,
        options=documents.Options.parse(body.options),
        copies=body.copies,
        store=body.store,
        request_key=body.request_key,
    )
    issued = municipality.issue(
        db, config=config, municipality=resident_place, request=request, caller=caller, base_url=settings.base_url
    )
    return _out(issued)


@router.get(
    "/kiosk/ca.pem",
    response_class=Response,
    summary="Trust anchors for issued certificates (PEM)",
    responses={200: {"content": {"application/x-pem-file": {}}, "description": "The CA, then signing certificates"}},
)
def trust_anchors(db: DbSession, config: Config) -> Response:
    """The organisation CA (trust anchor for PDF validators) followed by every municipality's signing certificate."""
    return Response(signing.trust_pem(db, config=config), media_type="application/x-pem-file")


def verification(db: Any, number: str) -> VerificationOut:
    found = municipality.verify(db, number=number)
    if found is None:
        return VerificationOut(number=number, genuine=False)
    return VerificationOut(
        number=found.number,
        genuine=True,
        summary=found.summary,
        issued_at=found.issued_at,
        signer_status=found.signer_status,
        pdf_sha256=found.pdf_sha256,
    )


@router.get("/api/kiosk/verify", response_model=VerificationOut, summary="Is certificate number N genuine?")
def verify_api(db: ReadSession, number: Annotated[str, Query(max_length=32)]) -> VerificationOut:
    return verification(db, number.replace("-", "").replace(" ", ""))
