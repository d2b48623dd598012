"""OCSP (RFC 6960): pre-signed answers per certificate, served from memory.

Large CAs sign each certificate's answer ahead of time and serve it as a static blob; only requests
carrying a nonce, or using a CertID hash other than SHA-1, are signed on the fly. A revocation
re-signs the stored answer and bumps its CA's CRL number in the same transaction. Every process
reads the CRL numbers at most every ``ENTRY_TTL`` seconds (one tiny query) and forgets the cached
answers of a CA whose number moved, so a revocation is visible within a second everywhere while
steady-state requests never touch the database. Unknown serials are re-read after ``ENTRY_TTL``.

Every pre-signable answer (no nonce) comes with the facts RFC 5019 section 6.2 asks HTTP caches to be told
(:class:`Answer`, :func:`cache_headers`): an HTTP cache in front serves it until ``max-age``, which is the
time left before the answer's ``nextUpdate`` but never more than the configured bound, so a revocation is
seen through the cache within that bound (plus ``ENTRY_TTL`` here).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import threading
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from openmyna.core import clock
from openmyna.jpki.authority import CaConfig, LoadedAuthority, load
from openmyna.jpki.models import GOOD, Authority, Certificate

ENTRY_TTL = 0.5
RESPONSE_VALIDITY = dt.timedelta(days=1)
REFRESH_AFTER = dt.timedelta(hours=12)
REQUEST_CACHE_SIZE = 100_000
REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "certificate_hold": x509.ReasonFlags.certificate_hold,
}
MEDIA_REQUEST = "application/ocsp-request"
MEDIA_RESPONSE = "application/ocsp-response"


@dataclass(frozen=True)
class CertStatus:
    """What the responder needs to answer for one serial."""

    serial: int
    status: str  # good | revoked | on_hold | unknown
    revoked_at: dt.datetime | None = None
    reason: str | None = None


def sign_response(
    authority: LoadedAuthority,
    entry: CertStatus,
    *,
    algorithm: hashes.HashAlgorithm,
    nonce: bytes | None = None,
) -> bytes:
    """One signed BasicOCSPResponse for ``entry`` from the CA's delegated responder (DER)."""
    now = clock.now().replace(microsecond=0)
    name_hash, key_hash = authority.cert_id_hashes(algorithm)
    if entry.status == "unknown":
        status, revoked_at, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
    elif entry.status == GOOD:
        status, revoked_at, reason = ocsp.OCSPCertStatus.GOOD, None, None
    else:
        status, revoked_at = ocsp.OCSPCertStatus.REVOKED, entry.revoked_at
        reason = REASONS.get(entry.reason or "unspecified")
        if reason is x509.ReasonFlags.unspecified:
            reason = None
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=name_hash,
            issuer_key_hash=key_hash,
            serial_number=entry.serial,
            algorithm=algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + RESPONSE_VALIDITY,
            revocation_time=revoked_at,
            revocation_reason=reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, authority.responder_certificate)
        .certificates([authority.responder_certificate])
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.sign(authority.responder_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def presign(authority: LoadedAuthority, row: Certificate) -> None:
    """Store the SHA-1 CertID answer of ``row`` as it stands now (called on issue, revocation, refresh)."""
    row.ocsp_der = sign_response(authority, status_of(row), algorithm=hashes.SHA1())
    row.ocsp_produced_at = clock.now()


def status_of(row: Certificate) -> CertStatus:
    return CertStatus(int(row.serial, 16), row.status, row.revoked_at, row.revocation_reason)


def unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class Answer:
    """A DER OCSPResponse and, when an HTTP cache may keep it, its validity and entity tag."""

    der: bytes
    this_update: dt.datetime | None = None  # None: not for caches (nonce echoed, or unsuccessful)
    next_update: dt.datetime | None = None
    etag: bytes = b""
    validity_headers: tuple[tuple[bytes, bytes], ...] = ()  # Last-Modified, Expires, ETag (made once)

    @classmethod
    def cacheable(cls, der: bytes) -> Answer:
        """The answer with its own thisUpdate/nextUpdate and, as RFC 5019 recommends, its SHA-1 as the tag."""
        single = ocsp.load_der_ocsp_response(der)
        this_update, next_update = single.this_update_utc, single.next_update_utc
        assert next_update is not None  # sign_response always sets it
        etag = b'"' + hashlib.sha1(der, usedforsecurity=False).hexdigest().encode() + b'"'
        headers = (
            (b"last-modified", email.utils.format_datetime(this_update, usegmt=True).encode()),
            (b"expires", email.utils.format_datetime(next_update, usegmt=True).encode()),
            (b"etag", etag),
        )
        return cls(der, this_update, next_update, etag, headers)


def cache_headers(answer: Answer, *, now: dt.datetime, max_age_bound: int) -> list[tuple[bytes, bytes]]:
    """The response headers of RFC 5019 section 6.2 (or ``no-cache`` for an answer no cache may keep).

    ``max-age`` is the time left before nextUpdate, capped at ``max_age_bound`` seconds: the documented
    bound on how long a cache in front may go on serving an answer after a revocation.
    """
    if answer.this_update is None or answer.next_update is None:
        return [(b"cache-control", b"max-age=0, no-cache, no-store")]
    left = int((answer.next_update - now).total_seconds())
    max_age = max(0, min(left, max_age_bound))
    control = b"max-age=%d, public, no-transform, must-revalidate" % max_age
    return [(b"cache-control", control), *answer.validity_headers]


def not_modified(answer: Answer, if_none_match: bytes | None, if_modified_since: bytes | None) -> bool:
    """Whether a conditional request (a cache revalidating) already holds this answer (RFC 9110 13.1)."""
    if answer.this_update is None:
        return False
    if if_none_match is not None:
        return answer.etag in {tag.strip() for tag in if_none_match.split(b",")} or if_none_match.strip() == b"*"
    if if_modified_since is not None:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since.decode("latin-1"))
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and answer.this_update <= since
    return False


@dataclass
class _Entry:
    fetched: float
    status: CertStatus
    presigned: Answer | None
    produced_at: dt.datetime | None


class Responder:
    """Answers OCSP requests for both CAs of one deployment, from memory where it can."""

    def __init__(self, session_factory: sessionmaker[Session], config: CaConfig) -> None:
        """``session_factory`` only reads (a read-only one in the server: answering never takes the writer)."""
        self._factory = session_factory
        self._config = config
        self._authorities: dict[tuple[str, bytes, bytes], LoadedAuthority] = {}
        self._authorities_read = 0.0
        self._entries: dict[tuple[int, int], _Entry] = {}
        self._crl_numbers: dict[int, int] = {}
        self._watermark_read = 0.0
        self._lock = threading.Lock()
        # Pre-signed answers by the exact request bytes: a repeated request skips parsing and lookups.
        # Emptied with the entries when a CA's CRL number moves.
        self._by_request: dict[bytes, Answer] = {}

    def respond(self, body: bytes, *, memory_only: bool = False) -> Answer | None:
        """The answer to a DER OCSPRequest; bad requests get an unsuccessful status, never an error.

        With ``memory_only``, None when answering needs the database (the caller retries off the event loop).
        """
        if time.monotonic() - self._watermark_read < ENTRY_TTL:
            known = self._by_request.get(body)
            if known is not None and known.this_update is not None and clock.now() - known.this_update < REFRESH_AFTER:
                return known
        try:
            return self._respond(body, memory_only)
        except _NeedsDatabase:
            return None

    def _respond(self, body: bytes, memory_only: bool) -> Answer:
        try:
            request = ocsp.load_der_ocsp_request(body)
            algorithm = request.hash_algorithm
            issuer = (algorithm.name, request.issuer_name_hash, request.issuer_key_hash)
            serial = request.serial_number
            nonce: bytes | None = None
            with contextlib.suppress(x509.ExtensionNotFound):
                nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except (ValueError, TypeError, x509.UnsupportedGeneralNameType):
            return Answer(unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST))
        except Exception:  # an unsupported hash algorithm in the CertID, among others
            return Answer(unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST))
        authority = self._authority(issuer, memory_only=memory_only)
        if authority is None:
            return Answer(unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED))
        entry = self._entry(authority, serial, memory_only=memory_only)
        fresh = entry.produced_at is not None and clock.now() - entry.produced_at < REFRESH_AFTER
        if nonce is None and algorithm.name == "sha1" and entry.presigned is not None and fresh:
            if len(self._by_request) >= REQUEST_CACHE_SIZE:
                self._by_request = {}
            self._by_request[body] = entry.presigned
            return entry.presigned
        der = sign_response(authority, entry.status, algorithm=algorithm, nonce=nonce)
        if nonce is not None:
            return Answer(der)
        answer = Answer.cacheable(der)
        if algorithm.name == "sha1":
            entry.presigned, entry.produced_at = answer, clock.now()
        return answer

    def _authority(self, issuer: tuple[str, bytes, bytes], *, memory_only: bool = False) -> LoadedAuthority | None:
        found = self._authorities.get(issuer)
        if found is None and time.monotonic() - self._authorities_read > 1.0:
            if memory_only:
                raise _NeedsDatabase
            with self._factory() as session:
                rows = list(session.scalars(select(Authority)))
            read = dict(self._authorities)
            for row in rows:
                loaded = load(self._config, row)
                for candidate in (hashes.SHA1(), hashes.SHA256(), hashes.SHA384(), hashes.SHA512()):
                    name_hash, key_hash = loaded.cert_id_hashes(candidate)
                    read[(candidate.name, name_hash, key_hash)] = loaded
            with self._lock:
                # Whole, then stamped: a thread that finds the stamp fresh also finds every authority read
                # (stamping first let a concurrent first login see a half-filled map and refuse the card).
                self._authorities = read
                self._authorities_read = time.monotonic()
            found = self._authorities.get(issuer)
        return found

    def _entry(self, authority: LoadedAuthority, serial: int, *, memory_only: bool = False) -> _Entry:
        now = time.monotonic()
        if now - self._watermark_read >= ENTRY_TTL:
            if memory_only:
                raise _NeedsDatabase
            self._read_watermark()
        key = (authority.id, serial)
        entry = self._entries.get(key)
        if entry is not None and (entry.status.status != "unknown" or now - entry.fetched < ENTRY_TTL):
            return entry
        if memory_only:
            raise _NeedsDatabase
        query = select(
            Certificate.status,
            Certificate.revoked_at,
            Certificate.revocation_reason,
            Certificate.ocsp_der,
            Certificate.ocsp_produced_at,
        ).where(Certificate.authority_id == authority.id, Certificate.serial == format(serial, "x"))
        with self._factory() as session:
            row = session.execute(query).first()
        if row is None:
            entry = _Entry(time.monotonic(), CertStatus(serial, "unknown"), None, None)
        else:
            status = CertStatus(serial, row.status, _aware(row.revoked_at), row.revocation_reason)
            presigned = Answer.cacheable(row.ocsp_der) if row.ocsp_der is not None else None
            entry = _Entry(time.monotonic(), status, presigned, _aware(row.ocsp_produced_at))
        self._entries[key] = entry
        return entry

    def _read_watermark(self) -> None:
        """Forget the answers of every CA whose CRL number moved (a revocation or a release committed)."""
        with self._factory() as session:
            numbers = {row.id: row.crl_number for row in session.execute(select(Authority.id, Authority.crl_number))}
        with self._lock:
            moved = {a for a, number in numbers.items() if self._crl_numbers.get(a) != number}
            if moved:
                self._entries = {k: v for k, v in list(self._entries.items()) if k[0] not in moved}
                self._by_request = {}
            self._crl_numbers = numbers
            self._watermark_read = time.monotonic()

    def status(self, authority: LoadedAuthority, serial: int) -> CertStatus:
        """The cached status of one serial (also used by login verification)."""
        return self._entry(authority, serial).status

    def authority_for(self, certificate: x509.Certificate) -> LoadedAuthority | None:
        """The authority that issued ``certificate``, by issuer name and authority key identifier."""
        try:
            aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        except x509.ExtensionNotFound:
            return None
        name_hash = hashlib.sha1(certificate.issuer.public_bytes()).digest()
        for (algorithm, candidate_name, _key), loaded in list(self._authorities.items()):
            if algorithm == "sha1" and candidate_name == name_hash:
                ski = loaded.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
                if ski == aki:
                    return loaded
        if time.monotonic() - self._authorities_read > 1.0:
            self._authority(("", b"", b""))
            return self.authority_for(certificate) if self._authorities else None
        return None


class _NeedsDatabase(Exception):
    """The answer is not in memory."""


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value
