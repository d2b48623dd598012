"""Requester and provider in different processes: the hub asks a pension office served elsewhere."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import httpx
import pytest

from openmyna.app import migrate
from openmyna.core.config import Settings
from openmyna.core.context import open_context
from openmyna.core.db import unit_of_work
from openmyna.network import enrolment, service
from openmyna.orgs import service as orgs
from openmyna.pension import service as pension
from tests.live import free_port, running

pytestmark = pytest.mark.xdist_group("live-servers")
HUB_KEY = base64.b64encode(bytes(range(7, 39))).decode()
OFFICE_KEY = base64.b64encode(bytes(range(50, 82))).decode()  # another deployment, another master key
ELDER_NUMBER = "621498320257"


def _settings(root: Path, name: str, port: int, key: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{root / name}.db",
        var_dir=root / name,
        data_key=key,
        base_url=f"http://127.0.0.1:{port}",
        network_publish_seconds=0,
    )


def test_two_servers_over_loopback(tmp_path: Path) -> None:
    hub_port, office_port = free_port(), free_port()
    hub = _settings(tmp_path, "hub", hub_port, HUB_KEY)
    office = _settings(tmp_path, "office", office_port, OFFICE_KEY)
    hub_ctx, office_ctx = open_context(hub), open_context(office)
    for ctx in (hub_ctx, office_ctx):
        migrate.upgrade(ctx.engine)
    with unit_of_work(hub_ctx.session_factory) as session:
        town = orgs.add_organisation(session, keys=hub_ctx.keys, code="131016", name="千代田区", kind="municipality")
        jlis = orgs.add_organisation(
            session, keys=hub_ctx.keys, code="jlis", name="J-LIS", kind="platform_operator", custodial=True
        )
        orgs.add_organisation(session, keys=hub_ctx.keys, code="nenkin", name="日本年金機構", kind="pension_office")
        town_code = enrolment.issue_code(session, keys=hub_ctx.keys, agency="131016", my_number=ELDER_NUMBER)
        # The numbering authority issues the pension office its code too; the office keeps it by its member.
        office_code = enrolment.issue_code(session, keys=hub_ctx.keys, agency="nenkin", my_number=ELDER_NUMBER)
        service.set_endpoint(session, agency="nenkin", base_url=f"http://127.0.0.1:{office_port}")
        hub_public = jlis.organisation.public_key_pem
    with unit_of_work(office_ctx.session_factory) as session:
        # The pension office's own server knows the hub only by its public key.
        orgs.add_organisation(
            session, keys=office_ctx.keys, code="jlis", name="J-LIS", kind="platform_operator", public_key=hub_public
        )
        orgs.add_organisation(session, keys=office_ctx.keys, code="nenkin", name="日本年金機構", kind="pension_office")
        member = pension.add_member(
            session, member_number="0000000042", category="category_1", enrolled_on=dt.date(1970, 1, 15)
        )
        pension.add_entitlement(
            session, member_id=member.id, kind="old_age_basic", annual_amount=795_000, since=dt.date(2015, 1, 15)
        )
        enrolment.remember_local_ids(session, agency="nenkin", local_refs={office_code: member.id})

    from authlib.oauth2.rfc7523 import private_key_jwt_sign
    from joserfc.jwk import ECKey

    body = {
        "business": "child_support_allowance",
        "provider": "nenkin",
        "item": "pension_benefit",
        "subject_code": town_code,
        "purpose_reference": "CSA-1",
    }
    with running(hub, hub_port) as hub_url:
        assertion = private_key_jwt_sign(
            ECKey.import_key(town.private_key_pem), "131016", f"{hub_url}/oauth/token", alg="ES256"
        )
        token = httpx.post(
            f"{hub_url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "131016",
                "client_assertion": assertion,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            },
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        down = httpx.post(f"{hub_url}/api/network/queries", json=body, headers=headers)
        assert down.status_code == 502, down.text  # the office's server is not up yet: refused, recorded
        with running(office, office_port):
            answer = httpx.post(f"{hub_url}/api/network/queries", json=body, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["data"] == {
                "benefits": [{"kind": "old_age_basic", "annual_amount": 795000, "since": "2015-01-15"}]
            }
            # the office's server does not take the hub's tokens, only its own, issued to the hub
            stranger = httpx.post(
                f"http://127.0.0.1:{office_port}/api/network/provide",
                json={"agency": "nenkin", "item": "pension_benefit", "business": "x", "code": "y"},
                headers=headers,
            )
            assert stranger.status_code == 401
    with hub_ctx.session_factory() as session:
        from sqlalchemy import select

        from openmyna.network.models import ExchangeRecord

        results = [e for e in session.scalars(select(ExchangeRecord.entry).order_by(ExchangeRecord.id))]
        assert len(results) == 4
        assert '"result":"refused"' in results[0] and '"result":"answered"' in results[2]
    for ctx in (hub_ctx, office_ctx):
        ctx.engine.dispose()
