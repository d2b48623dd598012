"""My certificates issued at convenience stores (コンビニ交付の履歴), from my access events.

The municipality records each issuance as an access event of the person (action ``kiosk.issue``,
purpose ``<kind> <number> ×<copies>``); this page lists them, newest first, with the check link.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from openmyna.core import audit
from openmyna.core.web import ReadSession, UnitOfWorkRoute, render
from openmyna.portal.auth.dependencies import CurrentUser
from openmyna.portal.auth.views import jst

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
ISSUE_ACTION = "kiosk.issue"  # written by the municipality's certificate server
LIMIT = 500


@router.get("/portal/certificates", response_class=HTMLResponse)
def certificates_page(request: Request, db: ReadSession, user: CurrentUser) -> Response:
    """Each certificate printed with my card: when, which kind, its number, how many copies, which store."""
    events = db.scalars(
        select(audit.AccessEvent)
        .where(audit.AccessEvent.subject == user.subject, audit.AccessEvent.action == ISSUE_ACTION)
        .order_by(audit.AccessEvent.occurred_at.desc(), audit.AccessEvent.id.desc())
        .limit(LIMIT)
    )
    rows = []
    for event in events:
        kind, _, rest = (event.purpose or "").partition(" ")
        number, _, copies = rest.partition(" ×")
        store = event.actor.removeprefix("kiosk:")
        rows.append({**jst(event.occurred_at), "kind": kind, "number": number, "copies": copies, "store": store})
    return render(request, "portal/certificates.html", {"rows": rows, "user": user})
