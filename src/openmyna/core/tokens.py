"""Self-describing single-use challenges: a nonce, an expiry and a small payload under the platform's MAC
(the portal's card login uses them; the eligibility check was tried on them and measured no faster, so its
challenges stay rows).

A challenge made this way needs no row until it is used: whoever checks it learns from the token itself that
this platform made it, for whom (``bound``: bytes the MAC covers but the token does not carry, such as the
clinic it was issued to), until when, and its payload. Single use is the caller's part: record the used
token's hash under a unique key in the same transaction as the use.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import secrets
import struct
from dataclasses import dataclass

from openmyna.core.crypto import KeyRing

NONCE_BYTES, MAC_BYTES = 12, 16


class UnknownToken(ValueError):
    """The token was not made by this platform for this purpose and binding (or it was altered)."""


@dataclass(frozen=True)
class Claims:
    expires_at: dt.datetime
    payload: bytes


def issue(keys: KeyRing, purpose: str, *, expires_at: dt.datetime, payload: bytes = b"", bound: bytes = b"") -> str:
    """A URL-safe token carrying a fresh nonce, ``expires_at`` (whole seconds) and ``payload``."""
    body = secrets.token_bytes(NONCE_BYTES) + struct.pack(">I", int(expires_at.timestamp())) + payload
    return base64.urlsafe_b64encode(body + keys.mac(purpose, bound + b"|" + body)[:MAC_BYTES]).decode()


def read(keys: KeyRing, purpose: str, token: str, *, bound: bytes = b"") -> Claims:
    """What ``token`` says, or :class:`UnknownToken`; expiry is the caller's to judge (with its own error)."""
    try:
        raw = base64.urlsafe_b64decode(token.encode())
    except (binascii.Error, ValueError):
        raw = b""
    body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if len(body) < NONCE_BYTES + 4 or not hmac.compare_digest(keys.mac(purpose, bound + b"|" + body)[:MAC_BYTES], mac):
        raise UnknownToken("this platform made no such token")
    (expires,) = struct.unpack(">I", body[NONCE_BYTES : NONCE_BYTES + 4])
    return Claims(dt.datetime.fromtimestamp(expires, dt.UTC), body[NONCE_BYTES + 4 :])
