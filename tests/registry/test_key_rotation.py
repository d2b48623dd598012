"""The My Number in one home: per-purpose keys, and rotation of the registry's keys without touching the log.

Residents are registered through the HTTP API (or, for the interrupted rotation, a town seeded by the CLI);
after a rotation, half a rotation, or a rotation killed with SIGKILL and resumed, every number must still be
readable, every lookup must find its person, and the pseudonyms and agency codes must not have moved.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from stdnum.jp import in_

from openmyna.core.crypto import KeyRing
from openmyna.core.db import make_engine, unit_of_work
from openmyna.network import enrolment
from openmyna.numbers import protection
from openmyna.numbers import service as numbers
from openmyna.orgs.service import Caller
from openmyna.registry import rotation
from openmyna.registry import service as registry
from openmyna.registry.models import Resident
from tests.conftest import PG_URL, TEST_MASTER_KEY, _worker_database, drop_database
from tests.registry.test_api import mover, newborn

OPENMYNA = str(Path(sys.executable).with_name("openmyna"))
OPERATOR = Caller(org_code="131016", actor="test:rotation", scopes=frozenset(), via="cli")
my_numbers = st.from_regex(r"\A[0-9]{11}\Z").map(lambda body: body + in_.calc_check_digit(body))


@given(number=my_numbers, generation=st.integers(min_value=0, max_value=50))
def test_protect_reveal_round_trip_and_purposes_are_separate(number: str, generation: int) -> None:
    keys = KeyRing(TEST_MASTER_KEY)
    stored = protection.protect(keys, number, generation=generation)
    assert protection.reveal(keys, stored.sealed, generation=generation) == number
    assert number.encode() not in stored.sealed and stored.generation == generation
    link = protection.person_link(keys, number)
    assert protection.pseudonym(keys, number) == "person:" + link[:16].hex()
    # Generation 0 is the layout before generations (lookup = link); every later one has its own key.
    assert (stored.lookup == link) is (generation == 0)
    assert protection.lookup(keys, number, generation=generation + 1) != stored.lookup
    with pytest.raises(Exception):  # noqa: B017 - AES-GCM refuses a ciphertext under another generation's key
        protection.reveal(keys, stored.sealed, generation=generation + 1)


def test_the_key_ring_hands_out_no_key_bytes() -> None:
    keys = KeyRing(TEST_MASTER_KEY)
    public = {name for name in dir(keys) if not name.startswith("_")}
    assert not {"pseudonym_key", "lookup_key", "keyed_digest", "lookup_hash"} & public
    assert protection.person_link(keys, "621498320257") != KeyRing(bytes(32)).mac(
        protection.IDENTITY, b"my-number:621498320257"
    )


def test_numbers_from_another_form_are_refused() -> None:
    with pytest.raises(ValueError):
        protection.protect(KeyRing(TEST_MASTER_KEY), "6214-9832-0257", generation=1)


def _register(client: TestClient, headers: dict[str, str]) -> list[int]:
    ids = []
    for body in (newborn(), mover(), newborn(given_name="次郎", given_name_kana="ジロウ")):
        created = client.post("/api/registry/residents", json=body, headers=headers)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


def _facts(db: Session, keys: KeyRing, ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """Each resident's number, pseudonym and the town's agency code for them."""
    db.expire_all()
    facts = {}
    for resident_id in ids:
        resident = db.get(Resident, resident_id)
        assert resident is not None
        number = registry.my_number_of(keys, resident)
        link = protection.person_link(keys, number)
        facts[resident_id] = (
            number,
            registry.subject_of(resident),
            numbers.agency_code(keys, agency="131016", person=link.hex()),
        )
    return facts


def test_rotation_keeps_numbers_lookups_pseudonyms_and_codes(
    client: TestClient, town_headers: dict[str, str], db: Session, keys: KeyRing, session_factory: sessionmaker[Session]
) -> None:
    ids = _register(client, town_headers)
    before = _facts(db, keys, ids)
    old_lookups = {r: db.get(Resident, r).my_number_lookup for r in ids}  # type: ignore[union-attr]
    start = protection.generations(db).current

    # Half a rotation: one row moved, the rest not; both generations must answer lookups meanwhile.
    with unit_of_work(session_factory) as session:
        target = protection.begin_rotation(session)
    assert (target.current, target.previous) == (start + 1, start)
    with unit_of_work(session_factory) as session:
        assert rotation._move_batch(session, keys=keys, generation=target.current, batch=1) == 1
    arriving = client.post("/api/registry/residents", json=newborn(given_name="三郎"), headers=town_headers)
    assert arriving.status_code == 201
    ids.append(arriving.json()["id"])
    db.expire_all()
    assert db.get(Resident, ids[-1]).my_number_generation == target.current  # type: ignore[union-attr]
    before |= _facts(db, keys, ids[-1:])
    for resident_id, (number, _, _) in before.items():
        found = client.post("/api/registry/residents/lookup", json={"my_number": number}, headers=town_headers)
        assert found.status_code == 200 and found.json()["id"] == resident_id
    duplicate = client.post("/api/registry/residents", json=mover(), headers=town_headers)
    assert duplicate.status_code == 409  # the mover's number is still known, whichever generation holds it

    report = rotation.rotate(session_factory, keys=keys, batch=2)
    assert report.generation == target.current and report.moved == len(ids) - 2  # one moved, one arrived new
    with unit_of_work(session_factory) as session:
        assert protection.generations(session) == protection.Generations(target.current, None)
    assert _facts(db, keys, ids) == before  # numbers, pseudonyms and agency codes did not move
    for resident_id in ids[:3]:
        assert db.get(Resident, resident_id).my_number_lookup != old_lookups[resident_id]  # type: ignore[union-attr]
    for resident_id, (number, _, _) in before.items():
        found = client.post("/api/registry/residents/lookup", json={"my_number": number}, headers=town_headers)
        assert found.status_code == 200 and found.json()["id"] == resident_id
    assert client.post("/api/registry/residents", json=mover(), headers=town_headers).status_code == 409
    # The hub still knows each person by the same link: a code issued before finds the same person.
    with unit_of_work(session_factory) as session:
        for _, (number, _, code) in before.items():
            assert enrolment.issue_code(session, keys=keys, agency="131016", my_number=number) == code
    rekeyed = db.scalars(
        select(func.count()).select_from(Resident).where(Resident.my_number_generation == target.current)
    ).one()
    assert rekeyed == len(ids)


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OPENMYNA_DATABASE_URL": url,
        "OPENMYNA_DATA_KEY": base64.b64encode(TEST_MASTER_KEY).decode(),
        "OPENMYNA_VAR_DIR": str(tmp_path / "var"),
    }


def _check_every_row(url: str, keys: KeyRing, expected: dict[int, str]) -> dict[str, int]:
    """Every number reads back as before and every lookup finds its row; the rows per generation."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Resident.id, Resident.my_number_sealed, Resident.my_number_generation, Resident.pseudonym)
            ).all()
            assert {
                r.id: protection.reveal(keys, r.my_number_sealed, generation=r.my_number_generation) for r in rows
            } == expected
            for row in rows:
                assert registry.lookup_by_my_number(
                    session, keys=keys, number=expected[row.id], caller=OPERATOR
                ).id in {r.id for r in rows if r.pseudonym == row.pseudonym}
            session.rollback()
            counts: dict[str, int] = {}
            for row in rows:
                counts[str(row.my_number_generation)] = counts.get(str(row.my_number_generation), 0) + 1
            return counts
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded_town(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rotate.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL tests skipped: set OPENMYNA_TEST_DATABASE_URL to run them")
        url = _worker_database(PG_URL, os.environ.get("PYTEST_XDIST_WORKER", "main") + "_rotate")
        request.addfinalizer(lambda: drop_database(url))
    env = _env(url, tmp_path)
    for args in (["init"], ["seed", "--residents", "1200", "--seed", "7"]):
        done = subprocess.run([OPENMYNA, *args], env=env, capture_output=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    return url, env


def test_rotation_killed_with_sigkill_resumes_and_loses_nothing(seeded_town: tuple[str, dict[str, str]]) -> None:
    url, env = seeded_town
    keys = KeyRing(TEST_MASTER_KEY)
    engine = make_engine(url)
    with Session(engine) as session:
        expected = {
            r.id: protection.reveal(keys, r.my_number_sealed, generation=r.my_number_generation)
            for r in session.execute(select(Resident.id, Resident.my_number_sealed, Resident.my_number_generation))
        }
        start = protection.generations(session).current

    def moved() -> int:
        with Session(engine) as session:
            return (
                session.scalar(
                    select(func.count()).select_from(Resident).where(Resident.my_number_generation == start + 1)
                )
                or 0
            )

    process = subprocess.Popen(
        [OPENMYNA, "keys", "rotate", "--batch", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while moved() == 0 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    engine.dispose()
    assert process.returncode == -signal.SIGKILL, "the rotation finished before it could be interrupted"
    halfway = _check_every_row(url, keys, expected)
    assert halfway.get(str(start + 1), 0) < len(expected), halfway

    done = subprocess.run([OPENMYNA, "keys", "rotate", "--batch", "100"], env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert f'"generation": {start + 1}' in done.stdout.decode()  # resumed, not a second rotation
    assert _check_every_row(url, keys, expected) == {str(start + 1): len(expected)}
    status = subprocess.run([OPENMYNA, "keys", "status"], env=env, capture_output=True, timeout=60, check=True)
    assert status.stdout.decode().strip() == f'{{"current": {start + 1}, "previous": null, "pending": 0}}'
    verify = subprocess.run([OPENMYNA, "network", "verify"], env=env, capture_output=True, timeout=300)
    assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()


def test_a_database_from_before_generations_keeps_its_pseudonyms_and_rotates(tmp_path: Path) -> None:
    """Rows stored before this migration (lookup = link, sealed under field encryption) stay readable under
    generation 0, keep the pseudonym their events and log entries already carry, and rotate to generation 1."""
    from alembic import command
    from sqlalchemy import text

    from openmyna.app import migrate

    keys = KeyRing(TEST_MASTER_KEY)
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    config = migrate.alembic_config(engine)
    command.upgrade(config, "0001")
    number = "621498320257"
    legacy_link = keys.mac("lookup-hmac/v1", b"my-number:" + number.encode())
    row = {
        "id": 1,
        "resident_code": "12345678901",
        "my_number_lookup": legacy_link,
        "my_number_sealed": keys.seal(number.encode(), context=b"registry.resident.my_number"),
        "relationship_code": "head",
        "family_name": "山田",
        "given_name": "花子",
        "family_name_kana": "ヤマダ",
        "given_name_kana": "ハナコ",
        "full_name": "山田花子",
        "full_kana": "ヤマダハナコ",
        "former_family_name": "",
        "former_family_name_kana": "",
        "birth_date": "1990-02-03",
        "sex": "female",
        "municipality_code": "131016",
        "prefecture": "東京都",
        "city": "千代田区",
        "postal_code": "1020072",
        "address_town": "飯田橋三丁目",
        "address_block": "5番1号",
        "address_building": "",
        "status": "resident",
        "became_resident_on": "2020-04-01",
        "address_since": "2020-04-01",
        "previous_address": "",
        "destination_address": "",
        "version": 1,
    }
    with engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO registry_residents ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})"), row
        )
    migrate.upgrade(engine)
    factory = sessionmaker(bind=engine)
    with Session(engine) as session:
        assert protection.generations(session) == protection.Generations(0, None)
        resident = session.get(Resident, 1)
        assert resident is not None and resident.my_number_generation == 0
        assert registry.subject_of(resident) == "person:" + legacy_link[:16].hex() == protection.pseudonym(keys, number)
        assert registry.my_number_of(keys, resident) == number
        assert registry.lookup_by_my_number(session, keys=keys, number=number, caller=OPERATOR).id == 1
        session.rollback()
    assert rotation.rotate(factory, keys=keys).moved == 1
    with Session(engine) as session:
        resident = session.get(Resident, 1)
        assert resident is not None and resident.my_number_generation == 1
        assert resident.my_number_lookup != legacy_link and registry.my_number_of(keys, resident) == number
        assert registry.subject_of(resident) == protection.pseudonym(keys, number)
    engine.dispose()
