"""Pages people use: the public check of a certificate number (/verify)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from openmyna.core.web import ReadSession, UnitOfWorkRoute, render
from openmyna.kiosk import stats
from openmyna.kiosk.api import verification
from openmyna.kiosk.municipalities import KIND_NAMES, KINDS

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
api_router = APIRouter(route_class=UnitOfWorkRoute, tags=["kiosk"])


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, db: ReadSession, number: Annotated[str, Query(max_length=32)] = "") -> HTMLResponse:
    """Whether certificate ``number`` was issued, and what it certified."""
    cleaned = number.replace("-", "").replace(" ", "")
    result = verification(db, cleaned) if cleaned else None
    return render(request, "kiosk/verify.html", {"number": number, "result": result, "kind_names": KIND_NAMES})


@router.get("/kiosk/stats", response_class=HTMLResponse)
def stats_page(request: Request, db: ReadSession) -> HTMLResponse:
    """The seed's yearly counts by type beside this platform's, and the covered population."""
    content = stats.summary(db, municipalities=request.app.state.kiosk_municipalities)
    return render(request, "kiosk/stats.html", {"stats": content, "kind_names": KIND_NAMES, "kinds": KINDS})


@api_router.get("/api/kiosk/stats", summary="Issuance statistics (seed table, this platform, covered population)")
def stats_json(request: Request, db: ReadSession) -> dict[str, Any]:
    return stats.summary(db, municipalities=request.app.state.kiosk_municipalities)
