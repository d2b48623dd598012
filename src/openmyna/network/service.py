"""The hub: agency codes, queries checked against the exchange table, and both sides' records.

No My Number, resident code or other agency's code appears in a query, an answer or a record: the
requester names the person by its own code, the hub turns it into the provider's code through its
keyed person link, and records carry only the citizen's pseudonym.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, bindparam, select, text
from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import DomainError, Forbidden, InvalidInput, NotFound
from openmyna.network.models import CodeLink, Endpoint, ExchangeRecord
from openmyna.network.providers import HttpProvider, InProcessProvider, Provider, hub_private_key
from openmyna.network.table import ExchangeTable
from openmyna.numbers import protection
from openmyna.numbers import service as numbers
from openmyna.orgs import service as orgs

REQUESTER, PROVIDER = "requester", "provider"
ANSWERED, NO_DATA, REFUSED = "answered", "no_data", "refused"
HUB_CODE = "jlis"


class NotInTable(Forbidden):
    slug = "not-in-exchange-table"
    title_ja = "別表第二に該当する行がありません"
    title_en = "No row of the exchange table allows this"


class UnknownCode(DomainError):
    slug = "unknown-agency-code"
    status = 404
    title_ja = "機関別符号が登録されていません"
    title_en = "Unknown agency-specific code"


# The person behind the requester's code and where the provider is served, in one round trip.
_LINK_AND_ENDPOINT = select(
    select(CodeLink.person_link)
    .where(CodeLink.agency == bindparam("requester"), CodeLink.code == bindparam("code"))
    .scalar_subquery(),
    select(Endpoint.base_url).where(Endpoint.agency == bindparam("provider")).scalar_subquery(),
)
# Both sides of an exchange in one statement: one round trip, no executemany machinery.
_RECORD_PAIR = text(
    f"INSERT INTO {ExchangeRecord.__tablename__} (exchange_id, side, agency, citizen, recorded_at, entry, purged) "
    "VALUES (:exchange_id, :side_a, :agency_a, :citizen, :recorded_at, :entry_a, false), "
    "(:exchange_id, :side_b, :agency_b, :citizen, :recorded_at, :entry_b, false)"
).bindparams(bindparam("recorded_at", type_=DateTime(timezone=True)))


class _Directory:
    """Organisation kinds by code, cached per process: read on every query, changed almost never.

    An unknown code reloads the directory at once (a new organisation is seen immediately); known codes
    are refreshed every few seconds.
    """

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self.kinds: dict[str, str] = {}
        self.loaded = -ttl
        self.lock = threading.Lock()

    def kind(self, session: Session, code: str) -> str | None:
        now = time.monotonic()
        if code not in self.kinds or now - self.loaded > self.ttl:
            rows = session.connection().execute(select(orgs.Organisation.code, orgs.Organisation.kind)).all()
            with self.lock:
                self.kinds = dict(rows)  # type: ignore[arg-type]
                self.loaded = now
        return self.kinds.get(code)


_DIRECTORY = _Directory()


@dataclass(frozen=True)
class Query:
    business: str
    provider: str
    item: str
    subject_code: str
    purpose_reference: str


@dataclass(frozen=True)
class Refused:
    """A refused query: already recorded on both sides; the caller commits, then reports ``error``."""

    error: DomainError
    exchange_id: str


@dataclass(frozen=True)
class Answer:
    exchange_id: str
    result: str
    data: dict[str, Any] | None
    asked_at: dt.datetime
    answered_at: dt.datetime


def citizen_of(person_link: bytes) -> str:
    """The person's pseudonym in records: the same key the registry's access events use."""
    return protection.pseudonym_of_link(person_link)


def code_for(keys: KeyRing, *, agency: str, link: bytes) -> str:
    """``agency``'s code for the person behind the hub's ``link``."""
    return numbers.agency_code(keys, agency=agency, person=link.hex())


def codes_for(keys: KeyRing, *, agency: str, links: list[bytes]) -> list[str]:
    """:func:`code_for` of each link (enrolling a town), as a batch."""
    return numbers.agency_codes(keys, agency=agency, persons=[link.hex() for link in links])


def _canonical(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def record_exchange(
    session: Session,
    *,
    requester: str,
    provider: str,
    query: dict[str, Any],
    citizen: str,
    result: str,
    reason: str,
    asked_at: dt.datetime,
    answered_at: dt.datetime,
) -> str:
    """Append the requester's and the provider's record of one exchange; returns the exchange id."""
    exchange_id = secrets.token_hex(12)
    base = {
        "v": 1,
        "exchange": exchange_id,
        "requester": requester,
        "provider": provider,
        "business": query.get("business"),
        "items": [query.get("item")],
        "purpose": query.get("purpose_reference"),
        "asked_at": asked_at.isoformat(),
        "answered_at": answered_at.isoformat(),
        "result": result,
        "reason": reason,
        "citizen": citizen,
    }
    session.connection().execute(
        _RECORD_PAIR,
        {
            "exchange_id": exchange_id,
            "citizen": citizen,
            "recorded_at": answered_at,
            "side_a": REQUESTER,
            "agency_a": requester,
            "entry_a": _canonical({**base, "side": REQUESTER}),
            "side_b": PROVIDER,
            "agency_b": provider,
            "entry_b": _canonical({**base, "side": PROVIDER}),
        },
    )
    return exchange_id


def _provider_for(session: Session, *, keys: KeyRing, base_url: str | None, cache: dict[str, Provider]) -> Provider:
    if base_url is None:
        return cache.setdefault("", InProcessProvider())
    provider = cache.get(base_url)
    if provider is None:
        provider = HttpProvider(
            base_url=base_url, hub_code=HUB_CODE, hub_private_pem=hub_private_key(session, keys, HUB_CODE)
        )
        cache[base_url] = provider
    return provider


def ask(
    session: Session,
    *,
    keys: KeyRing,
    table: ExchangeTable,
    requester: str,
    query: Query,
    providers: dict[str, Provider],
) -> Answer | Refused:
    """Check the row, translate the code, ask the provider; every outcome is recorded before returning.

    A refusal comes back as :class:`Refused` (not raised), so the caller commits its records before
    reporting the error: refusals are recorded, and never partly answered.
    """
    asked_at = clock.now()
    raw = {"business": query.business, "item": query.item, "purpose_reference": query.purpose_reference}
    citizen = ""

    def refuse(error: DomainError) -> Refused:
        exchange_id = record_exchange(
            session,
            requester=requester,
            provider=query.provider,
            query=raw,
            citizen=citizen,
            result=REFUSED,
            reason=error.detail,
            asked_at=asked_at,
            answered_at=clock.now(),
        )
        return Refused(error, exchange_id)

    requester_kind = _DIRECTORY.kind(session, requester)
    provider_kind = _DIRECTORY.kind(session, query.provider)
    if requester_kind is None:
        return refuse(Forbidden(f"unknown requester {requester}"))
    if provider_kind is None:
        return refuse(NotFound(f"no provider organisation {query.provider!r}", field="provider"))
    for label, value, known in (("business", query.business, table.businesses), ("item", query.item, table.items)):
        if value not in known:
            return refuse(InvalidInput(f"{label} {value!r} is not in the exchange table", field=label))
    row = table.find_row(
        requester_kind=requester_kind, business=query.business, provider_kind=provider_kind, item=query.item
    )
    if row is None:
        return refuse(
            NotInTable(
                f"no row allows requester {requester} ({requester_kind}) to ask {query.provider} "
                f"({provider_kind}) for {query.item} in business {query.business}",
                missing_row={
                    "requester_kind": requester_kind,
                    "business": query.business,
                    "provider_kind": provider_kind,
                    "item": query.item,
                },
            )
        )
    link, base_url = (
        session.connection()
        .execute(_LINK_AND_ENDPOINT, {"requester": requester, "code": query.subject_code, "provider": query.provider})
        .one()
    )
    if link is None:
        return refuse(
            UnknownCode(f"{requester} holds no person under code {query.subject_code!r}", field="subject_code")
        )
    citizen = citizen_of(link)
    provider_code = code_for(keys, agency=query.provider, link=bytes(link))
    adapter = _provider_for(session, keys=keys, base_url=base_url, cache=providers)
    try:
        data = adapter.provide(
            session,
            agency=query.provider,
            kind=provider_kind,
            item=query.item,
            business=query.business,
            code=provider_code,
        )
    except DomainError as exc:
        return refuse(exc)
    answered_at = clock.now()
    result = ANSWERED if data is not None else NO_DATA
    exchange_id = record_exchange(
        session,
        requester=requester,
        provider=query.provider,
        query=raw,
        citizen=citizen,
        result=result,
        reason="",  # the row is named by requester, business, provider and item; refusals say why
        asked_at=asked_at,
        answered_at=answered_at,
    )
    return Answer(exchange_id, result, data, asked_at, answered_at)


def answer_locally(session: Session, *, agency: str, item: str, business: str, code: str) -> dict[str, Any] | None:
    """The provider side of the HTTP path: an agency hosted here answers for its own code."""
    provider_org = session.scalar(select(orgs.Organisation).where(orgs.Organisation.code == agency))
    if provider_org is None:
        raise NotFound(f"this server hosts no agency {agency!r}")
    return InProcessProvider().provide(
        session, agency=agency, kind=provider_org.kind, item=item, business=business, code=code
    )


def set_endpoint(session: Session, *, agency: str, base_url: str | None) -> None:
    """Route queries for ``agency`` to a remote server (or back in-process with None)."""
    endpoint = session.get(Endpoint, agency)
    if base_url is None:
        if endpoint is not None:
            session.delete(endpoint)
        return
    if endpoint is None:
        session.add(Endpoint(agency=agency, base_url=base_url))
    else:
        endpoint.base_url = base_url
