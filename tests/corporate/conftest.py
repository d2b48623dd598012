"""A small registry for the API tests: three corporations, a merger, activity records and an API token."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from openmyna.corporate import activity, importer, service
from tests.corporate.factories import number, row, write

TOYO, SAKURA, FUJI, UNKNOWN = number(101), number(202), number(303), number(909)


@pytest.fixture
def registry(connection: Connection, tmp_path: Path) -> dict[str, str]:
    full = write(
        tmp_path / "full.csv",
        [
            row(TOYO, sequence=1, name="株式会社トヨ商事", furigana="カブシキガイシャトヨショウジ",
                en_name="Toyo Shoji Co., Ltd."),
            row(SAKURA, sequence=2, name="サクラ工業有限会社", kind="302", furigana="サクラコウギョウ",
                prefecture=("大阪府", "27"), city=("大阪市北区", "127"), post_code="5300001"),
            row(FUJI, sequence=3, process="71", name="富士建設株式会社", furigana="フジケンセツ",
                close_date="2024-03-31", close_cause="11", successor=TOYO),
        ],
    )  # fmt: skip
    importer.import_nta_file(connection, full)
    importer.import_nta_file(
        connection,
        write(tmp_path / "diff.csv", [row(TOYO, process="11", update="2024-06-01",
                                          name="株式会社トヨ商事ホールディングス",
                                          furigana="トヨショウジホールディングス", en_name="Toyo Shoji Holdings")]),
    )  # fmt: skip
    path = tmp_path / "activity.csv"
    path.write_text(
        ",".join(activity.CSV_HEADER) + "\n"
        f"{TOYO},subsidy,IT導入補助金,1500000,2024-06-01,経済産業省,株式会社トヨ商事,IT導入,\n"
        f"{TOYO},procurement,庁舎清掃業務委託,3200000,2024-07-01,国土交通省,,,随意契約\n"
        f"{TOYO},certification,えるぼし認定,,2023-04-01,厚生労働省,株式会社トヨ商事,女性活躍推進,\n"
        f"{TOYO},commendation,健康経営優良法人,,2024-03-01,経済産業省,株式会社トヨ商事,健康経営,大規模法人部門\n"
        f"{TOYO},disposition,業務改善命令,,2022-01-01,金融庁,株式会社トヨ商事,行政処分,\n"
        f"{SAKURA},subsidy,事業再構築補助金,80000000,2024-02-01,中小企業庁,,事業転換,\n"
        f"{UNKNOWN},subsidy,IT導入補助金,100000,2024-02-01,経済産業省,,,\n",
        encoding="utf-8",
    )
    activity.import_activity_file(connection, path)
    return {"toyo": TOYO, "sakura": SAKURA, "fuji": FUJI, "unknown": UNKNOWN}


@pytest.fixture
def api_headers(db: Session, registry: dict[str, str]) -> dict[str, str]:
    token = service.issue_token(db, name="test client")
    db.commit()
    return {"X-hojinInfo-api-token": token}
