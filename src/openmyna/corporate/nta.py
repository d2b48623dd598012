"""Reading the NTA's 30-column corporate-number CSV, row by row, with every rule checked.

Lines are decoded one at a time, so a line in a bad encoding is reported and skipped without losing the
rest of the file; each row yields either a :class:`Record` or a :class:`BadRow` naming file and line.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from stdnum.jp import cn

from openmyna.corporate.codes import CLOSE_CAUSE, KIND, NTA_FIELDS, PROCESS
from openmyna.corporate.text import search_text
from openmyna.numbers.formats import check_corporate_number

FIELD_COUNT = len(NTA_FIELDS)
_DATE_FIELDS = {4: True, 5: True, 18: False, 22: True}  # column index → required
_ALLOWED_DIGITS = frozenset("0123456789")


class NotNtaCsv(ValueError):
    """The file is not an NTA corporate-number CSV at all; nothing was written."""


class Record(NamedTuple):
    """One valid row, where it came from and ``row``: what the registry stores, ready to insert.

    ``row`` is (number as an integer, sequence number, the NTA columns 3–30 with dates as ISO text and
    blanks as None, digest, search text): the order of ``corporate_corporations``' columns. A named tuple
    because an import builds them by the million (a dataclass costs several times more to create).
    """

    line: int
    row: tuple[str | int | None, ...]

    @property
    def number(self) -> int:
        return self.row[0]  # type: ignore[return-value]

    @property
    def digest(self) -> int:
        return self.row[-2]  # type: ignore[return-value]

    @property
    def search_text(self) -> str:
        return self.row[-1]  # type: ignore[return-value]

    @property
    def values(self) -> tuple[str | int | None, ...]:
        """The 30 NTA values as parsed (the number as its 13 digits)."""
        return (self.row[1], str(self.row[0]), *self.row[2:-2])

    @property
    def update_date(self) -> str:
        return self.row[4]  # type: ignore[return-value]

    @property
    def change_date(self) -> str:
        return self.row[5]  # type: ignore[return-value]

    @property
    def latest(self) -> bool:
        return self.row[23] == "1"


@dataclass(frozen=True, slots=True)
class BadRow:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def _valid_number(number: str) -> bool:
    """A fast path for well-formed numbers, python-stdnum (through numbers.formats) for the verdict."""
    return len(number) == 13 and set(number) <= _ALLOWED_DIGITS and cn.calc_check_digit(number[1:]) == number[0]


def parse_fields(fields: list[str]) -> tuple[str | int | None, ...]:
    """Check one row's 30 fields and return its stored values; raise ValueError saying what is wrong."""
    if len(fields) != FIELD_COUNT:
        raise ValueError(f"expected {FIELD_COUNT} columns, found {len(fields)}")
    values: list[str | int | None] = [field.strip() or None for field in fields]
    number = fields[1]
    if not _valid_number(number):
        raise ValueError(f"corporate number {number!r}: {check_corporate_number(number).reason}")
    sequence = fields[0]
    if not sequence.isdigit():
        raise ValueError(f"sequence number {sequence!r} is not a number")
    values[0] = int(sequence)
    if fields[2] not in PROCESS:
        raise ValueError(f"unknown process code {fields[2]!r}")
    if fields[8] not in KIND:
        raise ValueError(f"unknown kind {fields[8]!r}")
    if fields[3] not in ("0", "1") or fields[23] not in ("0", "1") or fields[29] not in ("0", "1"):
        raise ValueError("correct, latest and hihyoji must each be 0 or 1")
    for index, required in _DATE_FIELDS.items():
        value = fields[index]
        if not value:
            if required:
                raise ValueError(f"{NTA_FIELDS[index]} is required")
            continue
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{NTA_FIELDS[index]} {value!r} is not a date (YYYY-MM-DD)") from None
        if len(value) != 10:
            raise ValueError(f"{NTA_FIELDS[index]} {value!r} is not a date (YYYY-MM-DD)")
    if not fields[6].strip():
        raise ValueError("name is required")
    if fields[13] and (len(fields[13]) != 2 or not fields[13].isdigit()):
        raise ValueError(f"prefectureCode {fields[13]!r} is not 2 digits")
    if fields[14] and (len(fields[14]) != 3 or not fields[14].isdigit()):
        raise ValueError(f"cityCode {fields[14]!r} is not 3 digits")
    if fields[15] and (len(fields[15]) != 7 or not fields[15].isdigit()):
        raise ValueError(f"postCode {fields[15]!r} is not 7 digits")
    if fields[19] and fields[19] not in CLOSE_CAUSE:
        raise ValueError(f"unknown closeCause {fields[19]!r}")
    successor = fields[20]
    if successor and not _valid_number(successor):
        raise ValueError(f"successorCorporateNumber {successor!r} is not a valid corporate number")
    return tuple(values)


def digest_of(values: tuple[str | int | None, ...]) -> int:
    """A signed 64-bit digest of columns 2–30 (the sequence number differs between files)."""
    joined = "\x1f".join("" if v is None else str(v) for v in values[1:])
    return int.from_bytes(hashlib.blake2b(joined.encode(), digest_size=8).digest(), "big", signed=True)


def make_record(line: int, values: tuple[str | int | None, ...]) -> Record:
    text = search_text(values[6], values[28], values[24])  # type: ignore[arg-type]
    return Record(line, (int(values[1]), values[0], *values[2:], digest_of(values), text))  # type: ignore[arg-type]


def sniff_encoding(head: bytes) -> str:
    """UTF-8 (the NTA's "Unicode" files, with or without BOM) unless most lines say Shift_JIS.

    Decided line by line, so one broken line does not turn a UTF-8 file into Shift_JIS.
    """
    lines = head.splitlines()
    if len(lines) > 1 and not head.endswith(b"\n"):
        lines = lines[:-1]  # the last line may be cut in the middle of a character
    utf8 = 0
    for line in lines:
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            pass
    return "utf-8-sig" if utf8 * 2 >= len(lines) else "cp932"


def check_is_nta(path: Path) -> str:
    """Refuse a file that is not NTA CSV before anything is written; return its encoding."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    if not head.strip():
        raise NotNtaCsv(f"{path.name}: the file is empty")
    encoding = sniff_encoding(head)
    first = head.splitlines()[0].decode(encoding, errors="replace")
    fields = next(csv.reader([first]))
    if len(fields) != FIELD_COUNT or len(fields[1]) != 13 or not fields[1].isdigit():
        raise NotNtaCsv(
            f"{path.name}: line 1 is not an NTA corporate-number record "
            f"(30 columns with the 13-digit number second; found {len(fields)} columns)"
        )
    return encoding


def parse_lines(file_name: str, encoding: str, first_line: int, lines: Sequence[bytes]) -> list[Record | BadRow]:
    """Check raw lines numbered from ``first_line``: a Record or a BadRow each, in order (blank lines skip).

    A quoted field must not span a chunk's end (the NTA's fields hold no line breaks).
    """
    position = [first_line - 1]
    bad_lines: list[int] = []

    def decoded() -> Iterator[str]:
        for offset, raw in enumerate(lines):
            position[0] = first_line + offset
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError:
                bad_lines.append(position[0])

    items: list[Record | BadRow] = []
    reader = csv.reader(decoded(), strict=True)
    while True:
        fields: list[str] | None = None
        error = ""
        try:
            fields = next(reader)
        except StopIteration:
            pass
        except csv.Error as exc:
            error = f"malformed CSV: {exc}"
        while bad_lines:
            items.append(BadRow(file_name, bad_lines.pop(0), f"not valid {encoding.removesuffix('-sig')} text"))
        if error:
            items.append(BadRow(file_name, position[0], error))
            continue
        if fields is None:
            return items
        if not fields or fields == [""]:
            continue
        try:
            items.append(make_record(position[0], parse_fields(fields)))
        except ValueError as exc:
            items.append(BadRow(file_name, position[0], str(exc)))


def line_chunks(path: Path, size: int) -> Iterator[tuple[int, list[bytes]]]:
    """The file's raw lines, ``size`` at a time, each chunk with the number of its first line."""
    with path.open("rb") as handle:
        line = 1
        while chunk := list(itertools.islice(handle, size)):
            yield line, chunk
            line += len(chunk)
