"""The phone app's side of the QR login (``openmyna card app-login URL --card ID --pin PIN``).

It does what the Mynaportal app does after reading the code: fetch the challenge behind the URL, have
the card sign it with its authentication key (the chip checks and counts the PIN), and post the
certificate and signature back. A wrong or locked PIN is reported to the server too, so the waiting
page can say so.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import typer
from rich.console import Console

from openmyna.card.chip import ChipError, PinLocked, WrongPin
from openmyna.card.reader import Reader
from openmyna.core.errors import DomainError

_PATH = re.compile(r"^/portal/qr/[A-Za-z0-9_-]{20,64}$")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


def _reason(response: httpx.Response) -> str:
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return f"{body.get('title', response.status_code)}: {body.get('detail', '')}".rstrip(": ")


def check_url(url: str) -> str | None:
    """Why ``url`` is not a login URL of a portal, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or not _PATH.match(parts.path):
        return "not a portal login URL (expected http(s)://HOST/portal/qr/TOKEN)"
    return None


def app_login(url: str, *, reader: Reader, pin: str, http: httpx.Client) -> Outcome:
    """Complete the QR login behind ``url`` with the card in ``reader``."""
    problem = check_url(url)
    if problem:
        return Outcome(False, problem)
    asked = http.get(url, headers={"Accept": "application/json"})
    if asked.status_code != 200:
        return Outcome(False, _reason(asked))
    challenge, site = base64.b64decode(asked.json()["challenge"]), asked.json().get("site", "")
    try:
        certificate = reader.certificate("auth")
        signature = reader.sign("auth", pin, data=challenge)
    except WrongPin as exc:
        tries = exc.extensions.get("tries_left")
        http.post(url + "/failure", json={"failure": "wrong-pin", "tries_left": tries})
        return Outcome(False, f"Wrong PIN: {tries} tries left")
    except PinLocked:
        http.post(url + "/failure", json={"failure": "locked", "tries_left": 0})
        return Outcome(False, "PIN locked: have it reset at the municipal counter")
    except (ChipError, DomainError) as exc:
        return Outcome(False, f"{exc.title_en}: {exc.detail}")
    sent = http.post(
        url,
        json={"certificate": base64.b64encode(certificate).decode(), "signature": base64.b64encode(signature).decode()},
    )
    if sent.status_code != 200:
        return Outcome(False, _reason(sent))
    return Outcome(True, f"Logged in to {site}: the browser that shows the code continues by itself")


def command(
    url: str = typer.Argument(..., help="The login URL the QR code holds (the page's #login-url)"),
    card: int = typer.Option(..., help="Card id (the card held to the phone)"),
    pin: str = typer.Option(..., help="The 4-digit PIN of the authentication certificate"),
) -> None:
    """Play the Mynaportal phone app: sign a QR login with the card; exit 0, or 1 with the reason."""
    from openmyna.card.reader import VirtualReader
    from openmyna.core.context import open_context

    context = open_context()
    with httpx.Client(timeout=10, trust_env=False) as http:
        try:
            reader = VirtualReader(context.session_factory, context.keys, card)
            outcome = app_login(url, reader=reader, pin=pin, http=http)
        except httpx.HTTPError as exc:
            outcome = Outcome(False, f"cannot reach the portal: {exc}")
    if outcome.ok:
        Console().print(outcome.message)
        return
    Console(stderr=True).print(f"[red]{outcome.message}[/red]")
    raise typer.Exit(1)
