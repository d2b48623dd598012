"""Number formats: known-answer vectors, property tests and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from stdnum.jp import in_
from typer.testing import CliRunner

from openmyna.cli.main import app
from openmyna.numbers import formats

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "numbers.json").read_text(encoding="utf-8"))
digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


def test_my_number_vectors() -> None:
    for number in VECTORS["my_number"]["valid"]:
        result = formats.check_my_number(number)
        assert result.valid, number
        assert result.formatted == "6214 9832 0257" or number == "123456789018"
    for number, reason in VECTORS["my_number"]["invalid"].items():
        result = formats.check_my_number(number)
        assert not result.valid
        assert reason in result.reason


def test_wrong_check_digit_names_the_expected_one() -> None:
    assert formats.check_my_number("621498320258").reason.endswith("call for 7")


def test_corporate_number_vectors() -> None:
    for number in VECTORS["corporate_number"]["valid"]:
        assert formats.check_corporate_number(number).valid, number
    assert formats.check_corporate_number("5835678256246").formatted == "5-8356-7825-6246"
    for number, reason in VECTORS["corporate_number"]["invalid"].items():
        assert reason in formats.check_corporate_number(number).reason


def test_local_government_code_vectors_and_names() -> None:
    for code, name in VECTORS["local_government_code"]["valid"].items():
        result = formats.check_local_government_code(code)
        assert result.valid, code
        assert name in result.reason
    for code, reason in VECTORS["local_government_code"]["invalid"].items():
        assert reason in formats.check_local_government_code(code).reason


def test_mask_shows_only_last_four() -> None:
    assert formats.mask_my_number("621498320257") == "**** **** 0257"


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_every_body_with_its_check_digit_is_a_valid_my_number(body: str) -> None:
    number = body + in_.calc_check_digit(body)
    assert formats.check_my_number(number).valid


@given(st.text(alphabet="0123456789", min_size=11, max_size=11), digits)
def test_any_other_check_digit_is_refused(body: str, other: str) -> None:
    check = in_.calc_check_digit(body)
    if other != check:
        assert not formats.check_my_number(body + other).valid


@given(st.text(alphabet="0123456789", min_size=10, max_size=10), digits)
def test_resident_code_check_digit_is_the_only_valid_one(body: str, other: str) -> None:
    check = formats.resident_code_check_digit(body)
    assert formats.check_resident_code(body + check).valid
    if other != check:
        assert not formats.check_resident_code(body + other).valid


@given(st.text(alphabet="0123456789", min_size=5, max_size=5))
def test_local_government_check_digit_round_trip(body: str) -> None:
    assert formats.check_local_government_code(body + formats.local_government_check_digit(body)).reason.startswith(
        "valid"
    )


@given(st.text(max_size=30))
def test_checks_never_raise_on_arbitrary_text(text: str) -> None:
    for checker in (
        formats.check_my_number,
        formats.check_corporate_number,
        formats.check_local_government_code,
        formats.check_resident_code,
        formats.check_any,
    ):
        result = checker(text)
        assert isinstance(result.valid, bool)
        assert result.reason


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_full_width_and_hyphens_are_accepted(number: str) -> None:
    wide = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    spaced = f"{wide[:4]}-{wide[4:8]} {wide[8:]}"
    assert formats.check_my_number(spaced).valid == formats.check_my_number(number).valid


def test_cli_number_check_exit_codes() -> None:
    runner = CliRunner()
    valid = runner.invoke(app, ["number", "check", "6214-9832-0257"])
    assert valid.exit_code == 0
    assert "valid" in valid.output
    invalid = runner.invoke(app, ["number", "check", "6214-9832-0258"])
    assert invalid.exit_code == 1
    assert "check digit" in invalid.output
    municipality = runner.invoke(app, ["number", "check", "131016"])
    assert municipality.exit_code == 0
    assert "千代田区" in municipality.output
