"""Pages people use: the public check of a certificate number (/verify)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from openmyna.core.web import ReadSession, UnitOfWorkRoute, render
from openmyna.kiosk.api import verification
from openmyna.kiosk.municipalities import KIND_NAMES

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, db: ReadSession, number: Annotated[str, Query(max_length=32)] = "") -> HTMLResponse:
    """Whether certificate ``number`` was issued, and what it certified."""
    cleaned = number.replace("-", "").replace(" ", "")
    result = verification(db, cleaned) if cleaned else None
    return render(request, "kiosk/verify.html", {"number": number, "result": result, "kind_names": KIND_NAMES})
