"""What the eservice routes share: the logged-in resident (read from ``core.sessions``), the catalogue, the table.

eservice and portal are on the same floor, so eservice does not import the portal's session dependency.
The session itself is already on floor 0 (``core.sessions.load`` runs for every request and keeps the
live session on ``request.state``); a resident's session is the one whose subject is of kind
``core.sessions.PERSON_KIND`` and whose data carries ``resident_id`` — the two facts read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from openmyna.core import sessions
from openmyna.eservice.catalogue import Catalogue
from openmyna.network.table import ExchangeTable

BROWSER_KEY = "eservice"  # in the signed cookie: {"drafts": [...], "applications": [...]} of an anonymous browser
REMEMBERED = 20


@dataclass(frozen=True)
class Applicant:
    """The resident logged in to the portal on this request."""

    resident_id: int
    subject: str


def optional_applicant(request: Request) -> Applicant | None:
    active = sessions.current(request)
    if active is None or active.kind != sessions.PERSON_KIND or "resident_id" not in active.data:
        return None
    return Applicant(int(active.data["resident_id"]), active.subject)


def get_catalogue(request: Request) -> Catalogue:
    return request.app.state.eservice_catalogue


def get_table(request: Request) -> ExchangeTable:
    return request.app.state.exchange_table


OptionalApplicant = Annotated[Applicant | None, Depends(optional_applicant)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
TableDep = Annotated[ExchangeTable, Depends(get_table)]


def remember(request: Request, kind: str, public_id: str) -> None:
    """Keep a draft or application id in this browser's signed cookie (how an anonymous applicant returns)."""
    held: dict[str, Any] = dict(request.session.get(BROWSER_KEY) or {})
    ids = [i for i in held.get(kind, []) if i != public_id][-(REMEMBERED - 1) :]
    held[kind] = [*ids, public_id]
    request.session[BROWSER_KEY] = held


def remembered(request: Request, kind: str, public_id: str) -> bool:
    return public_id in ((request.session.get(BROWSER_KEY) or {}).get(kind) or [])
