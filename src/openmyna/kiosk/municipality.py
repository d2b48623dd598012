"""The municipal certificate server (証明書発行サーバ): builds the certificate from the town's ledgers as of
now, signs it, records it, and answers a retried request with the same document.

Called by the issuance centre only (scope ``kiosk:route``), for a person the centre names by pseudonym.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.core.errors import Conflict, NotFound
from openmyna.jpki import service as jpki
from openmyna.jpki.authority import CaConfig
from openmyna.kiosk import documents, pdf, qr, rules, signing
from openmyna.kiosk.models import IssuedCertificate
from openmyna.kiosk.municipalities import FAMILY_REGISTER_KINDS, MAX_COPIES, Municipality
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.models import Resident

ISSUE_ACTION = "kiosk.issue"


class UnknownPerson(NotFound):
    slug = "kiosk-unknown-person"
    title_ja = "この市区町村に住民票がありません"
    title_en = "No resident record in this municipality"


class RequestReused(Conflict):
    slug = "kiosk-request-reused"
    title_ja = "この要求番号は別の証明書に使われています"
    title_en = "This request key was used for another certificate"


@dataclass(frozen=True)
class Request:
    subject: str  # the person's pseudonym
    kind: str
    options: documents.Options
    copies: int
    store: str
    request_key: str


@dataclass(frozen=True)
class Issued:
    number: str
    kind: str
    fee: int
    copies: int
    pdf: bytes
    summary: dict[str, Any]
    replayed: bool = False


def new_number() -> str:
    """A 16-digit certificate number drawn at random (not guessable from another one)."""
    return f"{secrets.randbelow(9 * 10**15) + 10**15}"


def _resident(session: Session, subject: str, municipality: Municipality, kind: str, caller: Caller) -> Resident:
    """The person's record (current first, else the latest removed one), if this municipality keeps what
    ``kind`` certifies: the resident record where the person lives, the family register where its 本籍 is."""
    try:
        resident = registry.lookup_by_subject(session, subject=subject, caller=caller, purpose="kiosk issuance")
    except registry.ResidentNotFound as exc:
        raise UnknownPerson(f"{municipality.name_en} keeps no record of this person") from exc
    if kind in FAMILY_REGISTER_KINDS:
        keeper = documents.family_register_keeper(session, resident)
    else:
        keeper = resident.municipality_code
    if keeper != municipality.code:
        raise UnknownPerson(f"{municipality.name_en} keeps no record of this person")
    return resident


def _replay(session: Session, request: Request) -> Issued | None:
    row = session.scalar(
        select(IssuedCertificate).where(
            IssuedCertificate.store == request.store, IssuedCertificate.request_key == request.request_key
        )
    )
    if row is None:
        return None
    if row.subject != request.subject or row.kind != request.kind or row.copies != request.copies:
        raise RequestReused("a retry must repeat the same person, kind and copies")
    return Issued(row.number, row.kind, row.fee, row.copies, row.pdf, dict(row.summary), replayed=True)


def revocation_of(session: Session, *, config: CaConfig, serials: tuple[str, ...]) -> pdf.Revocation:
    """The pre-signed OCSP answers of ``serials`` and the organisation CA's current CRL."""
    ocsps = tuple(jpki.certificate(session, serial=s).ocsp_der or b"" for s in serials)
    return pdf.Revocation(
        ocsps=tuple(o for o in ocsps if o), crls=(jpki.current_crl(session, config=config, kind="org"),)
    )


def produce(
    session: Session,
    *,
    config: CaConfig,
    municipality: Municipality,
    document: documents.Document,
    number: str,
    copies: int,
    base_url: str,
    signer: signing.LoadedSigner | None = None,
) -> bytes:
    """Draw and sign one document (the generate+sign step the benchmark measures)."""
    signer = signer or signing.municipality_signer(
        session, config=config, code=municipality.code, name=municipality.name
    )
    tsa = signing.tsa_signer(session, config=config)
    today = clock.today()
    claims = {
        "n": number,
        "m": municipality.code,
        "k": document.kind,
        "d": today.isoformat(),
        "nm": document.holder_name,
        "b": document.holder_birth.isoformat(),
        "s": signer.serial,
    }
    page = pdf.Page(
        number=number,
        issued_on=today,
        municipality=municipality.name,
        mayor=municipality.mayor,
        qr_text=qr.encode(claims, signer.key),
        verify_url=f"{base_url.rstrip('/')}/verify?number={number}",
        copies=copies,
    )
    revocation = revocation_of(session, config=config, serials=(signer.serial, tsa.serial))
    return pdf.sign(pdf.render(document, page), signer=signer, tsa=tsa, revocation=revocation, name=municipality.name)


def issue(
    session: Session,
    *,
    config: CaConfig,
    municipality: Municipality,
    request: Request,
    caller: Caller,
    base_url: str,
) -> Issued:
    """Issue (or, for a retried request, return again) the certificate the centre asks for."""
    replayed = _replay(session, request)
    if replayed is not None:
        return replayed
    rules.check_open(municipality)
    fee_each = rules.check_offered(municipality, request.kind)
    if not 1 <= request.copies <= MAX_COPIES:
        raise documents.UnsupportedOption(f"copies must be 1–{MAX_COPIES}")
    resident = _resident(session, request.subject, municipality, request.kind, caller)
    rules.check_age(resident.birth_date)
    document = documents.build(
        session,
        kind=request.kind,
        resident=resident,
        options=request.options,
        keys=config.keys,
        municipality=municipality,
        caller=caller,
    )
    number = new_number()
    signer = signing.municipality_signer(session, config=config, code=municipality.code, name=municipality.name)
    signed = produce(
        session,
        config=config,
        municipality=municipality,
        document=document,
        number=number,
        copies=request.copies,
        base_url=base_url,
        signer=signer,
    )
    summary = {**document.summary, "municipality": municipality.code, "municipality_name": municipality.name}
    row = IssuedCertificate(
        number=number,
        municipality=municipality.code,
        kind=request.kind,
        subject=request.subject,
        store=request.store,
        request_key=request.request_key,
        copies=request.copies,
        fee=fee_each * request.copies,
        signer_serial=signer.serial,
        pdf_sha256=hashlib.sha256(signed).digest(),
        pdf=signed,
        summary=summary,
        issued_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same request raced in: answer with the one that won
        replayed = _replay(session, request)
        if replayed is None:
            raise
        return replayed
    audit.record_access(
        session,
        subject=request.subject,
        actor_org=municipality.code,
        actor=f"kiosk:{request.store}"[:128],
        action=ISSUE_ACTION,
        purpose=f"{request.kind} {number} ×{request.copies}",
    )
    return Issued(number, request.kind, row.fee, request.copies, signed, summary)


@dataclass(frozen=True)
class Verification:
    genuine: bool
    number: str
    summary: dict[str, Any]
    issued_at: str
    signer_status: str
    pdf_sha256: str


def verify(session: Session, *, number: str) -> Verification | None:
    """What certificate ``number`` certified, and whether its signing key is still good; None if never issued."""
    if not (number.isdigit() and len(number) == 16):
        return None
    row = session.scalar(select(IssuedCertificate).where(IssuedCertificate.number == number))
    if row is None:
        return None
    status = jpki.certificate(session, serial=row.signer_serial).status
    return Verification(
        genuine=True,
        number=row.number,
        summary=dict(row.summary),
        issued_at=row.issued_at.isoformat(),
        signer_status=status,
        pdf_sha256=row.pdf_sha256.hex(),
    )


def printed_pdf(session: Session, *, number: str) -> bytes:
    """The signed PDF of certificate ``number`` (for the terminal that printed it)."""
    pdf_bytes = session.scalar(select(IssuedCertificate.pdf).where(IssuedCertificate.number == number))
    if pdf_bytes is None:
        raise NotFound(f"no certificate {number}")
    return pdf_bytes
