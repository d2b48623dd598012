"""The kiosk terminal in a store: the card signs the request, the centre answers, the fee is taken, the
document printed. A fee is taken once per request key, and only for a certificate that came back; every
refusal is logged (``kiosk_refusals`` and the ``openmyna.kiosk`` logger) with its reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from openmyna.card.reader import Reader
from openmyna.core import clock
from openmyna.core.errors import DomainError
from openmyna.kiosk import centre
from openmyna.kiosk.models import Refusal, Sale
from openmyna.kiosk.municipality import Issued

log = logging.getLogger("openmyna.kiosk")
METHODS = ("cash", "emoney")


class Centre(Protocol):
    def request(self, session: Session, request: centre.CardRequest) -> Issued: ...


@dataclass(frozen=True)
class Printed:
    """What the terminal hands out: the document, and what it took for it."""

    number: str
    kind: str
    fee: int
    charged: int  # 0 when a retried request had been paid already
    change: int
    pdf: bytes
    replayed: bool


def new_request_key() -> str:
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class CardSignature:
    certificate: bytes
    signature: bytes
    signed_at: dt.datetime


def sign_with_card(reader: Reader, *, pin: str, store: str, request_key: str, kind: str, copies: int) -> CardSignature:
    """The card's authentication key signs the request after the chip checks the PIN (counted on the chip)."""
    signed_at = clock.now().replace(microsecond=0)
    data = centre.challenge(store=store, request_key=request_key, signed_at=signed_at, kind=kind, copies=copies)
    signature = reader.sign("auth", pin, data=data)
    return CardSignature(reader.certificate("auth"), signature, signed_at)


def record_refusal(
    session_factory: sessionmaker[Session], *, store: str, request_key: str, kind: str, error: DomainError
) -> None:
    """The refusal in its own unit of work (the refused one was rolled back), and in the log."""
    log.info(
        "kiosk refusal store=%s request=%s kind=%s reason=%s: %s", store, request_key, kind, error.slug, error.detail
    )
    with session_factory() as session, session.begin():
        session.add(
            Refusal(
                store=store[:32],
                request_key=request_key[:64],
                kind=kind[:16],
                reason=error.slug[:64],
                detail=error.detail[:300],
                subject="",
                occurred_at=clock.now(),
            )
        )


def _charge(session: Session, *, store: str, request: centre.CardRequest, issued: Issued, method: str) -> int:
    """Take the fee once per request key; a retry that was paid already is not charged again."""
    paid = session.scalar(select(Sale.id).where(Sale.store == store, Sale.request_key == request.request_key))
    if paid is not None:
        return 0
    tendered = issued.fee if request.tendered is None else request.tendered
    try:
        with session.begin_nested():
            session.add(
                Sale(
                    store=store,
                    request_key=request.request_key,
                    number=issued.number,
                    kind=issued.kind,
                    fee=issued.fee,
                    tendered=tendered,
                    method=method,
                    sold_at=clock.now(),
                )
            )
    except IntegrityError:  # a concurrent retry of the same request was charged first
        return 0
    return issued.fee


def issue(
    session_factory: sessionmaker[Session],
    *,
    centre_client: Centre,
    request: centre.CardRequest,
    method: str = "cash",
) -> Printed:
    """Ask the centre; on a certificate, take the fee and print; on a refusal, log it and take nothing."""
    if method not in METHODS:
        raise centre.FeeUnpaid(f"payment method must be one of {', '.join(METHODS)}")
    try:
        with session_factory() as session, session.begin():
            issued = centre_client.request(session, request)
            charged = _charge(session, store=request.store, request=request, issued=issued, method=method)
    except DomainError as error:
        record_refusal(
            session_factory, store=request.store, request_key=request.request_key, kind=request.kind, error=error
        )
        raise
    tendered = issued.fee if request.tendered is None else request.tendered
    return Printed(
        number=issued.number,
        kind=issued.kind,
        fee=issued.fee,
        charged=charged,
        change=max(0, tendered - issued.fee) if charged else tendered,
        pdf=issued.pdf,
        replayed=issued.replayed,
    )
