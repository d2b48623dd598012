"""Wire F 公金決済 into an application: its settings, its provider, its routes and the mounted sandbox."""

from __future__ import annotations

from fastapi import FastAPI

from openmyna.portal.payments import api, views
from openmyna.portal.payments.config import SANDBOX_PATH, PaymentSettings, resolve
from openmyna.portal.payments.provider import load_provider
from openmyna.portal.payments.sandbox import sandbox_for


def install(app: FastAPI, payments: PaymentSettings | None = None) -> None:
    """Add the payee API, the webhook endpoint, the resident's pages and (unless disabled) the sandbox."""
    payments = payments or PaymentSettings()
    configure(app, payments)
    app.include_router(api.router)
    app.include_router(views.router)
    if payments.sandbox:
        app.mount(SANDBOX_PATH, sandbox_for(app.state.settings, app.state.keys, payments))


def configure(app: FastAPI, payments: PaymentSettings) -> None:
    """(Re)build the provider from ``payments`` (tests point it at a sandbox of their own)."""
    previous = getattr(app.state, "payments_provider", None)
    if previous is not None:
        previous.close()
    config = resolve(payments, app.state.settings, app.state.keys)
    app.state.payments_config = config
    app.state.payments_provider = load_provider(payments.provider, config)
