"""The login APIs: the card on this computer (challenge, then signature) and the QR code's phone side.

Browser calls carry the session cookie and the form's CSRF token in ``X-CSRF-Token``. The phone app's
calls to ``/portal/qr/{token}`` carry no cookie: the card's signature is what authenticates them, and the
browser that showed the code is the only one that can turn it into a session.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi import Path as Path_
from pydantic import Field

from openmyna.core.errors import InvalidInput
from openmyna.core.validation import SafeText, StrictModel
from openmyna.core.web import AppSettings, DbSession, Keys, UnitOfWorkRoute, check_csrf, render
from openmyna.jpki.api import responder
from openmyna.portal.auth import login
from openmyna.portal.auth.web import finish, forget, held, remember, safe_next

router = APIRouter(route_class=UnitOfWorkRoute, tags=["portal"])
MAX_B64 = 8192
TOKEN = r"^[A-Za-z0-9_-]{20,64}$"


class CardLoginIn(StrictModel):
    challenge: str = Field(max_length=MAX_B64, description="base64 of the challenge, as issued")
    certificate: str = Field(max_length=MAX_B64, description="base64 of the card's authentication certificate (DER)")
    signature: str = Field(max_length=MAX_B64, description="base64 of the RSASSA-PKCS1-v1_5/SHA-256 signature")
    next: SafeText = Field(default="/portal", max_length=2000)


class SignedIn(StrictModel):
    certificate: str = Field(max_length=MAX_B64)
    signature: str = Field(max_length=MAX_B64)


class QrChallengeOut(StrictModel):
    challenge: str = Field(description="base64 of the bytes the card signs (they name the site)")
    expires_at: str
    site: str


class FailureIn(StrictModel):
    failure: Literal["wrong-pin", "locked"]
    tries_left: int | None = Field(default=None, ge=0, le=16)


def _csrf(request: Request, token: str | None) -> None:
    check_csrf(request, token)


def _purpose(value: str) -> login.Purpose:
    if value not in ("login", "reauth"):
        raise InvalidInput("purpose is login or reauth", field="purpose")
    return value  # type: ignore[return-value]


@router.post("/api/portal/login/card/challenge")
async def card_challenge(
    request: Request,
    keys: Keys,
    settings: AppSettings,
    x_csrf_token: Annotated[str | None, Header(max_length=128)] = None,
    purpose: str = "login",
) -> dict[str, Any]:
    """A fresh single-use challenge (2 minutes) for the card reader to sign, bound to this browser (by its
    signed session cookie; no database work, so no thread: see ``login.card_challenge``)."""
    _csrf(request, x_csrf_token)
    opened = login.card_challenge(keys, purpose=_purpose(purpose))
    remember(request, "card", opened.token, opened.browser_secret)
    challenge = login.challenge_bytes(settings.base_url, opened.token)
    return {"challenge": base64.b64encode(challenge).decode(), "expires_at": opened.expires_at.isoformat()}


@router.post("/api/portal/login/card")
def card_login(
    body: CardLoginIn,
    request: Request,
    db: DbSession,
    keys: Keys,
    settings: AppSettings,
    x_csrf_token: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, str]:
    """Check the card's signature over this browser's challenge, then start (or refresh) the session."""
    _csrf(request, x_csrf_token)
    challenge = login.b64decode(body.challenge, field="challenge")
    token = login.token_of(settings.base_url, challenge)
    identity = login.sign_in_here(
        db,
        keys=keys,
        responder=responder(request),
        site=settings.base_url,
        token=token,
        held=held(request, "card"),
        certificate_b64=body.certificate,
        signature_b64=body.signature,
    )
    forget(request, "card")
    finish(request, db, identity, settings=settings)
    return {"next": safe_next(body.next)}


@router.get("/api/portal/login/qr/status")
def qr_status(request: Request, db: DbSession) -> dict[str, Any]:
    """Where this browser's QR login stands: pending, signed (continue now), expired, failed, done."""
    mine = held(request, "qr")
    if mine is None:
        raise login.LoginUnknown("this browser has no QR login in progress")
    found = login.status(db, token=mine[0], browser_secret=mine[1])
    return {
        "state": found.state,
        "failure": found.failure,
        "tries_left": found.tries_left,
        "expires_at": found.expires_at.isoformat(),
    }


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.get(
    "/portal/qr/{token}",
    response_model=QrChallengeOut,
    responses={200: {"content": {"text/html": {}}, "description": "JSON for the app; a short page for a person"}},
)
def qr_challenge(
    token: Annotated[str, Path_(pattern=TOKEN)], request: Request, db: DbSession, settings: AppSettings
) -> Any:
    """The phone app's first step: the bytes to sign with the card (JSON); a person gets a short page."""
    if not _wants_json(request):
        return render(request, "portal/qr_app.html", {})
    challenge, expires = login.challenge_for(db, token=token, site=settings.base_url)
    return {
        "challenge": base64.b64encode(challenge).decode(),
        "expires_at": expires.isoformat(),
        "site": settings.base_url.rstrip("/"),
    }


@router.post("/portal/qr/{token}")
def qr_sign(
    token: Annotated[str, Path_(pattern=TOKEN)], body: SignedIn, request: Request, db: DbSession, settings: AppSettings
) -> dict[str, str]:
    """The phone app's second step: the certificate and the signature; the waiting browser then continues."""
    login.sign_in(
        db,
        responder=responder(request),
        site=settings.base_url,
        token=token,
        certificate=login.b64decode(body.certificate, field="certificate"),
        signature=login.b64decode(body.signature, field="signature"),
        method="qr",
    )
    return {"state": "signed"}


@router.post("/portal/qr/{token}/failure")
def qr_failure(token: Annotated[str, Path_(pattern=TOKEN)], body: FailureIn, db: DbSession) -> dict[str, str]:
    """The phone app reports that the chip refused the PIN, so the waiting page can say so."""
    login.report_failure(db, token=token, failure=body.failure, tries_left=body.tries_left)
    return {"state": "failed" if body.failure == "locked" else "pending"}
