"""The family register for municipal systems: a town keeps the registers whose 本籍 it is (machine clients
and staff with the registry's scopes, as for the resident registry). Every make and read is an access event
of each member the registry holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from openmyna.core.validation import IdParam
from openmyna.core.web import DbSession, UnitOfWorkRoute
from openmyna.koseki import service
from openmyna.koseki.schemas import RegisterIn, RegisterOut
from openmyna.orgs.dependencies import require_town_scope
from openmyna.orgs.service import Caller

router = APIRouter(route_class=UnitOfWorkRoute, prefix="/api/koseki", tags=["koseki"])
Reader = Annotated[Caller, Depends(require_town_scope("registry:read"))]
Writer = Annotated[Caller, Depends(require_town_scope("registry:write"))]


@router.post("/registers", response_model=RegisterOut, status_code=201, summary="Open a family register (編製)")
def make_register(body: RegisterIn, session: DbSession, caller: Writer) -> RegisterOut:
    register = service.make_register(
        session,
        honseki_municipality_code=caller.org_code,  # a town keeps the registers whose 本籍 it is
        honseki=body.honseki,
        head_name=body.head_name,
        made_on=body.made_on,
        made_reason=body.made_reason,
        members=[
            service.NewMember(
                **m.model_dump(exclude={"events"}), events=tuple((e.kind, e.date, e.detail) for e in m.events)
            )
            for m in body.members
        ],
    )
    service.record_access(session, register, actor_org=caller.org_code, actor=caller.actor, action=service.MAKE_ACTION)
    return RegisterOut.model_validate(register)


@router.get("/registers/{register_id}", response_model=RegisterOut, summary="A family register this town keeps")
def get_register(register_id: IdParam, session: DbSession, caller: Reader) -> RegisterOut:
    register = service.get_register(session, register_id=register_id, keeper=caller.org_code)
    service.record_access(session, register, actor_org=caller.org_code, actor=caller.actor, action=service.READ_ACTION)
    return RegisterOut.model_validate(register)
