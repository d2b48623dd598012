"""Checking gBizINFO v2 search parameters: every problem becomes one entry of the answer's ``errors``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from openmyna.core.validation import unsafe_character
from openmyna.corporate.codes import KIND, PREFECTURES
from openmyna.corporate.search import Filters
from openmyna.numbers.formats import check_corporate_number

_TEXT = ("name", "city", "patent", "procurement", "subsidy", "certification", "ministry")
_RANGES = {
    "capital_stock": None,
    "employee_number": None,
    "net_sales_summary_of_business_results": None,
    "total_assets_summary_of_business_results": None,
    "procurement_amount": "procurement",
    "subsidy_amount": "subsidy",
}
_NOT_HELD = (
    "founded_year",
    "average_continuous_service_years",
    "average_age",
    "month_average_predetermined_overtime_hours",
    "female_workers_proportion",
    "patent",
)
SEARCH_PARAMETERS = frozenset(
    {
        "corporate_number",
        "name",
        "exist_flg",
        "corporate_type",
        "prefecture",
        "city",
        "founded_year",
        "average_continuous_service_years",
        "average_age",
        "month_average_predetermined_overtime_hours",
        "female_workers_proportion",
        "patent",
        "procurement",
        "subsidy",
        "certification",
        "ministry",
        "source",
        "page",
        "limit",
        "metadata_flg",
        *(f"{name}_{end}" for name in _RANGES for end in ("from", "to")),
    }
)
UPDATE_PARAMETERS = frozenset({"from", "to", "page", "metadata_flg"})
SOURCES = {"1": "procurement", "2": "commendation", "3": "certification", "4": "subsidy", "5": "patent", "6": "finance"}
MAX_LIMIT = 5000
MAX_PAGE = 10
# updateInfo's days: any the registry could hold, and far enough from date.min/max to shift between JST and UTC.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


class ParameterErrors(Exception):
    """One or more parameters are wrong; ``errors`` holds gBizINFO's ``{"item", "message"}`` entries."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['item']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass
class SearchRequest:
    filters: Filters
    page: int = 1
    limit: int = 1000
    errors: list[dict[str, str]] = field(default_factory=list)


def _unknown(params: Mapping[str, str], allowed: frozenset[str]) -> list[dict[str, str]]:
    return [
        {"item": key, "message": "未定義のパラメータです (unknown parameter)"} for key in params if key not in allowed
    ]


def _int(params: Mapping[str, str], key: str, errors: list[dict[str, str]], low: int, high: int) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:  # "¹".isdigit(), int("¹") fails
        errors.append({"item": key, "message": f"{low}以上{high}以下の整数を指定してください (integer {low}–{high})"})
        return None
    return int(value)


def page_and_limit(params: Mapping[str, str], errors: list[dict[str, str]]) -> tuple[int, int]:
    page = _int(params, "page", errors, 1, MAX_PAGE) or 1
    limit = _int(params, "limit", errors, 1, MAX_LIMIT) or 1000
    return page, limit


def parse_search(params: Mapping[str, str]) -> SearchRequest:
    """Turn the query string of ``GET /v2/hojin`` into Filters, or raise ParameterErrors."""
    errors = _unknown(params, SEARCH_PARAMETERS)
    page, limit = page_and_limit(params, errors)
    for key in _TEXT:
        if len(params.get(key, "")) > 150:
            errors.append({"item": key, "message": "150文字以内で指定してください (at most 150 characters)"})
        elif unsafe_character(params.get(key, "")):
            errors.append({"item": key, "message": "制御文字は使用できません (no control characters)"})
    numbers: tuple[int, ...] = ()
    if params.get("corporate_number"):
        check = check_corporate_number(params["corporate_number"])
        if check.valid:
            numbers = (int(check.number),)
        else:
            errors.append({"item": "corporate_number", "message": f"法人番号が正しくありません ({check.reason})"})
    open_only = None
    if "exist_flg" in params:
        if params["exist_flg"] not in ("true", "false"):
            errors.append({"item": "exist_flg", "message": "true または false を指定してください"})
        else:
            open_only = params["exist_flg"] == "true"
    kinds: tuple[str, ...] = ()
    if params.get("corporate_type"):
        kinds = tuple(params["corporate_type"].split(","))
        if not set(kinds) <= set(KIND):
            errors.append(
                {"item": "corporate_type", "message": f"法人種別コード ({', '.join(KIND)}) を指定してください"}
            )
    prefecture = params.get("prefecture") or None
    if prefecture is not None and prefecture not in PREFECTURES:
        errors.append({"item": "prefecture", "message": "都道府県コード (01–47) を指定してください"})
    city = params.get("city") or None
    if city is not None and (len(city) != 3 or not city.isdigit() or prefecture is None):
        errors.append({"item": "city", "message": "市区町村コード (3桁) を prefecture と共に指定してください"})
    amount_range: dict[str, tuple[int | None, int | None]] = {}
    impossible = any(params.get(key) for key in _NOT_HELD)
    for name, kind in _RANGES.items():
        low = _int(params, f"{name}_from", errors, 0, 10**15)
        high = _int(params, f"{name}_to", errors, 0, 10**15)
        if low is not None and high is not None and low > high:
            errors.append({"item": f"{name}_from", "message": f"{name}_from は {name}_to 以下にしてください"})
        if low is None and high is None:
            continue
        if kind is None:
            impossible = True  # financial figures: the registry holds none, so nothing matches
        else:
            amount_range[kind] = (low, high)
    activity_title = {k: params[k] for k in ("procurement", "subsidy", "certification") if params.get(k)}
    activity_kinds: tuple[str, ...] = ()
    if params.get("source"):
        codes = params["source"].split(",")
        if not set(codes) <= set(SOURCES):
            errors.append({"item": "source", "message": "出典元 (1–6) を指定してください"})
        else:
            activity_kinds = tuple(SOURCES[c] for c in codes if SOURCES[c] not in ("patent", "finance"))
            impossible = impossible or not activity_kinds
    if params.get("metadata_flg") not in (None, "true", "false"):
        errors.append({"item": "metadata_flg", "message": "true または false を指定してください"})
    asked = set(params) - {"page", "limit", "metadata_flg"}
    if not errors and not any(params.get(k) for k in asked):
        errors.append({"item": "-", "message": "検索条件を1つ以上指定してください (give at least one condition)"})
    if errors:
        raise ParameterErrors(errors)
    filters = Filters(
        name=params.get("name", ""),
        numbers=numbers,
        prefecture_code=prefecture,
        city_code=city,
        kinds=kinds,
        open_only=open_only,
        activity_kinds=activity_kinds,
        activity_title=activity_title,
        amount_range=amount_range,
        ministry=params.get("ministry") or None,
        impossible=impossible,
    )
    return SearchRequest(filters, page, limit)


def parse_dates(params: Mapping[str, str]) -> tuple[dt.date, dt.date, int]:
    """``from``/``to`` (YYYYMMDD, both required, from ≤ to) and ``page`` of updateInfo."""
    errors = _unknown(params, UPDATE_PARAMETERS)
    page = _int(params, "page", errors, 1, 10**6) or 1
    days: dict[str, dt.date] = {}
    for key in ("from", "to"):
        value = params.get(key, "")
        try:
            if len(value) != 8 or not value.isdigit():
                raise ValueError
            day = dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
            if not FIRST_DAY <= day <= LAST_DAY:
                raise ValueError
            days[key] = day
        except ValueError:
            errors.append(
                {"item": key, "message": "日付を YYYYMMDD (1900–2999年) で指定してください (required, YYYYMMDD)"}
            )
    if len(days) == 2 and days["from"] > days["to"]:
        errors.append({"item": "from", "message": "from は to 以前の日付にしてください"})
    if errors:
        raise ParameterErrors(errors)
    return days["from"], days["to"], page
