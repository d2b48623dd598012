"""Menu A, やりとり履歴: the page (with the browser's own proof checks) and its JSON."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from openmyna.core.i18n import translate
from openmyna.core.web import DbSession, Keys, Language, UnitOfWorkRoute, render
from openmyna.network.api import Table
from openmyna.portal.auth.dependencies import CurrentUser
from openmyna.portal.auth.views import jst
from openmyna.portal.history import service

router = APIRouter(route_class=UnitOfWorkRoute, tags=["portal"])
MAX_PAGE = 100_000
ACCESS_PER_PAGE = 50


def filters(
    since: Annotated[dt.date | None, Query(description="From this day (Japan time)")] = None,
    until: Annotated[dt.date | None, Query(description="To this day, inclusive")] = None,
    agency: Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_-]*$")] = None,
) -> service.Filters:
    return service.Filters(since=since, until=until, agency=agency or None)


Filtered = Annotated[service.Filters, Depends(filters)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def _jst_text(value: str) -> str:
    try:
        return jst(dt.datetime.fromisoformat(value))["text"]
    except (TypeError, ValueError):
        return str(value)


def _spki(keys: Any) -> str:
    """The tree-head signing key (Ed25519, SubjectPublicKeyInfo DER, base64) for the browser's check."""
    der = keys.log_signing_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _read(db: Any, keys: Any, table: Any, user: Any, lang: str, chosen: service.Filters, page: int) -> service.Page:
    return service.read(
        db,
        table=table,
        public_key=keys.log_signing_key.public_key(),
        citizen=user.subject,
        lang=lang,
        filters=chosen,
        number=page,
        actor=user.actor,
    )


@router.get("/api/portal/history")
def history_json(
    db: DbSession, keys: Keys, table: Table, user: CurrentUser, lang: Language, chosen: Filtered, page: PageNumber = 1
) -> dict[str, Any]:
    """My exchanges, newest first, with the network's inclusion and completeness proofs (an access event)."""
    found = _read(db, keys, table, user, lang, chosen, page)
    checked = found.head_signature_ok
    return {**found.data, "page": found.number, "pages": found.pages, "head_signature_checked_by_server": checked}


@router.get("/portal/history", response_class=HTMLResponse, include_in_schema=False)
def history_page(
    request: Request,
    db: DbSession,
    keys: Keys,
    table: Table,
    user: CurrentUser,
    lang: Language,
    chosen: Filtered,
    page: PageNumber = 1,
) -> Response:
    """Every exchange about me in plain words, with a verify button per entry and a page-level check."""
    found = _read(db, keys, table, user, lang, chosen, page)
    for item in found.data["items"]:
        item["asked_at_text"] = _jst_text(item["asked_at"])
    query = {k: v for k, v in (("since", chosen.since), ("until", chosen.until), ("agency", chosen.agency)) if v}
    return render(
        request,
        "portal/history.html",
        {
            "found": found,
            "chosen": chosen,
            "query": query,
            "items": found.data["items"],
            "data": {**found.data, "public_key": _spki(keys)},
            "card_uses": service.card_uses(db, user.subject, lang),
        },
    )


def _part_label(action: str, lang: str) -> str:
    """The part of the platform an action belongs to, in words ("" for a part without a label)."""
    key = "access.part." + action.split(".")[0]
    label = translate(key, lang)
    return "" if label == key else label


@router.get("/portal/history/access", response_class=HTMLResponse, include_in_schema=False)
def access_page(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    lang: Language,
    before: Annotated[int | None, Query(ge=1, description="Older than this event (paging)")] = None,
) -> Response:
    """Every access event about me (who read or changed what, when, why), newest first, 50 a page."""
    found = service.accesses(db, user.subject, lang, before=before, limit=ACCESS_PER_PAGE + 1)
    return render(
        request,
        "portal/access.html",
        {
            "accesses": [(a, _part_label(a.action, lang)) for a in found[:ACCESS_PER_PAGE]],
            "older": found[ACCESS_PER_PAGE - 1].id if len(found) > ACCESS_PER_PAGE else None,
        },
    )


@router.get("/api/portal/history/access")
def access_json(
    db: DbSession,
    user: CurrentUser,
    lang: Language,
    before: Annotated[int | None, Query(ge=1, description="Older than this event (paging)")] = None,
) -> dict[str, Any]:
    """The same as JSON: ``items`` newest first and ``older``, the ``before`` of the next page (or null)."""
    found = service.accesses(db, user.subject, lang, before=before, limit=ACCESS_PER_PAGE + 1)
    older = found[ACCESS_PER_PAGE - 1].id if len(found) > ACCESS_PER_PAGE else None
    items = [
        {
            "id": a.id,
            "at": a.when.isoformat(),
            "org": a.org_code,
            "org_name": a.org_name,
            "action": a.action,
            "purpose": a.purpose,
        }
        for a in found[:ACCESS_PER_PAGE]
    ]
    return {"items": items, "older": older}
