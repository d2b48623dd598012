"""Public pages: search corporations, read one corporation with its history and activity tabs; JSON-LD,
bulk downloads, and the API through which municipalities and ministries add activity records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, StrictInt

from openmyna.core.errors import NotFound
from openmyna.core.validation import MultilineText, SafeText, StrictModel
from openmyna.core.web import AppSettings, DbSession, Language, ReadSession, UnitOfWorkRoute, render
from openmyna.corporate import linked, present, service
from openmyna.corporate.activity import KINDS
from openmyna.corporate.codes import CLOSE_CAUSE, KIND, PREFECTURES, PROCESS, label
from openmyna.corporate.search import Filters
from openmyna.numbers.formats import check_corporate_number, compact
from openmyna.orgs.dependencies import require_scope
from openmyna.orgs.service import Caller

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
api_router = APIRouter(route_class=UnitOfWorkRoute, prefix="/api/corporate", tags=["corporate"])
PAGE = 20
STATUS_FILTER = {"any": None, "open": True, "closed": False}


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def display_number(number: int | str) -> str:
    """The 1-4-4-4 display of a corporate number."""
    text = str(number)
    return f"{text[0]}-{text[1:5]}-{text[5:9]}-{text[9:]}"


def _view(row: dict[str, Any], lang: str) -> dict[str, Any]:
    return {
        **row,
        "corporate_number": str(row["number"]),
        "display_number": display_number(row["number"]),
        "location": present.location(row),
        "closed": present.is_closed(row),
        "kind_label": label(KIND, row["kind"], lang),
        "process_label": label(PROCESS, row["process"], lang),
        "close_cause_label": label(CLOSE_CAUSE, row.get("close_cause"), lang),
        "update_date": _as_date(row["update_date"]),
        "change_date": _as_date(row.get("change_date")),
        "close_date": _as_date(row.get("close_date")),
        "assignment_date": _as_date(row.get("assignment_date")),
    }


@router.get("/corporations", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: ReadSession,
    lang: Language,
    q: Annotated[SafeText, Query(max_length=150)] = "",
    prefecture: Annotated[str, Query(max_length=2)] = "",
    kind: Annotated[str, Query(max_length=3)] = "",
    status: Annotated[str, Query(max_length=6)] = "any",
    activity: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=50)] = 1,
) -> Response:
    query = {"q": q, "prefecture": prefecture, "kind": kind, "status": status, "activity": activity}
    context: dict[str, Any] = {
        "query": query,
        "results": None,
        "page": page,
        "more": False,
        "error": None,
        "prefectures": PREFECTURES,
        "kinds": {k: label(KIND, k, lang) for k in KIND},
        "activity_kinds": {k: v[0] if lang == "ja" else v[1] for k, v in KINDS.items()},
    }
    text = q.strip()
    if not (text or prefecture or kind or activity):
        return render(request, "corporate/search.html", context)
    unknown = (prefecture, PREFECTURES), (kind, KIND), (activity, KINDS)
    if any(value and value not in known for value, known in unknown):
        context["error"] = "invalid filter"
        return render(request, "corporate/search.html", context, status_code=400)
    digits = compact(text)
    if digits.isdigit() and len(digits) == 13:
        check = check_corporate_number(digits)
        if check.valid:
            return Response(status_code=303, headers={"Location": f"/corporations/{check.number}"})
        context["error"] = check.reason
        return render(request, "corporate/search.html", context, status_code=400)
    filters = Filters(
        name=text,
        prefecture_code=prefecture or None,
        kinds=(kind,) if kind else (),
        open_only=STATUS_FILTER.get(status),
        activity_kinds=(activity,) if activity else (),
    )
    rows = service.search(session.connection(), filters, limit=PAGE + 1, offset=(page - 1) * PAGE)
    context["results"] = [_view(r, lang) for r in rows[:PAGE]]
    context["more"] = len(rows) > PAGE
    return render(request, "corporate/search.html", context)


@router.get("/corporations/downloads/{kind}.csv.gz")
def download(kind: str, request: Request) -> Response:
    """Every linked record of one activity kind, as gzip CSV (UTF-8, header line), streamed."""
    if kind not in KINDS:
        raise NotFound(f"no bulk data for {kind!r}; kinds are {', '.join(KINDS)}")
    factory = request.app.state.read_session_factory

    def chunks() -> Iterator[bytes]:
        # Its own read-only session: the stream outlives the request's unit of work, and never takes the writer.
        with factory() as session:
            yield from linked.gzip_csv(session.connection(), kind)

    return StreamingResponse(
        chunks(),
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="corporate-{kind}.csv.gz"'},
    )


def _load(session: ReadSession, number: str) -> tuple[int, dict[str, Any]]:
    key = service.parse_number(number)
    return key, service.corporation(session.connection(), key)


@router.get("/corporations/{number}/jsonld")
def corporation_json_ld(number: str, session: ReadSession, settings: AppSettings) -> Response:
    key, row = _load(session, number)
    body = linked.json_ld(row, service.activities(session.connection(), key), base_url=settings.base_url)
    return JSONResponse(body, media_type="application/ld+json")


@router.get("/corporations/{number}", response_class=HTMLResponse)
def corporation_page(
    number: str,
    request: Request,
    session: ReadSession,
    lang: Language,
    settings: AppSettings,
    tab: Annotated[str, Query(max_length=16)] = "subsidy",
) -> Response:
    key, row = _load(session, number)
    connection = session.connection()
    activities = service.activities(connection, key)
    counts = {kind: sum(1 for a in activities if a["kind"] == kind) for kind in KINDS}
    tab = tab if tab in KINDS else "subsidy"
    history = [_view({**h, "number": key}, lang) for h in reversed(service.history(connection, key))]
    context = {
        "c": _view(row, lang),
        "history": history,
        "tab": tab,
        "tabs": {k: (v[0] if lang == "ja" else v[1], counts[k]) for k, v in KINDS.items()},
        "records": [{**a, "date": _as_date(a["date"])} for a in activities if a["kind"] == tab],
        "json_ld": linked.json_ld(row, activities, base_url=settings.base_url),
    }
    return render(request, "corporate/corporation.html", context)


class ActivityIn(StrictModel):
    """An activity record sent by a municipality or ministry."""

    corporate_number: SafeText = Field(min_length=13, max_length=17, examples=["7000012050002"])
    kind: SafeText = Field(max_length=16, description=f"one of {', '.join(KINDS)}")
    title: SafeText = Field(min_length=1, max_length=500)
    amount: StrictInt | None = Field(default=None, ge=0, lt=10**15, description="yen")
    date: dt.date | None = None
    government_departments: SafeText = Field(min_length=1, max_length=200)
    target: SafeText | None = Field(default=None, max_length=500)
    category: SafeText | None = Field(default=None, max_length=200)
    note: MultilineText | None = Field(default=None, max_length=1000)


class ActivityOut(BaseModel):
    """The stored record; ``created`` is false (and the status 200) when the same record was already held."""

    id: int
    corporate_number: str
    kind: str
    title: str
    amount: int | None
    date: dt.date | None
    government_departments: str
    linked: bool
    created: bool


@api_router.post(
    "/activities",
    status_code=201,
    response_model=ActivityOut,
    responses={200: {"model": ActivityOut, "description": "The same record was already held; nothing was added"}},
)
def add_activity(
    body: ActivityIn,
    session: DbSession,
    caller: Annotated[Caller, Depends(require_scope("corporate:write"))],
) -> JSONResponse:
    """Add one activity record; a number not yet in the registry is kept aside and linked when it appears."""
    stored = service.add_activity(session, org_code=caller.org_code, **body.model_dump())
    out = {
        "id": stored["id"],
        "corporate_number": str(stored["number"]),
        "kind": stored["kind"],
        "title": stored["title"],
        "amount": stored["amount"],
        "date": _as_date(stored["date"]).isoformat() if stored["date"] else None,
        "government_departments": stored["government_departments"],
        "linked": bool(stored["linked"]),
        "created": stored["created"],
    }
    return JSONResponse(out, status_code=201 if stored["created"] else 200)
