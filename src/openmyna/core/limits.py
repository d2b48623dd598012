"""Request-body bounds enforced before routing: a size cap (413) and, for JSON, a nesting cap (400).

Both are answered as problem+json without the body reaching a route: an oversized body is never read past
the cap, and a deeply nested one never reaches a recursive parser (Python's ``json`` fails with a
RecursionError, not a ValueError).
"""

from __future__ import annotations

import re
from itertools import accumulate, count
from operator import sub

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmyna.core.errors import DomainError, problem

DEFAULT_MAX_BYTES = 1 << 20
DEFAULT_MAX_DEPTH = 32
# A JSON string (brackets inside it do not nest), or one bracket.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
# An opening bracket steps the running sum by 2 and a closing one by 0, so depth = sum - position.
_STEPS = bytes.maketrans(_BRACKETS, b"\x02\x00\x02\x00")


class BodyTooLarge(DomainError):
    slug = "body-too-large"
    status = 413
    title_ja = "要求の本文が大きすぎます"
    title_en = "Request body too large"


class NestedTooDeep(DomainError):
    slug = "json-too-deep"
    status = 400
    title_ja = "JSON の入れ子が深すぎます"
    title_en = "JSON nested too deeply"


def json_depth(body: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (0 for a scalar), in C-speed passes."""
    shape = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS).translate(_STEPS)
    return max(map(sub, accumulate(shape), count(1)), default=0)


def too_deep(body: bytes, limit: int = DEFAULT_MAX_DEPTH) -> bool:
    """Whether ``body`` nests deeper than ``limit`` (cheap when it has no more brackets than that)."""
    return body.count(b"[") + body.count(b"{") > limit and json_depth(body) > limit


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimits:
    """Pure ASGI middleware: reads a request's body up to ``max_bytes`` and hands it on, or answers first.

    A declared ``Content-Length`` over the cap is refused before any byte is read; a chunked body is
    refused as soon as it passes the cap, so no more than ``max_bytes`` is ever held.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, self._too_large(declared))
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body: there is no one to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, self._too_large(size))
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if _is_json(scope) and too_deep(body, self.max_depth):
            error = NestedTooDeep(f"the JSON body nests deeper than {self.max_depth} levels")
            await self._refuse(scope, receive, send, error)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body, only http.disconnect is left to wait for
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self, size: int) -> BodyTooLarge:
        return BodyTooLarge(f"the body is larger than {self.max_bytes} bytes (at least {size})")

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: DomainError) -> None:
        response = problem(
            status=error.status,
            slug=error.slug,
            title=error.title_en,
            title_ja=error.title_ja,
            detail=error.detail,
            **error.extensions,
        )
        await response(scope, receive, send)
