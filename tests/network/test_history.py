"""The citizen's view: their exchanges only, newest first, in plain language, each checkable by itself."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.network import enrolment, log, service
from openmyna.network.table import load_table
from openmyna.orgs import service as orgs
from openmyna.registry import service as registry
from tests.network import rfc6962
from tests.network.conftest import World


def citizen_headers(db: Session, keys: KeyRing, resident_id: int) -> dict[str, str]:
    resident = registry.find_resident(db, resident_id=resident_id)
    assert resident is not None
    token = orgs.issue_access_token(
        keys, org_code=registry.subject_of(resident), scopes={"self"}, issuer="http://testserver", ttl_seconds=300
    )
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_history_is_the_citizens_own_with_proofs(client: TestClient, db: Session, keys: KeyRing, world: World) -> None:
    table = load_table()
    providers: dict[str, service.Provider] = {}
    pension_code = enrolment.issue_code(db, keys=keys, agency="nenkin", my_number=world.numbers["parent"])
    other_code = enrolment.issue_code(db, keys=keys, agency="nenkin", my_number=world.numbers["elder"])
    for i in range(5):
        service.ask(
            db,
            keys=keys,
            table=table,
            requester="nenkin",
            providers=providers,
            query=service.Query("national_pension_premium", "131016", "local_tax", pension_code, f"A-{i}"),
        )
    service.ask(
        db,
        keys=keys,
        table=table,
        requester="nenkin",
        providers=providers,
        query=service.Query("national_pension_premium", "131016", "local_tax", other_code, "ELDER"),
    )
    log.publish(db, keys=keys)
    service.ask(
        db,
        keys=keys,
        table=table,
        requester="nenkin",
        providers=providers,
        query=service.Query("national_pension_premium", "131016", "resident_record", pension_code, "LATEST"),
    )
    db.commit()

    headers = citizen_headers(db, keys, world.residents["parent"])
    page = client.get("/api/network/history", params={"limit": 4}, headers=headers).json()
    assert page["total"] == 6
    assert [item["purpose_reference"] for item in page["items"]] == ["LATEST", "A-4", "A-3", "A-2"]
    latest, older = page["items"][0], page["items"][1]
    assert latest["records"][0]["status"] == "pending"  # not yet in a signed head
    assert older["summary"].endswith("提供されました。")
    assert older["business"]["name"].startswith("国民年金法")
    root = base64.b64decode(page["tree_head"]["sha256_root_hash"])
    size = page["tree_head"]["tree_size"]
    for record in older["records"]:
        assert record["status"] == "included"
        assert rfc6962.verify_inclusion(
            record["entry"].encode(),
            record["leaf_index"],
            size,
            [base64.b64decode(p) for p in record["audit_path"]],
            root,
        )
    second = client.get("/api/network/history", params={"limit": 4, "offset": 4}, headers=headers).json()
    assert [item["purpose_reference"] for item in second["items"]] == ["A-1", "A-0"]
    english = client.get("/api/network/history", params={"lang": "en"}, headers=headers).json()
    assert "asked" in english["items"][1]["summary"]
    elder = client.get("/api/network/history", headers=citizen_headers(db, keys, world.residents["elder"])).json()
    assert [item["purpose_reference"] for item in elder["items"]] == ["ELDER"]


def test_history_needs_a_residents_token(client: TestClient, world: World) -> None:
    assert client.get("/api/network/history").status_code == 401
    response = client.get("/api/network/history", headers=world.headers(client, "nenkin"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
