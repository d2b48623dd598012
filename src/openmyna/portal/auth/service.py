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
class PortalUser:
    """The logged-in resident as a request sees it (plain values only)."""

    session_id: int
    resident_id: int
    subject: str
    method: str
    authenticated_at: dt.datetime

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


def user_of(active: sessions.ActiveSession | None) -> PortalUser | None:
    """The resident behind a web session, or None for no session or another kind (staff)."""
    if active is None or active.kind != PERSON_KIND:
        return None
    data: dict[str, Any] = active.data
    return PortalUser(
        session_id=active.id,
        resident_id=int(data["resident_id"]),
        subject=active.subject,
        method=str(data["method"]),
        authenticated_at=dt.datetime.fromisoformat(data["authenticated_at"]),
    )


def end(session: Session, *, token: str) -> None:
    """Log out: the session row is deleted, so no copy of the cookie opens it again."""
    subject = sessions.end(session, token)
    if subject is not None and subject.startswith(PERSON_KIND + ":"):
        audit.record_access(session, subject=subject, actor_org="portal", actor=subject, action=LOGOUT_ACTION)
