"""Linked data and bulk data: a corporation as JSON-LD in the IMI core vocabulary (法人型), and gzip CSV per
activity kind.

The IMI core vocabulary (共通語彙基盤, https://imi.go.jp/ns/core/rdf#) names the classes and properties;
the seed says the corporate portal organises its data with it.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from openmyna.corporate.codes import CLOSE_CAUSE, KIND, label
from openmyna.corporate.models import Activity, Corporation
from openmyna.corporate.present import is_closed

IMI = "http://imi.go.jp/ns/core/rdf#"
DOWNLOAD_HEADER = ("corporate_number", "name", "kind", "title", "amount", "date", "government_departments",
                   "target", "category", "note")  # fmt: skip


def _date(value: Any) -> str | None:
    return None if value is None else str(value)[:10]


def json_ld(row: dict[str, Any], activities: list[dict[str, Any]], *, base_url: str) -> dict[str, Any]:
    """One corporation as an IMI 法人型 (``ic:法人型``) node with its address, ID and activity records."""
    number = str(row["number"])
    address: dict[str, Any] = {
        "@type": "ic:住所型",
        "ic:表記": "".join(row.get(k) or "" for k in ("prefecture_name", "city_name", "street_number")),
        "ic:郵便番号": row.get("post_code"),
        "ic:都道府県": row.get("prefecture_name"),
        "ic:市区町村": row.get("city_name"),
    }
    if row.get("prefecture_code") and row.get("city_code"):
        address["ic:都道府県コード"] = f"http://data.e-stat.go.jp/lod/sac/C{row['prefecture_code']}000"
        address["ic:市区町村コード"] = f"http://data.e-stat.go.jp/lod/sac/C{row['prefecture_code']}{row['city_code']}"
    node: dict[str, Any] = {
        "@context": {"ic": IMI},
        "@id": f"{base_url.rstrip('/')}/corporations/{number}",
        "@type": "ic:法人型",
        "ic:ID": {"@type": "ic:ID型", "ic:体系": {"@type": "ic:ID体系型", "ic:名称": "法人番号"}, "ic:識別値": number},
        "ic:名称": [
            {
                "@type": "ic:名称型",
                "ic:種別": "商号又は名称",
                "ic:表記": row["name"],
                "ic:カナ表記": row.get("furigana"),
            },
            *([{"@type": "ic:名称型", "ic:種別": "英語表記", "ic:表記": row["en_name"]}] if row.get("en_name") else []),
        ],
        "ic:住所": address,
        "ic:種別": label(KIND, row["kind"]),
        "ic:活動状況": {
            "@type": "ic:状況型",
            "ic:名称": "閉鎖" if is_closed(row) else "存続",
            "ic:発生日": {"@type": "ic:日付型", "ic:標準型日付": _date(row.get("close_date"))}
            if row.get("close_date")
            else None,
            "ic:説明": label(CLOSE_CAUSE, row.get("close_cause")) or None,
        },
        "ic:設立日": None,
        "ic:更新日時": {"@type": "ic:日時型", "ic:標準型日時": f"{_date(row['update_date'])}T00:00:00+09:00"},
        "ic:関連文書": [
            {
                "@type": "ic:文書型",
                "ic:種別": a["kind"],
                "ic:名称": a["title"],
                "ic:発行者": {
                    "@type": "ic:組織型",
                    "ic:名称": {"@type": "ic:名称型", "ic:表記": a["government_departments"]},
                },
                "ic:日付": {"@type": "ic:日付型", "ic:標準型日付": _date(a["date"])} if a["date"] else None,
                "ic:金額": {"@type": "ic:金額型", "ic:数値": a["amount"], "ic:通貨": "円"}
                if a["amount"] is not None
                else None,
            }
            for a in activities
        ],
    }
    return node


def gzip_csv(connection: Connection, kind: str, *, chunk: int = 5000) -> Iterator[bytes]:
    """All linked records of one activity kind as gzip-compressed CSV, produced piece by piece."""
    activity, corporation = Activity.__table__, Corporation.__table__
    query = (
        select(activity.c.number, corporation.c.name, activity.c.kind, activity.c.title, activity.c.amount,
               activity.c.date, activity.c.government_departments, activity.c.target, activity.c.category,
               activity.c.note)
        .join(corporation, corporation.c.number == activity.c.number)
        .where(activity.c.kind == kind, activity.c.linked.is_(True))
        .order_by(activity.c.id)
        .execution_options(yield_per=chunk)
    )  # fmt: skip
    sink = io.BytesIO()
    compressor = gzip.GzipFile(fileobj=sink, mode="wb", mtime=0)
    text = io.TextIOWrapper(compressor, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(DOWNLOAD_HEADER)
    result = connection.execute(query)
    for rows in result.partitions(chunk):
        writer.writerows([(str(r[0]), *r[1:5], _date(r[5]), *r[6:]) for r in rows])
        text.flush()
        if sink.tell():
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    text.close()
    yield sink.getvalue()
