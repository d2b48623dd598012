"""The issuance centre (証明書交付センター): checks the card's authentication certificate, finds the person's
municipality (for 戸籍 and its 附票, the one of the family register's 本籍), checks hours, kind and payment,
and routes the request to that municipality's server.

The kiosk talks only to the centre; the centre talks to municipalities through :class:`MunicipalityClient`
(in this process, or over HTTP as the centre's organisation).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from openmyna.card import service as cards
from openmyna.core import audit, clock
from openmyna.core.errors import DomainError, NotFound
from openmyna.jpki import service as jpki
from openmyna.jpki.ocsp import Responder
from openmyna.jpki.verify import LoginRefused, verify_signature
from openmyna.kiosk import documents, rules
from openmyna.kiosk.municipalities import FAMILY_REGISTER_KINDS, Municipality
from openmyna.kiosk.municipality import Issued
from openmyna.kiosk.municipality import Request as MunicipalRequest
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry

PREFIX = b"openmyna kiosk v1|"
SIGNATURE_AGE = dt.timedelta(minutes=2)


class CardRefused(LoginRefused):
    slug = "kiosk-card-refused"
    title_ja = "このカードでは証明書を交付できません"
    title_en = "This card cannot be used for certificates"


class NotParticipating(NotFound):
    slug = "kiosk-not-participating"
    title_ja = "お住まいの市区町村はコンビニ交付を行っていません"
    title_en = "Your municipality does not take part in convenience-store issuance"


class RegisterNotParticipating(NotParticipating):
    slug = "kiosk-honseki-not-participating"
    title_ja = "本籍地の市区町村はコンビニでの戸籍証明書の交付を行っていません。本籍地の窓口か郵送でご請求ください"
    title_en = "The municipality of your family register does not issue at convenience stores; ask it directly"


class FeeUnpaid(DomainError):
    slug = "kiosk-fee-unpaid"
    status = 402
    title_ja = "手数料が不足しています"
    title_en = "The fee has not been paid in full"


class MunicipalityDown(DomainError):
    slug = "kiosk-municipality-down"
    status = 503
    title_ja = "市区町村の証明書発行サーバに接続できません。手数料はいただいていません"
    title_en = "The municipality's certificate server cannot be reached; nothing was charged"


@dataclass(frozen=True)
class CardRequest:
    """What the kiosk sends: the request and the card's signature over :func:`challenge`."""

    store: str
    request_key: str
    signed_at: dt.datetime
    kind: str
    options: documents.Options
    copies: int
    tendered: int | None  # yen the resident put in; None: the terminal pays exactly what is asked
    certificate: bytes
    signature: bytes


@dataclass(frozen=True)
class Routed:
    subject: str  # the person's pseudonym
    issued: Issued


def challenge(*, store: str, request_key: str, signed_at: dt.datetime, kind: str, copies: int) -> bytes:
    """What the card signs: the store, the request, when, and what is asked (so nothing can be swapped)."""
    when = signed_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return PREFIX + f"{store}|{request_key}|{when}|{kind}|{copies}".encode()


class MunicipalityClient(Protocol):
    def issue(self, session: Session, *, municipality: Municipality, request: MunicipalRequest) -> Issued:
        """Ask ``municipality``'s certificate server to issue (raises the server's refusal as a DomainError)."""


def _card_holder(session: Session, serial: str) -> tuple[str, int]:
    """The holder (pseudonym, resident id) of the card in use whose current authentication certificate is ``serial``."""
    row = jpki.certificate(session, serial=serial, kind="auth")
    kind, _, card_id = row.holder_ref.partition(":")
    card = cards.get_card(session, card_id=int(card_id)) if kind == "card" and card_id.isdigit() else None
    if card is None or card.auth_serial != serial:
        raise CardRefused("the certificate is not the current authentication certificate of a card")
    try:
        cards.require_usable(card)
    except DomainError as exc:
        raise CardRefused(f"the card is not in use ({exc.detail})") from exc
    return card.subject, card.resident_id


def route(
    session: Session,
    *,
    responder: Responder,
    municipalities: dict[str, Municipality],
    client: MunicipalityClient,
    request: CardRequest,
    caller: Caller,
) -> Routed:
    """Authenticate the card, apply the rules the centre can check, and have the municipality issue.

    Only reads happen here (the municipality writes): with a municipality in another process, ``session``
    may be a read-only one, so no writer is held while the municipality works.
    """
    now = clock.now()
    if abs(now - request.signed_at) > SIGNATURE_AGE:
        raise CardRefused("the card's signature is older than 2 minutes; insert the card again")
    rules.check_open()
    data = challenge(
        store=request.store,
        request_key=request.request_key,
        signed_at=request.signed_at,
        kind=request.kind,
        copies=request.copies,
    )
    verified = verify_signature(
        responder, certificate_der=request.certificate, data=data, signature=request.signature, kind="auth"
    )
    subject, resident_id = _card_holder(session, verified.serial)
    resident = registry.find_resident(session, resident_id=resident_id)
    if resident is None:
        raise CardRefused("the card's holder has no resident record")
    keeper, refusal = resident.municipality_code, NotParticipating
    if request.kind in FAMILY_REGISTER_KINDS:  # routed to the 本籍's municipality, wherever the person lives
        keeper, refusal = documents.family_register_keeper(session, resident), RegisterNotParticipating
    municipality = municipalities.get(keeper)
    if municipality is None:
        raise refusal(f"municipality {keeper} does not take part")
    rules.check_open(municipality)
    fee = rules.check_offered(municipality, request.kind) * request.copies
    if request.tendered is not None and request.tendered < fee:
        raise FeeUnpaid(f"the fee is {fee} yen and {request.tendered} yen was paid", fee=fee)
    return Routed(
        subject,
        client.issue(
            session,
            municipality=municipality,
            request=MunicipalRequest(
                subject=subject,
                kind=request.kind,
                options=request.options,
                copies=request.copies,
                store=request.store,
                request_key=request.request_key,
            ),
        ),
    )


def record_routing(session: Session, *, routed: Routed, request: CardRequest, caller: Caller) -> None:
    """The centre's access event of the person (written after the municipality answered)."""
    audit.record_access(
        session,
        subject=routed.subject,
        actor_org=caller.org_code,
        actor=f"{caller.actor} for {request.store}"[:128],
        action="kiosk.route",
        purpose=f"{request.kind} {routed.issued.number}",
    )
