"""Shaping stored rows into gBizINFO REST API v2 JSON (DOMAIN.md §4), with its field names and JSON types."""

from __future__ import annotations

import datetime as dt
from typing import Any

from openmyna.corporate.codes import CLOSING_PROCESSES

_BLOCK_OF_KIND = {
    "subsidy": "subsidy",
    "procurement": "procurement",
    "certification": "certification",
    "commendation": "commendation",
}
# The eight sub-resources of /v2/hojin/{corporate_number}/… and the key of their block in the answer.
SUB_RESOURCES = {
    "certification": "certification",
    "commendation": "commendation",
    "corporation": "corporation-info",
    "finance": "finance",
    "patent": "patent",
    "procurement": "procurement",
    "subsidy": "subsidy",
    "workplace": "workplace_info",
}


def gbiz_date(value: Any) -> str | None:
    """gBizINFO writes dates as ISO 8601 date-times in JST, e.g. ``2024-04-01T00:00:00+09:00``."""
    if value is None or value == "":
        return None
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    return f"{day.isoformat()}T00:00:00+09:00"


def is_closed(row: dict[str, Any]) -> bool:
    return bool(row.get("close_date")) or row.get("process") in CLOSING_PROCESSES


def location(row: dict[str, Any]) -> str:
    domestic = "".join(row.get(k) or "" for k in ("prefecture_name", "city_name", "street_number"))
    return domestic or (row.get("address_outside") or "")


def search_item(row: dict[str, Any]) -> dict[str, Any]:
    """One entry of a search answer's ``hojin-infos``."""
    return {
        "corporate_number": str(row["number"]),
        "name": row["name"],
        "name_en": row.get("en_name"),
        "location": location(row),
        "postal_code": row.get("post_code"),
        "status": "閉鎖" if is_closed(row) else "-",
        "update_date": gbiz_date(row["update_date"]),
        "number_of_activity": str(row.get("number_of_activity", 0)),
    }


def _subsidy(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": a["title"],
        "amount": None if a["amount"] is None else str(a["amount"]),
        "date_of_approval": gbiz_date(a["date"]),
        "government_departments": a["government_departments"],
        "target": a["target"],
    }


def _procurement(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": a["title"],
        "amount": a["amount"],
        "date_of_order": gbiz_date(a["date"]),
        "government_departments": a["government_departments"],
        "note": a["note"],
    }


def _certification(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": a["title"],
        "category": a["category"],
        "date_of_approval": gbiz_date(a["date"]),
        "government_departments": a["government_departments"],
        "target": a["target"],
    }


def _commendation(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": a["title"],
        "category": a["category"],
        "date_of_commendation": gbiz_date(a["date"]),
        "government_departments": a["government_departments"],
        "target": a["target"],
        "note": a["note"],
    }


_SHAPERS = {
    "subsidy": _subsidy,
    "procurement": _procurement,
    "certification": _certification,
    "commendation": _commendation,
}


def blocks(activities: list[dict[str, Any]]) -> dict[str, Any]:
    """Every nested block of the detail answer; blocks the registry holds no data for are empty."""
    out: dict[str, Any] = {
        "certification": [],
        "commendation": [],
        "corporation-info": [],
        "finance": {},
        "patent": [],
        "procurement": [],
        "subsidy": [],
        "workplace_info": {},
    }
    for a in activities:
        shaper = _SHAPERS.get(a["kind"])
        if shaper:
            out[a["kind"]].append(shaper(a))
    return out


def detail(row: dict[str, Any], activities: list[dict[str, Any]], *, only: str | None = None) -> dict[str, Any]:
    """The detail of one corporation; ``only`` names the one sub-resource block to include."""
    closed = is_closed(row)
    item: dict[str, Any] = {
        "aggregated_year": None,
        "business_items": [],
        "business_summary": None,
        "capital_stock": None,
        "close_cause": row.get("close_cause"),
        "close_date": gbiz_date(row.get("close_date")),
        "company_size_female": None,
        "company_size_male": None,
        "company_url": None,
        "corporate_number": str(row["number"]),
        "date_of_establishment": None,
        "employee_number": None,
        "founding_year": None,
        "industry": [],
        "kana": row.get("furigana"),
        "kind": row["kind"],
        "location": location(row),
        "name": row["name"],
        "name_en": row.get("en_name"),
        "postal_code": row.get("post_code"),
        "process": row["process"],
        "qualification_grade": None,
        "representative_name": None,
        "status": "閉鎖" if closed else "-",
        "update_date": gbiz_date(row["update_date"]),
    }
    nested = blocks(activities)
    if only is None:
        item.update(nested)
    else:
        key = SUB_RESOURCES[only]
        item[key] = nested[key]
    return item
