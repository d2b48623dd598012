"""eservice fixtures: a parent with a signing card and a child, signing as the card does, and API bodies."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from openmyna.card import handlers
from openmyna.card.models import Card
from openmyna.card.reader import VirtualReader
from openmyna.core.crypto import KeyRing
from openmyna.eservice import signing
from openmyna.eservice.models import Application
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.models import Resident
from openmyna.registry.schemas import ResidentCreate
from tests.card.conftest import SIGN_PIN, active_card, resident  # noqa: F401  (fixtures)
from tests.jpki.conftest import authorities, ca_config, rsa_keys  # noqa: F401  (fixtures)
from tests.registry.test_api import newborn

MUNICIPALITY = "131016"
CHILD_ALLOWANCE = "child-allowance-certification"


@dataclass
class Applicant:
    card: Card
    reader: VirtualReader
    resident_id: int

    def subject(self, db: Session) -> str:
        person = db.get(Resident, self.resident_id)
        assert person is not None
        return registry.subject_of(person)


@pytest.fixture
def configured(authorities: None, ca_config: CaConfig) -> None:  # noqa: F811
    """The card handlers with this test's CA (what ``tests/card``'s autouse fixture does, only where needed)."""
    handlers.configure(ca_config)


@pytest.fixture
def applicant(
    db: Session,
    keys: KeyRing,
    clerk: Caller,
    session_factory: sessionmaker[Session],
    ca_config: CaConfig,  # noqa: F811
    active_card: Callable[..., Card],  # noqa: F811
    resident: Callable[..., int],  # noqa: F811
    configured: None,
) -> Callable[..., Applicant]:
    """A resident with a card in use (signing PIN ``SIGN_PIN``), with ``children`` born on the given dates."""

    def make(children: tuple[str, ...] = ("2020-12-01",), **person: Any) -> Applicant:
        parent_id = resident(**person)
        card = active_card(resident_id=parent_id)
        parent = db.get(Resident, parent_id)
        assert parent is not None
        for born in children:
            data = ResidentCreate(
                **newborn(
                    given_name="結衣", given_name_kana="ユイ", birth_date=born, event_date=born,
                    household={"household_id": parent.household_id, "relationship": "child"},
                )
            )  # fmt: skip
            registry.create_resident(db, keys=keys, municipality_code=MUNICIPALITY, data=data, caller=clerk)
        db.commit()
        return Applicant(card, VirtualReader(session_factory, ca_config.keys, card.id), parent_id)

    return make


def example(client: TestClient, code: str = CHILD_ALLOWANCE) -> dict[str, Any]:
    return dict(client.app.state.eservice_catalogue.get(MUNICIPALITY, code).procedure.example)  # type: ignore[attr-defined]


def sign_with(reader: VirtualReader, content: bytes, *, pin: str = SIGN_PIN, kind: str = "sign") -> bytes:
    """A CMS signature made as the CLI makes it: pyhanko asks the card to sign the digest."""
    certificate = reader.certificate(kind, pin=pin if kind == "sign" else None)  # type: ignore[arg-type]
    return signing.sign(
        content,
        certificate_der=certificate,
        sign_digest=lambda d: reader.sign(kind, pin, digest=d),  # type: ignore[arg-type]
    )


def body_for(
    client: TestClient,
    reader: VirtualReader | None,
    *,
    data: dict[str, dict[str, Any]],
    attachments: list[dict[str, Any]] | None = None,
    signature: bytes | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An API body, signed over the exact content the server rebuilds (asked of ``POST /api/eservice/content``)."""
    body: dict[str, Any] = {"municipality": MUNICIPALITY, "procedures": list(data), "data": data}
    if attachments:
        body["attachments"] = attachments
    if "life_event" in extra:
        body["life_event"] = extra.pop("life_event")
    if signature is None:
        content = client.post("/api/eservice/content", json=body)
        assert content.status_code == 200, content.text
        assert reader is not None
        signature = sign_with(reader, content.content)
    return {**body, "signature": base64.b64encode(signature).decode(), **extra}


def count(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Application)) or 0


def upload(code: str, content: bytes, media_type: str = "application/pdf", procedure: str = CHILD_ALLOWANCE) -> dict:  # type: ignore[type-arg]
    return {
        "procedure": procedure,
        "code": code,
        "filename": f"{code}.pdf",
        "media_type": media_type,
        "content": base64.b64encode(content).decode(),
    }
