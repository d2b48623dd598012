"""Queries through the HTTP API: the table decides, codes are translated, every outcome is recorded."""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.network import enrolment, service
from openmyna.network.models import CodeLink, ExchangeRecord
from openmyna.network.table import load_table
from openmyna.registry import service as registry
from tests.network.conftest import World, obtain_code

QUERIES = "/api/network/queries"


def records(db: Session) -> list[dict[str, Any]]:
    return [json.loads(e) for e in db.scalars(select(ExchangeRecord.entry).order_by(ExchangeRecord.id))]


def ask(client: TestClient, world: World, requester: str, **body: str):
    return client.post(QUERIES, json=body, headers=world.headers(client, requester))


def test_pension_exemption_example_is_answered_and_recorded_twice(
    client: TestClient, world: World, db: Session
) -> None:
    code = obtain_code(client, world, "nenkin", "parent")
    tax = ask(
        client,
        world,
        "nenkin",
        business="national_pension_premium",
        provider="131016",
        item="local_tax",
        subject_code=code,
        purpose_reference="EXEMPT-2025-0001",
    )
    assert tax.status_code == 200, tax.text
    answer = tax.json()
    assert answer["result"] == "answered"
    assert answer["data"]["assessments"][0]["fiscal_year"] >= 2025
    household = ask(
        client,
        world,
        "nenkin",
        business="national_pension_premium",
        provider="131016",
        item="resident_record",
        subject_code=code,
    ).json()
    assert household["data"]["household_size"] == 2
    assert {m["relationship"] for m in household["data"]["household"]} == {"head", "child"}
    entries = [e for e in records(db) if e["exchange"] == answer["exchange_id"]]
    assert sorted(e["side"] for e in entries) == ["provider", "requester"]
    assert all(e["requester"] == "nenkin" and e["provider"] == "131016" and e["result"] == "answered" for e in entries)
    assert entries[0]["citizen"].startswith("person:")


def test_codes_differ_per_agency_and_are_stable(client: TestClient, world: World) -> None:
    town = obtain_code(client, world, "131016", "parent")
    pension = obtain_code(client, world, "nenkin", "parent")
    assert town != pension
    assert obtain_code(client, world, "nenkin", "parent") == pension
    assert obtain_code(client, world, "nenkin", "child") != pension


def test_every_row_of_the_table_is_allowed_and_every_other_tuple_refused(
    db: Session, keys: KeyRing, world: World
) -> None:
    """Non-rows are generated from the table itself: all (requester, business, provider, item) tuples
    over its roles, businesses and items, minus the allowed ones."""
    table = load_table()
    org_for_role = {
        "municipality": "131016",
        "pension_service": "nenkin",
        "health_insurer": "kyoukaikenpo",
        "minister_mhlw": "mhlw",
        "portal": "jlis",  # a platform operator, as the portal's own organisation (menu B) is
    }
    assert set(org_for_role) == set(table.roles)
    codes = {
        org: enrolment.issue_code(db, keys=keys, agency=org, my_number=world.numbers["elder"])
        for org in org_for_role.values()
    }
    providers: dict[str, service.Provider] = {}
    allowed = table.allowed_tuples()
    checked = 0
    for requester, business, provider, item in itertools.product(
        table.roles, table.businesses, table.roles, table.items
    ):
        outcome = service.ask(
            db,
            keys=keys,
            table=table,
            requester=org_for_role[requester],
            providers=providers,
            query=service.Query(business, org_for_role[provider], item, codes[org_for_role[requester]], "T"),
        )
        if (requester, business, provider, item) in allowed:
            assert isinstance(outcome, service.Answer), (requester, business, provider, item)
        else:
            assert isinstance(outcome, service.Refused), (requester, business, provider, item)
            assert outcome.error.status == 403
        checked += 1
    assert checked == len(table.roles) ** 2 * len(table.businesses) * len(table.items)
    refused = (
        db.scalar(
            select(func.count()).select_from(ExchangeRecord).where(ExchangeRecord.entry.contains('"result":"refused"'))
        )
        or 0
    )
    assert refused == 2 * (checked - len(allowed))


def _assert_refused(response, status: int, slug: str, db: Session, before: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith(slug)
    assert "data" not in body
    after = records(db)
    assert len(after) == before + 2, "a refusal is recorded on both sides"
    assert {e["result"] for e in after[before:]} == {"refused"}
    return body


def test_refusals_are_precise_and_recorded(client: TestClient, world: World, db: Session, keys: KeyRing) -> None:
    code = obtain_code(client, world, "kyoukaikenpo", "parent")
    n = len(records(db))
    body = _assert_refused(
        ask(
            client,
            world,
            "kyoukaikenpo",
            business="health_insurance_benefit",
            provider="131016",
            item="local_tax",
            subject_code=code,
        ),
        403,
        "not-in-exchange-table",
        db,
        n,
    )
    assert body["missing_row"] == {
        "requester_kind": "insurer",
        "business": "health_insurance_benefit",
        "provider_kind": "municipality",
        "item": "local_tax",
    }
    n += 2
    _assert_refused(
        ask(
            client,
            world,
            "kyoukaikenpo",
            business="health_insurance_benefit",
            provider="nenkin",
            item="pension_benefit",
            subject_code="NOT-A-CODE",
        ),
        404,
        "unknown-agency-code",
        db,
        n,
    )
    n += 2
    _assert_refused(
        ask(
            client,
            world,
            "kyoukaikenpo",
            business="no_such_business",
            provider="nenkin",
            item="pension_benefit",
            subject_code=code,
        ),
        400,
        "invalid-input",
        db,
        n,
    )
    n += 2
    _assert_refused(
        ask(
            client,
            world,
            "kyoukaikenpo",
            business="health_insurance_benefit",
            provider="ghost",
            item="pension_benefit",
            subject_code=code,
        ),
        404,
        "not-found",
        db,
        n,
    )
    n += 2
    headers = world.headers(client, "kyoukaikenpo")
    for payload in (b"{", b"[]", b'{"business": 1}', b""):
        response = client.post(QUERIES, content=payload, headers={**headers, "content-type": "application/json"})
        _assert_refused(response, 422, "validation", db, n)
        n += 2
    # another agency's code is not the requester's: unknown to it
    town_code = obtain_code(client, world, "131016", "parent")
    _assert_refused(
        ask(
            client,
            world,
            "kyoukaikenpo",
            business="health_insurance_benefit",
            provider="nenkin",
            item="pension_benefit",
            subject_code=town_code,
        ),
        404,
        "unknown-agency-code",
        db,
        n,
    )


def test_bad_credentials_are_refused_and_recorded(client: TestClient, world: World, db: Session) -> None:
    from openmyna.core import clock

    body = {
        "business": "health_insurance_benefit",
        "provider": "nenkin",
        "item": "pension_benefit",
        "subject_code": "X",
    }
    n = len(records(db))
    _assert_refused(client.post(QUERIES, json=body), 401, "unauthorized", db, n)
    assert records(db)[-1]["requester"] == "unauthenticated"
    headers = world.headers(client, "kyoukaikenpo")
    import datetime as dt

    with clock.frozen_at(clock.now() + dt.timedelta(hours=2)):
        _assert_refused(client.post(QUERIES, json=body, headers=headers), 401, "unauthorized", db, n + 2)
    assert records(db)[-1]["requester"] == "kyoukaikenpo"  # an expired but genuine token is attributed
    forged = {"Authorization": headers["Authorization"][:-6] + "AAAAAA"}
    _assert_refused(client.post(QUERIES, json=body, headers=forged), 401, "unauthorized", db, n + 4)
    jlis = world.headers(client, "jlis")  # a platform operator may provide, not query
    _assert_refused(client.post(QUERIES, json=body, headers=jlis), 403, "forbidden", db, n + 6)


def test_no_identifier_leaks(client: TestClient, world: World, db: Session, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pension_code = obtain_code(client, world, "nenkin", "elder")
    town_code = obtain_code(client, world, "131016", "elder")
    responses = [
        ask(
            client,
            world,
            "nenkin",
            business="national_pension_premium",
            provider="131016",
            item="resident_record",
            subject_code=pension_code,
        ).text,
        ask(
            client,
            world,
            "nenkin",
            business="national_pension_premium",
            provider="131016",
            item="local_tax",
            subject_code=pension_code,
        ).text,
        ask(
            client,
            world,
            "131016",
            business="child_support_allowance",
            provider="nenkin",
            item="pension_benefit",
            subject_code=town_code,
        ).text,
    ]
    resident = registry.find_resident(db, resident_id=world.residents["elder"])
    assert resident is not None
    secrets_ = {world.numbers["elder"], resident.resident_code}
    stored = "\n".join(json.dumps(e, ensure_ascii=False) for e in records(db))
    for text in [*responses, stored, caplog.text]:
        for secret in secrets_:
            assert secret not in text
    # neither side's record nor the answer carries an agency code
    all_codes = set(db.scalars(select(CodeLink.code)))
    for text in (*responses, stored):
        assert not any(code in text for code in all_codes)
