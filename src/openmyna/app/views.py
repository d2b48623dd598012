"""The landing page and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from openmyna.core.web import ReadSession, UnitOfWorkRoute, render

router = APIRouter(route_class=UnitOfWorkRoute)


@router.get("/healthz", tags=["operations"])
def healthz(session: ReadSession) -> dict[str, str]:
    """Liveness and database reachability."""
    session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def landing(request: Request) -> Response:
    return render(request, "app/landing.html", {})
