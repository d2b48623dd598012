"""Search by situation: a few answers in, the procedures that apply out, with what each needs.

Pure functions over the in-memory catalogue (no database), so a search over the whole catalogue is a
loop over a few dozen entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from openmyna.eservice.catalogue import Attachment, Catalogue, Entry
from openmyna.eservice.eligibility import Facts, refusal
from openmyna.network.table import ExchangeTable


@dataclass(frozen=True)
class Need:
    """An attachment as the resident sees it: upload it, or not needed (the municipality fetches it) and why."""

    attachment: Attachment
    fetched: bool
    reason_ja: str
    reason_en: str


@dataclass(frozen=True)
class Match:
    entry: Entry
    needs: tuple[Need, ...]


def needs_of(entry: Entry, table: ExchangeTable) -> tuple[Need, ...]:
    """Each attachment with whether the resident must bring it; a fetched one names the data item and the law."""
    needs = []
    business = entry.procedure.business
    for attachment in entry.procedure.attachments:
        if attachment.fetch is None:
            needs.append(Need(attachment, False, "", ""))
            continue
        item = table.items[attachment.fetch.item]
        row = next(
            r for r in table.rows if r.business == business and attachment.fetch.item in r.items
            and r.provider == attachment.fetch.provider
        )  # fmt: skip
        provider = table.roles[row.provider]
        needs.append(
            Need(
                attachment,
                True,
                f"不要です。{provider.name_ja}から情報提供ネットワークで「{item.name_ja}」を取得します（{row.legal_reference}）。",
                f"Not needed: the municipality fetches {item.name_en} from the {provider.name_en} over the "
                f"exchange network ({row.legal_reference}).",
            )
        )
    return tuple(needs)


def search(
    catalogue: Catalogue,
    table: ExchangeTable,
    *,
    municipality: str,
    situations: set[str],
    facts: Facts,
) -> list[Match]:
    """Procedures of ``municipality`` for any of ``situations`` (all when none is given) that ``facts`` allow."""
    found = []
    for entry in catalogue.of(municipality):
        procedure = entry.procedure
        if situations and not situations.intersection(procedure.situations):
            continue
        if refusal(procedure.eligibility, facts, municipality=municipality) is not None:
            continue
        found.append(Match(entry, needs_of(entry, table)))
    return found
