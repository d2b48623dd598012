"""The citizen's view of the exchange record (やりとり履歴): plain language, with inclusion proofs."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import Session

from openmyna.network import completeness, log
from openmyna.network.models import ExchangeRecord
from openmyna.network.service import PROVIDER, REQUESTER
from openmyna.network.table import ExchangeTable
from openmyna.orgs import service as orgs


@dataclass(frozen=True)
class HistoryPage:
    total: int
    tree_head: dict[str, object] | None
    items: list[dict[str, Any]]
    completeness: dict[str, Any] | None


def _names(session: Session, codes: set[str]) -> dict[str, tuple[str, str]]:
    rows = session.execute(
        select(orgs.Organisation.code, orgs.Organisation.name, orgs.Organisation.name_en).where(
            orgs.Organisation.code.in_(codes)
        )
    )
    return {code: (name, name_en or name) for code, name, name_en in rows}


def history(
    session: Session,
    *,
    table: ExchangeTable,
    citizen: str,
    lang: str = "ja",
    limit: int = 20,
    offset: int = 0,
    where: Sequence[ColumnElement[bool]] = (),
) -> HistoryPage:
    """The citizen's exchanges, newest first; each record comes with its leaf index and audit path, and the
    page with the proof that nothing newer or in between was left out (:func:`completeness.page_proof`).

    ``where`` narrows the requester-side records listed (the portal's period and agency filters)."""
    if isinstance(session.bind, Engine) and session.bind.dialect.name == "postgresql":
        # The head, the records and the map from one snapshot. (A session bound to a connection, as in the
        # tests, keeps that connection's transaction.)
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    total = (
        session.scalar(
            select(func.count())
            .select_from(ExchangeRecord)
            .where(ExchangeRecord.citizen == citizen, ExchangeRecord.side == REQUESTER, *where)
        )
        or 0
    )
    requests = session.execute(
        select(ExchangeRecord.exchange_id, ExchangeRecord.leaf_index, ExchangeRecord.entry)
        .where(ExchangeRecord.citizen == citizen, ExchangeRecord.side == REQUESTER, *where)
        # Newest first by place in the log (records still pending first); the row id is only a handle, not
        # under any signature, so nothing shown may depend on it.
        .order_by(ExchangeRecord.leaf_index.desc().nulls_first(), ExchangeRecord.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    exchange_ids = [r.exchange_id for r in requests]
    provider_records = {
        r.exchange_id: (r.leaf_index, r.entry)
        for r in session.execute(
            select(ExchangeRecord.exchange_id, ExchangeRecord.leaf_index, ExchangeRecord.entry).where(
                ExchangeRecord.exchange_id.in_(exchange_ids), ExchangeRecord.side == PROVIDER
            )
        )
    }
    head = log.latest_head(session)
    size = head.tree_size if head else 0
    leaves = [
        leaf
        for r in requests
        for leaf in (r.leaf_index, provider_records.get(r.exchange_id, (None,))[0])
        if leaf is not None and leaf < size
    ]
    proofs = log.inclusion_proofs(session, leaves, size) if leaves else {}
    entries = [json.loads(r.entry) for r in requests]
    names = _names(session, {e["requester"] for e in entries} | {e["provider"] for e in entries})
    index = 1 if lang == "en" else 0
    items = []
    for request, entry in zip(requests, entries, strict=True):
        provider_leaf, provider_entry = provider_records.get(request.exchange_id, (None, None))

        business = table.businesses.get(entry["business"])
        item_names = [
            getattr(table.items[i], "name_en" if index else "name_ja") if i in table.items else i
            for i in entry["items"]
        ]
        requester_name = names.get(entry["requester"], (entry["requester"],) * 2)[index]
        provider_name = names.get(entry["provider"], (entry["provider"],) * 2)[index]
        business_name = (business.name_en if index else business.name_ja) if business else entry["business"]
        items.append(
            {
                "exchange_id": entry["exchange"],
                "asked_at": entry["asked_at"],
                "answered_at": entry["answered_at"],
                "requester": {"code": entry["requester"], "name": requester_name},
                "provider": {"code": entry["provider"], "name": provider_name},
                "business": {"code": entry["business"], "name": business_name},
                "items": [{"code": code, "name": name} for code, name in zip(entry["items"], item_names, strict=True)],
                "result": entry["result"],
                "purpose_reference": entry["purpose"],
                "summary": _summary(lang, requester_name, provider_name, business_name, item_names, entry["result"]),
                "records": [
                    _proof(request.leaf_index, REQUESTER, request.entry, size, proofs),
                    _proof(provider_leaf, PROVIDER, provider_entry, size, proofs),
                ],
            }
        )
    proof = completeness.page_proof(session, citizen, size, leaves) if head and head.map_root is not None else None
    return HistoryPage(total, log.head_json(head) if head else None, items, proof)


def _proof(leaf: int | None, side: str, entry: str | None, size: int, proofs: dict[int, list[bytes]]) -> dict[str, Any]:
    """One record of the exchange: the exact bytes hashed into the log and the path to the signed root."""
    if leaf is None or leaf >= size:
        return {"side": side, "leaf_index": leaf, "status": "pending", "entry": entry, "audit_path": []}
    return {
        "side": side,
        "leaf_index": leaf,
        "status": "included",
        "entry": entry,
        "audit_path": [base64.b64encode(h).decode() for h in proofs[leaf]],
    }


def _summary(lang: str, requester: str, provider: str, business: str, items: list[str], result: str) -> str:
    if lang == "en":
        outcome = {"answered": "answered", "no_data": "had no data", "refused": "refused"}[result]
        return f"{requester} asked {provider} for {', '.join(items)} for {business}; {outcome}."
    outcome = {
        "answered": "提供されました",
        "no_data": "該当する情報はありませんでした",
        "refused": "照会は認められませんでした",
    }[result]
    return f"{requester}が{business}のため、{provider}に{'・'.join(items)}を照会し、{outcome}。"
