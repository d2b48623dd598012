"""The platform operator's eKYC API, called by a registered business's system with its own token (ekyc:use)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from openmyna.core import clock
from openmyna.core.errors import DomainError, InvalidInput
from openmyna.core.web import DbSession, Keys, ReadSession, UnitOfWorkRoute
from openmyna.ekyc import service
from openmyna.ekyc.schemas import (
    BusinessOut,
    ChallengeIn,
    ChallengeOut,
    LoginIn,
    LoginOut,
    Replacement,
    StatusOut,
    VerificationIn,
    VerificationOut,
)
from openmyna.jpki.api import Config, responder
from openmyna.jpki.ocsp import Responder
from openmyna.orgs.dependencies import require_scope
from openmyna.orgs.service import Caller

router = APIRouter(route_class=UnitOfWorkRoute, tags=["ekyc"])
USE_SCOPE = "ekyc:use"
BusinessCaller = Annotated[Caller, Depends(require_scope(USE_SCOPE))]
OcspResponder = Annotated[Responder, Depends(responder)]
Ref = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


def _decoded(body: VerificationIn | LoginIn) -> list[bytes]:
    try:
        return [base64.b64decode(getattr(body, f), validate=True) for f in ("challenge", "certificate", "signature")]
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("challenge, certificate and signature are base64") from exc


def _refused(db: DbSession, error: DomainError) -> DomainError:
    db.commit()  # the refusal's log row stays
    return error


@router.get("/api/ekyc/business", summary="The calling business's registration: operator and facts it may receive")
def registration(db: ReadSession, caller: BusinessCaller) -> BusinessOut:
    row = service.get_business(db, caller.org_code)
    return BusinessOut(
        code=row.code,
        name=row.name,
        kind=row.kind,
        operator=row.operator_org,
        facts=service.allowed_facts(row),
        registered_at=row.registered_at,
    )


@router.post("/api/ekyc/challenges", summary="A fresh single-use challenge naming the business and the purpose")
def challenge(body: ChallengeIn, db: DbSession, caller: BusinessCaller) -> ChallengeOut:
    data, expires = service.open_challenge(db, business=caller.org_code, purpose=body.purpose)
    return ChallengeOut(
        challenge=base64.b64encode(data).decode(), expires_at=expires, business=caller.org_code, purpose=body.purpose
    )


@router.post("/api/ekyc/verifications", summary="Account opening (eKYC): verify the signing certificate, get the facts")
def verify(
    body: VerificationIn, db: DbSession, config: Config, caller: BusinessCaller, ocsp: OcspResponder
) -> VerificationOut:
    """The operator checks the certificate through the validity service and the signature over the challenge and
    application; it answers only the facts the business is registered for (asking for more: 403)."""
    challenge_bytes, certificate, signature = _decoded(body)
    outcome = service.verify(
        db,
        config=config,
        responder=ocsp,
        business=caller.org_code,
        actor=caller.actor,
        challenge=challenge_bytes,
        application=body.application,
        certificate=certificate,
        signature=signature,
        facts=list(body.facts) if body.facts is not None else None,
    )
    if isinstance(outcome, service.Refused):
        raise _refused(db, outcome.error)
    return VerificationOut(
        verification_id=outcome.ref,
        pseudonym=outcome.pseudonym,
        facts=outcome.facts,
        certificate_serial=outcome.certificate_serial,
        certificate_not_after=outcome.certificate_not_after,
    )


@router.post(
    "/api/ekyc/verifications/{verification_id}/status",
    summary="Has the customer's signing certificate been revoked or replaced (a move)? By which?",
)
def status(verification_id: Ref, db: DbSession, config: Config, caller: BusinessCaller) -> StatusOut:
    found = service.status(db, config=config, business=caller.org_code, actor=caller.actor, ref=verification_id)
    if isinstance(found, service.Refused):
        raise _refused(db, found.error)
    replaced = (
        Replacement(serial=found.replaced_by_serial, facts=found.replaced_by_facts or {})
        if found.replaced_by_serial
        else None
    )
    return StatusOut(
        verification_id=found.ref,
        status=found.status,  # type: ignore[arg-type]
        revoked_at=found.revoked_at,
        reason=found.reason,
        replaced_by=replaced,
    )


@router.post("/api/ekyc/logins", summary="Login with the authentication certificate: the business's pseudonym")
def login(body: LoginIn, db: DbSession, keys: Keys, caller: BusinessCaller, ocsp: OcspResponder) -> LoginOut:
    challenge_bytes, certificate, signature = _decoded(body)
    outcome = service.login(
        db,
        keys=keys,
        responder=ocsp,
        business=caller.org_code,
        actor=caller.actor,
        challenge=challenge_bytes,
        certificate=certificate,
        signature=signature,
    )
    if isinstance(outcome, service.Refused):
        raise _refused(db, outcome.error)
    return LoginOut(pseudonym=outcome.pseudonym, business=caller.org_code, authenticated_at=clock.now())
