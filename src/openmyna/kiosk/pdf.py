"""The printed certificate: an A4 PDF drawn with reportlab in Debian's IPAex Mincho (embedded as a subset),
then PAdES-signed by the municipality's key with pyhanko (B-LT: an RFC 3161 time-stamp from the centre's
time-stamping unit, and the OCSP answers and CRL of the signing chain embedded in the document).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import segno
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from openmyna.core import clock
from openmyna.core.errors import DomainError
from openmyna.core.i18n import era_date
from openmyna.kiosk.documents import Document
from openmyna.kiosk.signing import LoadedSigner

# pyhanko warns that fetching is off: on purpose, the answers are given (pre-signed OCSP, the current CRL).
logging.getLogger("pyhanko.sign.signers.pdf_signer").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="DSA is deprecated", module="pyhanko")
IPAEX_MINCHO = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")
SIGNATURE_FIELD = "MunicipalSignature"
BYTES_RESERVED = 24_000  # the CMS with the time-stamp token; sized once instead of signing twice
QR_MASK = 4  # any of the eight masks reads; choosing the "best" costs a second of pure Python per code
# The pattern's ink: (0.55, 0.62, 0.75) at 16 % over white paper, as an opaque colour, since it is drawn
# first and a form XObject (drawn once, placed on every page) carries no transparency state.
_PATTERN = Color(*(1 - 0.16 * (1 - channel) for channel in (0.55, 0.62, 0.75)))
_BACKGROUND_FORM, _QR_FORM = "background", "qr"


@cache
def font() -> str:
    """A registered font that draws Japanese: IPAex Mincho embedded when installed, else a CID font."""
    if IPAEX_MINCHO.exists():
        pdfmetrics.registerFont(TTFont("IPAexMincho", str(IPAEX_MINCHO)))
        return "IPAexMincho"
    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiMin-W3"))
    return "HeiseiMin-W3"


class SignerUnusable(DomainError):
    slug = "kiosk-signer-unusable"
    status = 503
    title_ja = "証明書に署名できません（署名鍵が無効です）"
    title_en = "The certificate cannot be signed (the signing key is not valid)"


@dataclass(frozen=True)
class Page:
    """Everything printed besides the document's own content."""

    number: str
    issued_on: dt.date
    municipality: str
    mayor: str
    qr_text: str
    verify_url: str
    copy_number: int = 1
    copies: int = 1


def _background(pdf: canvas.Canvas, face: str, width: float, height: float) -> None:
    """A light pattern (地紋) repeating 「複写」 faintly: a stand-in for the paper's anti-copy ground; a form
    XObject drawn once, placed on every page."""
    pdf.beginForm(_BACKGROUND_FORM)
    pdf.saveState()
    pdf.setFillColor(_PATTERN)
    pdf.setFont(face, 11)
    for row in range(0, int(height), 36):
        for column in range(-40, int(width), 90):
            pdf.drawString(column + (row % 72), row, "複写　COPY")
    pdf.restoreState()
    pdf.endForm()


def _qr(pdf: canvas.Canvas, text: str, x: float, y: float, size: float) -> None:
    """The code as a form XObject of vector squares, one rectangle per run of dark modules (a fixed mask:
    the search is slow); every page places the same form."""
    pdf.beginForm(_QR_FORM)
    code = segno.make(text, error="m", micro=False, mask=QR_MASK, boost_error=False)
    matrix = [list(line) for line in code.matrix]
    border = 2
    modules = len(matrix) + 2 * border
    cell = size / modules
    pdf.setFillColor(white)  # the quiet zone and light modules cover the background pattern
    pdf.rect(x, y, size, size, stroke=0, fill=1)
    pdf.setFillColor(black)
    path = pdf.beginPath()
    for r, line in enumerate(matrix):
        c = 0
        while c < len(line):
            if not line[c]:
                c += 1
                continue
            run = c
            while run < len(line) and line[run]:
                run += 1
            path.rect(x + (c + border) * cell, y + size - (r + border + 1) * cell, (run - c) * cell, cell)
            c = run
    pdf.drawPath(path, stroke=0, fill=1)
    pdf.endForm()


LINE = 6.0 * mm
FOOTER_TOP = 66 * mm  # the QR code and the check lines sit below this on every page


def render(document: Document, page: Page) -> bytes:
    """A4 pages, unsigned: each copy starts on a new page; a long household runs on to further pages."""
    buffer = io.BytesIO()
    face = font()
    width, height = A4
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1, invariant=1, initialFontName=face)
    pdf.setTitle(f"{document.title} {page.number}")
    pdf.setAuthor(page.municipality)
    pdf.setSubject(document.title)

    _background(pdf, face, width, height)
    _qr(pdf, page.qr_text, 18 * mm, 14 * mm, 46 * mm)

    def footer() -> None:
        pdf.doForm(_QR_FORM)
        pdf.setFillColor(black)
        pdf.setFont(face, 8)
        lines = (
            "この証明書は電子署名されています（PAdES）。QRコードの署名は公開鍵で確認できます。",
            f"真正性の確認: {page.verify_url}",
            f"{page.municipality}　コンビニ交付",
        )
        for offset, line in enumerate(lines):
            pdf.drawString(68 * mm, 48 * mm - offset * 5 * mm, line)

    def start(copy: int, continued: bool) -> float:
        pdf.doForm(_BACKGROUND_FORM)
        pdf.setFillColor(black)
        pdf.setFont(face, 22)
        pdf.drawCentredString(width / 2, height - 30 * mm, document.title + ("（続き）" if continued else ""))
        pdf.setFont(face, 9)
        pdf.drawRightString(width - 18 * mm, height - 18 * mm, f"証明書番号 {page.number}")
        if page.copies > 1:
            pdf.drawRightString(width - 18 * mm, height - 23 * mm, f"{copy} / {page.copies} 通")
        return height - 45 * mm

    def room(y: float, need: float, copy: int) -> float:
        if y - need >= FOOTER_TOP:
            return y
        footer()
        pdf.showPage()
        return start(copy, continued=True)

    for copy in range(1, page.copies + 1):
        y = start(copy, continued=False)
        for block in document.blocks:
            y = room(y, len(block) * LINE + 6 * mm, copy)
            top = y
            for label, value in block:
                pdf.setFont(face, 9)
                pdf.drawString(22 * mm, y, label)
                pdf.setFont(face, 11)
                pdf.drawString(62 * mm, y, value)
                y -= LINE
            pdf.setLineWidth(0.4)
            pdf.rect(18 * mm, y + 3 * mm, width - 36 * mm, top - y + 2 * mm)
            y -= 4 * mm
        if document.seal_png:
            y = room(y, 46 * mm, copy)
            pdf.setFont(face, 9)
            pdf.drawString(22 * mm, y - 8 * mm, "印影")
            seal = ImageReader(io.BytesIO(document.seal_png))
            pdf.drawImage(seal, 62 * mm, y - 42 * mm, 34 * mm, 34 * mm, mask="auto")
            y -= 44 * mm
        y = room(y, 46 * mm, copy)
        if document.notes:
            pdf.setFont(face, 8)
            pdf.drawString(22 * mm, y - 2 * mm, "　".join(f"※{note}" for note in document.notes))
            y -= 4 * mm
        pdf.setFont(face, 11)
        pdf.drawString(22 * mm, y - 12 * mm, document.certification)
        pdf.drawString(22 * mm, y - 20 * mm, era_date(page.issued_on))
        pdf.setFont(face, 14)
        pdf.drawRightString(width - 22 * mm, y - 30 * mm, page.mayor)
        pdf.setFont(face, 8)
        pdf.drawRightString(width - 22 * mm, y - 35 * mm, "（電子署名・公印省略）")
        footer()
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _asn1_cert(certificate: object) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))  # type: ignore[attr-defined]


def _asn1_key(signer: LoadedSigner) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        signer.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


@dataclass(frozen=True)
class Revocation:
    """The status evidence embedded in the document (B-LT): OCSP answers and the CA's CRL, DER."""

    ocsps: tuple[bytes, ...]
    crls: tuple[bytes, ...]


class _KeptKeySigner:
    """pyhanko's SimpleSigner with the key object kept (it re-parses the key, with its RSA check, per signature)."""

    @staticmethod
    def build(signer: LoadedSigner) -> object:
        from pyhanko.sign import signers as pyhanko_signers
        from pyhanko.sign.general import get_pyca_cryptography_hash
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        class Kept(pyhanko_signers.SimpleSigner):  # type: ignore[misc]
            def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
                return signer.key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))

        return Kept(
            signing_cert=_asn1_cert(signer.certificate),
            signing_key=_asn1_key(signer),
            cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(signer.ca_certificate)]),
        )


@cache
def _cms_signer(signer: LoadedSigner) -> object:
    """pyhanko's signer for one key, built once."""
    return _KeptKeySigner.build(signer)


@cache
def _tsa_parts(tsa: LoadedSigner) -> tuple[asn1_x509.Certificate, asn1_keys.PrivateKeyInfo, asn1_x509.Certificate]:
    return _asn1_cert(tsa.certificate), _asn1_key(tsa), _asn1_cert(tsa.ca_certificate)


@cache
def _stamper(tsa: LoadedSigner) -> object:
    """The centre's time-stamping unit (RFC 3161) stamping the one clock's time, with its key object kept.

    One per key: pyhanko's stamper makes a dummy token once (to size the signature and find its chain),
    which a stamper per document paid every time.
    """
    from asn1crypto import cms, core
    from pyhanko.sign.general import as_signing_certificate, get_pyca_cryptography_hash, simple_cms_attribute
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    certificate, key, ca = _tsa_parts(tsa)

    class Kept(DummyTimeStamper):  # type: ignore[misc]
        # the same for every token: built once, and parsed back so that its encoding is kept, not redone
        signing_certificate = cms.CMSAttribute.load(
            simple_cms_attribute("signing_certificate", as_signing_certificate(certificate)).dump()
        )

        @property
        def fixed_dt(self) -> dt.datetime:  # read when stamping: the one clock's time
            return clock.now()

        @fixed_dt.setter
        def fixed_dt(self, _value: object) -> None:
            pass  # the clock, not a fixed moment

        def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, when: dt.datetime) -> tuple[bytes, object]:
            digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
            digest.update(tst_info_data)
            signed_attrs = cms.CMSAttributes(
                [
                    simple_cms_attribute("content_type", "tst_info"),
                    simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(when)})),
                    self.signing_certificate,
                    simple_cms_attribute("message_digest", digest.finalize()),
                ]
            )
            hash_algorithm = get_pyca_cryptography_hash(md_algorithm.upper())
            return tsa.key.sign(signed_attrs.dump(), PKCS1v15(), hash_algorithm), signed_attrs

    return Kept(tsa_cert=certificate, tsa_key=key, certs_to_embed=SimpleCertificateStore.from_certs([ca]))


class _ValidationContexts(threading.local):
    """pyhanko's validation context for one key and one set of status evidence, kept by each thread for a few
    seconds: the chain and status checks of the key and of the time-stamping unit are cached in it (about a
    tenth of a certificate's CPU time). New evidence (a revocation moves the CRL and the OCSP answers) or
    another key gets a new context at once; the moment checked is never older than ``KEEP_SECONDS``."""

    KEEP_SECONDS = 10.0

    def __init__(self) -> None:
        self.kept: tuple[tuple[LoadedSigner, Revocation], dt.datetime, object] | None = None

    def for_signing(self, signer: LoadedSigner, revocation: Revocation, now: dt.datetime) -> object:
        from pyhanko_certvalidator import ValidationContext

        key = (signer, revocation)
        if (
            self.kept is None
            or self.kept[0] != key
            or not 0 <= (now - self.kept[1]).total_seconds() < self.KEEP_SECONDS
        ):
            context = ValidationContext(
                trust_roots=[_asn1_cert(signer.ca_certificate)],
                moment=now,
                ocsps=list(revocation.ocsps),
                crls=list(revocation.crls),
                allow_fetching=False,
            )
            self.kept = key, now, context
        return self.kept[2]


_contexts = _ValidationContexts()


def sign(unsigned: bytes, *, signer: LoadedSigner, tsa: LoadedSigner, revocation: Revocation, name: str) -> bytes:
    """PAdES B-LT: CMS signature with the municipality's key, an RFC 3161 time-stamp, and the DSS."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner

    context = _contexts.for_signing(signer, revocation, clock.now())
    meta = PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=context,
        name=name,
        reason="コンビニ交付による証明書の発行 (certificate issued at a convenience store)",
        md_algorithm="sha256",
    )
    from pyhanko.sign.general import SigningError

    writer = IncrementalPdfFileWriter(io.BytesIO(unsigned))
    output = io.BytesIO()
    try:
        PdfSigner(meta, _cms_signer(signer), timestamper=_stamper(tsa)).sign_pdf(  # type: ignore[arg-type]
            writer, output=output, bytes_reserved=BYTES_RESERVED
        )
    except SigningError as exc:  # e.g. the key's certificate was revoked: nothing is signed with it
        raise SignerUnusable(f"the signing key {signer.serial} does not validate: {exc}") from exc
    return output.getvalue()
