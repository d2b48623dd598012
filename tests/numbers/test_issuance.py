"""Issuing numbers: unique, valid, random, never reissued, safe under concurrent issuers."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from stdnum.jp import cn, in_

from openmyna.core.crypto import KeyRing
from openmyna.numbers import protection, service
from openmyna.numbers.models import IssuedNumber


def test_bulk_issue_gives_unique_valid_numbers(db: Session, keys: KeyRing) -> None:
    numbers = service.issue_my_numbers(db, keys=keys, count=2000)
    assert len(set(numbers)) == 2000
    assert all(in_.is_valid(n) for n in numbers)
    assert db.scalar(select(func.count()).select_from(IssuedNumber)) >= 2000


def test_numbers_are_not_sequential(db: Session, keys: KeyRing) -> None:
    numbers = sorted(int(n[:11]) for n in service.issue_my_numbers(db, keys=keys, count=500))
    gaps = {b - a for a, b in itertools.pairwise(numbers)}
    assert len(gaps) > 400  # random draws, not a counter


def test_leading_digit_is_uniform() -> None:
    generator = random.Random(7)
    counts = Counter(service.random_my_number(generator)[0] for _ in range(20_000))
    expected = 2000
    chi_square = sum((counts[str(d)] - expected) ** 2 / expected for d in range(10))
    assert chi_square < 27.9  # 9 degrees of freedom, p = 0.001


def test_bulk_draws_are_valid_and_uniform_and_reproducible() -> None:
    numbers = service.random_my_numbers(20_000, random.Random(7))
    assert all(len(n) == 12 and n[11] == in_.calc_check_digit(n[:11]) for n in numbers)
    assert numbers == service.random_my_numbers(20_000, random.Random(7))
    counts = Counter(n[0] for n in numbers)
    chi_square = sum((counts[str(d)] - 2000) ** 2 / 2000 for d in range(10))
    assert chi_square < 27.9  # 9 degrees of freedom, p = 0.001


def test_bulk_links_and_macs_equal_the_single_ones() -> None:
    keys = KeyRing(bytes(range(32)))
    numbers = service.random_my_numbers(50, random.Random(3))
    assert protection.person_links(keys, numbers) == [protection.person_link(keys, n) for n in numbers]
    assert keys.macs("some/purpose", [b"", b"x" * 100]) == [keys.mac("some/purpose", m) for m in (b"", b"x" * 100)]
    for bad in ("12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１２"):
        with pytest.raises(ValueError, match="compact 12-digit"):
            protection.person_links(keys, [numbers[0], bad])


def test_numbers_are_issued_in_the_order_drawn(db: Session, keys: KeyRing) -> None:
    """A seeded draw gives the same numbers to the same residents, whatever order the ledger is written in."""
    count = service._CHUNK + 7
    assert service.issue_my_numbers(db, keys=keys, count=count, rng=random.Random(9)) == service.random_my_numbers(
        count, random.Random(9)
    )


def test_a_number_issued_before_is_never_issued_again(db: Session, keys: KeyRing) -> None:
    first = service.issue_my_numbers(db, keys=keys, count=5, rng=random.Random(1))
    # The same random stream again: every candidate collides and must be replaced by fresh ones.
    again = service.issue_my_numbers(db, keys=keys, count=5, rng=random.Random(1))
    assert not set(first) & set(again)
    assert len(set(again)) == 5


def test_a_batch_partly_issued_before_keeps_the_new_numbers_and_replaces_the_rest(db: Session, keys: KeyRing) -> None:
    first = service.issue_my_numbers(db, keys=keys, count=5, rng=random.Random(1))
    # The same stream, longer: its first five candidates collide, the other 45 of the chunk go in.
    again = service.issue_my_numbers(db, keys=keys, count=50, rng=random.Random(1))
    assert len(set(again)) == 50
    assert not set(first) & set(again)
    assert set(service.random_my_numbers(50, random.Random(1))) - set(first) <= set(again)
    assert db.scalar(select(func.count()).select_from(IssuedNumber)) == 55


def test_a_number_drawn_twice_in_a_chunk_is_issued_once(db: Session, keys: KeyRing) -> None:
    a, b, c = service.random_my_numbers(3, random.Random(5))
    draws = iter([[a, b, a], [c]])
    numbers = service._issue(
        db,
        count=3,
        kind=service.INDIVIDUAL,
        draw=lambda _n: next(draws),
        lookups=lambda n: protection.person_links(keys, n),
    )
    assert sorted(numbers) == sorted([a, b, c])
    assert db.scalar(select(func.count()).select_from(IssuedNumber)) == 3


def test_a_batch_larger_than_a_chunk_is_issued_whole(db: Session, keys: KeyRing) -> None:
    numbers = service.issue_my_numbers(db, keys=keys, count=service._CHUNK + 7)
    assert len(set(numbers)) == service._CHUNK + 7
    links = set(protection.person_links(keys, numbers))
    stored = set(db.scalars(select(IssuedNumber.lookup)))
    assert links <= stored


def test_registering_a_known_number_reports_it(db: Session, keys: KeyRing) -> None:
    number = service.issue_my_numbers(db, keys=keys, count=1)[0]
    assert service.register_existing_my_number(db, keys=keys, number=number) is False
    assert service.register_existing_my_number(db, keys=keys, number="621498320257") in (True, False)


def test_issued_register_holds_no_plaintext(db: Session, keys: KeyRing) -> None:
    number = service.issue_my_numbers(db, keys=keys, count=1)[0]
    stored = db.scalar(select(IssuedNumber.lookup).where(IssuedNumber.lookup == protection.person_link(keys, number)))
    assert stored is not None
    assert number.encode() not in stored


def test_corporate_numbers_are_valid_and_unique(db: Session, keys: KeyRing) -> None:
    numbers = service.issue_corporate_numbers(db, keys=keys, count=300)
    assert len(set(numbers)) == 300
    assert all(cn.is_valid(n) for n in numbers)


def test_agency_codes_are_stable_per_agency_and_unlinkable_across() -> None:
    keys = KeyRing(bytes(32))
    pension = service.agency_code(keys, agency="nenkin", person="person-1")
    assert pension == service.agency_code(keys, agency="nenkin", person="person-1")
    assert pension != service.agency_code(keys, agency="131016", person="person-1")
    assert pension != service.agency_code(keys, agency="nenkin", person="person-2")
    assert pension != service.agency_code(KeyRing(bytes([1]) * 32), agency="nenkin", person="person-1")


@pytest.mark.xdist_group("concurrency")
def test_concurrent_issuers_never_share_a_number(engine: Engine, keys: KeyRing) -> None:
    """Four issuers draw from the SAME random stream, so they collide constantly; the unique
    constraint arbitrates and every issued number is still unique. Real commits, real connections."""
    if engine.dialect.name != "postgresql":
        pytest.skip("parallel writers are a PostgreSQL property; SQLite serialises writers")
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def issuer() -> None:
        try:
            with engine.begin() as connection:
                results.append(service.issue_my_numbers(connection, keys=keys, count=300, rng=random.Random(99)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=issuer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    issued = [n for batch in results for n in batch]
    assert len(issued) == 1200
    assert len(set(issued)) == 1200
