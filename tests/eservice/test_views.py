"""The eservice pages through HTTP: search, the form's errors tied to fields, drafts, the browser's two-step
signature over a draft, and pages that belong to one applicant only."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from openmyna.card.reader_http import create_reader_app
from tests.eservice.conftest import CHILD_ALLOWANCE, SIGN_PIN, Applicant, example
from tests.portal.sessions import log_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HTML = {"accept": "text/html"}


def test_search_page_for_anyone(client: TestClient) -> None:
    page = client.get("/eservice/search", params={"municipality": "131016", "situation": "pregnancy"}, headers=HTML)
    assert page.status_code == 200
    assert 'id="p-pregnancy-notification"' in page.text and 'id="p-child-allowance-certification"' not in page.text
    english = client.get("/eservice/procedures/131016/child-support-status-report", params={"lang": "en"})
    assert "Certificate of pension receipt" in english.text and "Not needed" in english.text
    assert client.get("/eservice/procedures/131016/nope").status_code == 404


def _form(client: TestClient, code: str = CHILD_ALLOWANCE) -> dict[str, str]:
    page = client.get(f"/eservice/apply/131016?procedure={code}", headers=HTML)
    found = CSRF.search(page.text)
    assert page.status_code == 200 and found
    fields = {"csrf": found.group(1), "procedure": code}
    for name, value in example(client, code).items():
        if isinstance(value, list):
            for i, row in enumerate(value):
                fields |= {f"{code}.{name}.{i}.{k}": str(v) for k, v in row.items()}
        elif value is True:
            fields[f"{code}.{name}"] = "true"
        else:
            fields[f"{code}.{name}"] = str(value)
    return fields


def test_form_errors_are_tied_to_their_fields_and_a_draft_is_kept(client: TestClient) -> None:
    fields = _form(client) | {f"{CHILD_ALLOWANCE}.kana": "やまだ", f"{CHILD_ALLOWANCE}.birth_date": "1988-02-30"}
    page = client.post("/eservice/apply/131016", data=fields, headers=HTML, follow_redirects=False)
    assert page.status_code == 400
    assert 'id="f-child-allowance-certification-kana" ' in page.text
    assert re.search(r'id="f-child-allowance-certification-kana"[^>]*aria-invalid="true"', page.text)
    assert re.search(r'<p class="field-error" id="f-child-allowance-certification-kana-error">[^<]+</p>', page.text)
    assert "2件の入力に誤りがあります" in page.text
    draft = page.headers["x-draft-id"]
    again = client.get(f"/eservice/apply/131016?draft={draft}", headers=HTML)
    assert "やまだ" in again.text  # the draft kept what was typed
    assert (
        client.get(f"/eservice/drafts/{draft}", follow_redirects=False).status_code == 303
    )  # invalid: back to the form


def test_anonymous_browser_signs_a_draft_through_the_reader(
    client: TestClient, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    reader = TestClient(create_reader_app(parent.reader, allowed_origins=["http://testserver"]))
    fields = _form(client)
    pdf = ("bank.pdf", b"%PDF-1.4 bank book", "application/pdf")
    done = client.post(
        "/eservice/apply/131016",
        data=fields | {"action": "next"},
        files={f"{CHILD_ALLOWANCE}.file.bank_book": pdf},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    sign_page = client.get(done.headers["location"], headers=HTML)
    assert "bank.pdf" in sign_page.text and "connect-src 'self'" in sign_page.headers["content-security-policy"]
    draft = done.headers["location"].rsplit("/", 1)[1]
    csrf = {"X-CSRF-Token": fields["csrf"]}
    cert = reader.post("/reader/certificate", json={"kind": "sign", "pin": SIGN_PIN}).json()["certificate"]
    prepared = client.post(f"/api/eservice/drafts/{draft}/prepare", json={"certificate": cert}, headers=csrf)
    assert prepared.status_code == 200, prepared.text
    signed = reader.post(
        "/reader/sign",
        json={"challenge": prepared.json()["digest"], "pin": SIGN_PIN, "kind": "sign", "prehashed": True},
    ).json()
    assert client.post(f"/api/eservice/drafts/{draft}/submit", json=signed, headers={}).status_code == 403  # no CSRF
    receipt = client.post(f"/api/eservice/drafts/{draft}/submit", json={"signature": signed["signature"]}, headers=csrf)
    assert receipt.status_code == 200, receipt.text
    status = client.get(f"/eservice/applications/{receipt.json()['application_id']}", headers=HTML)
    assert receipt.json()["receipt_number"] in status.text and "受付済み" in status.text
    other = TestClient(client.app)  # another browser: neither the draft nor the application
    assert other.get(f"/eservice/applications/{receipt.json()['application_id']}").status_code == 404
    assert base64.b64decode(signed["signature"])


def test_logged_in_form_is_prefilled_and_only_the_owner_sees_the_status(
    client: TestClient, applicant: Callable[..., Applicant]
) -> None:
    parent = applicant()
    log_in(client, resident_id=parent.resident_id)
    page = client.get(f"/eservice/apply/131016?procedure={CHILD_ALLOWANCE}", headers=HTML)
    assert 'value="山田 花子"' in page.text and 'value="2020-12-01"' in page.text
    mine = client.get("/eservice/applications", headers=HTML)
    assert mine.status_code == 200 and "申請はまだありません" in mine.text


def test_save_keeps_an_incomplete_draft(client: TestClient) -> None:
    fields = _form(client)
    del fields[f"{CHILD_ALLOWANCE}.bank_account"]
    saved = client.post("/eservice/apply/131016", data=fields | {"action": "save"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith(f"?draft={saved.headers['x-draft-id']}")
    page = client.get(saved.headers["location"], headers=HTML)
    assert 'value="みずほ銀行' not in page.text and 'value="ヤマダ ハナコ"' in page.text
