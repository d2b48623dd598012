"""NTA corporate-number Web-API v4-compatible endpoints: ``/4/num``, ``/4/diff`` and ``/4/name``.

Answers are the NTA's: ``type=01`` CSV in Shift_JIS, ``02`` CSV in UTF-8, ``12`` XML in UTF-8; CSV starts
with the header line ``lastUpdateDate,count,divideNumber,divideSize`` and XML with the same four elements,
then the 30 columns of each record; pages (``divide``) of 2,000 records. The application ID (``id``) is an
openmyna API token; an unknown one is answered 404 as the NTA does. Bad parameters are answered 400 with
the line ``code,message`` (or ``<error>`` in XML).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from xml.etree import ElementTree

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from openmyna.core.errors import DomainError
from openmyna.core.validation import unsafe_character
from openmyna.core.web import ReadSession, UnitOfWorkRoute
from openmyna.corporate import service
from openmyna.corporate.codes import KIND_GROUPS, NTA_FIELDS, PREFECTURES
from openmyna.corporate.models import Corporation
from openmyna.corporate.search import Filters
from openmyna.corporate.search import search as search_rows
from openmyna.corporate.writer import NTA_COLUMNS
from openmyna.numbers.formats import check_corporate_number

router = APIRouter(route_class=UnitOfWorkRoute, prefix="/4", tags=["NTA Web-API v4"])
PAGE_SIZE = 2000
MAX_DIFF_DAYS = 50
TYPES = {"01": ("text/csv; charset=Shift_JIS", "cp932"), "02": ("text/csv; charset=UTF-8", "utf-8"),
         "12": ("application/xml; charset=UTF-8", "utf-8")}  # fmt: skip
_ALL = ", ".join(f"c.{c}" for c in NTA_COLUMNS)
_MEDIA: dict[str, Any] = {"text/csv": {}, "application/xml": {}}
_ANSWERS = {
    "200": {"description": "The header line, then the records: CSV (Shift_JIS or UTF-8) or XML", "content": _MEDIA},
    "4XX": {
        "description": "`code,message` (`<error>` in XML): 400 bad parameters, 404 unknown ID, 429 too many requests",
        "content": _MEDIA,
    },
}


def _doc(names: list[str]) -> dict[str, Any]:
    """The operation's parameters and answers for the document (the handler reads the query itself)."""
    common = [
        {"name": "id", "in": "query", "required": True, "schema": {"type": "string"}, "description": "API token"},
        {"name": "type", "in": "query", "required": True, "schema": {"enum": list(TYPES)}},
    ]
    rest = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in names]
    return {"parameters": common + rest, "responses": _ANSWERS}


class NtaError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error_response(exc: NtaError, kind: str) -> Response:
    if kind == "12":
        root = ElementTree.Element("error")
        ElementTree.SubElement(root, "code").text = exc.code
        ElementTree.SubElement(root, "message").text = exc.message
        body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
        return Response(body, status_code=exc.status, media_type="application/xml; charset=UTF-8")
    media, encoding = TYPES.get(kind, TYPES["02"])
    return Response(f"{exc.code},{exc.message}\n".encode(encoding, errors="replace"), exc.status, media_type=media)


def _check(request: Request, connection: Connection, allowed: set[str]) -> tuple[dict[str, str], str]:
    params = dict(request.query_params)
    kind = params.get("type", "")
    unknown = sorted(set(params) - allowed - {"id", "type"})
    if unknown:
        raise NtaError(400, "001", f"未定義のパラメータです: {', '.join(unknown)}")
    if kind not in TYPES:
        raise NtaError(400, "002", "応答形式(type)は 01, 02, 12 のいずれかを指定してください")
    try:
        token_id = service.verify_token(connection, params.get("id"))
    except DomainError:
        raise NtaError(404, "003", "アプリケーションIDが正しくありません") from None
    limiter = getattr(request.app.state, "corporate_rate_limiter", None)
    if limiter is None:
        limiter = service.RateLimiter(request.app.state.settings.corporate_rate_limit_per_second)
        request.app.state.corporate_rate_limiter = limiter
    try:
        limiter.check(token_id)
    except DomainError:
        raise NtaError(429, "004", "リクエストが多すぎます。しばらくしてから再度実行してください") from None
    return params, kind


def _divide(params: dict[str, str]) -> int:
    value = params.get("divide", "1")
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 99999:
        raise NtaError(400, "010", "分割番号(divide)は1以上の整数を指定してください")
    return int(value)


def _date(params: dict[str, str], key: str, *, required: bool) -> dt.date | None:
    value = params.get(key)
    if not value:
        if required:
            raise NtaError(400, "020", f"{key} を YYYY-MM-DD で指定してください")
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise NtaError(400, "021", f"{key} の日付が正しくありません: {value}") from None


def _address(params: dict[str, str]) -> tuple[str | None, str | None]:
    value = params.get("address")
    if not value:
        return None, None
    if len(value) not in (2, 5) or not value.isdigit() or value[:2] not in PREFECTURES:
        raise NtaError(400, "030", "所在地(address)は都道府県コード2桁又は市区町村コードを含む5桁を指定してください")
    return value[:2], value[2:] or None


def _kinds(params: dict[str, str]) -> tuple[str, ...]:
    value = params.get("kind")
    if not value:
        return ()
    groups = value.split(",")
    if not set(groups) <= set(KIND_GROUPS):
        raise NtaError(400, "040", "法人種別(kind)は 01, 02, 03, 04 を指定してください")
    return tuple(k for g in groups for k in KIND_GROUPS[g])


def _record(row: dict[str, Any], sequence: int) -> list[str]:
    values = [str(sequence), str(row["number"])]
    for column in NTA_COLUMNS[1:]:
        value = row[column]
        values.append("" if value is None else str(value))
    return values


def _render(connection: Connection, rows: list[dict[str, Any]], *, count: int, divide: int, kind: str) -> Response:
    last = connection.execute(select(func.max(Corporation.__table__.c.update_date))).scalar()
    pages = max(1, -(-count // PAGE_SIZE))
    head = [str(last or ""), str(count), str(divide), str(pages)]
    records = [_record(row, (divide - 1) * PAGE_SIZE + i) for i, row in enumerate(rows, start=1)]
    media, encoding = TYPES[kind]
    if kind == "12":
        root = ElementTree.Element("corporations")
        for name, value in zip(("lastUpdateDate", "count", "divideNumber", "divideSize"), head, strict=True):
            ElementTree.SubElement(root, name).text = value
        for record in records:
            element = ElementTree.SubElement(root, "corporation")
            for name, value in zip(NTA_FIELDS, record, strict=True):
                ElementTree.SubElement(element, name).text = value
        return Response(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True), media_type=media)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(head)
    writer.writerows(records)
    return Response(buffer.getvalue().encode(encoding, errors="replace"), media_type=media)


def _respond(request: Request, session: ReadSession, allowed: set[str], build: Any) -> Response:
    connection = session.connection()
    kind = request.query_params.get("type", "")
    try:
        params, kind = _check(request, connection, allowed)
        rows, count, divide = build(connection, params)
    except NtaError as exc:
        return _error_response(exc, kind)
    return _render(connection, rows, count=count, divide=divide, kind=kind)


def _by_number(connection: Connection, params: dict[str, str]) -> tuple[list[dict[str, Any]], int, int]:
    raw = [n for n in params.get("number", "").split(",") if n]
    if not 1 <= len(raw) <= 10:
        raise NtaError(400, "050", "法人番号(number)は1件以上10件以下で指定してください")
    numbers = []
    for value in raw:
        check = check_corporate_number(value)
        if not check.valid:
            raise NtaError(400, "051", f"法人番号が正しくありません: {value} ({check.reason})")
        numbers.append(int(check.number))
    history = params.get("history", "0")
    if history not in ("0", "1"):
        raise NtaError(400, "052", "変更履歴要否(history)は 0 又は 1 を指定してください")
    rows: list[dict[str, Any]] = []
    for number in numbers:
        if history == "1":
            rows.extend(service.history(connection, number))
        try:
            rows.append(service.corporation(connection, number))
        except DomainError:
            continue
    return rows, len(rows), 1


def _diff(connection: Connection, params: dict[str, str]) -> tuple[list[dict[str, Any]], int, int]:
    start, end = _date(params, "from", required=True), _date(params, "to", required=True)
    assert start and end
    if start > end or (end - start).days > MAX_DIFF_DAYS:
        raise NtaError(400, "060", f"取得期間は開始日から終了日まで{MAX_DIFF_DAYS}日以内で指定してください")
    prefecture, city = _address(params)
    kinds, divide = _kinds(params), _divide(params)
    where, bind = ["c.update_date BETWEEN :start AND :end"], {"start": start.isoformat(), "end": end.isoformat()}
    if prefecture:
        where.append("c.prefecture_code = :prefecture")
        bind["prefecture"] = prefecture
    if city:
        where.append("c.city_code = :city")
        bind["city"] = city
    if kinds:
        where.append(f"c.kind IN ({', '.join(f':k{i}' for i in range(len(kinds)))})")
        bind.update({f"k{i}": k for i, k in enumerate(kinds)})
    union = (
        f"SELECT c.number AS number, {_ALL} FROM corporate_corporations c WHERE {' AND '.join(where)} "
        f"UNION ALL SELECT c.number AS number, {_ALL} FROM corporate_versions c WHERE {' AND '.join(where)}"
    )
    count = connection.execute(text(f"SELECT count(*) FROM ({union}) u"), bind).scalar_one()
    page = connection.execute(
        text(f"SELECT * FROM ({union}) u ORDER BY update_date, number, change_date LIMIT :limit OFFSET :offset"),
        {**bind, "limit": PAGE_SIZE, "offset": (divide - 1) * PAGE_SIZE},
    )
    return [dict(r._mapping) for r in page], count, divide


def _name(connection: Connection, params: dict[str, str]) -> tuple[list[dict[str, Any]], int, int]:
    name = params.get("name", "").strip()
    if not name or len(name) > 150:
        raise NtaError(400, "070", "商号又は名称(name)を150文字以内で指定してください")
    if unsafe_character(name):
        raise NtaError(400, "073", "商号又は名称(name)に制御文字は使用できません")
    mode, target = params.get("mode", "1"), params.get("target", "1")
    if mode not in ("1", "2") or target not in ("1", "2", "3"):
        raise NtaError(400, "071", "検索方式(mode)は 1/2、検索対象(target)は 1/2/3 を指定してください")
    close, change = params.get("close", "1"), params.get("change", "0")
    if close not in ("0", "1") or change not in ("0", "1"):
        raise NtaError(400, "072", "close 及び change は 0 又は 1 を指定してください")
    prefecture, city = _address(params)
    start, end = _date(params, "from", required=False), _date(params, "to", required=False)
    filters = Filters(
        name=name,
        name_prefix=mode == "1",
        prefecture_code=prefecture,
        city_code=city,
        kinds=_kinds(params),
        open_only=True if close == "0" else None,
        updated_from=start.isoformat() if start else None,
        updated_to=end.isoformat() if end else None,
    )
    divide = _divide(params)
    rows = search_rows(connection, filters, limit=PAGE_SIZE + 1, offset=(divide - 1) * PAGE_SIZE)
    count = (divide - 1) * PAGE_SIZE + len(rows)  # counting every match of a broad name is not worth a scan
    numbers = [r["number"] for r in rows[:PAGE_SIZE]]
    full = service.by_numbers(connection, numbers)
    return full, count, divide


@router.get(
    "/num",
    summary="Corporations by number (法人番号指定)",
    response_class=Response,
    openapi_extra=_doc(["number", "history"]),
)
def by_number(request: Request, session: ReadSession) -> Response:
    return _respond(request, session, {"number", "history"}, _by_number)


@router.get(
    "/diff",
    summary="Records updated in a period (取得期間指定)",
    response_class=Response,
    openapi_extra=_doc(["from", "to", "address", "kind", "divide"]),
)
def diff(request: Request, session: ReadSession) -> Response:
    return _respond(request, session, {"from", "to", "address", "kind", "divide"}, _diff)


_NAME_PARAMETERS = ["name", "mode", "target", "address", "kind", "change", "close", "from", "to", "divide"]


@router.get(
    "/name",
    summary="Corporations by name (法人名指定)",
    response_class=Response,
    openapi_extra=_doc(_NAME_PARAMETERS),
)
def by_name(request: Request, session: ReadSession) -> Response:
    return _respond(request, session, set(_NAME_PARAMETERS), _name)
