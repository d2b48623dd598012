"""児童手当 by the 2017 rules: stages by school year, birth order, the income limit (examples and properties)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from openmyna.eservice import allowance as a

MONTH = dt.date(2017, 6, 1)


def amounts(children: list[str], income: int = 3_000_000, dependants: int = 2, month: dt.date = MONTH) -> list[int]:
    births = [dt.date.fromisoformat(b) for b in children]
    return [
        c.monthly for c in a.monthly_amount(children=births, income=income, dependants=dependants, month=month).children
    ]


def test_stages_and_third_child() -> None:
    # a junior-high pupil, a primary pupil (2nd), a primary pupil (3rd: 15,000), a baby (4th, under 3: 15,000)
    assert amounts(["2003-05-01", "2007-05-01", "2009-05-01", "2016-01-10"]) == [10_000, 10_000, 15_000, 15_000]


def test_a_high_school_child_counts_for_order_but_is_not_paid_for() -> None:
    # born 2000: high school in 2017 (counted until March 2019), so the 2009 child is the third
    assert amounts(["2000-06-01", "2005-06-01", "2009-06-01"]) == [10_000, 15_000]


def test_born_on_1_april_finishes_school_a_year_earlier() -> None:
    # 1 April 2005 reaches 12 on 31 March 2017: primary school ended; 2 April 2005 is still in primary school
    assert amounts(["2005-04-01"]) == [10_000]  # junior high
    first = a.monthly_amount(children=[dt.date(2005, 4, 1)], income=0, dependants=0, month=MONTH).children[0]
    second = a.monthly_amount(children=[dt.date(2005, 4, 2)], income=0, dependants=0, month=MONTH).children[0]
    assert (first.stage, second.stage) == ("junior_high", "primary")


def test_under_three_until_the_month_of_the_third_birthday() -> None:
    assert a.monthly_amount(children=[dt.date(2014, 6, 20)], income=0, dependants=0, month=MONTH).children[0].stage == (
        "under_three"
    )
    assert a.monthly_amount(children=[dt.date(2014, 5, 20)], income=0, dependants=0, month=MONTH).children[0].stage == (
        "primary"
    )


def test_income_limit_by_dependants() -> None:
    assert [a.income_limit(n) for n in range(7)] == [
        6_220_000, 6_600_000, 6_980_000, 7_360_000, 7_740_000, 8_120_000, 8_500_000,
    ]  # fmt: skip
    assert amounts(["2016-01-10", "2009-05-01"], income=6_980_001, dependants=2) == [5_000, 5_000]
    assert amounts(["2016-01-10", "2009-05-01"], income=6_980_000, dependants=2) == [10_000, 15_000]


births = st.lists(st.dates(dt.date(1995, 1, 1), dt.date(2017, 6, 1)), max_size=6)


@given(births, st.integers(0, 20_000_000), st.integers(0, 8), st.dates(dt.date(2017, 1, 1), dt.date(2018, 12, 1)))
def test_properties(children: list[dt.date], income: int, dependants: int, month: dt.date) -> None:
    result = a.monthly_amount(children=children, income=income, dependants=dependants, month=month)
    first = month.replace(day=1)
    paid = [b for b in children if a.paid_for(b, first)]
    assert len(result.children) == len(paid)  # one amount per child paid for, none for the others
    if income > a.income_limit(dependants):
        assert result.monthly == a.SPECIAL_BENEFIT * len(paid)
    else:
        assert all(c.monthly in (10_000, 15_000) for c in result.children)
        assert result.monthly >= a.SPECIAL_BENEFIT * len(paid)
    assert [c.order for c in result.children] == sorted(c.order for c in result.children)  # oldest first


@given(births, st.dates(dt.date(2017, 1, 1), dt.date(2018, 12, 1)))
def test_another_older_child_never_lowers_the_amount(children: list[dt.date], month: dt.date) -> None:
    before = a.monthly_amount(children=children, income=0, dependants=0, month=month).monthly
    after = a.monthly_amount(children=[dt.date(1999, 4, 2), *children], income=0, dependants=0, month=month).monthly
    assert after >= before
