"""The card's lifecycle: application → manufacture → pre-issuance setup → hand-over → in use, and every exit.

Each step is a recorded :class:`CardEvent` (who, when, from which state to which). Certificates come
from :mod:`openmyna.jpki.service` (card sits on floor 3b above jpki on 3a; see docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import TypeVar

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.card.chip import Chip, ChipError, KeyKind, KeySource, new_key
from openmyna.card.models import Card, CardEvent
from openmyna.core import audit, clock
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from openmyna.jpki import service as jpki
from openmyna.jpki.profiles import facts_in
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry

T = TypeVar("T")
APPLIED, MANUFACTURED, READY, ACTIVE, SUSPENDED, REVOKED, EXPIRED = (
    "applied",
    "manufactured",
    "ready",
    "active",
    "suspended",
    "revoked",
    "expired",
)
LIVE_STATES = (APPLIED, MANUFACTURED, READY, ACTIVE, SUSPENDED)
CHANNELS = ("self", "employer", "municipal_visit")
REVOKE_REASONS = {  # card reason → RFC 5280 reason for its certificates
    "death": "cessation_of_operation",
    "moved_abroad": "cessation_of_operation",
    "loss_confirmed": "key_compromise",
    "returned": "cessation_of_operation",
}
RENEWAL_WINDOW = dt.timedelta(days=92)  # from 3 months before expiry
SIGNING_MIN_AGE = 15
ADULT_AGE = 18


class CardNotFound(NotFound):
    slug = "card-not-found"
    title_ja = "カードが見つかりません"
    title_en = "Card not found"


class WrongState(Conflict):
    slug = "card-wrong-state"
    title_ja = "カードの状態がこの操作を許しません"
    title_en = "The card's state does not allow this"


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _load(session: Session, card_id: int) -> Card:
    card = session.get(Card, card_id)
    if card is None:
        raise CardNotFound(f"no card {card_id}")
    return card


def get_card(session: Session, *, card_id: int) -> Card:
    return _load(session, card_id)


def list_cards(session: Session, *, resident_id: int | None = None, limit: int = 1000) -> list[Card]:
    query = select(Card).order_by(Card.id).limit(limit)
    if resident_id is not None:
        query = query.where(Card.resident_id == resident_id)
    return list(session.scalars(query))


def _step(
    session: Session, card: Card, *, event: str, to: str, caller: Caller, allowed: tuple[str, ...], detail: str = ""
) -> None:
    """Move ``card`` to ``to`` if its state is in ``allowed``, and record the step for audit and statistics."""
    if card.state not in allowed:
        raise WrongState(f"card {card.id} is {card.state}; {event} needs {' or '.join(allowed)}", state=card.state)
    now = clock.now()
    session.add(
        CardEvent(
            card_id=card.id,
            event=event,
            from_state=card.state,
            to_state=to,
            at=now,
            on=clock.today(),
            actor_org=caller.org_code,
            actor=caller.actor,
            detail=detail[:300],
        )
    )
    audit.record_access(
        session,
        subject=card.subject,
        actor_org=caller.org_code,
        actor=caller.actor,
        action=f"card.{event}",
        purpose=detail,
    )
    card.state = to
    card.updated_at = now


def _chip_context(card: Card) -> bytes:
    return f"card.chip:{card.id}".encode()


def open_chip(keys: KeyRing, card: Card) -> Chip:
    if card.chip_sealed is None:
        raise WrongState(f"card {card.id} has not been manufactured yet", state=card.state)
    return Chip(json.loads(keys.open(card.chip_sealed, context=_chip_context(card))))


def store_chip(keys: KeyRing, card: Card, chip: Chip) -> None:
    card.chip_sealed = keys.seal(json.dumps(chip.state).encode(), context=_chip_context(card))


def apply(
    session: Session,
    *,
    resident_id: int,
    caller: Caller,
    channel: str = "self",
    employer_code: str = "",
    with_signing: bool | None = None,
) -> Card:
    """Accept an application (申請): by the resident, in bulk through an employer, or on a municipal visit."""
    if channel not in CHANNELS:
        raise InvalidInput(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    if channel == "employer" and not employer_code:
        raise InvalidInput("a bulk application through an employer names the employer")
    resident = registry.get_resident(session, resident_id=resident_id, caller=caller, purpose="card application")
    if resident.status != "resident":
        raise WrongState(
            f"resident {resident_id} is no longer in the registry ({resident.status})", state=resident.status
        )
    live = session.scalar(select(Card.id).where(Card.resident_id == resident_id, Card.state.in_(LIVE_STATES)))
    if live is not None:
        raise Conflict(f"resident {resident_id} already has card {live} in progress or in use", card_id=live)
    adult_for_signing = _age(resident.birth_date, clock.today()) >= SIGNING_MIN_AGE
    card = Card(
        resident_id=resident.id,
        resident_code=resident.resident_code,
        subject=registry.subject_of(resident),
        municipality_code=resident.municipality_code,
        state="new",
        channel=channel,
        employer_code=employer_code,
        applied_on=clock.today(),
        with_signing=adult_for_signing if with_signing is None else with_signing,
        updated_at=clock.now(),
    )
    session.add(card)
    session.flush()
    _step(session, card, event="applied", to=APPLIED, caller=caller, allowed=("new",), detail=channel)
    return card


def apply_bulk(session: Session, *, resident_ids: list[int], employer_code: str, caller: Caller) -> list[Card]:
    """一括申請: an employer gathers its employees' applications; all are accepted or none."""
    if not resident_ids or len(set(resident_ids)) != len(resident_ids):
        raise InvalidInput("a bulk application lists each resident once")
    return [
        apply(session, resident_id=rid, caller=caller, channel="employer", employer_code=employer_code)
        for rid in resident_ids
    ]


def manufacture(session: Session, *, keys: KeyRing, card_id: int, caller: Caller) -> Card:
    """The card is made and shipped to the municipality (発送): the chip exists, empty."""
    card = _load(session, card_id)
    _step(session, card, event="shipped", to=MANUFACTURED, caller=caller, allowed=(APPLIED,))
    store_chip(keys, card, Chip.blank(card_id=card.id))
    return card


def holder_facts(resident: registry.Resident) -> jpki.HolderFacts:
    """The holder as the CA and the chip's face data see them (abroad: the 国外転出者 statement)."""
    return jpki.HolderFacts(
        name=f"{resident.family_name} {resident.given_name}",
        sex=resident.sex,
        birth_date=resident.birth_date,
        address=resident.address,
        prefecture=resident.prefecture,
        city=resident.city,
        abroad_since=registry.abroad_since(resident),
    )


def write_face(chip: Chip, *, my_number: str, resident: registry.Resident) -> None:
    """The 券面事項入力補助 AP's data: My Number and the four facts as the card's face shows them."""
    chip.write_face(
        my_number=my_number,
        name=f"{resident.family_name} {resident.given_name}",
        address=holder_facts(resident).certified_address,
        birth_date=resident.birth_date.isoformat(),
        sex=resident.sex,
    )


def _issue_onto(
    session: Session,
    *,
    config: jpki.CaConfig,
    card: Card,
    chip: Chip,
    kind: KeyKind,
    resident: registry.Resident,
    new_key: KeySource = new_key,
) -> str:
    csr = chip.generate_key(kind, key=new_key())
    row = jpki.issue(
        session,
        config=config,
        kind=kind,
        csr_der=csr,
        holder=holder_facts(resident),
        holder_ref=f"card:{card.id}",
        subject=card.subject,
    )
    chip.install_certificate(kind, row.der)
    setattr(card, f"{kind}_serial", row.serial)
    return row.serial


def setup(
    session: Session, *, config: jpki.CaConfig, card_id: int, caller: Caller, new_key: KeySource = new_key
) -> Card:
    """交付前設定: key pairs generated on the chip, certificates issued onto it, face data written.

    ``new_key`` makes the chip's pairs (:class:`~openmyna.card.chip.KeysAhead` has them ready for a bulk run).
    """
    card = _load(session, card_id)
    resident = registry.get_resident(session, resident_id=card.resident_id, caller=caller, purpose="card setup")
    chip = open_chip(config.keys, card)
    _step(session, card, event="setup", to=READY, caller=caller, allowed=(MANUFACTURED,))
    for kind in ("auth", "sign") if card.with_signing else ("auth",):
        _issue_onto(session, config=config, card=card, chip=chip, kind=kind, resident=resident, new_key=new_key)  # type: ignore[arg-type]
    write_face(chip, my_number=registry.my_number_of(config.keys, resident), resident=resident)
    today = clock.today()
    years = 10 if _age(resident.birth_date, today) >= ADULT_AGE else 5
    card.issued_on = today
    card.expires_on = jpki.nth_birthday_after(resident.birth_date, today, years)
    store_chip(config.keys, card, chip)
    return card


def hand_over(
    session: Session,
    *,
    keys: KeyRing,
    card_id: int,
    caller: Caller,
    auth_pin: str,
    sign_pin: str | None = None,
    face_pin: str | None = None,
    identity_checked: bool,
    delivery: str = "counter",
) -> Card:
    """交付: the holder (identity checked) sets the PINs; the card is in use from now."""
    card = _load(session, card_id)
    if not identity_checked:
        raise Forbidden("hand-over needs the holder's identity checked (本人確認)")
    if delivery not in ("counter", "post") or (delivery == "post" and card.channel != "municipal_visit"):
        raise InvalidInput("cards go by post only when staff took the application on a visit; otherwise at the counter")
    chip = open_chip(keys, card)
    if card.with_signing and sign_pin is None:
        raise InvalidInput("a card with a signing certificate needs the signing PIN (6–16 characters A–Z, 0–9)")
    chip.set_pin("auth", auth_pin)
    chip.set_pin("face", face_pin or auth_pin)
    if card.with_signing:
        chip.set_pin("sign", sign_pin or "")
    _step(session, card, event="handed_over", to=ACTIVE, caller=caller, allowed=(READY,), detail=delivery)
    store_chip(keys, card, chip)
    return card


def _good_serials(session: Session, card: Card) -> list[jpki.Certificate]:
    return [row for row in jpki.certificates_of(session, holder_ref=f"card:{card.id}") if row.status != "revoked"]


def report_lost(session: Session, *, config: jpki.CaConfig, card_id: int, caller: Caller, via: str = "holder") -> Card:
    """一時停止: one call from the holder or the 24-hour line; certificates go on hold at once."""
    card = _load(session, card_id)
    _step(
        session, card, event="suspended", to=SUSPENDED, caller=caller, allowed=(READY, ACTIVE), detail=f"lost ({via})"
    )
    for row in _good_serials(session, card):
        if row.status == "good":
            jpki.revoke(session, config=config, serial=row.serial, reason="certificate_hold")
    return card


def resume(session: Session, *, config: jpki.CaConfig, card_id: int, caller: Caller) -> Card:
    """The card was found: back in use, holds lifted."""
    card = _load(session, card_id)
    before = session.scalars(
        select(CardEvent.from_state)
        .where(CardEvent.card_id == card.id, CardEvent.event == "suspended")
        .order_by(CardEvent.id.desc())
    ).first()
    _step(session, card, event="resumed", to=before or ACTIVE, caller=caller, allowed=(SUSPENDED,))
    for row in _good_serials(session, card):
        if row.status == "on_hold":
            jpki.release_hold(session, config=config, serial=row.serial)
    return card


def revoke_card(session: Session, *, config: jpki.CaConfig, card_id: int, reason: str, caller: Caller) -> Card:
    """廃止: death, a confirmed loss, a returned card, or a move abroad without continued use; all certificates go."""
    if reason not in REVOKE_REASONS:
        raise InvalidInput(f"unknown reason {reason!r}; expected one of {', '.join(REVOKE_REASONS)}")
    card = _load(session, card_id)
    _step(session, card, event="revoked", to=REVOKED, caller=caller, allowed=LIVE_STATES, detail=reason)
    for row in _good_serials(session, card):
        jpki.revoke(session, config=config, serial=row.serial, reason=REVOKE_REASONS[reason])
    return card


def reset_pin(
    session: Session, *, keys: KeyRing, card_id: int, app: str, new_pin: str, identity_checked: bool, caller: Caller
) -> Card:
    """Unlock and reset one PIN at the counter after an identity check (暗証番号の初期化)."""
    if app not in ("auth", "sign", "face"):
        raise InvalidInput("app is auth, sign or face")
    if not identity_checked:
        raise Forbidden("a PIN reset needs the holder's identity checked (本人確認)")
    card = _load(session, card_id)
    chip = open_chip(keys, card)
    chip.set_pin(app, new_pin)  # type: ignore[arg-type]
    _step(session, card, event="pin_reset", to=card.state, caller=caller, allowed=(ACTIVE,), detail=app)
    store_chip(keys, card, chip)
    return card


def _replace(
    session: Session, *, config: jpki.CaConfig, card: Card, kind: KeyKind, reason: str | None, caller: Caller
) -> None:
    resident = registry.get_resident(session, resident_id=card.resident_id, caller=caller, purpose="certificate issue")
    chip = open_chip(config.keys, card)
    old = getattr(card, f"{kind}_serial")
    new = _issue_onto(session, config=config, card=card, chip=chip, kind=kind, resident=resident)
    if old and reason and (previous := jpki.certificate(session, serial=old)).status != "revoked":
        if reason == "affiliation_changed" and _facts(previous.der) == _facts(
            jpki.certificate(session, serial=new).der
        ):
            reason = "superseded"  # nothing about the holder changed: RFC 5280's reason for a plain replacement
        jpki.revoke(session, config=config, serial=old, reason=reason)
    if old:
        jpki.link_replacement(session, old_serial=old, new_serial=new)
    if kind == "sign":
        number = chip.state["face"].get("my_number") or registry.my_number_of(config.keys, resident)
        write_face(chip, my_number=number, resident=resident)
    store_chip(config.keys, card, chip)


def _facts(der: bytes) -> dict[str, str]:
    return facts_in(x509.load_der_x509_certificate(der))


def renew(session: Session, *, config: jpki.CaConfig, card_id: int, caller: Caller) -> Card:
    """Renew the certificates, from three months before they expire (更新)."""
    card = _load(session, card_id)
    if card.state != ACTIVE:
        raise WrongState(f"card {card.id} is {card.state}; renewal needs an active card", state=card.state)
    serials = [card.auth_serial] + ([card.sign_serial] if card.with_signing else [])
    not_after = min(jpki.aware(jpki.certificate(session, serial=s).not_after) for s in serials if s)
    opens = not_after - RENEWAL_WINDOW
    if clock.now() < opens:
        raise WrongState(f"renewal opens on {opens.date().isoformat()} (3 months before expiry)", state=card.state)
    _step(session, card, event="renewed", to=ACTIVE, caller=caller, allowed=(ACTIVE,))
    for kind in ("auth", "sign") if card.with_signing else ("auth",):
        _replace(session, config=config, card=card, kind=kind, reason="superseded", caller=caller)  # type: ignore[arg-type]
    return card


def reissue_signing(session: Session, *, config: jpki.CaConfig, card_id: int, caller: Caller) -> Card:
    """After a name or address change: a new signing certificate with the new facts, linked from the old one."""
    card = _load(session, card_id)
    _step(session, card, event="signing_reissued", to=ACTIVE, caller=caller, allowed=(ACTIVE,))
    card.with_signing = True
    _replace(session, config=config, card=card, kind="sign", reason="affiliation_changed", caller=caller)
    return card


def expire_due(session: Session, *, config: jpki.CaConfig, caller: Caller) -> list[Card]:
    """Cards past their expiry date (10 years, 5 for minors) become expired; their certificates are revoked."""
    due = list(session.scalars(select(Card).where(Card.state.in_(LIVE_STATES), Card.expires_on < clock.today())))
    for card in due:
        _step(session, card, event="expired", to=EXPIRED, caller=caller, allowed=LIVE_STATES)
        for row in _good_serials(session, card):
            jpki.revoke(session, config=config, serial=row.serial, reason="cessation_of_operation")
    return due


def certificate_der(session: Session, *, card_id: int, kind: KeyKind) -> bytes:
    """The card's current certificate of ``kind`` as issued (from the CA's record, not the chip)."""
    card = _load(session, card_id)
    serial = getattr(card, f"{kind}_serial")
    if not serial:
        raise NotFound(f"card {card_id} has no {kind} certificate")
    return jpki.certificate(session, serial=serial).der


def require_usable(card: Card) -> None:
    if card.state != ACTIVE:
        raise WrongState(f"card {card.id} is {card.state}; the chip answers only on a card in use", state=card.state)
    if card.expires_on and card.expires_on < clock.today():
        raise WrongState(f"card {card.id} expired on {card.expires_on.isoformat()}", state="expired")


def in_use_with_auth(session: Session, *, serial: str) -> Card:
    """The card in use whose current authentication certificate has ``serial`` (how the CA names holders).

    :class:`CardNotFound` when no card holds it as its current certificate; :class:`WrongState` when the
    card is not in use (suspended, revoked, expired).
    """
    row = jpki.certificate(session, serial=serial, kind="auth")
    kind, _, card_id = row.holder_ref.partition(":")
    card = session.get(Card, int(card_id)) if kind == "card" and card_id.isdigit() else None
    if card is None or card.auth_serial != serial:
        raise CardNotFound("the certificate is not the current authentication certificate of a card")
    require_usable(card)
    return card


def install_app(session: Session, *, keys: KeyRing, card_id: int, name: str, issuer: str, data: dict[str, str]) -> None:
    """Write an issuer's application into the card's free space (カード空き領域), e.g. an employee ID."""
    use_chip(
        session, keys=keys, card_id=card_id, operation=lambda chip: chip.install_app(name, issuer=issuer, data=data)
    )


def remove_app(session: Session, *, keys: KeyRing, card_id: int, name: str, issuer: str) -> None:
    """Remove an issuer's application from the free space (only its issuer may)."""
    use_chip(session, keys=keys, card_id=card_id, operation=lambda chip: chip.remove_app(name, issuer=issuer))


def use_chip(session: Session, *, keys: KeyRing, card_id: int, operation: Callable[[Chip], T]) -> T:
    """Run one chip command; the chip's own state (PIN counters) is kept even when the command fails.

    On a :class:`ChipError` the chip is stored and the error re-raised: the caller commits, then reports.
    """
    card = _load(session, card_id)
    require_usable(card)
    chip = open_chip(keys, card)
    try:
        return operation(chip)
    finally:
        store_chip(keys, card, chip)


def certificate_not_after(der: bytes) -> dt.datetime:
    return x509.load_der_x509_certificate(der).not_valid_after_utc


__all__ = ["ChipError"]
