"""Inquiries from the portal's form: checked, stored, listed in the staff inbox and marked handled."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmyna.core import audit
from openmyna.core.errors import NotFound
from openmyna.core.validation import unsafe_character
from openmyna.orgs.service import Caller
from openmyna.portal.inquiries.models import Inquiry
from openmyna.portal.notices.service import now_utc
from openmyna.portal.settings.service import EMAIL_PATTERN, MAX_EMAIL

TOPICS = ("login", "card", "notices", "payment", "linked_sites", "other")
MAX_TITLE = 100
MAX_BODY = 2000


class InquiryNotFound(NotFound):
    slug = "inquiry-not-found"
    title_ja = "お問い合わせが見つかりません"
    title_en = "Inquiry not found"


@dataclass(frozen=True)
class FieldError:
    """A form field that was refused, with the message key for both languages and its limit."""

    field: str
    key: str
    limit: int = 0


def check(*, topic: str, title: str, body: str, reply_email: str) -> list[FieldError]:
    """Every problem of a submission at once (the form shows them all), or none."""
    errors: list[FieldError] = []
    if topic not in TOPICS:
        errors.append(FieldError("topic", "inquiries.error.topic"))
    for name, value, limit, multiline in (("title", title, MAX_TITLE, False), ("body", body, MAX_BODY, True)):
        if not value.strip():
            errors.append(FieldError(name, "inquiries.error.required"))
        elif len(value) > limit:
            errors.append(FieldError(name, "inquiries.error.too_long", limit))
        elif unsafe_character(value, multiline=multiline):
            errors.append(FieldError(name, "inquiries.error.characters"))
    if reply_email and (len(reply_email) > MAX_EMAIL or not EMAIL_PATTERN.match(reply_email.strip())):
        errors.append(FieldError("reply_email", "inquiries.error.email"))
    return errors


def submit(session: Session, *, topic: str, title: str, body: str, reply_email: str, subject: str = "") -> Inquiry:
    """Store a checked submission (``subject`` when sent logged in, so staff can see it is the person's)."""
    inquiry = Inquiry(
        topic=topic,
        title=title.strip(),
        body=body.strip(),
        reply_email=reply_email.strip(),
        subject=subject,
        received_at=now_utc(),
    )
    session.add(inquiry)
    session.flush()
    return inquiry


def inbox(session: Session, *, handled: bool, limit: int = 100) -> list[Inquiry]:
    query = select(Inquiry).where(Inquiry.handled_at.is_not(None) if handled else Inquiry.handled_at.is_(None))
    return list(session.scalars(query.order_by(Inquiry.id.desc()).limit(limit)))


def open_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Inquiry.handled_at.is_(None))) or 0)


def read(session: Session, *, inquiry_id: int, caller: Caller) -> Inquiry:
    """One inquiry for staff; reading a logged-in person's inquiry is an access event of that person."""
    inquiry = session.get(Inquiry, inquiry_id)
    if inquiry is None:
        raise InquiryNotFound(f"no inquiry {inquiry_id}")
    if inquiry.subject:
        audit.record_access(
            session,
            subject=inquiry.subject,
            actor_org=caller.org_code,
            actor=caller.actor,
            action="inquiry.read",
            purpose=f"inquiry:{inquiry_id}",
        )
    return inquiry


def mark_handled(session: Session, *, inquiry_id: int, caller: Caller) -> None:
    inquiry = session.get(Inquiry, inquiry_id)
    if inquiry is None:
        raise InquiryNotFound(f"no inquiry {inquiry_id}")
    if inquiry.handled_at is None:
        inquiry.handled_at, inquiry.handled_by = now_utc(), caller.actor
