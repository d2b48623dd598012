"""児童手当 (child allowance) monthly amounts by the 2017 rules (the seed's era), from registry and tax facts.

The rules (児童手当法, as in force in fiscal 2017):

- a child is *counted* for birth order until the first 31 March after reaching 18 (高校生年代まで), and
  *paid for* until the first 31 March after reaching 15 (中学校修了まで);
- under 3 (up to the month in which the child reaches 3): 15,000 yen a month;
- from 3 to the end of primary school (the first 31 March after reaching 12): 10,000 yen, or 15,000 yen
  for the third and later child (第3子以降) among the counted children, oldest first;
- junior high school: 10,000 yen;
- when the claimant's income (所得) is above the limit for their number of dependants (扶養親族等の数),
  only the special benefit (特例給付) is paid: 5,000 yen a month for each child paid for.

A person "reaches" an age on the day before the birthday (年齢計算ニ関スル法律), so a child born on
1 April finishes a school stage a year earlier than one born on 2 April, as Japanese schools count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

UNDER_THREE = 15_000
PRIMARY = 10_000
PRIMARY_THIRD_OR_LATER = 15_000
JUNIOR_HIGH = 10_000
SPECIAL_BENEFIT = 5_000  # 特例給付, above the income limit
# 所得制限限度額 (yen of income) by the number of dependants (扶養親族等の数), 2017; +380,000 for each one more.
INCOME_LIMITS = (6_220_000, 6_600_000, 6_980_000, 7_360_000, 7_740_000, 8_120_000)
INCOME_LIMIT_STEP = 380_000


def income_limit(dependants: int) -> int:
    """The income above which only the special benefit is paid."""
    if dependants < 0:
        raise ValueError("the number of dependants is not negative")
    if dependants < len(INCOME_LIMITS):
        return INCOME_LIMITS[dependants]
    return INCOME_LIMITS[-1] + INCOME_LIMIT_STEP * (dependants - len(INCOME_LIMITS) + 1)


def reaches(birth: dt.date, years: int) -> dt.date:
    """The day a person born on ``birth`` reaches ``years`` of age: the day before that birthday."""
    try:
        birthday = birth.replace(year=birth.year + years)
    except ValueError:  # 29 February: the birthday of a non-leap year is 1 March
        birthday = dt.date(birth.year + years, 3, 1)
    return birthday - dt.timedelta(days=1)


def school_year_end_after(day: dt.date) -> dt.date:
    """The first 31 March on or after ``day``."""
    end = dt.date(day.year, 3, 31)
    return end if day <= end else dt.date(day.year + 1, 3, 31)


def counted(birth: dt.date, on: dt.date) -> bool:
    """Counted for the birth order (up to the school year of the 18th birthday), and already born."""
    return birth <= on <= school_year_end_after(reaches(birth, 18))


def paid_for(birth: dt.date, on: dt.date) -> bool:
    """The allowance is paid for this child (up to the end of junior high school)."""
    return birth <= on <= school_year_end_after(reaches(birth, 15))


@dataclass(frozen=True)
class ChildAmount:
    birth_date: dt.date
    order: int  # 1-based among counted children, oldest first
    stage: str  # under_three | primary | junior_high | special
    monthly: int


@dataclass(frozen=True)
class Amount:
    """The month's amount for one claimant, child by child, and whether the income limit applied."""

    month: dt.date  # the first day of the month
    income: int
    dependants: int
    limit: int
    over_limit: bool
    children: tuple[ChildAmount, ...]

    @property
    def monthly(self) -> int:
        return sum(c.monthly for c in self.children)


def monthly_amount(*, children: list[dt.date], income: int, dependants: int, month: dt.date) -> Amount:
    """The allowance for ``month`` (any day of it) for a claimant raising children born on ``children``."""
    first = month.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    limit = income_limit(dependants)
    over = income > limit
    order = sorted(b for b in children if counted(b, last))  # oldest first
    paid = []
    for position, birth in enumerate(order, start=1):
        if not paid_for(birth, first):
            continue
        if over:
            stage, amount = "special", SPECIAL_BENEFIT
        elif (reaches(birth, 3).year, reaches(birth, 3).month) >= (first.year, first.month):
            stage, amount = "under_three", UNDER_THREE
        elif first <= school_year_end_after(reaches(birth, 12)):
            stage, amount = "primary", PRIMARY_THIRD_OR_LATER if position >= 3 else PRIMARY
        else:
            stage, amount = "junior_high", JUNIOR_HIGH
        paid.append(ChildAmount(birth, position, stage, amount))
    return Amount(first, income, dependants, limit, over, tuple(paid))
