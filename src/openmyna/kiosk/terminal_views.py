"""The kiosk terminal's touch screen (/kiosk): choose, insert the card (local reader), PIN, pay, print.

The page's script talks to the local card reader (``openmyna card reader-serve``) and to this server,
which acts as the store terminal: it asks the centre and hands back the signed PDF once.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from openmyna.core import clock
from openmyna.core.db import unit_of_work
from openmyna.core.errors import NotFound
from openmyna.core.headers import allow_connect
from openmyna.core.timefmt import UtcDateTimeIn
from openmyna.core.web import AppSettings, Keys, ReadSession, UnitOfWorkRoute, check_csrf, render
from openmyna.kiosk import centre, municipality, runtime, terminal
from openmyna.kiosk.api import card_request_of
from openmyna.kiosk.demo import DEFAULT_STORE
from openmyna.kiosk.municipalities import KIND_NAMES, KINDS, Kind
from openmyna.kiosk.schemas import REQUEST_KEY

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
PRINTS = "kiosk_prints"  # the numbers this browser (the terminal) printed, for the print link
STORE_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


class ChallengeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind
    copies: int = Field(default=1, ge=1, le=10)


class TerminalIssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_key: str = Field(pattern=REQUEST_KEY)
    signed_at: UtcDateTimeIn
    kind: Kind
    copies: int = Field(default=1, ge=1, le=10)
    options: dict[str, bool] = Field(default_factory=dict, max_length=8)
    tendered: int | None = Field(default=None, ge=0, le=100_000)
    method: str = Field(default="emoney", pattern="^(cash|emoney)$")
    certificate: str = Field(max_length=8192)
    signature: str = Field(max_length=1024)


@router.get("/kiosk", response_class=HTMLResponse)
def kiosk_page(
    request: Request,
    settings: AppSettings,
    store: Annotated[str, Query(pattern=STORE_PATTERN)] = DEFAULT_STORE,
) -> Response:
    """The touch screen of one store's terminal."""
    kinds = [(kind, KIND_NAMES[kind]) for kind in KINDS]
    page = render(
        request,
        "kiosk/terminal.html",
        {"store": store, "kinds": kinds, "reader": settings.portal_card_reader_url.rstrip("/")},
    )
    return allow_connect(page, settings.portal_card_reader_url)


@router.post("/api/kiosk/terminal/challenge")
def terminal_challenge(
    body: ChallengeIn,
    request: Request,
    x_csrf_token: Annotated[str | None, Header()] = None,
    store: Annotated[str, Query(pattern=STORE_PATTERN)] = DEFAULT_STORE,
) -> dict[str, Any]:
    """What the card signs for this request (a fresh request key, the time, the store, kind and copies)."""
    check_csrf(request, x_csrf_token)
    key = terminal.new_request_key()
    signed_at = clock.now().replace(microsecond=0)
    data = centre.challenge(store=store, request_key=key, signed_at=signed_at, kind=body.kind, copies=body.copies)
    return {"request_key": key, "signed_at": signed_at.isoformat(), "challenge": base64.b64encode(data).decode()}


@router.post("/api/kiosk/terminal/issue")
def terminal_issue(
    body: TerminalIssueIn,
    request: Request,
    settings: AppSettings,
    keys: Keys,
    x_csrf_token: Annotated[str | None, Header()] = None,
    store: Annotated[str, Query(pattern=STORE_PATTERN)] = DEFAULT_STORE,
) -> dict[str, Any]:
    """The terminal asks the centre; on a certificate it takes the fee and offers the print once."""
    check_csrf(request, x_csrf_token)
    factory = request.app.state.session_factory
    with unit_of_work(factory) as session:
        client = runtime.centre_for(
            session, settings=settings, keys=keys, store=store, read_sessions=request.app.state.read_session_factory
        )
    card_request = card_request_of(body, store=store)
    printed = terminal.issue(factory, centre_client=client, request=card_request, method=body.method)
    request.session[PRINTS] = [*request.session.get(PRINTS, [])[-9:], printed.number]
    return {
        "number": printed.number,
        "kind": printed.kind,
        "fee": printed.fee,
        "charged": printed.charged,
        "change": printed.change,
        "print_url": f"/kiosk/print/{printed.number}.pdf",
        "verify_url": f"/verify?number={printed.number}",
    }


@router.get("/kiosk/print/{number}.pdf")
def print_pdf(number: str, request: Request, db: ReadSession) -> Response:
    """The signed PDF, for the terminal that printed it (this browser's session) only."""
    if number not in request.session.get(PRINTS, []):
        raise NotFound("this terminal printed no certificate with this number")
    pdf = municipality.printed_pdf(db, number=number)
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{number}.pdf"'}
    )
