"""The counter's 届出 pages over HTTP: each one's happy path, and every refusal leaving the registry as it was."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core import audit
from openmyna.core.audit import AccessEvent
from openmyna.network.models import LocalId
from openmyna.registry import service as registry
from openmyna.registry.models import Resident, ResidentVersion
from tests.orgs.web import csrf_of, log_in

MASKED = re.compile(r"\*\*\*\* \*\*\*\* \d{4}")


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def registry_state(db: Session) -> tuple[int, int]:
    db.expire_all()
    return count(db, Resident), count(db, ResidentVersion)


def refusals(db: Session, username: str) -> list[AccessEvent]:
    db.expire_all()
    return [e for e in audit.events_for(db, f"staff:{username}") if e.action == "counter.refused"]


def child(parent: int, csrf: str, **overrides: Any) -> dict[str, Any]:
    form = {
        "csrf": csrf,
        "parent": str(parent),
        "relationship": "child",
        "family_name": "山田",
        "given_name": "一郎",
        "family_name_kana": "ﾔﾏﾀﾞ",
        "given_name_kana": "いちろう",
        "birth_date": "2025-05-05",
        "sex": "male",
        "notified_on": "",
    }
    form.update(overrides)
    return form


def test_the_counter_index_needs_a_login_and_links_every_operation(client: TestClient, staff: None) -> None:
    anonymous = client.get("/staff/counter", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/staff/login?next=%2Fstaff%2Fcounter"
    log_in(client)
    page = client.get("/staff/counter")
    assert page.status_code == 200
    for path in (
        "/staff/counter/birth",
        "/staff/counter/move-in",
        "/staff/counter/move-out",
        "/staff/counter/move-within",
        "/staff/counter/cards",
    ):
        assert f'href="{path}"' in page.text
    assert "まだ操作はありません" in page.text
    assert "English" in page.text
    assert "Counter" in client.get("/staff/counter?lang=en").text


def test_birth_registers_the_child_in_the_parents_household(
    clerk_client: TestClient, db: Session, keys, resident: Callable[..., int]
) -> None:
    parent = resident(family_name="山田", family_name_kana="ヤマダ")
    form_page = clerk_client.get(f"/staff/counter/birth?parent={parent}")
    assert form_page.status_code == 200
    assert 'value="山田"' in form_page.text  # the family name comes from the parent
    csrf = csrf_of(clerk_client, f"/staff/counter/birth?parent={parent}")
    done = clerk_client.post("/staff/counter/birth", data=child(parent, csrf), follow_redirects=False)
    assert done.status_code == 303, done.text
    child_id = int(re.search(r"/staff/counter/done/(\d+)\?op=birth", done.headers["location"]).group(1))

    db.expire_all()
    baby = db.get(Resident, child_id)
    mother = db.get(Resident, parent)
    assert (baby.given_name_kana, baby.family_name_kana) == ("イチロウ", "ヤマダ")  # jaconv: half-width and hiragana
    assert baby.household_id == mother.household_id and baby.relationship_code == "child"
    assert [v.event for v in baby.history] == ["birth"]
    number = registry.my_number_of(keys, baby)
    assert len(number) == 12 and number != registry.my_number_of(keys, mother)
    # network linkage through the ResidentRegistered event, as for the API
    linked = select(func.count()).select_from(LocalId).where(LocalId.agency == "131016", LocalId.local_ref == child_id)
    assert db.scalar(linked) == 1
    # the child's access log shows the registration by this staff member
    events = audit.events_for(db, registry.subject_of(baby))
    assert any(
        e.action == "registry.register:birth" and e.actor == "staff:clerk" and e.actor_org == "131016" for e in events
    )

    result = clerk_client.get(done.headers["location"])
    assert result.status_code == 200
    assert "出生届を受け付けました" in result.text
    assert MASKED.search(result.text) and number not in result.text
    assert f"**** **** {number[-4:]}" in result.text
    assert "この後のこと" in result.text

    index = clerk_client.get("/staff/counter")
    assert "出生届" in index.text and f"/staff/residents/{child_id}" in index.text


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"given_name_kana": "Ichiro"}, 400, "フリガナが正しくありません"),
        ({"birth_date": "2999-01-01"}, 400, "日付が正しくありません"),
        ({"birth_date": "2025-02-30"}, 422, "日付を YYYY-MM-DD で入力してください。"),
        ({"given_name": ""}, 422, "入力してください。"),
        ({"sex": "unknown"}, 422, "選択肢から選んでください。"),
        ({"relationship": "head"}, 409, "already has a head"),
    ],
    ids=["romaji-kana", "future", "feb-30", "no-name", "bad-sex", "second-head"],
)
def test_a_bad_birth_shows_the_errors_and_registers_nobody(
    clerk_client: TestClient,
    db: Session,
    resident: Callable[..., int],
    overrides: dict[str, str],
    status: int,
    message: str,
) -> None:
    parent = resident()
    before = registry_state(db)
    csrf = csrf_of(clerk_client, f"/staff/counter/birth?parent={parent}")
    page = clerk_client.post("/staff/counter/birth", data=child(parent, csrf, **overrides))
    assert page.status_code == status, page.text
    assert message in page.text
    assert 'role="alert"' in page.text
    assert registry_state(db) == before
    assert len(refusals(db, "clerk")) == 1


def test_a_parent_who_moved_out_cannot_have_a_birth_registered_here(
    clerk_client: TestClient, db: Session, resident: Callable[..., int]
) -> None:
    parent = resident()
    csrf = csrf_of(clerk_client, f"/staff/counter/move-out?resident={parent}")
    moved = clerk_client.post(
        "/staff/counter/move-out",
        data={
            "csrf": csrf,
            "resident": parent,
            "event_date": "2025-06-01",
            "destination": "大阪府大阪市北区梅田一丁目1番1号",
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303
    before = registry_state(db)
    page = clerk_client.post("/staff/counter/birth", data=child(parent, csrf))
    assert page.status_code == 409
    assert "住民登録がありません" in page.text
    assert registry_state(db) == before


def test_move_in_with_the_number_from_the_moving_out_certificate(clerk_client: TestClient, db: Session, keys) -> None:
    csrf = csrf_of(clerk_client, "/staff/counter/move-in")
    form = {
        "csrf": csrf,
        "family_name": "佐藤",
        "given_name": "健",
        "family_name_kana": "さとう",
        "given_name_kana": "ｹﾝ",
        "birth_date": "1985-07-07",
        "sex": "male",
        "my_number": "6214 9832 0257",
        "previous_address": "大阪府大阪市北区梅田一丁目1番1号",
        "event_date": "2025-04-01",
        "postal_code": "102-0072",
        "town": "飯田橋三丁目",
        "block": "5番1号",
        "relationship": "head",
    }
    done = clerk_client.post("/staff/counter/move-in", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    page = clerk_client.get(done.headers["location"])
    assert "転入届を受け付けました" in page.text and "**** **** 0257" in page.text
    assert "621498320257" not in page.text and "6214 9832 0257" not in page.text
    db.expire_all()
    person = db.scalar(select(Resident).where(Resident.family_name == "佐藤"))
    assert person.address == "東京都千代田区飯田橋三丁目5番1号" and person.full_kana == "サトウケン"

    before = registry_state(db)
    again = clerk_client.post("/staff/counter/move-in", data={**form, "given_name": "別人"})
    assert again.status_code == 409 and "個人番号が重複しています" in again.text
    assert "6214 9832 0257" not in again.text  # the number is never echoed back into the page
    bad_digit = clerk_client.post("/staff/counter/move-in", data={**form, "my_number": "621498320258"})
    assert bad_digit.status_code == 400
    no_address = clerk_client.post(
        "/staff/counter/move-in", data={**form, "my_number": "", "block": "", "postal_code": ""}
    )
    assert no_address.status_code == 400 and 'href="#address"' in no_address.text
    assert registry_state(db) == before


def test_move_out_closes_the_record_and_shows_the_certificate_data(
    clerk_client: TestClient, db: Session, resident: Callable[..., int]
) -> None:
    person = resident(family_name="高橋", family_name_kana="タカハシ")
    search = clerk_client.get("/staff/counter/move-out?kana=ﾀｶﾊｼ")
    assert f"/staff/counter/move-out?resident={person}" in search.text
    csrf = csrf_of(clerk_client, f"/staff/counter/move-out?resident={person}")
    form = {
        "csrf": csrf,
        "resident": person,
        "event_date": "2025-06-01",
        "destination": "大阪府大阪市北区梅田一丁目1番1号",
    }
    bad = clerk_client.post("/staff/counter/move-out", data={**form, "destination_country": "JP"})
    assert bad.status_code == 400
    early = clerk_client.post("/staff/counter/move-out", data={**form, "event_date": "2020-01-01"})
    assert early.status_code == 400 and "日付が正しくありません" in early.text
    db.expire_all()
    assert db.get(Resident, person).status == "resident"
    done = clerk_client.post("/staff/counter/move-out", data=form, follow_redirects=False)
    assert done.status_code == 303
    page = clerk_client.get(done.headers["location"])
    assert "転出証明書の記載事項" in page.text and "大阪府大阪市北区梅田一丁目1番1号" in page.text
    assert MASKED.search(page.text)
    db.expire_all()
    record = db.get(Resident, person)
    assert record.status == "moved_out" and record.removed_on.isoformat() == "2025-06-01"
    twice = clerk_client.post("/staff/counter/move-out", data=form)
    assert twice.status_code == 409


def test_move_within_changes_the_address(clerk_client: TestClient, db: Session, resident: Callable[..., int]) -> None:
    person = resident()
    csrf = csrf_of(clerk_client, f"/staff/counter/move-within?resident={person}")
    form = {
        "csrf": csrf,
        "resident": person,
        "event_date": "2025-06-01",
        "postal_code": "100-0001",
        "block": "1番1号",
        "with_household": "yes",
    }
    wrong_town = clerk_client.post("/staff/counter/move-within", data={**form, "postal_code": "530-0001"})
    assert wrong_town.status_code == 400
    done = clerk_client.post("/staff/counter/move-within", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    db.expire_all()
    assert db.get(Resident, person).address.startswith("東京都千代田区千代田1番1号")
    assert "転居届を受け付けました" in clerk_client.get(done.headers["location"]).text


@pytest.mark.parametrize(
    "path", ["/staff/counter/birth", "/staff/counter/move-in", "/staff/counter/move-out", "/staff/counter/move-within"]
)
def test_a_form_without_the_sessions_csrf_token_is_refused(
    clerk_client: TestClient, db: Session, resident: Callable[..., int], path: str
) -> None:
    person = resident()
    before = registry_state(db)
    form = {
        **child(person, "forged"),
        "resident": person,
        "event_date": "2025-06-01",
        "destination": "大阪",
        "postal_code": "100-0001",
        "block": "1番1号",
        "previous_address": "大阪",
    }
    for token in ("forged", None):
        data = {k: v for k, v in form.items() if k != "csrf" or token}
        response = clerk_client.post(path, data=data)
        assert response.status_code == 403, response.text
    assert registry_state(db) == before
    assert len(refusals(db, "clerk")) == 2


@pytest.mark.parametrize(
    "path",
    [
        "/staff/counter",
        "/staff/counter/birth",
        "/staff/counter/move-in",
        "/staff/counter/move-out",
        "/staff/counter/move-within",
    ],
)
def test_a_viewer_and_a_clerk_of_another_town_are_refused(
    client: TestClient, db: Session, other_town_clerk: None, resident: Callable[..., int], path: str
) -> None:
    person = resident()
    before = registry_state(db)
    for username in ("viewer", "sapporo"):
        client.cookies.clear()
        assert log_in(client, username).status_code == 303
        assert client.get(path).status_code == 403
        csrf = csrf_of(client, "/staff/residents")
        form = {**child(person, csrf), "resident": person, "event_date": "2025-06-01", "destination": "大阪"}
        if path != "/staff/counter":
            assert client.post(path, data=form).status_code == 403
        assert refusals(db, username), username
    assert registry_state(db) == before


def test_the_result_page_is_refused_to_other_towns(
    client: TestClient, db: Session, other_town_clerk: None, resident: Callable[..., int]
) -> None:
    person = resident()
    log_in(client, "sapporo")
    assert client.get(f"/staff/counter/done/{person}?op=birth").status_code == 403
