"""The back-office send page: a double submit sends once, bad input is shown back, roles are checked."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.orgs import service as orgs
from openmyna.portal.notices.models import Notice, SendJob
from tests.orgs.web import PASSWORD
from tests.orgs.web import log_in as staff_log_in
from tests.portal.world import person, worker_of


def _form(page: str) -> dict[str, str]:
    fields = dict(re.findall(r'name="(csrf|key)" value="([^"]+)"', page))
    assert set(fields) == {"csrf", "key"}
    return fields


def test_staff_send_to_residents(client: TestClient, town, town_headers, db: Session) -> None:
    residents = [person(client, town_headers, given=f"太郎{i}") for i in range(2)]
    assert client.get("/staff/notices", follow_redirects=False).status_code == 303
    for username, role in (("clerk", "clerk"), ("viewer", "viewer")):
        orgs.add_staff(db, org_code="131016", username=username, password=PASSWORD, display_name=username, role=role)
    db.commit()

    viewer = TestClient(client.app)
    staff_log_in(viewer, "viewer")
    assert viewer.get("/staff/notices").status_code == 403

    staff_log_in(client)
    page = client.get("/staff/notices")
    assert page.status_code == 200 and "in-process" in page.text
    form = {
        **_form(page.text),
        "to": "residents",
        "resident_ids": ", ".join(str(r["id"]) for r in residents),
        "kind": "deadline_reminder",
        "title": "現況届の提出期限",
        "body": "6月30日までに提出してください。",
    }
    first = client.post("/staff/notices", data=form, follow_redirects=False)
    second = client.post("/staff/notices", data=form, follow_redirects=False)  # a double click
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert db.scalar(select(func.count()).select_from(SendJob)) == 1
    worker_of(client.app).drain()
    job_page = client.get(first.headers["location"])
    assert 'data-status="done"' in job_page.text and 'id="job-created">2<' in job_page.text
    assert db.scalar(select(func.count()).select_from(Notice)) == 2

    for change, words in (
        ({"title": ""}, "title"),
        ({"resident_ids": "1, x"}, "resident ids must be numbers"),
        ({"resident_ids": "999999"}, "999999"),
        ({"to": "households_with_child", "under_age": "abc"}, "whole number"),
        ({"kind": "spam"}, "kind"),
    ):
        fresh = _form(client.get("/staff/notices").text)
        refused = client.post("/staff/notices", data={**form, **fresh, **change})
        assert refused.status_code == 422 and 'id="form-errors"' in refused.text and words in refused.text, change
    assert client.post("/staff/notices", data={**form, "csrf": "forged"}).status_code == 403
    assert db.scalar(select(func.count()).select_from(SendJob)) == 1
    assert client.get("/staff/notices/jobs/999999").status_code == 404
