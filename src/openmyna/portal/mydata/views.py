"""Menu B, わたしの情報: a page that asks the agencies (a form: each ask is a recorded exchange)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from openmyna.core.errors import Forbidden
from openmyna.core.web import DbSession, Keys, UnitOfWorkRoute, check_csrf, render, render_error
from openmyna.network.api import Table
from openmyna.portal.auth.dependencies import CurrentUser
from openmyna.portal.mydata import service

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


@router.get("/portal/mydata", response_class=HTMLResponse)
def mydata_page(request: Request, user: CurrentUser) -> Response:
    """What this menu does and a button to ask (nothing is asked until the person asks)."""
    return render(request, "portal/mydata.html", {"fetched": None, "cards": None})


@router.post("/portal/mydata", response_class=HTMLResponse)
def mydata_fetch(
    request: Request,
    db: DbSession,
    keys: Keys,
    table: Table,
    user: CurrentUser,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Ask the town and the pension office over the network, and read my card's status."""
    try:
        check_csrf(request, csrf)
    except Forbidden as exc:
        return render_error(request, exc)
    fetched = service.fetch(
        db, keys=keys, table=table, providers=request.app.state.network_providers, resident_id=user.resident_id
    )
    status = service.card_status(db, resident_id=user.resident_id, subject=user.subject, actor=user.actor)
    return render(request, "portal/mydata.html", {"fetched": fetched, "cards": status})
