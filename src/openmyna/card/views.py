"""The card statistics page: the seed's table (申請・発行・交付状況), live, for any period."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from openmyna.card import stats
from openmyna.card.api import period
from openmyna.core.web import ReadSession, UnitOfWorkRoute, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


@router.get("/card/stats", response_class=HTMLResponse)
def stats_page(
    request: Request, db: ReadSession, span: Annotated[tuple[dt.date, dt.date], Depends(period)]
) -> HTMLResponse:
    rows = stats.table(db, start=span[0], end=span[1])
    return render(request, "card/stats.html", {"rows": rows, "start": span[0], "end": span[1]})
