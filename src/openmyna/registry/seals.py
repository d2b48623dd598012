"""Seal registration (印鑑登録): register a resident's seal, abolish it, and read the current one.

A registration holds the impression (印影) as a PNG and the number of the 印鑑登録証 card the town hands
the resident. One resident has at most one registration in force; registering anew abolishes the old
one. Every change and every read is an access event of the resident.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.core.errors import Conflict, InvalidInput, NotFound
from openmyna.orgs.service import Caller
from openmyna.registry.models import RESIDENT, Resident, SealRegistration

MAX_IMAGE_BYTES = 256 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class NoSealRegistered(NotFound):
    slug = "registry-no-seal"
    title_ja = "印鑑登録がありません"
    title_en = "No seal is registered"


class SealNotAllowed(Conflict):
    slug = "registry-seal-not-allowed"
    title_ja = "印鑑登録ができません"
    title_en = "The seal cannot be registered"


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _event(session: Session, resident: Resident, caller: Caller, action: str, purpose: str = "") -> None:
    audit.record_access(
        session,
        subject=resident.pseudonym,
        actor_org=caller.org_code,
        actor=caller.actor,
        action=f"registry.seal.{action}",
        purpose=purpose,
    )


def _current(session: Session, resident_id: int) -> SealRegistration | None:
    return session.scalar(
        select(SealRegistration).where(
            SealRegistration.resident_id == resident_id, SealRegistration.abolished_on.is_(None)
        )
    )


def register(session: Session, *, resident_id: int, seal_png: bytes, caller: Caller) -> SealRegistration:
    """Register the seal of a resident aged 15 or over; an earlier registration is abolished."""
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise NotFound(f"no resident with id {resident_id}")
    today = clock.today()
    if resident.status != RESIDENT:
        raise SealNotAllowed("only a current resident may register a seal", status=resident.status)
    if _age(resident.birth_date, today) < 15:
        raise SealNotAllowed("a resident under 15 may not register a seal (印鑑条例)")
    if not seal_png.startswith(PNG_MAGIC) or len(seal_png) > MAX_IMAGE_BYTES:
        raise InvalidInput(f"the seal image must be a PNG of at most {MAX_IMAGE_BYTES} bytes", field="seal_png")
    previous = _current(session, resident_id)
    if previous is not None:
        previous.abolished_on, previous.abolished_reason = today, "re-registered"
        session.flush()
    registration = SealRegistration(
        resident_id=resident_id,
        card_number=f"{secrets.randbelow(10**10):010d}",
        seal_image=seal_png,
        registered_on=today,
        abolished_on=None,
        abolished_reason="",
    )
    session.add(registration)
    session.flush()
    _event(session, resident, caller, "register", registration.card_number)
    return registration


def abolish(session: Session, *, resident_id: int, reason: str, caller: Caller) -> SealRegistration:
    """Abolish the registration in force (廃止): the seal no longer certifies anything."""
    registration = _current(session, resident_id)
    resident = session.get(Resident, resident_id)
    if registration is None or resident is None:
        raise NoSealRegistered(f"resident {resident_id} has no seal registered")
    registration.abolished_on, registration.abolished_reason = clock.today(), reason[:64]
    _event(session, resident, caller, "abolish", reason[:64])
    return registration


def current(session: Session, *, resident_id: int, caller: Caller, purpose: str = "") -> SealRegistration:
    """The registration in force (a read of the resident's data, recorded)."""
    registration = _current(session, resident_id)
    resident = session.get(Resident, resident_id)
    if registration is None or resident is None:
        raise NoSealRegistered(f"resident {resident_id} has no seal registered")
    _event(session, resident, caller, "read", purpose)
    return registration


def demo_seal_png(family_name: str, *, size: int = 240) -> bytes:
    """A round red impression of the family name, drawn with Pillow (IPAex Mincho when installed)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    red = (200, 30, 40, 255)
    draw.ellipse((6, 6, size - 6, size - 6), outline=red, width=size // 18)
    chars = family_name[:3] or "印"
    step = (size - 60) // max(len(chars), 1)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(
            "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf", int(step * 0.95)
        )
    except OSError:
        font = ImageFont.load_default(size=int(step * 0.9))
    top = (size - step * len(chars)) // 2
    for index, char in enumerate(chars):  # written top to bottom, as a seal reads
        draw.text((size / 2, top + step * index + step / 2), char, fill=red, font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
