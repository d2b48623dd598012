"""gBizINFO REST API v2-compatible endpoints under ``/hojin/v2/hojin`` (DOMAIN.md §4).

Existing gBizINFO clients work by changing only their base URL to ``http://HOST:PORT/hojin``. Every answer,
errors included, is gBizINFO's envelope ``{"id", "message", "errors", "hojin-infos"}``; the error answers
also carry RFC 9457's ``type``/``title``/``status``/``detail`` so they read as problem details too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Connection

from openmyna.core.errors import PROBLEM_BASE, DomainError
from openmyna.core.web import ReadSession, UnitOfWorkRoute
from openmyna.corporate import gbiz_params, present, service
from openmyna.corporate.gbiz_params import ParameterErrors

TOKEN_HEADER = "X-hojinInfo-api-token"
UPDATE_PAGE_SIZE = 1000
_MESSAGES = {200: "200 - OK.", 400: "400 - Bad Request.", 401: "401 - Unauthorized.", 403: "403 - Forbidden.",
             404: "404 - Not Found.", 429: "429 - Too Many Requests."}  # fmt: skip


def envelope(status: int, infos: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "message": _MESSAGES.get(status, str(status)), **extra, "hojin-infos": infos or []}


def _error(status: int, slug: str, title: str, errors: list[dict[str, str]], headers: dict[str, str] | None = None):
    body = envelope(status, errors=errors)
    detail = "; ".join(f"{e['item']}: {e['message']}" for e in errors)
    body.update({"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail})
    return JSONResponse(body, status_code=status, headers=headers)


class GbizRoute(UnitOfWorkRoute):
    """Renders this router's errors in gBizINFO's envelope instead of the platform's plain problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ParameterErrors as exc:
                return _error(400, "gbiz-parameters", "Invalid parameters", exc.errors)
            except DomainError as exc:
                headers = (
                    {"Retry-After": str(exc.extensions["retry_after"])} if "retry_after" in exc.extensions else None
                )
                item = str(exc.extensions.get("field", "-"))
                return _error(exc.status, exc.slug, exc.title_en, [{"item": item, "message": exc.detail}], headers)

        return route


def _connection(session: ReadSession) -> Connection:
    return session.connection()


Db = Annotated[Connection, Depends(_connection)]


def api_token(
    request: Request,
    connection: Db,
    token: Annotated[
        str | None, Header(alias=TOKEN_HEADER, description="API token (openmyna corporate token NAME)")
    ] = None,
) -> int:
    """Check the token and count the request against its rate limit."""
    token_id = service.verify_token(connection, token)
    limiter = getattr(request.app.state, "corporate_rate_limiter", None)
    if limiter is None:
        limiter = service.RateLimiter(request.app.state.settings.corporate_rate_limit_per_second)
        request.app.state.corporate_rate_limiter = limiter
    limiter.check(token_id)
    return token_id


_ERROR_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "description": "gBizINFO's envelope with the problems in `errors`, and RFC 9457's members beside them",
    "required": ["id", "message", "errors", "hojin-infos", "type", "title", "status", "detail"],
    "properties": {
        "id": {"type": "string"},
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["item", "message"],
                "properties": {"item": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "hojin-infos": {"type": "array", "maxItems": 0},
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}
router = APIRouter(
    prefix="/hojin/v2/hojin",
    tags=["gBizINFO v2"],
    route_class=GbizRoute,
    dependencies=[Depends(api_token)],
    responses={
        "4XX": {
            "description": "400 bad parameters, 401 no or unknown token, 404 no such corporation, 429 too many",
            "content": {"application/json": {"schema": _ERROR_ENVELOPE}},
        }
    },
)


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _doc_params(names: list[str]) -> dict[str, Any]:
    return {"parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in names]}


_SEARCH_DOC = _doc_params(sorted(gbiz_params.SEARCH_PARAMETERS))
_UPDATE_DOC = _doc_params(["from", "to", "page", "metadata_flg"])


@router.get("", summary="Search corporations (法人検索)", openapi_extra=_SEARCH_DOC)
def search(request: Request, connection: Db) -> JSONResponse:
    parsed = gbiz_params.parse_search(_params(request))
    rows = service.search(connection, parsed.filters, limit=parsed.limit, offset=(parsed.page - 1) * parsed.limit)
    return JSONResponse(envelope(200, [present.search_item(r) for r in rows], errors=None))


def _update_info(request: Request, connection: Connection, kind: str | None) -> JSONResponse:
    start, end, page = gbiz_params.parse_dates(_params(request))
    if kind in (None, "subsidy", "procurement", "certification", "commendation"):
        total, numbers = service.updated_between(
            connection, start, end, kind=kind, limit=UPDATE_PAGE_SIZE, offset=(page - 1) * UPDATE_PAGE_SIZE
        )
    else:
        total, numbers = 0, []  # finance, patent, workplace, corporation: no such data is held
    infos = [present.search_item(r) for r in service.by_numbers(connection, numbers)]
    pages = max(1, -(-total // UPDATE_PAGE_SIZE))
    body = envelope(200, infos, errors=None, totalCount=str(total), totalPage=str(pages), pageNumber=str(page))
    return JSONResponse(body)


@router.get("/updateInfo", summary="Corporations updated in a period (更新情報)", openapi_extra=_UPDATE_DOC)
def update_info(request: Request, connection: Db) -> JSONResponse:
    return _update_info(request, connection, None)


@router.get(
    "/updateInfo/{resource}", summary="Corporations whose activity block was updated", openapi_extra=_UPDATE_DOC
)
def update_info_of(resource: str, request: Request, connection: Db) -> JSONResponse:
    if resource not in present.SUB_RESOURCES:
        raise ParameterErrors([{"item": "resource", "message": f"one of {', '.join(present.SUB_RESOURCES)}"}])
    return _update_info(request, connection, resource)


def _no_parameters(request: Request) -> None:
    unknown = [k for k in request.query_params if k != "metadata_flg"]
    if unknown:
        raise ParameterErrors([{"item": k, "message": "未定義のパラメータです (unknown parameter)"} for k in unknown])


@router.get("/{corporate_number}", summary="One corporation with every activity block (法人情報)")
def detail(corporate_number: str, request: Request, connection: Db) -> JSONResponse:
    _no_parameters(request)
    number = service.parse_number(corporate_number)
    row = service.corporation(connection, number)
    return JSONResponse(envelope(200, [present.detail(row, service.activities(connection, number))], errors=None))


@router.get("/{corporate_number}/{resource}", summary="One activity block of a corporation")
def sub_resource(corporate_number: str, resource: str, request: Request, connection: Db) -> JSONResponse:
    _no_parameters(request)
    if resource not in present.SUB_RESOURCES:
        raise ParameterErrors([{"item": "resource", "message": f"one of {', '.join(present.SUB_RESOURCES)}"}])
    number = service.parse_number(corporate_number)
    row = service.corporation(connection, number)
    kind = resource if resource in ("subsidy", "procurement", "certification", "commendation") else None
    activities = service.activities(connection, number, kind) if kind else []
    return JSONResponse(envelope(200, [present.detail(row, activities, only=resource)], errors=None))
