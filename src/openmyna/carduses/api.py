"""The gate API: a gate controller (the employer's system, or its guard's session) reads a card."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from openmyna.carduses import service
from openmyna.carduses.schemas import EnterIn, GateOut
from openmyna.carduses.service import GATE_CODE
from openmyna.core.errors import DomainError, Forbidden, InvalidInput
from openmyna.core.web import DbSession, ReadSession, UnitOfWorkRoute
from openmyna.jpki.api import responder
from openmyna.jpki.ocsp import Responder
from openmyna.orgs.dependencies import require_scope
from openmyna.orgs.service import Caller

router = APIRouter(route_class=UnitOfWorkRoute, tags=["gates"])
Operator = Annotated[Caller, Depends(require_scope("gates:operate"))]
GateCode = Annotated[str, Path(pattern=GATE_CODE, description="The gate's code")]
OcspResponder = Annotated[Responder, Depends(responder)]


def _own(db: Any, code: str, caller: Caller) -> None:
    if service.get_gate(db, code).employer_org != caller.org_code:
        raise Forbidden(f"gate {code} belongs to another organisation")


def refused_problem(error: DomainError) -> DomainError:
    """The problem a door or gate answers: ``admitted: false`` and a ``reason``."""
    error.extensions.setdefault("admitted", False)
    error.extensions.setdefault("reason", error.slug)
    return error


@router.get("/api/gates", summary="Gates, one per entrance")
def gates(db: ReadSession) -> list[GateOut]:
    return [GateOut(code=g.code, name=g.name, employer=g.employer_org) for g in service.list_gates(db)]


@router.post("/api/gates/{code}/challenge", summary="A fresh challenge for the gate's reader (one minute)")
def challenge(code: GateCode, db: DbSession, caller: Operator) -> dict[str, str]:
    _own(db, code, caller)
    data, expires = service.open_challenge(db, gate=code)
    return {"challenge": base64.b64encode(data).decode(), "expires_at": expires.isoformat(), "gate": code}


@router.post("/api/gates/{code}/enter", summary="Admit or refuse the card just read")
def enter(code: GateCode, body: EnterIn, db: DbSession, caller: Operator, ocsp: OcspResponder) -> dict[str, Any]:
    """``{"admitted": true, …}``, or problem+json with ``admitted: false`` and a ``reason``; each read is logged."""
    _own(db, code, caller)
    try:
        data = [base64.b64decode(getattr(body, f), validate=True) for f in ("challenge", "certificate", "signature")]
    except (binascii.Error, ValueError) as exc:
        raise refused_problem(InvalidInput("challenge, certificate and signature are base64")) from exc
    outcome = service.enter(
        db, responder=ocsp, gate=code, challenge=data[0], certificate=data[1], signature=data[2], app=body.app
    )
    db.commit()
    if isinstance(outcome, service.Refused):
        raise refused_problem(outcome.error)
    return outcome.as_json()
