"""The CA's operations: issue from a CSR, revoke, hold and release, publish CRLs, answer validity questions.

Plain functions over a Session; they never commit. ``card`` (floor 3b) calls these, never the tables.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from openmyna.core import audit, clock
from openmyna.core.clock import JST
from openmyna.core.errors import Conflict, InvalidInput, NotFound
from openmyna.jpki import profiles
from openmyna.jpki.authority import CaConfig, LoadedAuthority, ensure_authorities, load, loaded_authority
from openmyna.jpki.models import GOOD, ON_HOLD, REVOKED, Authority, Certificate, Crl
from openmyna.jpki.ocsp import REASONS, presign
from openmyna.jpki.profiles import KINDS, HolderFacts, Kind, nth_birthday_after
from openmyna.jpki.signers import sign_certificate, sign_crl

__all__ = [
    "KINDS",
    "CaConfig",
    "HolderFacts",
    "Kind",
    "ca_certificate_pem",
    "certificate",
    "certificates_of",
    "check_validity",
    "current_crl",
    "ensure_authorities",
    "issue",
    "issue_organisation",
    "link_replacement",
    "note_holder_abroad",
    "nth_birthday_after",
    "release_hold",
    "revoke",
]

CRL_VALIDITY = dt.timedelta(days=1)
REVOCATION_REASONS = tuple(REASONS)


class BadCsr(InvalidInput):
    slug = "jpki-bad-csr"
    title_ja = "証明書署名要求が正しくありません"
    title_en = "The certificate signing request is not acceptable"


class MalformedCertificate(InvalidInput):
    slug = "jpki-malformed-certificate"
    title_ja = "証明書を読み取れません"
    title_en = "The certificate cannot be parsed"


class ForeignCertificate(InvalidInput):
    slug = "jpki-foreign-certificate"
    status = 422
    title_ja = "この認証局が発行した証明書ではありません"
    title_en = "Not a certificate issued by this CA"


class CertificateNotFound(NotFound):
    slug = "jpki-certificate-not-found"
    title_ja = "証明書が見つかりません"
    title_en = "Certificate not found"


class AlreadyRevoked(Conflict):
    slug = "jpki-already-revoked"
    title_ja = "証明書は既に失効しています"
    title_en = "The certificate is already revoked"


def utcnow() -> dt.datetime:
    """``clock.now()`` in UTC (stored naive on SQLite, so every stored instant is UTC)."""
    return clock.now().astimezone(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def ca_certificate_pem(session: Session, *, config: CaConfig, kind: Kind) -> bytes:
    return loaded_authority(session, config=config, kind=kind).certificate.public_bytes(serialization.Encoding.PEM)


def load_csr(csr_der: bytes) -> x509.CertificateSigningRequest:
    """A CSR the CA accepts: parseable, self-signed by its key, RSA-2048."""
    try:
        csr = x509.load_der_x509_csr(csr_der)
    except ValueError as exc:
        raise BadCsr(f"not a DER PKCS#10 request: {exc}") from exc
    key = csr.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
        raise BadCsr("the key must be RSA-2048 (JPKI profile)")
    if not csr.is_signature_valid:
        raise BadCsr("the request is not signed by the key it carries (no proof of possession)")
    return csr


def issue(
    session: Session,
    *,
    config: CaConfig,
    kind: Kind,
    csr_der: bytes,
    holder: HolderFacts,
    holder_ref: str,
    subject: str,
) -> Certificate:
    """Issue one certificate of ``kind`` for the key in ``csr_der``, valid to the 5th birthday after today."""
    csr = load_csr(csr_der)
    authority = loaded_authority(session, config=config, kind=kind)
    now = utcnow().replace(microsecond=0)
    until = profiles.nth_birthday_after(holder.birth_date, now.astimezone(JST).date(), 5)
    not_after = dt.datetime.combine(until, dt.time(23, 59, 59), JST).astimezone(dt.UTC)
    serial = profiles.random_serial()
    issue_id = secrets.token_hex(8).upper()
    builder = profiles.end_entity_builder(
        kind,
        ca_certificate=authority.certificate,
        public_key=csr.public_key(),  # type: ignore[arg-type]
        holder=holder,
        issue_id=issue_id,
        serial=serial,
        not_before=now,
        not_after=not_after,
        urls=config.urls,
    )
    cert = sign_certificate(builder, authority.signer)
    row = Certificate(
        authority_id=authority.id,
        kind=kind,
        serial=format(serial, "x"),
        issue_id=issue_id,
        holder_ref=holder_ref,
        subject=subject,
        der=cert.public_bytes(serialization.Encoding.DER),
        not_before=now,
        not_after=not_after,
        issued_at=now,
        status=GOOD,
        holder_abroad_since=holder.abroad_since,
    )
    presign(authority, row)
    session.add(row)
    return row


ORGANISATION_VALIDITY = dt.timedelta(days=3 * 365)


def issue_organisation(
    session: Session,
    *,
    config: CaConfig,
    public_key: rsa.RSAPublicKey,
    organisation: str,
    unit: str,
    holder_ref: str,
    time_stamping: bool = False,
) -> Certificate:
    """Issue an organisation CA certificate (a municipality's document-signing key, or a time-stamping unit).

    Stored, revoked, listed in the CRL and answered by OCSP like every other certificate of the platform.
    """
    if public_key.key_size != 2048:
        raise BadCsr("the key must be RSA-2048")
    authority = loaded_authority(session, config=config, kind="org")
    now = utcnow().replace(microsecond=0)
    serial = profiles.random_serial()
    builder = profiles.organisation_builder(
        ca_certificate=authority.certificate,
        public_key=public_key,
        organisation=organisation,
        unit=unit,
        serial=serial,
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + ORGANISATION_VALIDITY,
        urls=config.urls,
        time_stamping=time_stamping,
    )
    cert = sign_certificate(builder, authority.signer)
    row = Certificate(
        authority_id=authority.id,
        kind="org",
        serial=format(serial, "x"),
        issue_id=secrets.token_hex(8).upper(),
        holder_ref=holder_ref[:64],
        subject=holder_ref[:64],
        der=cert.public_bytes(serialization.Encoding.DER),
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + ORGANISATION_VALIDITY,
        issued_at=now,
        status=GOOD,
    )
    presign(authority, row)
    session.add(row)
    session.flush()
    return row


def _row(session: Session, serial: str, kind: Kind | None = None) -> Certificate:
    query = select(Certificate).where(Certificate.serial == serial.lower().removeprefix("0x"))
    if kind is not None:
        query = query.where(Certificate.kind == kind)
    row = session.scalars(query.limit(1)).first()
    if row is None:
        raise CertificateNotFound(f"no certificate with serial {serial}")
    return row


def certificate(session: Session, *, serial: str, kind: Kind | None = None) -> Certificate:
    return _row(session, serial, kind)


def certificates_of(session: Session, *, holder_ref: str) -> list[Certificate]:
    return list(
        session.scalars(select(Certificate).where(Certificate.holder_ref == holder_ref).order_by(Certificate.id))
    )


def _authority_of(session: Session, config: CaConfig, row: Certificate) -> LoadedAuthority:
    return load(config, session.get_one(Authority, row.authority_id))


def revoke(session: Session, *, config: CaConfig, serial: str, reason: str) -> Certificate:
    """Revoke (or, with ``certificate_hold``, suspend) a certificate; re-sign its OCSP answer and the CRL."""
    if reason not in REASONS:
        raise InvalidInput(f"unknown revocation reason {reason!r}; expected one of {', '.join(REASONS)}")
    row = _row(session, serial)
    if row.status == REVOKED or (row.status == ON_HOLD and reason == "certificate_hold"):
        raise AlreadyRevoked(f"certificate {row.serial} is already {row.status}")
    row.status = ON_HOLD if reason == "certificate_hold" else REVOKED
    row.revoked_at = utcnow().replace(microsecond=0)
    row.revocation_reason = reason
    authority = _authority_of(session, config, row)
    presign(authority, row)
    session.flush()
    publish_crl(session, config=config, kind=row.kind)  # type: ignore[arg-type]
    return row


def release_hold(session: Session, *, config: CaConfig, serial: str) -> Certificate:
    """Lift a hold (the card was found): the certificate is good again and leaves the CRL."""
    row = _row(session, serial)
    if row.status != ON_HOLD:
        raise Conflict(f"certificate {row.serial} is {row.status}, not on hold")
    row.status, row.revoked_at, row.revocation_reason = GOOD, None, None
    presign(_authority_of(session, config, row), row)
    session.flush()
    publish_crl(session, config=config, kind=row.kind)  # type: ignore[arg-type]
    return row


def link_replacement(session: Session, *, old_serial: str, new_serial: str) -> None:
    """Record that ``new_serial`` replaced ``old_serial`` (a verifier learns the holder's new facts)."""
    old, new = _row(session, old_serial), _row(session, new_serial)
    if old.kind != new.kind or old.holder_ref != new.holder_ref:
        raise Conflict("a replacement must be the same kind of certificate for the same holder")
    old.replaced_by_serial = new.serial


def note_holder_abroad(session: Session, *, holder_ref: str, since: dt.date | None) -> None:
    """Record on every certificate of ``holder_ref`` that the holder lives abroad from ``since`` (None: back home).

    Status and OCSP answers do not change: a move abroad is news for verifiers, not a revocation.
    """
    for row in certificates_of(session, holder_ref=holder_ref):
        row.holder_abroad_since = since


def publish_crl(session: Session, *, config: CaConfig, kind: Kind) -> Crl:
    """Sign and store a new full CRL for ``kind``'s CA, listing every unexpired revoked or held serial."""
    authority_row = ensure_authorities(session, config=config)[kind]
    authority = load(config, authority_row)
    now = utcnow().replace(microsecond=0)
    authority_row.crl_number += 1
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now)
        .next_update(now + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(authority_row.crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    revoked = session.execute(
        select(Certificate.serial, Certificate.revoked_at, Certificate.revocation_reason).where(
            Certificate.authority_id == authority.id,
            Certificate.status.in_((REVOKED, ON_HOLD)),
            Certificate.not_after > now,
        )
    )
    for serial, revoked_at, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(int(serial, 16)).revocation_date(aware(revoked_at))
        if reason and reason != "unspecified":
            entry = entry.add_extension(x509.CRLReason(REASONS[reason]), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = sign_crl(builder, authority.signer)
    row = Crl(
        authority_id=authority.id,
        number=authority_row.crl_number,
        this_update=now,
        next_update=now + CRL_VALIDITY,
        der=crl.public_bytes(serialization.Encoding.DER),
    )
    session.add(row)
    session.flush()
    return row


def current_crl(session: Session, *, config: CaConfig, kind: Kind) -> bytes:
    """The newest CRL; a new one is published when none exists or half its life has passed (the schedule)."""
    authority = ensure_authorities(session, config=config)[kind]
    latest = session.scalars(
        select(Crl).where(Crl.authority_id == authority.id).order_by(Crl.number.desc()).limit(1)
    ).first()
    if latest is None or utcnow() >= aware(latest.this_update) + CRL_VALIDITY / 2:
        latest = publish_crl(session, config=config, kind=kind)
    return latest.der


def refresh(session: Session, *, config: CaConfig) -> int:
    """The scheduled job: publish both CRLs and re-sign OCSP answers older than half their life."""
    for kind in KINDS:
        publish_crl(session, config=config, kind=kind)
    stale_before = utcnow() - dt.timedelta(hours=12)
    count = 0
    for row in session.scalars(select(Certificate).where(Certificate.ocsp_produced_at < stale_before)):
        presign(_authority_of(session, config, row), row)
        count += 1
    return count


@dataclass(frozen=True)
class Validity:
    """The answer of the validity-check service for one certificate at one instant."""

    serial: str
    kind: str
    status: str  # good | revoked | suspended | expired | not_yet_valid
    at: dt.datetime
    not_before: dt.datetime
    not_after: dt.datetime
    revoked_at: dt.datetime | None
    reason: str | None
    replaced_by: Certificate | None
    holder_abroad_since: dt.date | None  # as the CA knows it now, whatever ``at`` says


def parse_certificate(data: bytes) -> x509.Certificate:
    """PEM or DER, or a MalformedCertificate."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise MalformedCertificate(f"not an X.509 certificate: {exc}") from exc


def verify_issued(session: Session, *, config: CaConfig, cert: x509.Certificate) -> Certificate:
    """The stored row of a certificate this CA really signed, or ForeignCertificate."""
    for authority_row in session.scalars(select(Authority)):
        authority = load(config, authority_row)
        if cert.issuer != authority.certificate.subject:
            continue
        try:
            cert.verify_directly_issued_by(authority.certificate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        row = session.scalars(
            select(Certificate).where(
                Certificate.authority_id == authority.id, Certificate.serial == format(cert.serial_number, "x")
            )
        ).first()
        if row is not None and row.der == cert.public_bytes(serialization.Encoding.DER):
            return row
    raise ForeignCertificate("the certificate was not issued by the JPKI signing or authentication CA")


def check_validity(
    session: Session, *, config: CaConfig, data: bytes, at: dt.datetime | None, verifier_org: str, actor: str
) -> Validity:
    """Is this certificate valid now (or at ``at``)? If revoked, when and why; if replaced, by which."""
    row = verify_issued(session, config=config, cert=parse_certificate(data))
    when = (at or utcnow()).astimezone(dt.UTC)
    revoked_at = aware(row.revoked_at) if row.revoked_at else None
    if when < aware(row.not_before):
        status = "not_yet_valid"
    elif revoked_at is not None and revoked_at <= when:
        status = "suspended" if row.status == ON_HOLD else "revoked"
    elif when > aware(row.not_after):
        status = "expired"
    else:
        status = "good"
    replaced, seen = None, {row.serial}
    while (serial := (replaced or row).replaced_by_serial) and serial not in seen:  # the newest of the chain:
        seen.add(serial)  # what a verifier wants is the holder's facts now, not one step on
        replaced = _row(session, serial)
    audit.record_access(
        session,
        subject=row.subject,
        actor_org=verifier_org,
        actor=actor,
        action="jpki.validity_check",
        purpose=f"{row.kind} certificate {row.serial}",
    )
    return Validity(
        serial=row.serial,
        kind=row.kind,
        status=status,
        at=when,
        not_before=aware(row.not_before),
        not_after=aware(row.not_after),
        revoked_at=revoked_at if status in ("revoked", "suspended") else None,
        reason=row.revocation_reason if status in ("revoked", "suspended") else None,
        replaced_by=replaced,
        holder_abroad_since=row.holder_abroad_since,
    )
