"""Request and answer bodies of the notice APIs (sending, job status, delivery copies)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from openmyna.core.timefmt import UtcDateTime
from openmyna.core.validation import Id, MultilineText, SafeText, StrictModel

NoticeKind = Literal["deadline_reminder", "decision", "payment_request", "general"]
MAX_LISTED_RESIDENTS = 10_000


class ResidentsSelection(StrictModel):
    """Named residents (one or more registry record ids)."""

    kind: Literal["residents"]
    resident_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_LISTED_RESIDENTS)]


class TownSelection(StrictModel):
    """Every current resident of the caller's municipality."""

    kind: Literal["town"]
    municipality_code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class HouseholdsWithChildSelection(StrictModel):
    """The head of every current household of the municipality with a member younger than ``under_age``.

    For example the households due for 児童手当の現況届 (children under 15 on the date).
    """

    kind: Literal["households_with_child"]
    municipality_code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    under_age: Annotated[int, Field(strict=True, ge=1, le=30)]
    as_of: dt.date | None = None


Selection = Annotated[ResidentsSelection | TownSelection | HouseholdsWithChildSelection, Field(discriminator="kind")]


class NoticeContent(StrictModel):
    """What the notice says; the same for every recipient of one send."""

    kind: NoticeKind
    title: Annotated[SafeText, Field(min_length=1, max_length=200)]
    body: Annotated[MultilineText, Field(min_length=1, max_length=4000)]
    due_date: dt.date | None = None


class SendRequest(StrictModel):
    """A send: the content and to whom."""

    notice: NoticeContent
    to: Selection


class SendJobOut(BaseModel):
    """A send's job as its sender sees it: how far the fan-out came and how it ended."""

    id: int
    status: Literal["queued", "running", "done", "failed"]
    selection: dict[str, object]
    kind: NoticeKind
    title: str
    created_count: int
    mail_count: int
    attempts: int
    last_error: str
    created_at: UtcDateTime
    finished_at: UtcDateTime | None


class DeliveryFetch(StrictModel):
    """Ask for the next copies not yet handed to this delivery service."""

    limit: Annotated[int, Field(strict=True, ge=1, le=500)] = 100


class DeliveredCopy(BaseModel):
    """A copy of one notice for a delivery service; ``recipient`` is the person's reference at that service."""

    delivery_id: int
    recipient: str
    kind: NoticeKind
    sender: str
    title: str
    body: str
    due_date: dt.date | None
    sent_at: UtcDateTime


class DeliveryBatch(BaseModel):
    copies: list[DeliveredCopy]


class UnreadCount(BaseModel):
    unread: int
