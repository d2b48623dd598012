"""Portal sessions for residents, on the platform's server-side web sessions (``core.sessions``).

A login method (the card on this computer, the QR code read by a phone) proves who the resident is and
then calls :func:`begin`. The session's subject is the person's pseudonym (``registry.subject_of``), the
same key their access events and exchange history use, so every login is an event the person sees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from openmyna.core import audit, clock, sessions
from openmyna.core.errors import Unauthorized

PERSON_KIND = sessions.PERSON_KIND
LOGIN_ACTION = "portal.login"
LOGOUT_ACTION = "portal.logout"
LoginMethod = Literal["card", "qr"]
ACTING_KEY = "acting"  # in the session's data while a proxy acts for a principal


class LoginRequired(Unauthorized):
    """A portal page or API was asked for without a live resident session."""

    slug = "login-required"
    title_ja = "ログインしてください"
    title_en = "Please log in"


class ReauthenticationRequired(Unauthorized):
    """A sensitive menu needs a card authentication more recent than the session's."""

    slug = "reauthentication-required"
    title_ja = "マイナンバーカードで再度認証してください"
    title_en = "Authenticate again with your card"


@dataclass(frozen=True)
class Proxy:
    """The person really logged in while they act for someone else (a 代理人 switched to a principal)."""

    grant_id: int
    resident_id: int
    subject: str
    principal_name: str


@dataclass(frozen=True)
class PortalUser:
    """The logged-in resident as a request sees it (plain values only).

    ``resident_id`` and ``subject`` are whose data the menus show: the principal's while a proxy acts for
    them (``proxy`` then holds the proxy, whose card logged in). Events use :attr:`actor`, so what a proxy
    does is labelled with the proxy's pseudonym.
    """

    session_id: int
    resident_id: int
    subject: str
    method: str
    authenticated_at: dt.datetime
    proxy: Proxy | None = None

    @property
    def actor(self) -> str:
        """Who is acting: the proxy's pseudonym while acting for someone, else the resident's own."""
        return self.proxy.subject if self.proxy is not None else self.subject

    @property
    def person_id(self) -> int:
        """The resident whose card logged in (the proxy while acting)."""
        return self.proxy.resident_id if self.proxy is not None else self.resident_id

    @property
    def person_subject(self) -> str:
        return self.actor

    def authenticated_within(self, window: dt.timedelta) -> bool:
        """Whether the last card authentication is recent enough for a sensitive menu."""
        return clock.now() - self.authenticated_at <= window


def begin(
    session: Session,
    *,
    resident_id: int,
    subject: str,
    method: LoginMethod,
    address: str,
    timeouts: sessions.Timeouts,
) -> str:
    """Start a resident's portal session after a successful login; the token goes in the cookie.

    The login itself is recorded as an access event of the person (method and time), which is also the
    login history the account settings show.
    """
    now = clock.now()
    token = sessions.start(
        session,
        subject=subject,
        data={"resident_id": resident_id, "method": method, "authenticated_at": now.isoformat()},
        address=address,
        timeouts=timeouts,
    )
    audit.record_access(
        session, subject=subject, actor_org="portal", actor=subject, action=LOGIN_ACTION, purpose=f"login:{method}"
    )
    return token


def reauthenticated(session: Session, *, user: PortalUser) -> None:
    """Mark the session as freshly authenticated with the card (a sensitive menu's re-authentication)."""
    row = session.get(sessions.WebSession, user.session_id)
    if row is not None:
        row.data = {**row.data, "authenticated_at": clock.now().isoformat()}


def set_acting(session: Session, *, session_id: int, acting: dict[str, Any] | None) -> None:
    """Put (or take out) whom the session's person acts for as a proxy: ``grant_id``, ``resident_id``,
    ``subject`` and ``name`` of the principal. The grant itself is checked on every request."""
    row = session.get(sessions.WebSession, session_id)
    if row is not None:
        data = {k: v for k, v in row.data.items() if k != ACTING_KEY}
        row.data = data if acting is None else {**data, ACTING_KEY: acting}


def user_of(active: sessions.ActiveSession | None) -> PortalUser | None:
    """The resident behind a web session, or None for no session or another kind (staff)."""
    if active is None or active.kind != PERSON_KIND:
        return None
    data: dict[str, Any] = active.data
    own = int(data["resident_id"])
    acting = data.get(ACTING_KEY)
    proxy = None
    if isinstance(acting, dict):
        proxy = Proxy(int(acting["grant_id"]), own, active.subject, str(acting.get("name", "")))
    return PortalUser(
        session_id=active.id,
        resident_id=int(acting["resident_id"]) if proxy is not None else own,
        subject=str(acting["subject"]) if proxy is not None else active.subject,
        method=str(data["method"]),
        authenticated_at=dt.datetime.fromisoformat(data["authenticated_at"]),
        proxy=proxy,
    )


def end(session: Session, *, token: str) -> None:
    """Log out: the session row is deleted, so no copy of the cookie opens it again."""
    subject = sessions.end(session, token)
    if subject is not None and subject.startswith(PERSON_KIND + ":"):
        audit.record_access(session, subject=subject, actor_org="portal", actor=subject, action=LOGOUT_ACTION)
