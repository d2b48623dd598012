"""Invitation codes and names as the proxy service compares them."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from openmyna.portal.proxy import service

CODES = st.text(alphabet=service.CODE_ALPHABET, min_size=service.CODE_LENGTH, max_size=service.CODE_LENGTH)
SEPARATORS = st.sampled_from(["", "-", " ", "　", "－"])


def _full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@given(CODES, SEPARATORS, st.booleans(), st.booleans())
def test_a_code_typed_any_way_is_the_same_code(raw: str, separator: str, lower: bool, wide: bool) -> None:
    typed = separator.join(raw[i : i + 4] for i in range(0, len(raw), 4))
    typed = typed.lower() if lower else typed
    typed = _full_width(typed) if wide else typed
    assert service.normalise_code(typed) == raw


@given(CODES, CODES)
def test_different_codes_stay_different(one: str, other: str) -> None:
    assert (service.normalise_code(one) == service.normalise_code(other)) == (one == other)


def test_new_codes_use_the_alphabet_and_have_80_bits() -> None:
    codes = {service._new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        raw = code.replace("-", "")
        assert len(raw) == service.CODE_LENGTH and set(raw) <= set(service.CODE_ALPHABET)
    assert len(service.CODE_ALPHABET) ** service.CODE_LENGTH == 2**80


@given(st.text(alphabet="鈴木一郎 　ｽｽﾞｷ", min_size=1, max_size=12))
def test_names_compare_without_spaces_and_width(name: str) -> None:
    squeezed = service.normalise_name(name)
    assert " " not in squeezed and "　" not in squeezed
    assert service.normalise_name(unicodedata.normalize("NFKC", name).replace(" ", "　")) == squeezed
