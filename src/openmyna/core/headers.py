"""Security headers on every response: a strict Content-Security-Policy, nosniff, no referrer; HSTS over https.

A pure ASGI middleware, so it costs a few header tuples per response and never touches the body, except
on the API documentation pages: FastAPI's Swagger UI starts with an inline script and both pages load
their assets from a CDN, so those pages get a policy of their own that admits the CDN and exactly the
inline scripts the page carries (by SHA-256, computed from the page served). When the platform is served
over https, every ``Set-Cookie`` is marked ``Secure`` and ``Strict-Transport-Security`` is sent.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'none'; script-src https://cdn.jsdelivr.net{scripts}; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"


_COMMON = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def script_hashes(html: bytes) -> list[str]:
    """CSP sources (``'sha256-…'``) for each inline script of a page."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


class SecurityHeaders:
    """Adds the headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, *, https: bool, docs_paths: Iterable[str | None] = ()) -> None:
        self.app = app
        self.https = https
        self.docs_paths = frozenset(path for path in docs_paths if path)
        self._transport = [(b"strict-transport-security", HSTS.encode())] if https else []
        self._page = self._added(PAGE_POLICY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] in self.docs_paths:
            await self._docs(scope, receive, send)
        else:

            async def send_secured(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = self._secured(message.get("headers", []), self._page)
                await send(message)

            await self.app(scope, receive, send_secured)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold the (small) documentation page back until its inline scripts are hashed into its policy."""
        start: Message = {}
        body: list[bytes] = []

        async def send_hashed(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or not start:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = b"".join(body)
            policy = DOCS_POLICY.format(scripts="".join(" " + source for source in script_hashes(page)))
            await send({**start, "headers": self._secured(start.get("headers", []), self._added(policy))})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, send_hashed)

    def _added(self, policy: str) -> list[tuple[bytes, bytes]]:
        return [(b"content-security-policy", policy.encode()), *_COMMON, *self._transport]

    def _secured(
        self, headers: Iterable[tuple[bytes, bytes]], added: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """The response's headers, its cookies Secure over https, plus each of ``added`` it does not set."""
        result = list(headers)
        if self.https:
            result = [(name, _secure(value) if name.lower() == b"set-cookie" else value) for name, value in result]
        present = {name.lower() for name, _ in result}
        result.extend(header for header in added if header[0] not in present)
        return result


def _secure(cookie: bytes) -> bytes:
    """A ``Set-Cookie`` value with the ``Secure`` attribute (browsers then send it over https only)."""
    if any(part.strip().lower() == b"secure" for part in cookie.split(b";")[1:]):
        return cookie
    return cookie + b"; Secure"


def allow_connect(response: Any, origin: str) -> Any:
    """The page policy plus ``connect-src`` to one more origin (the local card reader), for the pages that use it."""
    response.headers["content-security-policy"] = PAGE_POLICY + f"; connect-src 'self' {origin.rstrip('/')}"
    return response
