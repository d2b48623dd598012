"""Menu A, やりとり履歴: my exchanges through the network's history service, filtered and paged.

The records, their inclusion proofs and the page's completeness proof come from
:func:`openmyna.network.history.history` unchanged, so what the browser checks is exactly what the
network serves to any client. Reading the history is recorded as an access event of the person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.network import history as network_history
from openmyna.network.models import ExchangeRecord
from openmyna.network.person_check import Incomplete, check_head
from openmyna.network.table import ExchangeTable
from openmyna.orgs import service as orgs

READ_ACTION = "portal.history.read"
# Accesses outside the exchange network that the history also lists: eligibility checks at clinics, the
# insurers' enrolments, employee IDs and gate reads (written to ``core.audit`` by the health and carduses
# parts; read here by action, not by import).
CARD_USE_ACTIONS = ("health.", "carduses.", "ekyc.")
PER_PAGE = 10


@dataclass(frozen=True)
class Filters:
    since: dt.date | None = None
    until: dt.date | None = None
    agency: str | None = None

    def conditions(self, citizen: str) -> list[ColumnElement[bool]]:
        """SQL for the filters, on the requester-side record the history lists (period in Japan time)."""
        where: list[ColumnElement[bool]] = []
        if self.since is not None:
            where.append(ExchangeRecord.recorded_at >= _start_of(self.since))
        if self.until is not None:
            where.append(ExchangeRecord.recorded_at < _start_of(self.until + dt.timedelta(days=1)))
        if self.agency:
            involved = select(ExchangeRecord.exchange_id).where(
                ExchangeRecord.citizen == citizen, ExchangeRecord.agency == self.agency
            )
            where.append(ExchangeRecord.exchange_id.in_(involved))
        return where

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.agency)


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=clock.JST).astimezone(dt.UTC)


@dataclass(frozen=True)
class Page:
    number: int
    pages: int
    total: int
    data: dict[str, Any]  # the network's answer: tree_head, items (with proofs), completeness
    head_signature_ok: bool | None  # checked on the server too, for browsers without Ed25519 in WebCrypto
    head_problem: str
    agencies: list[tuple[str, str]]


def agencies_of(session: Session, citizen: str, lang: str) -> list[tuple[str, str]]:
    """Every agency that took part in an exchange about the person: (code, name) for the filter."""
    codes = set(session.scalars(select(ExchangeRecord.agency).where(ExchangeRecord.citizen == citizen).distinct()))
    rows = session.execute(
        select(orgs.Organisation.code, orgs.Organisation.name, orgs.Organisation.name_en).where(
            orgs.Organisation.code.in_(codes)
        )
    ).all()
    names = {code: (name_en or name) if lang == "en" else name for code, name, name_en in rows}
    return sorted(((code, names.get(code, code)) for code in codes), key=lambda pair: pair[1])


def read(
    session: Session,
    *,
    table: ExchangeTable,
    public_key: Ed25519PublicKey,
    citizen: str,
    lang: str,
    filters: Filters,
    number: int = 1,
    actor: str | None = None,
) -> Page:
    """One page of my history (newest first) with its proofs; the reading is an access event of mine
    (``actor``: a proxy reading it for me)."""
    found = network_history.history(
        session,
        table=table,
        citizen=citizen,
        lang=lang,
        limit=PER_PAGE,
        offset=(number - 1) * PER_PAGE,
        where=filters.conditions(citizen),
    )
    ok: bool | None = None
    problem = ""
    if found.tree_head is not None and found.tree_head.get("sha256_map_root") is not None:
        try:
            check_head(found.tree_head, public_key, None)
            ok = True
        except Incomplete as exc:
            ok, problem = False, str(exc)
    agencies = agencies_of(session, citizen, lang)
    audit.record_access(
        session,
        subject=citizen,
        actor_org="portal",
        actor=actor or citizen,
        action=READ_ACTION,
        purpose=f"page {number}" + (" (filtered)" if filters.active else ""),
    )
    data = {
        "total": found.total,
        "tree_head": found.tree_head,
        "items": found.items,
        "completeness": found.completeness,
        "citizen": citizen,
        "filtered": filters.active,
        "offset": (number - 1) * PER_PAGE,
    }
    pages = max(1, -(-found.total // PER_PAGE))
    return Page(number, pages, found.total, data, ok, problem, agencies)


@dataclass(frozen=True)
class Access:
    """One access event about me: when, by which organisation, what (the action code) and why."""

    id: int
    when: dt.datetime
    org_code: str
    org_name: str
    action: str
    purpose: str


def accesses(
    session: Session,
    citizen: str,
    lang: str,
    *,
    prefixes: tuple[str, ...] = (),
    before: int | None = None,
    limit: int = 50,
) -> list[Access]:
    """Access events about me, newest first: all of them, or those whose action starts with one of ``prefixes``;
    ``before`` an event id pages back."""
    query = select(audit.AccessEvent).where(audit.AccessEvent.subject == citizen)
    if prefixes:
        query = query.where(or_(*[audit.AccessEvent.action.startswith(prefix) for prefix in prefixes]))
    mark = None if before is None else session.get(audit.AccessEvent, before)
    if mark is not None and mark.subject == citizen:  # keyset paging in the listing's own order
        query = query.where(
            or_(
                audit.AccessEvent.occurred_at < mark.occurred_at,
                and_(audit.AccessEvent.occurred_at == mark.occurred_at, audit.AccessEvent.id < mark.id),
            )
        )
    events = session.scalars(
        query.order_by(audit.AccessEvent.occurred_at.desc(), audit.AccessEvent.id.desc()).limit(limit)
    ).all()
    codes = {e.actor_org for e in events}
    rows = session.execute(
        select(orgs.Organisation.code, orgs.Organisation.name, orgs.Organisation.name_en).where(
            orgs.Organisation.code.in_(codes)
        )
    ).all()
    names = {code: (name_en or name) if lang == "en" else name for code, name, name_en in rows}
    return [
        Access(
            e.id,
            _aware(e.occurred_at).astimezone(clock.JST),
            e.actor_org,
            names.get(e.actor_org, e.actor_org),
            e.action,
            e.purpose,
        )
        for e in events
    ]


def card_uses(session: Session, citizen: str, lang: str, *, limit: int = 20) -> list[Access]:
    """Eligibility checks at clinics, insurers' enrolments and gate reads about me, newest first."""
    return accesses(session, citizen, lang, prefixes=CARD_USE_ACTIONS, limit=limit)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
