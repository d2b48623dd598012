"""The resident's pages: requests to pay, paying one by card after a recent card authentication, receipts."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from openmyna.core import clock, i18n
from openmyna.core.db import unit_of_work
from openmyna.core.errors import DomainError, Forbidden, InvalidInput
from openmyna.core.timefmt import as_utc
from openmyna.core.validation import IdParam
from openmyna.core.web import UnitOfWorkRoute, check_csrf, render, render_error
from openmyna.orgs import service as orgs
from openmyna.portal.auth.dependencies import REAUTH_PAGE, CurrentUser, require_recent_card
from openmyna.portal.auth.service import PortalUser, ReauthenticationRequired
from openmyna.portal.payments import receipt_pdf, service
from openmyna.portal.payments.provider import Card, PaymentProvider, ProviderUnavailable

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _reauth_window(request: Request) -> dt.timedelta:
    return dt.timedelta(seconds=request.app.state.settings.portal_reauth_seconds)


def _reauth_url(request: Request) -> str:
    """The card again (portal.auth's re-authentication page), then back to this request."""
    return f"{REAUTH_PAGE}?{urlencode({'next': request.url.path})}"


def _jst(value: dt.datetime | None) -> str:
    return as_utc(value).astimezone(clock.JST).strftime("%Y-%m-%d %H:%M") if value else ""


def _payee_names(session: Session, codes: set[str]) -> dict[str, str]:
    """Organisation names to show for payee codes (the code itself for one no longer registered)."""
    names: dict[str, str] = {}
    for code in codes:
        try:
            names[code] = orgs.get_organisation(session, code).name
        except DomainError:
            names[code] = code
    return names


def _view(row: service.PaymentRequest, payees: dict[str, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "payee": payees.get(row.payee_org, row.payee_org),
        "kind": row.kind,
        "purpose": row.purpose,
        "amount": row.amount,
        "due_date": row.due_date,
        "overdue": row.status == service.OPEN and row.due_date < clock.today(),
        "status": row.status,
        "paid_at": _jst(row.paid_at),
        "settled_at": _jst(row.settled_at),
        "receipt_number": row.receipt_number,
        "refunded_amount": row.refunded_amount,
    }


@router.get("/portal/payments", response_class=HTMLResponse)
def payments_page(request: Request, user: CurrentUser) -> Response:
    """Open requests (by due date) and paid ones with their receipts."""
    with unit_of_work(request.app.state.read_session_factory) as session:
        rows = service.list_for_person(session, subject=user.subject)
        payees = _payee_names(session, {r.payee_org for r in rows})
        items = [_view(r, payees) for r in rows]
    open_items = [i for i in items if i["status"] == service.OPEN]
    done = [i for i in items if i["status"] != service.OPEN]
    return render(request, "portal/payments/index.html", {"open_items": open_items, "done": done})


def _pay_page(
    request: Request, user: PortalUser, request_id: int, *, error: str | None = None, status_code: int = 200
) -> Response:
    with unit_of_work(request.app.state.read_session_factory) as session:
        row = service.for_person(session, subject=user.subject, request_id=request_id)
        item = _view(row, _payee_names(session, {row.payee_org}))
        key = service.pending_key(session, request_id) or secrets.token_urlsafe(24)
        awaiting = service.awaiting_payeasy(session, request_id)
        payeasy = (
            {
                "institution": awaiting.payeasy_institution,
                "customer": awaiting.payeasy_customer,
                "confirmation": awaiting.payeasy_confirmation,
                "expires_at": _jst(awaiting.expires_at),
            }
            if awaiting is not None and row.status == service.OPEN
            else None
        )
    window = _reauth_window(request)
    context = {
        "item": item,
        "key": key,
        "payeasy": payeasy,
        "error": error,
        "fresh": user.authenticated_within(window),
        "reauth_url": _reauth_url(request),
        "this_year": clock.today().year,
    }
    return render(request, "portal/payments/pay.html", context, status_code=status_code)


@router.get("/portal/payments/{request_id}", response_class=HTMLResponse)
def pay_page(request: Request, request_id: IdParam, user: CurrentUser) -> Response:
    try:
        return _pay_page(request, user, request_id)
    except DomainError as exc:
        return render_error(request, exc)


def _card(number: str, exp_month: str, exp_year: str, cvc: str) -> Card:
    digits = re.sub(r"[ -]", "", number)
    if not re.fullmatch(r"[0-9]{12,19}", digits):
        raise InvalidInput("card_number: 12 to 19 digits (spaces and hyphens allowed)")
    if not re.fullmatch(r"[0-9]{1,2}", exp_month) or not 1 <= int(exp_month) <= 12:
        raise InvalidInput("exp_month: a month from 1 to 12")
    if not re.fullmatch(r"[0-9]{2}|[0-9]{4}", exp_year):
        raise InvalidInput("exp_year: two or four digits")
    if not re.fullmatch(r"[0-9]{3,4}", cvc):
        raise InvalidInput("cvc: three or four digits")
    year = int(exp_year) + (2000 if len(exp_year) == 2 else 0)
    return Card(number=digits, exp_month=int(exp_month), exp_year=year, cvc=cvc)


def _message(request: Request, error: DomainError) -> str:
    """The error in the visitor's language; a decline says why in words, with the acquirer's code."""
    lang = i18n.pick_language(request.query_params.get("lang"), request.cookies.get("lang"))
    title = error.title_en if lang == "en" else error.title_ja
    code = error.extensions.get("code", "")
    detail = error.detail
    if isinstance(error, service.PaymentDeclined) and code:
        reason = i18n.translate(f"payments.decline.{code}", lang)
        detail = f"{reason if reason != f'payments.decline.{code}' else ''} [{code}]".strip()
    return f"{title}（{detail}）" if lang == "ja" else f"{title} ({detail})"


def _check_pay_form(request: Request, user: PortalUser, *, csrf: str, key: str) -> None:
    """What both ways to pay check first: CSRF, a recent card authentication (a sensitive menu), the form's key."""
    check_csrf(request, csrf)
    require_recent_card(request, user)
    if not _KEY.fullmatch(key):
        raise InvalidInput("the form's payment key is missing or malformed; reload the page")


@router.post("/portal/payments/{request_id}/pay", response_class=HTMLResponse)
def pay(
    request: Request,
    request_id: IdParam,
    user: CurrentUser,
    csrf: Annotated[str, Form(max_length=128)] = "",
    key: Annotated[str, Form(max_length=64)] = "",
    card_number: Annotated[str, Form(max_length=32)] = "",
    exp_month: Annotated[str, Form(max_length=2)] = "",
    exp_year: Annotated[str, Form(max_length=4)] = "",
    cvc: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Pay by card: re-authentication and CSRF first, then one attempt per form key, then the receipt."""
    try:
        _check_pay_form(request, user, csrf=csrf, key=key)
        card = _card(card_number, exp_month, exp_year, cvc)
    except Forbidden as exc:
        return render_error(request, exc)
    except (ReauthenticationRequired, InvalidInput) as exc:
        return _pay_or_error(request, user, request_id, exc)
    provider: PaymentProvider = request.app.state.payments_provider
    factory = request.app.state.session_factory
    try:
        with unit_of_work(factory) as session:
            ticket = service.begin_attempt(session, subject=user.subject, request_id=request_id, key=key)
        if ticket.status == service.CAPTURED:
            return RedirectResponse(f"/portal/payments/{request_id}/receipt", status_code=303)
        if ticket.status == service.DECLINED:
            raise service.PaymentDeclined(f"declined: {ticket.decline_code}", code=ticket.decline_code)
        if ticket.status != service.PROCESSING:
            raise service.PaymentInProgress(f"this form's payment is {ticket.status}; reload the page")
        authorisation = provider.authorise(
            amount=ticket.amount, card=card, reference=ticket.reference, idempotency_key=ticket.idempotency_key
        )
        capture = None
        if authorisation.status == "authorised":
            capture = provider.capture(
                payment_id=authorisation.payment_id,
                amount=ticket.amount,
                idempotency_key=ticket.idempotency_key + "-capture",
            )
        with unit_of_work(factory) as session:
            attempt = service.finish_attempt(session, ticket=ticket, authorisation=authorisation, capture=capture)
        if attempt.status == service.DECLINED:
            raise service.PaymentDeclined(f"declined: {attempt.decline_code}", code=attempt.decline_code)
    except service.AlreadyPaid:
        return RedirectResponse(f"/portal/payments/{request_id}/receipt", status_code=303)
    except (service.PaymentDeclined, service.PaymentInProgress, service.PayeasyAwaiting, ProviderUnavailable) as exc:
        return _pay_or_error(request, user, request_id, exc)
    except DomainError as exc:
        return render_error(request, exc)
    return RedirectResponse(f"/portal/payments/{request_id}/receipt", status_code=303)


@router.post("/portal/payments/{request_id}/payeasy", response_class=HTMLResponse)
def payeasy(
    request: Request,
    request_id: IdParam,
    user: CurrentUser,
    csrf: Annotated[str, Form(max_length=128)] = "",
    key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Ask for Pay-easy numbers: the page then shows them until the bank's payment is reported or they expire."""
    try:
        _check_pay_form(request, user, csrf=csrf, key=key)
    except Forbidden as exc:
        return render_error(request, exc)
    except (ReauthenticationRequired, InvalidInput) as exc:
        return _pay_or_error(request, user, request_id, exc)
    provider: PaymentProvider = request.app.state.payments_provider
    factory = request.app.state.session_factory
    try:
        with unit_of_work(factory) as session:
            ticket = service.begin_attempt(
                session, subject=user.subject, request_id=request_id, key=key, method="payeasy"
            )
        if ticket.status == service.PROCESSING:
            instruction = provider.request_payeasy(
                amount=ticket.amount, reference=ticket.reference, idempotency_key=ticket.idempotency_key + "-payeasy"
            )
            with unit_of_work(factory) as session:
                attempt = service.finish_payeasy(session, ticket=ticket, instruction=instruction)
                status, code = attempt.status, attempt.decline_code
        elif ticket.status == service.CAPTURED:
            return RedirectResponse(f"/portal/payments/{request_id}/receipt", status_code=303)
        else:
            status, code = ticket.status, ticket.decline_code
        if status == service.DECLINED:
            raise service.PaymentDeclined(f"declined: {code}", code=code)
    except service.AlreadyPaid:
        return RedirectResponse(f"/portal/payments/{request_id}/receipt", status_code=303)
    except (service.PaymentDeclined, service.PaymentInProgress, service.PayeasyAwaiting, ProviderUnavailable) as exc:
        return _pay_or_error(request, user, request_id, exc)
    except DomainError as exc:
        return render_error(request, exc)
    return RedirectResponse(f"/portal/payments/{request_id}", status_code=303)


def _pay_or_error(request: Request, user: PortalUser, request_id: int, error: DomainError) -> Response:
    try:
        return _pay_page(request, user, request_id, error=_message(request, error), status_code=error.status)
    except DomainError as exc:
        return render_error(request, exc)


def _receipt(request: Request, user: PortalUser, request_id: int) -> dict[str, Any]:
    """What a receipt shows, for the page and the PDF (someone else's or an unpaid request is not found)."""
    with unit_of_work(request.app.state.read_session_factory) as session:
        row = service.for_person(session, subject=user.subject, request_id=request_id)
        if row.receipt_number is None:
            raise service.PaymentRequestNotFound(f"payment request {request_id} has not been paid")
        item = _view(row, _payee_names(session, {row.payee_org}))
        attempt = service.captured_attempt(session, request_id)
        refunds = [
            {"amount": r.amount, "reason": r.reason, "at": _jst(r.created_at)}
            for r in service.refunds_of(session, request_id)
            if r.status == "succeeded"
        ]
    card = ""
    if attempt is not None:
        card = "payeasy" if attempt.method == "payeasy" else f"{attempt.card_brand.upper()} **** {attempt.card_last4}"
    return {"item": item, "card": card, "refunds": refunds}


@router.get("/portal/payments/{request_id}/receipt", response_class=HTMLResponse)
def receipt(request: Request, request_id: IdParam, user: CurrentUser) -> Response:
    """The receipt (領収書) of a paid request: number, payee, amount, when, by which card, refunds."""
    try:
        context = _receipt(request, user, request_id)
    except DomainError as exc:
        return render_error(request, exc)
    return render(request, "portal/payments/receipt.html", context)


@router.get("/portal/payments/{request_id}/receipt.pdf")
def receipt_as_pdf(request: Request, request_id: IdParam, user: CurrentUser) -> Response:
    """The same receipt as a one-page PDF to keep or print."""
    try:
        context = _receipt(request, user, request_id)
    except DomainError as exc:
        return render_error(request, exc)
    item = context["item"]
    card = context["card"]
    facts = receipt_pdf.ReceiptFacts(
        receipt_number=item["receipt_number"],
        payee=item["payee"],
        purpose=item["purpose"],
        amount=item["amount"],
        paid_at=item["paid_at"],
        method="ペイジー（Pay-easy）" if card == "payeasy" else f"クレジットカード {card}",
        status=i18n.translate(f"payments.status.{item['status']}", "ja"),
        refunds=tuple((r["at"], r["amount"], r["reason"]) for r in context["refunds"]),
    )
    filename = f"receipt-{item['receipt_number']}.pdf"
    return Response(
        receipt_pdf.render(facts),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"},
    )
