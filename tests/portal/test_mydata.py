"""Menu B, わたしの情報: asked over the network as an agency asks, and recorded in menu A."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.card.models import Card
from openmyna.core.audit import AccessEvent
from openmyna.network import log
from openmyna.portal.mydata.service import CARD_ACTION
from tests.network.conftest import World, world  # noqa: F401  (fixture)
from tests.portal.conftest import CSRF
from tests.portal.sessions import log_in

HTML = {"accept": "text/html"}


def test_my_data_comes_over_the_network_and_each_ask_is_in_my_history(
    client: TestClient,
    db: Session,
    keys: object,
    world: World,  # noqa: F811
    active_card: Callable[..., Card],
) -> None:
    card = active_card(resident_id=world.residents["parent"])
    db.commit()
    log_in(client, resident_id=world.residents["parent"])
    page = client.get("/portal/mydata", headers=HTML)
    assert page.status_code == 200 and 'id="mydata-fetch"' in page.text
    assert client.get("/api/portal/history").json()["total"] == 0
    csrf = CSRF.search(page.text)
    assert csrf
    assert client.post("/portal/mydata", data={"csrf": "forged"}).status_code == 403
    assert client.get("/api/portal/history").json()["total"] == 0  # a forged form asks nothing

    shown = client.post("/portal/mydata", data={"csrf": csrf.group(1)}, headers=HTML)
    assert shown.status_code == 200
    assert "3,900,000" in shown.text  # this year's assessed income, as the town's tax ledger answers it
    assert "category_2" in shown.text  # the pension office's enrolment record
    assert "利用者証明用電子証明書" in shown.text and "good" in shown.text
    log.publish(db, keys=keys)  # type: ignore[arg-type]
    db.commit()
    history = client.get("/api/portal/history").json()
    asked = {(i["requester"]["code"], i["provider"]["code"], i["items"][0]["code"]) for i in history["items"]}
    assert asked == {
        ("mynaportal", "131016", "resident_record"),
        ("mynaportal", "131016", "local_tax"),
        ("mynaportal", "nenkin", "pension_benefit"),
        ("mynaportal", "nenkin", "pension_enrolment"),
    }
    assert all(i["business"]["code"] == "self_information" for i in history["items"])
    assert db.scalar(select(AccessEvent).where(AccessEvent.subject == card.subject, AccessEvent.action == CARD_ACTION))
