"""Properties of the insurer number's check digit and of the eligibility challenge's parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmyna.core.errors import InvalidInput
from openmyna.health import insurers, service

digits = st.text(alphabet="0123456789", min_size=5, max_size=7).filter(lambda s: len(s) in (5, 7))


@given(digits)
def test_a_number_with_its_check_digit_is_valid_and_any_other_digit_is_not(body: str) -> None:
    good = body + insurers.insurer_check_digit(body)
    assert insurers.check_insurer_number(good) == good
    for other in "0123456789":
        if other != good[-1]:
            with pytest.raises(InvalidInput):
                insurers.check_insurer_number(body + other)


@given(st.binary(max_size=200), st.booleans())
def test_the_challenge_parser_refuses_anything_it_did_not_issue(noise: bytes, share: bool) -> None:
    try:
        parsed = service._parse("1310112345", noise)
    except service.CardRefused:
        return
    assert noise.startswith(service.PREFIX + b"1310112345|")
    assert parsed[0] in (True, False)


@given(st.booleans(), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=20, max_size=64))
def test_what_is_issued_parses_back(share: bool, token: str) -> None:
    assert service._parse("1310112345", service.challenge_bytes("1310112345", share, token)) == (share, token)
    with pytest.raises(service.CardRefused):
        service._parse("1330112342", service.challenge_bytes("1310112345", share, token))
