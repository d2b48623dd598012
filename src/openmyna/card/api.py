"""Card lifecycle for municipal systems and staff, and the statistics as JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, Query, Response

from openmyna.card import service, stats
from openmyna.card.models import Card
from openmyna.card.schemas import (
    Application,
    BulkApplication,
    CardDetail,
    CardOut,
    EventOut,
    HandOver,
    LostReport,
    PinReset,
    Revocation,
    StatsOut,
    StatsRow,
)
from openmyna.core import clock
from openmyna.core.errors import InvalidInput
from openmyna.core.validation import IdParam
from openmyna.core.web import AppSettings, DbSession, Keys, ReadSession, UnitOfWorkRoute
from openmyna.jpki.authority import CaConfig
from openmyna.orgs.dependencies import require_town_scope
from openmyna.orgs.service import Caller

router = APIRouter(route_class=UnitOfWorkRoute, prefix="/api/cards", tags=["card"])
stats_router = APIRouter(route_class=UnitOfWorkRoute, tags=["card"])
Reader = Annotated[Caller, Depends(require_town_scope("card:read", other_kinds_may_read=True))]
Writer = Annotated[Caller, Depends(require_town_scope("card:write"))]
STATS_FIRST_DAY, STATS_LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)  # the holiday calendar fails near 9999


def _config(settings: AppSettings, keys: Keys) -> CaConfig:
    return CaConfig.from_settings(settings, keys)


Config = Annotated[CaConfig, Depends(_config)]


def card_out(card: Card) -> CardOut:
    return CardOut.model_validate(card, from_attributes=True)


@router.get("", response_model=list[CardOut])
def list_cards(db: DbSession, caller: Reader, resident_id: IdParam | None = None) -> list[CardOut]:
    return [card_out(c) for c in service.list_cards(db, resident_id=resident_id, limit=500)]


@router.post("", response_model=CardOut, status_code=201, summary="Accept an application (申請受付)")
def apply(body: Application, db: DbSession, caller: Writer) -> CardOut:
    return card_out(service.apply(db, caller=caller, **body.model_dump()))


@router.post("/bulk", response_model=list[CardOut], status_code=201, summary="Bulk application through an employer")
def apply_bulk(body: BulkApplication, db: DbSession, caller: Writer) -> list[CardOut]:
    made = service.apply_bulk(db, resident_ids=body.resident_ids, employer_code=body.employer_code, caller=caller)
    return [card_out(c) for c in made]


@router.get("/{card_id}", response_model=CardDetail)
def detail(card_id: IdParam, db: DbSession, caller: Reader) -> CardDetail:
    card = service.get_card(db, card_id=card_id)
    events = [EventOut.model_validate(e, from_attributes=True) for e in card.events]
    return CardDetail(**card_out(card).model_dump(), events=events)


@router.post("/{card_id}/manufacture", response_model=CardOut, summary="Manufactured and shipped (発送)")
def manufacture(card_id: IdParam, db: DbSession, keys: Keys, caller: Writer) -> CardOut:
    return card_out(service.manufacture(db, keys=keys, card_id=card_id, caller=caller))


@router.post("/{card_id}/setup", response_model=CardOut, summary="Pre-issuance setup (交付前設定)")
def setup(card_id: IdParam, db: DbSession, config: Config, caller: Writer) -> CardOut:
    return card_out(service.setup(db, config=config, card_id=card_id, caller=caller))


@router.post("/{card_id}/hand-over", response_model=CardOut, summary="Hand-over with PIN setting (交付)")
def hand_over(card_id: IdParam, body: HandOver, db: DbSession, keys: Keys, caller: Writer) -> CardOut:
    return card_out(service.hand_over(db, keys=keys, card_id=card_id, caller=caller, **body.model_dump()))


@router.post("/{card_id}/report-lost", response_model=CardOut, summary="Suspend a lost card (一時停止)")
def report_lost(card_id: IdParam, body: LostReport, db: DbSession, config: Config, caller: Writer) -> CardOut:
    return card_out(service.report_lost(db, config=config, card_id=card_id, caller=caller, via=body.via))


@router.post("/{card_id}/resume", response_model=CardOut, summary="Resume a found card")
def resume(card_id: IdParam, db: DbSession, config: Config, caller: Writer) -> CardOut:
    return card_out(service.resume(db, config=config, card_id=card_id, caller=caller))


@router.post("/{card_id}/revoke", response_model=CardOut, summary="Revoke the card (廃止)")
def revoke(card_id: IdParam, body: Revocation, db: DbSession, config: Config, caller: Writer) -> CardOut:
    return card_out(service.revoke_card(db, config=config, card_id=card_id, reason=body.reason, caller=caller))


@router.post("/{card_id}/pin-reset", response_model=CardOut, summary="PIN reset at the counter")
def pin_reset(card_id: IdParam, body: PinReset, db: DbSession, keys: Keys, caller: Writer) -> CardOut:
    return card_out(service.reset_pin(db, keys=keys, card_id=card_id, caller=caller, **body.model_dump()))


@router.post("/{card_id}/renew", response_model=CardOut, summary="Renew the certificates (from 3 months before expiry)")
def renew(card_id: IdParam, db: DbSession, config: Config, caller: Writer) -> CardOut:
    return card_out(service.renew(db, config=config, card_id=card_id, caller=caller))


@router.post("/{card_id}/reissue-signing", response_model=CardOut, summary="New signing certificate after a change")
def reissue_signing(card_id: IdParam, db: DbSession, config: Config, caller: Writer) -> CardOut:
    return card_out(service.reissue_signing(db, config=config, card_id=card_id, caller=caller))


@router.get(
    "/{card_id}/certificates/{kind}",
    summary="The card's certificate (PEM)",
    response_class=Response,
    responses={200: {"description": "The certificate", "content": {"application/x-pem-file": {}}}},
)
def certificate(card_id: IdParam, kind: Literal["auth", "sign"], db: DbSession, caller: Reader) -> Response:
    der = service.certificate_der(db, card_id=card_id, kind=kind)
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    return Response(pem, media_type="application/x-pem-file")


def period(
    start: Annotated[dt.date | None, Query(alias="from", description="First day (default: a week before `to`)")] = None,
    end: Annotated[dt.date | None, Query(alias="to", description="Last day (default: today)")] = None,
) -> tuple[dt.date, dt.date]:
    """The statistics period, at most ``stats.MAX_PERIOD_DAYS`` long."""
    end = end or clock.today()
    span = stats.checked_period(start or max(end, STATS_FIRST_DAY) - dt.timedelta(days=6), end)
    for name, day in zip(("from", "to"), span, strict=True):
        if not STATS_FIRST_DAY <= day <= STATS_LAST_DAY:
            raise InvalidInput(f"{name} must lie between {STATS_FIRST_DAY} and {STATS_LAST_DAY}", field=name)
    return span


@stats_router.get("/api/card/stats", response_model=StatsOut, summary="Applications, shipments, setups, hand-overs")
def stats_json(db: ReadSession, span: Annotated[tuple[dt.date, dt.date], Depends(period)]) -> StatsOut:
    rows = stats.table(db, start=span[0], end=span[1])
    return StatsOut(start=span[0], end=span[1], rows=[StatsRow(**dataclasses.asdict(r)) for r in rows])
