"""The payment-provider interface, and its implementation over an acquirer's HTTP API (the sandbox's shape).

A provider authorises an amount on a card and captures it, issues Pay-easy numbers (paid later at a bank,
reported by webhook), refunds in full or in part, and verifies the webhooks it sends. Every call carries an
idempotency key: the same key gets the same answer however often it is sent, so a retry after a lost answer
never charges twice. Another acquirer is plugged in by naming a ``module:callable`` in
``OPENMYNA_PAYMENTS_PROVIDER`` that takes a :class:`ProviderConfig`.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from openmyna.core.errors import DomainError
from openmyna.portal.payments import webhooks
from openmyna.portal.payments.config import ProviderConfig

AuthorisationStatus = Literal["authorised", "declined"]


class ProviderUnavailable(DomainError):
    """The acquirer did not answer, or answered with an error: nothing is known to have been charged."""

    slug = "acquirer-unavailable"
    status = 502
    title_ja = "決済事業者に接続できません。しばらくしてからもう一度お試しください"
    title_en = "The payment provider could not be reached; try again shortly"


class ProviderBusy(ProviderUnavailable):
    """The acquirer is still working on the same idempotency key (a concurrent duplicate)."""

    slug = "acquirer-busy"
    status = 409
    title_ja = "お支払いを処理中です。しばらくしてから画面を更新してください"
    title_en = "The payment is being processed; refresh in a moment"


@dataclass(frozen=True)
class Card:
    """Card details as typed by the payer; passed through to the acquirer, never stored or logged."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str

    def __repr__(self) -> str:
        return f"Card(last4={self.number[-4:]!r})"


@dataclass(frozen=True)
class Authorisation:
    payment_id: str
    status: AuthorisationStatus
    amount: int
    card_brand: str
    card_last4: str
    decline_code: str = ""


@dataclass(frozen=True)
class PayeasyInstruction:
    """Pay-easy numbers the payer keys in at a bank (``status`` ``declined`` with a code when refused)."""

    payment_id: str
    status: Literal["pending", "declined"]
    institution_number: str
    customer_number: str
    confirmation_number: str
    expires_at: dt.datetime | None
    decline_code: str = ""


@dataclass(frozen=True)
class Capture:
    payment_id: str
    amount: int


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    payment_id: str
    amount: int


@dataclass(frozen=True)
class WebhookEvent:
    """A verified event: ``payment.settled`` or ``refund.settled`` with the acquirer's ids."""

    id: str
    type: str
    payment_id: str
    refund_id: str
    amount: int


class PaymentProvider(Protocol):
    """What the platform needs of an acquirer (card and Pay-easy acquirers alike)."""

    def authorise(self, *, amount: int, card: Card, reference: str, idempotency_key: str) -> Authorisation: ...

    def capture(self, *, payment_id: str, amount: int, idempotency_key: str) -> Capture: ...

    def request_payeasy(self, *, amount: int, reference: str, idempotency_key: str) -> PayeasyInstruction: ...

    def refund(self, *, payment_id: str, amount: int, idempotency_key: str) -> RefundResult: ...

    def verify_webhook(self, *, headers: Mapping[str, str], body: bytes, now: float) -> WebhookEvent: ...

    def close(self) -> None: ...


class HttpAcquirer:
    """A :class:`PaymentProvider` over the sandbox acquirer's JSON API (``docs/portal-payments.md``)."""

    def __init__(self, config: ProviderConfig, *, transport: httpx.BaseTransport | None = None) -> None:
        self._config = config
        self._client = httpx.Client(
            base_url=config.acquirer_url,
            headers={"Authorization": f"Bearer {config.api_key}"},
            timeout=config.timeout_seconds,
            trust_env=False,
            transport=transport,
        )

    def _post(self, path: str, body: dict[str, Any], idempotency_key: str) -> tuple[int, dict[str, Any]]:
        try:
            response = self._client.post(path, json=body, headers={"Idempotency-Key": idempotency_key})
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the acquirer did not answer: {type(exc).__name__}") from exc
        try:
            answer = response.json()
        except json.JSONDecodeError as exc:
            raise ProviderUnavailable(f"the acquirer answered {response.status_code} without JSON") from exc
        if response.status_code == 409:
            raise ProviderBusy("the acquirer is still processing this idempotency key")
        if response.status_code >= 500 or response.status_code in (400, 401, 403, 404, 422):
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            raise ProviderUnavailable(f"the acquirer refused the call ({response.status_code}: {error.get('code')})")
        return response.status_code, answer

    def authorise(self, *, amount: int, card: Card, reference: str, idempotency_key: str) -> Authorisation:
        body = {
            "amount": amount,
            "currency": "jpy",
            "reference": reference,
            "capture": False,
            "card": {"number": card.number, "exp_month": card.exp_month, "exp_year": card.exp_year, "cvc": card.cvc},
        }
        status, answer = self._post("/v1/payments", body, idempotency_key)
        payment = answer["payment"] if status == 402 else answer
        return Authorisation(
            payment_id=str(payment["id"]),
            status="declined" if status == 402 else "authorised",
            amount=int(payment["amount"]),
            card_brand=str(payment["card"]["brand"]),
            card_last4=str(payment["card"]["last4"]),
            decline_code=str(answer["error"]["code"]) if status == 402 else "",
        )

    def request_payeasy(self, *, amount: int, reference: str, idempotency_key: str) -> PayeasyInstruction:
        body = {"amount": amount, "currency": "jpy", "reference": reference}
        status, answer = self._post("/v1/payeasy", body, idempotency_key)
        payment = answer["payment"] if status == 402 else answer
        numbers = payment.get("payeasy") or {}
        expires = numbers.get("expires_at")
        return PayeasyInstruction(
            payment_id=str(payment["id"]),
            status="declined" if status == 402 else "pending",
            institution_number=str(numbers.get("institution_number", "")),
            customer_number=str(numbers.get("customer_number", "")),
            confirmation_number=str(numbers.get("confirmation_number", "")),
            expires_at=dt.datetime.fromtimestamp(int(expires), dt.UTC) if expires else None,
            decline_code=str(answer["error"]["code"]) if status == 402 else "",
        )

    def capture(self, *, payment_id: str, amount: int, idempotency_key: str) -> Capture:
        _, answer = self._post(f"/v1/payments/{payment_id}/capture", {"amount": amount}, idempotency_key)
        return Capture(payment_id=str(answer["id"]), amount=int(answer["captured_amount"]))

    def refund(self, *, payment_id: str, amount: int, idempotency_key: str) -> RefundResult:
        _, answer = self._post(f"/v1/payments/{payment_id}/refunds", {"amount": amount}, idempotency_key)
        return RefundResult(
            refund_id=str(answer["id"]), payment_id=str(answer["payment"]), amount=int(answer["amount"])
        )

    def verify_webhook(self, *, headers: Mapping[str, str], body: bytes, now: float) -> WebhookEvent:
        event_id = webhooks.verify(
            self._config.webhook_secret,
            headers=headers,
            body=body,
            now=now,
            tolerance_seconds=self._config.webhook_tolerance_seconds,
        )
        try:
            event = json.loads(body)
            data = event["data"]
            parsed = WebhookEvent(
                id=str(event["id"]),
                type=str(event["type"]),
                payment_id=str(data["payment"]),
                refund_id=str(data.get("refund") or ""),
                amount=int(data["amount"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise webhooks.BadWebhook("the signed webhook body is not an event this platform knows") from exc
        if parsed.id != event_id:
            raise webhooks.BadWebhook("the body's event id differs from the webhook-id header")
        return parsed

    def close(self) -> None:
        self._client.close()


def load_provider(name: str, config: ProviderConfig) -> PaymentProvider:
    """Build the provider ``module:callable`` names (the configuration's plug-in point)."""
    module_name, _, attribute = name.partition(":")
    factory: Callable[[ProviderConfig], PaymentProvider] = getattr(importlib.import_module(module_name), attribute)
    return factory(config)
