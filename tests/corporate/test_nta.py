"""Parsing NTA rows: every rule of DOMAIN.md §3 is checked, and every valid row round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmyna.corporate.codes import KIND, PROCESS
from openmyna.corporate.nta import BadRow, NotNtaCsv, Record, parse_fields
from openmyna.corporate.nta_columns import read_rows
from tests.corporate.factories import NTA_NUMBER, number, row, write


def test_a_valid_row_keeps_its_values_with_blanks_as_none() -> None:
    values = parse_fields(row(NTA_NUMBER, name="国税庁", kind="101"))
    assert values[0] == 1
    assert values[1] == NTA_NUMBER
    assert values[6] == "国税庁"
    assert values[18] is None  # closeDate blank


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({1: "7000012050003"}, "check digit"),
        ({1: "700001205000"}, "13 digits"),
        ({2: "05"}, "process"),
        ({8: "999"}, "kind"),
        ({4: "2024-02-30"}, "updateDate"),
        ({4: "20240201"}, "updateDate"),
        ({5: ""}, "changeDate is required"),
        ({15: "100-0013"}, "postCode"),
        ({19: "77"}, "closeCause"),
        ({20: "1234567890123"}, "successorCorporateNumber"),
        ({23: "2"}, "0 or 1"),
        ({6: " "}, "name is required"),
    ],
)
def test_each_rule_names_what_is_wrong(change: dict[int, str], message: str) -> None:
    fields = row(NTA_NUMBER)
    for index, value in change.items():
        fields[index] = value
    with pytest.raises(ValueError, match=message):
        parse_fields(fields)


def test_wrong_column_count_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 30 columns, found 29"):
        parse_fields(row(NTA_NUMBER)[:-1])


@given(
    body=st.integers(min_value=0, max_value=10**12 - 1),
    process=st.sampled_from(sorted(PROCESS)),
    kind=st.sampled_from(sorted(KIND)),
    name=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=40),
)
def test_any_well_formed_row_parses_and_any_other_check_digit_is_refused(
    body: int, process: str, kind: str, name: str
) -> None:
    good = number(body)
    values = parse_fields(row(good, process=process, kind=kind, name=name))
    assert values[1] == good and values[2] == process and values[6] == name
    for digit in "0123456789":
        if digit != good[0]:
            with pytest.raises(ValueError, match="check digit"):
                parse_fields(row(digit + good[1:]))


def test_bad_lines_are_reported_with_file_and_line_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    lines = [
        ",".join(row(number(1), sequence=1)),
        ",".join(row(number(2), sequence=2))[:-2],  # 29 columns
        ",".join(row(number(3), sequence=3, name="株式会社サクラ")),
        ",".join(row("1234567890123", sequence=4)),
        ",".join(row(number(5), sequence=5, update="2024-13-01")),
    ]
    data = ("\n".join(lines[:3]) + "\n").encode() + b"\xff\xfe broken line\n" + ("\n".join(lines[3:]) + "\n").encode()
    path.write_bytes(data)
    items = list(read_rows(path))
    good = [i for i in items if isinstance(i, Record)]
    bad = [i for i in items if isinstance(i, BadRow)]
    assert [r.line for r in good] == [1, 3]
    assert [(b.line, b.file) for b in bad] == [(2, "mixed.csv"), (4, "mixed.csv"), (5, "mixed.csv"), (6, "mixed.csv")]
    assert "not valid utf-8" in str(bad[1])
    assert "check digit" in bad[2].reason


def test_shift_jis_files_are_read(tmp_path: Path) -> None:
    path = write(tmp_path / "sjis.csv", [row(number(7), name="株式会社ｶﾝﾀﾝ商会")], encoding="cp932")
    (record,) = list(read_rows(path))
    assert isinstance(record, Record) and record.values[6] == "株式会社ｶﾝﾀﾝ商会"


@pytest.mark.parametrize("content", [b"", b"name,address\nfoo,bar\n", b"\x00\x01\x02binary", b"1,2,3\n"])
def test_a_file_that_is_not_nta_csv_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.csv"
    path.write_bytes(content)
    with pytest.raises(NotNtaCsv):
        list(read_rows(path))
