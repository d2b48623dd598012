"""Staff accounts' security: password login with throttling, server-side sessions, unlock and revocation.

An account's key ``staff:<username>`` names it to the throttle (``core.throttle``), to its sessions
(``core.sessions``) and as the subject of its access events (``core.audit``): every login attempt,
lockout, logout, unlock, revocation and password change is one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import audit, sessions, throttle
from openmyna.core.errors import NotFound, Unauthorized
from openmyna.orgs import service
from openmyna.orgs.models import Organisation, StaffUser

_AUDIT_SUBJECT_LENGTH = 64  # audit_access_events.subject; a longer user name cannot be a staff account's


@dataclass(frozen=True)
class Login:
    """What a password login came to: a session token, or none and, while locked, seconds to wait."""

    token: str | None = None
    retry_after: int | None = None


def account_key(username: str) -> str:
    return f"staff:{username}"


def _event(session: Session, *, subject: str, action: str, actor: str, purpose: str = "") -> None:
    """An access event of ``subject`` (an account, or a client address), attributed to the account's organisation."""
    prefix = account_key("")
    org = None
    if subject.startswith(prefix):
        by_name = StaffUser.username == subject.removeprefix(prefix)
        org = session.scalar(select(Organisation.code).join(StaffUser.organisation).where(by_name))
    audit.record_access(
        session,
        subject=subject[:_AUDIT_SUBJECT_LENGTH],
        actor_org=org or "",
        actor=actor[:128],
        action=action,
        purpose=purpose,
    )


def log_in(
    session: Session,
    *,
    username: str,
    password: str,
    address: str,
    policy: throttle.Policy,
    timeouts: sessions.Timeouts,
) -> Login:
    """Check the lockouts and the password, record the outcome, and on success start a session.

    A refused login is returned, not raised, so that the caller's unit of work commits the count. The
    answer is the same whether or not the account exists: unknown names are counted and locked alike.
    """
    account, client = account_key(username), throttle.address_key(address)
    try:
        throttle.guard(session, account=account, address=client)
    except throttle.LoginLocked as locked:
        _event(session, subject=account, action="login.refused", actor=client, purpose="locked")
        return Login(retry_after=locked.retry_after)
    try:
        user = service.authenticate_staff(session, username=username, password=password)
    except Unauthorized:
        locked_keys = throttle.record_failure(session, account=account, address=client, policy=policy)
        _event(session, subject=account, action="login.failed", actor=client, purpose="wrong password")
        lockouts = {account: policy.account.lockout, client: policy.address.lockout}
        for key in locked_keys:
            _event(session, subject=key, action="login.locked", actor=client, purpose=f"after a failure for {account}")
        if locked_keys:
            return Login(retry_after=int(max(lockouts[key] for key in locked_keys).total_seconds()))
        return Login()
    throttle.record_success(session, account=account)
    data = {
        "username": user.username,
        "name": user.display_name,
        "role": user.role,
        "org": user.organisation.code,
        "org_name": user.organisation.name,
    }
    token = sessions.start(session, subject=account, data=data, address=address, timeouts=timeouts)
    _event(session, subject=account, action="login.succeeded", actor=account, purpose=f"from {address}")
    return Login(token=token)


def log_out(session: Session, *, token: str) -> None:
    """End the session ``token`` opens, for good: a copy of its cookie opens nothing afterwards."""
    subject = sessions.end(session, token)
    if subject is not None:
        _event(session, subject=subject, action="session.ended", actor=subject, purpose="logout")


def unlock(session: Session, *, username: str | None = None, address: str | None = None, operator: str) -> bool:
    """Lift the lockout of an account or of a client address; whether one was in force."""
    key = account_key(username) if username is not None else throttle.address_key(address or "")
    lifted = throttle.unlock(session, key)
    _event(session, subject=key, action="login.unlocked", actor=operator)
    return lifted


def revoke_session(session: Session, *, session_id: int, operator: str) -> str:
    """End one session by its id; whose it was."""
    subject = sessions.revoke(session, session_id)
    if subject is None:
        raise NotFound(f"no session {session_id}")
    _event(session, subject=subject, action="session.revoked", actor=operator, purpose=f"session {session_id}")
    return subject


def revoke_all(session: Session, *, username: str, operator: str, reason: str = "revoked") -> int:
    """End every session of an account; how many there were."""
    account = account_key(username)
    count = sessions.revoke_subject(session, account)
    _event(session, subject=account, action="session.revoked", actor=operator, purpose=f"{reason}: {count}")
    return count


def change_password(session: Session, *, username: str, password: str, operator: str) -> int:
    """Set a new password and end every session of the account; how many sessions ended."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise NotFound(f"no staff user {username}")
    user.password_hash = service.hash_staff_password(password)
    return revoke_all(session, username=username, operator=operator, reason="password changed")
