"""How the platform reaches its acquirer, read once at start-up from ``OPENMYNA_PAYMENTS_*`` variables.

Kept beside the payments package (rather than in ``core.config``) because only this menu reads it. Secrets
default to keys derived from the master key, so the bundled sandbox and every platform process agree
without configuration; a real acquirer's key and webhook secret are set in the environment.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing

SANDBOX_PATH = "/sandbox-acquirer"
WEBHOOK_PATH = "/api/payments/webhooks"


class PaymentSettings(BaseSettings):
    """The payment provider and the sandbox acquirer's switches (all optional)."""

    model_config = SettingsConfigDict(env_prefix="OPENMYNA_PAYMENTS_", extra="ignore")

    provider: str = Field(
        default="openmyna.portal.payments.provider:HttpAcquirer",
        description="module:callable building the PaymentProvider from a ProviderConfig",
    )
    acquirer_url: str | None = Field(default=None, description="Acquirer API base (default: the mounted sandbox)")
    api_key: SecretStr | None = Field(default=None, description="Acquirer secret key (default: derived)")
    webhook_secret: SecretStr | None = Field(default=None, description="Webhook signing secret (default: derived)")
    webhook_tolerance_seconds: int = Field(default=300, ge=1, description="Oldest webhook timestamp accepted")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per call to the acquirer")
    sandbox: bool = Field(default=True, description=f"Mount the sandbox acquirer at {SANDBOX_PATH}")
    sandbox_database: Path | None = Field(default=None, description="Sandbox's own SQLite file (default var/)")


def _derive(keys: KeyRing, purpose: str) -> bytes:
    """A sandbox secret from a purpose key of the key ring (the platform and the mounted sandbox agree on it)."""
    return keys.mac(purpose, b"openmyna sandbox acquirer")


@dataclass(frozen=True)
class ProviderConfig:
    """What a provider needs: where its API is, the key to call it, the secret its webhooks are signed with."""

    acquirer_url: str
    api_key: str
    webhook_secret: str
    webhook_tolerance_seconds: int
    timeout_seconds: float


def resolve(payments: PaymentSettings, settings: Settings, keys: KeyRing) -> ProviderConfig:
    """Fill the defaults: the mounted sandbox on this server, secrets derived from the master key."""
    return ProviderConfig(
        acquirer_url=(payments.acquirer_url or settings.base_url.rstrip("/") + SANDBOX_PATH).rstrip("/"),
        api_key=payments.api_key.get_secret_value()
        if payments.api_key
        else "sk_test_" + _derive(keys, "payments/sandbox-api-key/v1").hex(),
        webhook_secret=(
            payments.webhook_secret.get_secret_value()
            if payments.webhook_secret
            else "whsec_" + base64.b64encode(_derive(keys, "payments/sandbox-webhook-secret/v1")).decode()
        ),
        webhook_tolerance_seconds=payments.webhook_tolerance_seconds,
        timeout_seconds=payments.timeout_seconds,
    )
