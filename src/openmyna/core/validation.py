"""Input bounds every API shares: ids an id column holds, text every database stores, names without bidi tricks.

SQLite stores a NUL or an integer beyond 32 bits that PostgreSQL refuses, and a lone surrogate cannot be encoded for
either, so the same request would be stored on one database and a 500 on the other. These types refuse such
input where it enters, as a 422 problem, on both.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

BIGINT_MAX = 2**63 - 1
"""The largest id (or count) a PostgreSQL ``bigint`` and a SQLite integer both hold."""

# C0 controls, DEL, C1 controls, and UTF-16 surrogates (in a str only ever lone: a valid pair is one code point).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The same, except tab, line feed and carriage return.
_UNSAFE_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Bidirectional controls, which make a name display as something other than what it is.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _describe(character: str) -> str:
    code = ord(character)
    if 0xD800 <= code <= 0xDFFF:
        kind = "a lone surrogate"
    elif _BIDI.match(character):
        kind = "a bidirectional control"
    else:
        kind = "a control character"
    return f"U+{code:04X} ({kind})"


def unsafe_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character no stored text may hold, described (``"U+0000 (a control character)"``), or None."""
    found = (_UNSAFE_MULTILINE if multiline else _UNSAFE).search(value)
    return _describe(found.group()) if found else None


def sanitise(value: str) -> str:
    """``value`` with every character :func:`unsafe_character` names replaced by U+FFFD, for recording raw input."""
    return _UNSAFE.sub("\ufffd", value)


def _text(value: str) -> str:
    problem = unsafe_character(value)
    if problem:
        raise ValueError(f"contains {problem}, which is not allowed")
    return value


def _multiline(value: str) -> str:
    problem = unsafe_character(value, multiline=True)
    if problem:
        raise ValueError(f"contains {problem}, which is not allowed")
    return value


def _name(value: str) -> str:
    found = _BIDI.search(_text(value))
    if found:
        raise ValueError(f"contains {_describe(found.group())}, which is not allowed in a name")
    return value


SafeText = Annotated[str, AfterValidator(_text)]
"""One line of text: no NUL, no other C0 or C1 control (tab and newline included), no lone surrogate."""
MultilineText = Annotated[str, AfterValidator(_multiline)]
"""Text that may span lines (tab, LF and CR allowed); otherwise as :data:`SafeText`."""
PersonName = Annotated[str, AfterValidator(_name)]
"""A person's name or its reading: :data:`SafeText` without bidirectional controls (U+202E and kin)."""

ID_MAX = 2**31 - 1
"""The largest row id: the id columns are ``INTEGER`` (32-bit on PostgreSQL)."""

Id = Annotated[int, Field(strict=True, ge=1, le=ID_MAX)]
"""A row id in a JSON body: a JSON integer (not ``true``, ``1.0`` or ``"1"``) that an id column holds."""
IdParam = Annotated[int, Field(ge=1, le=ID_MAX)]
"""A row id in a path or query string (text there, so parsed), bounded as :data:`Id`."""


class StrictModel(BaseModel):
    """A request body: an unknown field is refused, so a misspelt one is an error rather than a silent default."""

    model_config = ConfigDict(extra="forbid")
