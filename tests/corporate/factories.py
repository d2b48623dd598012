"""NTA rows and files for the corporate tests, built from the published column layout (DOMAIN.md §3)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from stdnum.jp import cn

# The NTA itself (国税庁), a known-valid corporate number.
NTA_NUMBER = "7000012050002"


def number(body: int) -> str:
    """A valid corporate number with the given 12-digit body."""
    text = f"{body:012d}"
    return cn.calc_check_digit(text) + text


def row(
    corporate_number: str,
    *,
    sequence: int = 1,
    process: str = "01",
    update: str = "2024-04-01",
    change: str | None = None,
    name: str = "株式会社トヨ商事",
    kind: str = "301",
    prefecture: tuple[str, str] = ("東京都", "13"),
    city: tuple[str, str] = ("千代田区", "101"),
    street: str = "霞が関3丁目1番1号",
    post_code: str = "1000013",
    close_date: str = "",
    close_cause: str = "",
    successor: str = "",
    latest: str = "1",
    en_name: str = "",
    furigana: str = "カブシキガイシャトヨショウジ",
) -> list[str]:
    return [
        str(sequence), corporate_number, process, "0", update, change or update, name, "", kind,
        prefecture[0], city[0], street, "", prefecture[1], city[1], post_code, "", "", close_date, close_cause,
        successor, "", "2015-10-05", latest, en_name, "", "", "", furigana, "0",
    ]  # fmt: skip


def csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def write(path: Path, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    path.write_bytes(csv_text(rows).encode(encoding))
    return path
