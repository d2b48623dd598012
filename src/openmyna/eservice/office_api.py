"""The back office's JSON API: municipal (and pension-office) systems pull applications and decide.

Authenticated as every machine client is (``POST /oauth/token``, client credentials with
private_key_jwt, scope ``eservice:read``); a staff session works too (with the CSRF header on writes).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from openmyna.core import clock
from openmyna.core.validation import ID_MAX, IdParam, MultilineText
from openmyna.core.web import DbSession, UnitOfWorkRoute
from openmyna.eservice import office
from openmyna.eservice.api import config_of
from openmyna.eservice.models import STATUSES
from openmyna.eservice.web import CatalogueDep, TableDep
from openmyna.orgs.dependencies import CurrentCaller

router = APIRouter(route_class=UnitOfWorkRoute, prefix="/api/eservice/office", tags=["eservice back office"])


class DecisionIn(BaseModel):
    decision: Literal["approve", "return", "reject"]
    reason: MultilineText = Field(default="", max_length=2000)


def _fetch_out(f: Any) -> dict[str, Any]:
    return {
        "provider": f.provider,
        "item": f.data_item,
        "result": f.result,
        "data": f.data,
        "reason": f.reason,
        "exchange_id": f.exchange_id,
    }


@router.get("/items", summary="The caller's open application items, oldest first (pull)")
def items(
    caller: CurrentCaller,
    session: DbSession,
    after: int = Query(default=0, ge=0, le=ID_MAX, description="Items after this id (paging)"),
    status: list[str] = Query(default=["submitted", "in_review"], max_length=6),
    limit: int = Query(default=100, ge=1, le=500),
) -> dict[str, Any]:
    wanted = tuple(s for s in status if s in STATUSES)
    rows = office.queue(session, caller=caller, statuses=wanted, after_id=after, limit=limit)
    return {"items": [office.item_view(item, application) for item, application in rows]}


@router.get("/items/{item_id}", summary="One item with its signature checked (an access event the resident sees)")
def item(item_id: IdParam, caller: CurrentCaller, session: DbSession, request: Request) -> dict[str, Any]:
    with office.refusal_recorded(session, caller):
        review = office.open_item(
            session, caller=caller, item_id=item_id, config=config_of(request), today=clock.today()
        )
    check = review.signature
    return {
        **office.item_view(review.item, review.application),
        "signature": {
            "verified": check.verified,
            "detail": check.detail,
            "serial": check.serial,
            "kind": check.kind,
            "status_at_signing": check.status_at_signing,
            "signed_at": check.signed_at.isoformat() if check.signed_at else None,
        },
        "fetched": [_fetch_out(f) for f in review.fetches],
        "amount": None
        if review.amount is None
        else {"monthly": review.amount.monthly, "over_limit": review.amount.over_limit},
    }


@router.post("/items/{item_id}/fetch", summary="Fetch the data the procedure needs over the exchange network")
def fetch(
    item_id: IdParam,
    caller: CurrentCaller,
    session: DbSession,
    request: Request,
    catalogue: CatalogueDep,
    table: TableDep,
) -> dict[str, Any]:
    with office.refusal_recorded(session, caller):
        rows = office.fetch(
            session,
            caller=caller,
            item_id=item_id,
            keys=request.app.state.keys,
            catalogue=catalogue,
            table=table,
            providers=request.app.state.network_providers,
        )
    return {"fetched": [_fetch_out(f) for f in rows]}


@router.post(
    "/items/{item_id}/decision", summary="Approve, return for correction, or reject (a notice to the resident)"
)
def decide(
    item_id: IdParam, body: DecisionIn, caller: CurrentCaller, session: DbSession, catalogue: CatalogueDep
) -> dict[str, Any]:
    with office.refusal_recorded(session, caller):
        decided = office.decide(
            session,
            caller=caller,
            item_id=item_id,
            decision=body.decision,
            reason=body.reason,
            catalogue=catalogue,
            today=clock.today(),
        )
    return office.item_view(decided, decided.application)
