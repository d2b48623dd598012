"""Proxy use (代理人): grants, the invitation the proxy accepts, the switch, and the per-request check.

A principal (本人) names the proxy by name and date of birth (never by My Number) and receives a one-time
invitation code to hand over in person. The proxy logs in with their own card and enters the code; the
grant becomes theirs only if their registry record has that name and date of birth. While the proxy acts
for the principal, every request is checked again here (:func:`check_use`): the grant must still be
accepted, not withdrawn or resigned, not past its end date, and the page must belong to a granted menu.
Everything the proxy does is an access event of the principal with the proxy's pseudonym as actor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from openmyna.core.timefmt import as_utc
from openmyna.core.validation import unsafe_character
from openmyna.portal.proxy.models import ProxyGrant
from openmyna.registry import service as registry

# The menus a proxy may be granted, with their letter on My Page and the paths that belong to them.
# D (delivery consents), G (linked sites: OpenID consent), the account settings and proxy grants themselves
# are never grantable: a proxy may not consent, change the e-mail address or pass rights on.
MENUS: dict[str, tuple[str, tuple[str, ...]]] = {
    "history": ("a", ("/portal/history", "/api/portal/history")),
    "mydata": ("b", ("/portal/mydata",)),
    "notices": ("c", ("/portal/notices", "/api/portal/notices")),
    "payments": ("f", ("/portal/payments", "/api/portal/payments")),
}
NEVER = ("/portal/notices/delivery",)
# Reachable while acting whatever was granted: My Page, the way back, switching, logging in again.
ALWAYS_EXACT = (
    "/portal",
    "/portal/proxy",
    "/portal/proxy/return",
    "/portal/login",
    "/portal/reauth",
    "/api/portal/proxy",
    "/api/portal/proxy/return",
)
ALWAYS_PREFIX = ("/portal/proxy/switch/", "/api/portal/proxy/switch/")

MAX_DAYS = 366  # an end date at most a year (and a day, for a leap year) ahead
INVITATION_DAYS = 7
MAX_LIVE_GRANTS = 20
NAME_MAX = 50
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or copied by hand
CODE_LENGTH = 16  # 80 bits

GRANTED, ACCEPTED, WITHDRAWN, RESIGNED = (
    "portal.proxy.granted",
    "portal.proxy.accepted",
    "portal.proxy.withdrawn",
    "portal.proxy.resigned",
)
SWITCH, ACTING, RETURN, USE = "portal.proxy.switch", "portal.proxy.acting", "portal.proxy.return", "portal.proxy.use"
PROXY_ACTIONS = (ACCEPTED, WITHDRAWN, RESIGNED, ACTING, RETURN)  # what a proxy's own history shows
USE_LIMIT = 200


class ProxyGrantNotFound(NotFound):
    slug = "proxy-grant-not-found"
    title_ja = "代理人の登録が見つかりません"
    title_en = "Proxy grant not found"


class InvitationInvalid(InvalidInput):
    slug = "proxy-invitation-invalid"
    title_ja = "招待コードが正しくないか、有効期限が切れています"
    title_en = "The invitation code is wrong, used or expired"


class InvitationNotForYou(Forbidden):
    slug = "proxy-invitation-not-for-you"
    title_ja = "この招待はあなた宛てではありません（氏名・生年月日が一致しません）"
    title_en = "This invitation is not for you (the name and date of birth do not match)"


class SelfProxy(Conflict):
    slug = "proxy-self"
    title_ja = "ご自身を代理人にすることはできません"
    title_en = "You cannot be your own proxy"


class TooManyGrants(Conflict):
    slug = "proxy-too-many"
    title_ja = "代理人の登録が多すぎます"
    title_en = "Too many proxy grants"


class ProxyRightsEnded(Forbidden):
    """The grant a proxy acts under was withdrawn, resigned or is past its end date: nothing was done."""

    slug = "proxy-rights-ended"
    title_ja = "代理で利用する権限は終了しています"
    title_en = "Your proxy rights have ended"


class ProxyMenuNotGranted(Forbidden):
    slug = "proxy-menu-not-granted"
    title_ja = "この機能は代理で利用できません"
    title_en = "This menu is not open to you as a proxy"


@dataclass(frozen=True)
class Invitation:
    grant: ProxyGrant
    code: str


def normalise_name(value: str) -> str:
    """A name as compared: NFKC, without any spaces (full- or half-width)."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def normalise_code(value: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", value).upper() if ch.isalnum())


def _digest(code: str) -> bytes:
    return hashlib.sha256(normalise_code(code).encode()).digest()


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def _name(value: str, field: str) -> str:
    value = value.strip()
    if not value or len(value) > NAME_MAX:
        raise InvalidInput(f"the {field} must have 1 to {NAME_MAX} characters", field=field)
    bad = unsafe_character(value)
    if bad:
        raise InvalidInput(f"the {field} contains {bad}", field=field)
    return value


def parse_menus(keys: Iterable[str]) -> list[str]:
    chosen = set(keys)
    unknown = chosen - MENUS.keys()
    if unknown:
        raise InvalidInput(f"unknown menus: {', '.join(sorted(unknown))}", field="menus")
    if not chosen:
        raise InvalidInput("choose at least one menu", field="menus")
    return [key for key in MENUS if key in chosen]


def state(grant: ProxyGrant) -> str:
    """``pending`` (invitation not yet accepted), ``active``, ``expired``, ``withdrawn`` or ``resigned``."""
    if grant.ended_at is not None:
        return "resigned" if grant.ended_by == "proxy" else "withdrawn"
    if clock.today() > grant.ends_on:
        return "expired"
    if grant.accepted_at is None:
        return "pending" if clock.now() <= as_utc(grant.invitation_expires_at) else "expired"
    return "active"


def menus_of(grant: ProxyGrant) -> list[str]:
    return grant.menus.split()


def create_grant(
    session: Session,
    *,
    principal_resident_id: int,
    principal_subject: str,
    family_name: str,
    given_name: str,
    birth_date: dt.date,
    menus: Iterable[str],
    ends_on: dt.date,
) -> Invitation:
    """A grant waiting for the named proxy to accept it; the code is returned once and kept only as a digest."""
    family, given = _name(family_name, "family_name"), _name(given_name, "given_name")
    chosen = parse_menus(menus)
    today = clock.today()
    if birth_date > today:
        raise InvalidInput("the proxy's date of birth is in the future", field="birth_date")
    if ends_on < today:
        raise InvalidInput("the end date has already passed", field="ends_on")
    if ends_on > today + dt.timedelta(days=MAX_DAYS):
        raise InvalidInput(f"the end date is at most {MAX_DAYS} days ahead", field="ends_on")
    live = [g for g in _given(session, principal_resident_id) if state(g) in ("pending", "active")]
    if len(live) >= MAX_LIVE_GRANTS:
        raise TooManyGrants(f"at most {MAX_LIVE_GRANTS} proxies may be pending or active at once")
    now = clock.now()
    code = _new_code()
    grant = ProxyGrant(
        principal_resident_id=principal_resident_id,
        principal_subject=principal_subject,
        proxy_family_name=family,
        proxy_given_name=given,
        proxy_birth_date=birth_date,
        menus=" ".join(chosen),
        ends_on=ends_on,
        invitation_hash=_digest(code),
        invitation_expires_at=now + dt.timedelta(days=INVITATION_DAYS),
        created_at=now,
        ended_by="",
    )
    session.add(grant)
    session.flush()
    _event(session, principal_subject, principal_subject, GRANTED, grant, f"menus={grant.menus} ends_on={ends_on}")
    return Invitation(grant, code)


def accept(session: Session, *, code: str, resident_id: int, subject: str) -> ProxyGrant:
    """The logged-in proxy takes up an invitation addressed to their name and date of birth."""
    code = code.strip()
    if len(code) > 64:
        raise InvitationInvalid("the invitation code is too long")
    grant = session.scalar(select(ProxyGrant).where(ProxyGrant.invitation_hash == _digest(code)))
    if grant is None or state(grant) != "pending":
        raise InvitationInvalid("no pending invitation has this code")
    if grant.principal_resident_id == resident_id:
        raise SelfProxy("this invitation was made by you")
    me = registry.find_resident(session, resident_id=resident_id)
    if me is None or (
        normalise_name(me.family_name + me.given_name)
        != normalise_name(grant.proxy_family_name + grant.proxy_given_name)
        or me.birth_date != grant.proxy_birth_date
    ):
        raise InvitationNotForYou("your registry record does not have the name and date of birth the principal gave")
    grant.proxy_resident_id, grant.proxy_subject = resident_id, subject
    grant.accepted_at, grant.invitation_hash = clock.now(), None  # single use
    _event(session, grant.principal_subject, subject, ACCEPTED, grant)
    _event(session, subject, subject, ACCEPTED, grant)
    return grant


def withdraw(session: Session, *, grant_id: int, principal_resident_id: int) -> ProxyGrant:
    """The principal ends a grant (pending or active) at once: the proxy's next request is refused."""
    grant = session.get(ProxyGrant, grant_id)
    if grant is None or grant.principal_resident_id != principal_resident_id:
        raise ProxyGrantNotFound(f"you made no proxy grant {grant_id}")
    if state(grant) not in ("pending", "active"):
        raise Conflict(f"proxy grant {grant_id} has already ended")
    grant.ended_at, grant.ended_by, grant.invitation_hash = clock.now(), "principal", None
    _event(session, grant.principal_subject, grant.principal_subject, WITHDRAWN, grant)
    if grant.proxy_subject:
        _event(session, grant.proxy_subject, grant.principal_subject, WITHDRAWN, grant)
    return grant


def resign(session: Session, *, grant_id: int, proxy_resident_id: int) -> ProxyGrant:
    """The proxy gives the rights back."""
    grant = session.get(ProxyGrant, grant_id)
    if grant is None or grant.proxy_resident_id != proxy_resident_id:
        raise ProxyGrantNotFound(f"you hold no proxy grant {grant_id}")
    if state(grant) != "active":
        raise Conflict(f"proxy grant {grant_id} has already ended")
    assert grant.proxy_subject is not None
    grant.ended_at, grant.ended_by = clock.now(), "proxy"
    _event(session, grant.principal_subject, grant.proxy_subject, RESIGNED, grant)
    _event(session, grant.proxy_subject, grant.proxy_subject, RESIGNED, grant)
    return grant


def usable(session: Session, *, grant_id: int, proxy_resident_id: int) -> ProxyGrant:
    """The grant if the proxy may act under it now; otherwise :class:`ProxyRightsEnded`."""
    grant = session.get(ProxyGrant, grant_id)
    if grant is None or grant.proxy_resident_id != proxy_resident_id:
        raise ProxyRightsEnded(f"you hold no proxy grant {grant_id}")
    current = state(grant)
    if current != "active":
        reason = {"expired": f"it ended on {grant.ends_on.isoformat()}"}.get(current, f"it was {current}")
        raise ProxyRightsEnded(f"proxy grant {grant_id} can no longer be used: {reason}", grant_id=grant_id)
    return grant


def menu_of_path(path: str) -> str | None:
    """The grantable menu a path belongs to, or None."""

    def under(prefix: str) -> bool:
        return path == prefix or path.startswith(prefix + "/")

    if any(under(p) for p in NEVER):
        return None
    return next((key for key, (_, paths) in MENUS.items() if any(under(p) for p in paths)), None)


def always_open(path: str) -> bool:
    return path in ALWAYS_EXACT or path.startswith(ALWAYS_PREFIX)


def check_use(session: Session, *, grant_id: int, proxy_resident_id: int, principal_resident_id: int, path: str) -> str:
    """Whether the proxy may open ``path`` for the principal now (every request): the menu, or ``""``."""
    grant = usable(session, grant_id=grant_id, proxy_resident_id=proxy_resident_id)
    if grant.principal_resident_id != principal_resident_id:
        raise ProxyRightsEnded(f"proxy grant {grant_id} is not for this person")
    if always_open(path):
        return ""
    menu = menu_of_path(path)
    if menu is None or menu not in menus_of(grant):
        raise ProxyMenuNotGranted(
            f"{path} is not among the menus granted to you ({', '.join(menus_of(grant))})",
            granted=menus_of(grant),
        )
    return menu


def record_use(
    session: Session,
    *,
    principal_subject: str,
    proxy_subject: str,
    grant_id: int,
    method: str,
    path: str,
    refused: bool = False,
) -> None:
    """What the proxy opened or did (or tried, outside the grant), as an access event of the principal with
    the proxy as actor."""
    audit.record_access(
        session,
        subject=principal_subject,
        actor_org="portal",
        actor=proxy_subject,
        action=USE,
        purpose=(f"grant:{grant_id} {method} {path}" + (" (refused)" if refused else ""))[:256],
    )


def record_switch(session: Session, *, grant: ProxyGrant, back: bool = False) -> None:
    """The proxy began (or stopped) acting: an event of the principal and one of the proxy's own."""
    assert grant.proxy_subject is not None
    _event(session, grant.principal_subject, grant.proxy_subject, RETURN if back else SWITCH, grant)
    _event(session, grant.proxy_subject, grant.proxy_subject, RETURN if back else ACTING, grant)


def _event(session: Session, subject: str, actor: str, action: str, grant: ProxyGrant, extra: str = "") -> None:
    purpose = f"grant:{grant.id}" + (f" {extra}" if extra else "")
    audit.record_access(session, subject=subject, actor_org="portal", actor=actor, action=action, purpose=purpose)


def _given(session: Session, principal_resident_id: int) -> list[ProxyGrant]:
    query = select(ProxyGrant).where(ProxyGrant.principal_resident_id == principal_resident_id)
    return list(session.scalars(query.order_by(ProxyGrant.created_at.desc(), ProxyGrant.id.desc())))


def grants_given(session: Session, *, principal_resident_id: int) -> list[ProxyGrant]:
    """The grants a principal made, newest first (every state)."""
    return _given(session, principal_resident_id)


def grants_held(session: Session, *, proxy_resident_id: int) -> list[ProxyGrant]:
    """The grants a proxy accepted, newest first (every state)."""
    query = select(ProxyGrant).where(ProxyGrant.proxy_resident_id == proxy_resident_id)
    return list(session.scalars(query.order_by(ProxyGrant.accepted_at.desc(), ProxyGrant.id.desc())))


def principal_name(session: Session, grant: ProxyGrant) -> str:
    found = registry.find_resident(session, resident_id=grant.principal_resident_id)
    return f"{found.family_name} {found.given_name}" if found is not None else ""


def _events(session: Session, subject: str, condition: Any) -> list[audit.AccessEvent]:
    query = (
        select(audit.AccessEvent)
        .where(audit.AccessEvent.subject == subject, condition)
        .order_by(audit.AccessEvent.occurred_at.desc(), audit.AccessEvent.id.desc())
        .limit(USE_LIMIT)
    )
    return list(session.scalars(query))


def uses_by_proxies(session: Session, *, principal_subject: str, grants: list[ProxyGrant]) -> list[audit.AccessEvent]:
    """The principal's access events whose actor is one of their proxies (the 代理人による利用 list)."""
    proxies = {g.proxy_subject for g in grants if g.proxy_subject and g.proxy_subject != principal_subject}
    if not proxies:
        return []
    return _events(session, principal_subject, audit.AccessEvent.actor.in_(sorted(proxies)))


def own_proxy_history(session: Session, *, subject: str) -> list[audit.AccessEvent]:
    """A proxy's own events about acting for others: accepted, began acting, came back, ended."""
    return _events(session, subject, audit.AccessEvent.action.in_(PROXY_ACTIONS))
