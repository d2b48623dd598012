"""The rules without a server: which facts, in which order, and whose pseudonym."""

from __future__ import annotations

import pytest

from openmyna.core.crypto import KeyRing
from openmyna.core.errors import InvalidInput
from openmyna.ekyc import service


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        ("address,name", ["name", "address"]),
        (" sex , birth_date ", ["birth_date", "sex"]),
        ("name name", ["name"]),
    ],
)
def test_facts_are_read_in_their_fixed_order(text: str, facts: list[str]) -> None:
    assert service.parse_facts(text) == facts


@pytest.mark.parametrize("text", ["", ",", "name,hobby", "NAME", "my_number"])
def test_anything_but_the_four_facts_is_invalid(text: str) -> None:
    with pytest.raises(InvalidInput):
        service.parse_facts(text)


def test_pseudonyms_are_per_business_and_per_person_and_reveal_neither(keys: KeyRing) -> None:
    person, other = "p_" + "a" * 32, "p_" + "b" * 32
    bank = service.pseudonym_for(keys, business="openmyna-bank", subject=person)
    assert bank == service.pseudonym_for(keys, business="openmyna-bank", subject=person)
    assert bank != service.pseudonym_for(keys, business="openmyna-mobile", subject=person)
    assert bank != service.pseudonym_for(keys, business="openmyna-bank", subject=other)
    assert person not in bank and len(bank) == 43  # 256 bits, base64url
