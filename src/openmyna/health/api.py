"""The eligibility API a reception terminal calls (a clinic's token, or its reception staff's session)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from openmyna.core.errors import InvalidInput
from openmyna.core.web import DbSession, Keys, ReadSession, UnitOfWorkRoute
from openmyna.health import service
from openmyna.health.schemas import ChallengeIn, ChallengeOut, ClinicOut, EligibilityIn
from openmyna.jpki.api import responder
from openmyna.jpki.ocsp import Responder
from openmyna.orgs.dependencies import require_scope
from openmyna.orgs.service import Caller

router = APIRouter(route_class=UnitOfWorkRoute, tags=["health"])
CHECK_SCOPE = "health:check"
Terminal = Annotated[Caller, Depends(require_scope(CHECK_SCOPE))]
OcspResponder = Annotated[Responder, Depends(responder)]


def b64(value: str, *, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{field}: not base64", field=field) from exc


@router.get("/api/health/clinics", summary="Registered medical institutions")
def clinics(db: ReadSession) -> list[ClinicOut]:
    return [ClinicOut(code=o.code, name=o.name, name_en=o.name_en) for o in service.list_clinics(db)]


@router.post("/api/health/challenges", summary="A fresh challenge for the card to sign (2 minutes, single use)")
def challenge(body: ChallengeIn, db: DbSession, caller: Terminal) -> ChallengeOut:
    try:
        opened = service.open_challenge(db, clinic=caller.org_code, share=body.share_records)
    except service.UnknownClinic as exc:
        service.record_refusal(db, clinic=caller.org_code, error=exc)
        db.commit()
        raise
    return ChallengeOut(
        challenge=base64.b64encode(opened.challenge).decode(),
        expires_at=opened.expires_at.isoformat(),
        clinic=caller.org_code,
    )


@router.post("/api/health/eligibility", summary="Ask the clearing house whether the card's holder is insured")
def eligibility(
    body: EligibilityIn, db: DbSession, keys: Keys, caller: Terminal, ocsp: OcspResponder
) -> dict[str, Any]:
    """Insured or not, the insurer and the burden ratio; medicine records only with the patient's signed consent."""
    try:
        data = [b64(getattr(body, name), field=name) for name in ("challenge", "certificate", "signature")]
    except InvalidInput as exc:
        service.record_refusal(db, clinic=caller.org_code, error=exc)
        db.commit()
        raise
    outcome = service.check(
        db,
        keys=keys,
        responder=ocsp,
        clinic=caller.org_code,
        challenge=data[0],
        certificate=data[1],
        signature=data[2],
        face_check=body.face_check,
        actor=caller.actor,
    )
    db.commit()
    if isinstance(outcome, service.Refused):
        raise outcome.error
    return outcome.as_json()
