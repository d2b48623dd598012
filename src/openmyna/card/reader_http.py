"""A small local HTTP endpoint in front of a :class:`Reader`, for web pages that log in with the card.

It plays the part of the card-reader software on the holder's computer: a page on an allowed origin
fetches the authentication certificate and asks for a challenge signature; the PIN is typed into that
page and sent only to this loopback endpoint. Serve it with ``openmyna card reader-serve``.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel, Field

from openmyna.card.reader import Reader
from openmyna.core.errors import InvalidInput, install_problem_handlers

MAX_CHALLENGE = 1024


class SignRequest(BaseModel):
    challenge: str = Field(max_length=2 * MAX_CHALLENGE, description="base64 of the bytes to sign")
    pin: str = Field(max_length=16)
    kind: str = Field(default="auth", pattern="^(auth|sign)$")
    prehashed: bool = Field(default=False, description="The challenge is a SHA-256 digest to sign as is (documents)")


class CertificateRequest(BaseModel):
    kind: str = Field(pattern="^(auth|sign)$")
    pin: str | None = Field(default=None, max_length=16, description="Needed for the signing certificate")


def create_reader_app(reader: Reader, *, allowed_origins: list[str]) -> FastAPI:
    """The endpoint for one inserted card; CORS admits only ``allowed_origins`` (e.g. the portal)."""
    app = FastAPI(title="openmyna card reader", docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware, allow_origins=allowed_origins, allow_methods=["GET", "POST"], allow_headers=["Content-Type"]
    )
    install_problem_handlers(app)

    @app.get("/reader/certificate")
    def certificate() -> dict[str, str]:
        """The authentication certificate (no PIN needed), base64 of DER."""
        return {"certificate": base64.b64encode(reader.certificate("auth")).decode()}

    @app.post("/reader/certificate")
    def certificate_of_kind(body: CertificateRequest) -> dict[str, str]:
        """A certificate of either kind; the signing one (it carries the four facts) needs its PIN."""
        return {"certificate": base64.b64encode(reader.certificate(body.kind, pin=body.pin)).decode()}  # type: ignore[arg-type]

    @app.post("/reader/sign")
    def sign(body: SignRequest) -> dict[str, str | int]:
        """Sign a challenge with the card's key after the chip checks the PIN."""
        try:
            challenge = base64.b64decode(body.challenge, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput("challenge: not base64") from exc
        if not challenge:
            raise InvalidInput("challenge: empty")
        if body.prehashed:  # a document's digest (an application's CMS signed attributes): 32 bytes, signed as is
            signature = reader.sign(body.kind, body.pin, digest=challenge)  # type: ignore[arg-type]
        else:
            signature = reader.sign(body.kind, body.pin, data=challenge)  # type: ignore[arg-type]
        return {"signature": base64.b64encode(signature).decode(), "tries_left": reader.tries_left(body.kind)}  # type: ignore[arg-type]

    return app
