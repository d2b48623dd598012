"""Signed webhooks as the Standard Webhooks specification (standardwebhooks.com) defines them.

Headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA-256 over ``id.timestamp.body`` with the shared secret). The receiver checks the
signature in constant time and refuses a timestamp outside its tolerance, so a captured message cannot be
replayed later; within the tolerance the event id is applied once (``service.apply_webhook``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from openmyna.core.errors import DomainError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class BadWebhook(DomainError):
    """A webhook whose signature, timestamp or headers do not verify: nothing is applied."""

    slug = "bad-webhook"
    status = 400
    title_ja = "Webhook の署名を確認できません"
    title_en = "The webhook does not verify"


def _secret_bytes(secret: str) -> bytes:
    """A ``whsec_``-prefixed secret is base64 of the key (the specification's form); any other is used as is."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError as exc:
            raise ValueError("a whsec_ webhook secret must be base64") from exc
    return secret.encode()


def signature(secret: str, *, event_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,…`` signature of one message."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign(secret: str, *, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a sender adds to ``body``."""
    return {
        ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, event_id=event_id, timestamp=timestamp, body=body),
    }


def verify(secret: str, *, headers: Mapping[str, str], body: bytes, now: float, tolerance_seconds: int) -> str:
    """Check a received webhook; returns its event id, or raises :class:`BadWebhook` saying why."""
    event_id = headers.get(ID_HEADER, "")
    raw_timestamp = headers.get(TIMESTAMP_HEADER, "")
    offered = headers.get(SIGNATURE_HEADER, "")
    if not event_id or len(event_id) > 64 or not event_id.isascii() or not event_id.isprintable():
        raise BadWebhook("webhook-id is missing or malformed")
    if not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise BadWebhook("webhook-timestamp is missing or not Unix seconds")
    timestamp = int(raw_timestamp)
    if abs(now - timestamp) > tolerance_seconds:
        raise BadWebhook(f"webhook-timestamp is more than {tolerance_seconds} s from now (a replay or a bad clock)")
    expected = signature(secret, event_id=event_id, timestamp=timestamp, body=body)
    # The header may carry several space-separated signatures (secret rotation); one must match.
    if not any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in offered.split()[:8]):
        raise BadWebhook("webhook-signature does not match the body with the shared secret")
    return event_id
