"""The shared input types: which text every database stores, which names display as they are, which ids fit."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from openmyna.core.validation import (
    ID_MAX,
    Id,
    IdParam,
    MultilineText,
    PersonName,
    SafeText,
    StrictModel,
    sanitise,
    unsafe_character,
)

safe_text, multiline, name = TypeAdapter(SafeText), TypeAdapter(MultilineText), TypeAdapter(PersonName)
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Controls (C0, DEL, C1) and surrogates, which in a str are always lone.
unsafe = st.characters(categories=["Cc", "Cs"])
# What Japanese names are written with: kana, kanji, the iteration mark, the long-vowel mark, spaces, the middle dot.
japanese = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x3041, max_codepoint=0x3096),
        st.characters(min_codepoint=0x30A1, max_codepoint=0x30FA),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from("々ー・ 　"),
    ),
    min_size=1,
    max_size=50,
)


def refused(adapter: TypeAdapter[str], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return True
    return False


def with_inserted(text: str, character: str, where: int) -> str:
    at = where % (len(text) + 1)
    return text[:at] + character + text[at:]


@given(st.text(), unsafe, st.integers(min_value=0))
def test_text_with_a_control_character_or_lone_surrogate_is_refused(text: str, bad: str, where: int) -> None:
    value = with_inserted(text, bad, where)
    assert refused(safe_text, value)
    assert refused(name, value)
    assert unsafe_character(value) is not None


@given(st.text())
def test_safe_text_is_exactly_text_without_controls_or_surrogates(value: str) -> None:
    clean = not any(unicodedata.category(c) in ("Cc", "Cs") for c in value)
    assert refused(safe_text, value) is not clean
    if clean:
        value.encode("utf-8")  # storable: SQLite and PostgreSQL both take it


@given(st.text(), st.sampled_from("\n\r\t"), unsafe.filter(lambda c: c not in "\n\r\t"), st.integers(min_value=0))
def test_multiline_text_allows_line_breaks_and_tabs_only(text: str, allowed: str, bad: str, where: int) -> None:
    clean = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs"))
    assert multiline.validate_python(with_inserted(clean, allowed, where)) == with_inserted(clean, allowed, where)
    assert refused(multiline, with_inserted(clean, bad, where))
    assert refused(safe_text, with_inserted(clean, allowed, where))


@given(japanese)
def test_japanese_names_are_accepted_unchanged(value: str) -> None:
    assert name.validate_python(value) == value
    assert safe_text.validate_python(value) == value


@pytest.mark.parametrize("value", ["佐々木 ゆう子", "渡邊", "ヨーコ・オノ", "髙橋", "𠮷野", "ｻｻｷ", "Ōta"])
def test_known_names_are_accepted(value: str) -> None:
    assert name.validate_python(value) == value


@given(japanese, st.sampled_from(BIDI), st.integers(min_value=0))
def test_a_name_with_a_bidirectional_control_is_refused(text: str, bidi: str, where: int) -> None:
    value = with_inserted(text, bidi, where)
    assert refused(name, value)
    assert safe_text.validate_python(value) == value  # other text may carry them (an Arabic address, say)


@given(st.text())
def test_sanitised_text_is_always_safe_and_keeps_its_length(value: str) -> None:
    cleaned = sanitise(value)
    assert not refused(safe_text, cleaned)
    assert len(cleaned) == len(value)
    cleaned.encode("utf-8")


def test_the_refusal_names_the_character() -> None:
    assert unsafe_character("山\x00田") == "U+0000 (a control character)"
    assert unsafe_character("山\ud800田") == "U+D800 (a lone surrogate)"
    assert unsafe_character("a\nb", multiline=True) is None
    with pytest.raises(ValidationError, match=r"U\+202E \(a bidirectional control\)"):
        name.validate_python("山田\u202e")


@pytest.mark.parametrize("bad", [0, -1, ID_MAX + 1, 10**20, -(10**20), True, 1.0, "1", None])
def test_an_id_in_a_body_is_a_json_integer_a_bigint_holds(bad: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Id).validate_python(bad)
    assert TypeAdapter(Id).validate_python(ID_MAX) == ID_MAX


def test_an_id_in_a_url_is_parsed_then_bounded() -> None:
    assert TypeAdapter(IdParam).validate_python("42") == 42
    for bad in ("0", str(ID_MAX + 1), "1e3"):
        with pytest.raises(ValidationError):
            TypeAdapter(IdParam).validate_python(bad)


def test_a_strict_model_refuses_unknown_fields() -> None:
    class Body(StrictModel):
        title: SafeText

    with pytest.raises(ValidationError, match="extra"):
        Body.model_validate({"title": "x", "titel": "y"})
