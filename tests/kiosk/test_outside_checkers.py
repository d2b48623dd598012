"""The document checked by tools nobody here wrote, with the roles in two servers on loopback.

Server A runs the store terminal's centre (``OPENMYNA_KIOSK_MUNICIPALITY_URL`` points at B); server B is the
municipality's certificate server; they share the database, as processes of one platform do. The CLI runs
``openmyna kiosk issue`` against A as a store terminal. Then: ``pdfsig`` (poppler) with the CA in an NSS
database, ``pdftoppm`` + ``zbarimg`` for the QR code, and pyhanko's validator in hard-fail revocation mode.

The hours rule is tested in ``test_issue`` under a frozen clock; here the clock is the real one (outside
tools check certificates and OCSP answers against the real time), so the hours check is switched off.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine
from typer.testing import CliRunner

from openmyna.app import migrate
from openmyna.card import service as cards
from openmyna.cli.main import app as cli
from openmyna.core.config import Settings
from openmyna.core.context import AppContext, open_context
from openmyna.core.db import make_engine, unit_of_work
from openmyna.jpki.authority import CaConfig
from openmyna.kiosk import documents, municipality, pdf, rules, runtime, signing
from openmyna.kiosk.demo import ensure_stores
from openmyna.orgs import service as orgs
from openmyna.orgs.service import Caller
from openmyna.registry import seals
from openmyna.registry import service as registry
from openmyna.registry.schemas import ResidentCreate
from tests.conftest import TEST_MASTER_KEY
from tests.live import free_port, running
from tests.registry.test_api import mover

TOOLS = ("pdfsig", "pdftoppm", "zbarimg", "certutil")
REVOCATION_BOUND_SECONDS = 5.0  # docs/kiosk.md: validators see a revoked key within about a second
pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS),
    reason=f"needs {', '.join(TOOLS)} (Debian poppler-utils, zbar-tools, libnss3-tools: `make browser` as root)",
)


@pytest.fixture(autouse=True)
def _configured() -> None:
    """These servers keep their own SQLite file (not the suite's databases): no per-backend CA setup."""


@dataclass(frozen=True)
class Platform:
    centre_url: str
    municipality_url: str
    env: dict[str, str]
    context: AppContext
    card_id: int
    resident_id: int


def _seed(context: AppContext) -> tuple[int, int]:
    config = CaConfig.from_settings(context.settings, context.keys)
    clerk = Caller(org_code="131016", actor="staff:test", scopes=frozenset(), via="test")
    with unit_of_work(context.session_factory) as session:
        orgs.add_organisation(
            session, keys=context.keys, code="jlis", name="J-LIS", kind="platform_operator", custodial=True
        )
        ensure_stores(session, keys=context.keys)
        person = registry.create_resident(
            session,
            keys=context.keys,
            municipality_code="131016",
            data=ResidentCreate(**mover(my_number=None)),
            caller=clerk,
        )
        session.flush()
        seals.register(session, resident_id=person.id, seal_png=seals.demo_seal_png("山田"), caller=clerk)
        card = cards.apply(session, resident_id=person.id, caller=clerk)
        cards.manufacture(session, keys=context.keys, card_id=card.id, caller=clerk)
        cards.setup(session, config=config, card_id=card.id, caller=clerk)
        cards.hand_over(
            session,
            keys=context.keys,
            card_id=card.id,
            caller=clerk,
            auth_pin="1234",
            sign_pin="PIN123",
            identity_checked=True,
        )
        return card.id, person.id


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("kiosk-live")
    database = f"sqlite:///{folder / 'live.db'}"
    engine: Engine = make_engine(database)
    migrate.upgrade(engine)
    engine.dispose()
    key = base64.b64encode(TEST_MASTER_KEY).decode()
    port_a, port_b = free_port(), free_port()
    common = {"database_url": database, "var_dir": folder / "var", "data_key": key, "network_publish_seconds": 0}
    municipal = Settings(**common, base_url=f"http://127.0.0.1:{port_b}", notice_worker_threads=0)
    centre = Settings(
        **common,
        base_url=f"http://127.0.0.1:{port_a}",
        kiosk_municipality_url=municipal.base_url,
        notice_worker_threads=0,
    )
    patch = pytest.MonkeyPatch()
    patch.setattr(rules, "check_open", lambda *args, **kwargs: None)
    with running(municipal, port_b) as b_url, running(centre, port_a) as a_url:
        context = open_context(municipal)
        card_id, resident_id = _seed(context)
        env = {
            "OPENMYNA_DATABASE_URL": database,
            "OPENMYNA_VAR_DIR": str(folder / "var"),
            "OPENMYNA_DATA_KEY": key,
            "OPENMYNA_BASE_URL": b_url,
            "OPENMYNA_KIOSK_CENTRE_URL": a_url,
        }
        yield Platform(a_url, b_url, env, context, card_id, resident_id)
        context.engine.dispose()
    patch.undo()


def issue(platform: Platform, tmp_path: Path, *args: str, name: str = "out.pdf") -> tuple[int, str, Path]:
    out = tmp_path / name
    result = CliRunner().invoke(
        cli, ["kiosk", "issue", "--card", str(platform.card_id), "--out", str(out), *args], env=platform.env
    )
    return result.exit_code, " ".join(result.output.split()), out  # rich wraps long lines


def nss(tmp_path: Path, trust_pem: bytes) -> str:
    """An NSS database trusting the organisation CA (the first certificate of /kiosk/ca.pem)."""
    ca = x509.load_pem_x509_certificates(trust_pem)[0]
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    folder = tmp_path / "nss"
    folder.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{folder}", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{folder}", "-n", "ca", "-t", "CT,C,C", "-i", str(tmp_path / "ca.pem")],
        check=True,
    )
    return f"sql:{folder}"


def pdfsig(nssdir: str, path: Path) -> str:
    return subprocess.run(["pdfsig", "-nssdir", nssdir, str(path)], capture_output=True, text=True).stdout


def test_the_cli_prints_through_two_servers_and_pdfsig_trusts_it(platform: Platform, tmp_path: Path) -> None:
    code, output, out = issue(platform, tmp_path, "--pin", "1234", "--kind", "juminhyo")
    assert code == 0, output
    answer = json.loads(output[output.index("{") :])
    assert answer["charged"] == 300
    trust = platform_get(platform.centre_url, "/kiosk/ca.pem")
    nssdir = nss(tmp_path, trust)
    report = pdfsig(nssdir, out)
    assert "Signature is Valid" in report and "Certificate is Trusted" in report, report
    edited = bytearray(out.read_bytes())
    spot = edited.index(b"/Contents", 200) - 40  # inside the signed range: the first page's objects
    edited[spot] = ord("X") if edited[spot] != ord("X") else ord("Y")
    (tmp_path / "edited.pdf").write_bytes(edited)
    assert "Signature is Valid" not in pdfsig(nssdir, tmp_path / "edited.pdf")
    verdict = httpx_get_json(platform.centre_url, f"/api/kiosk/verify?number={answer['number']}")
    assert verdict["genuine"] is True and verdict["summary"]["kind"] == "juminhyo"
    assert httpx_get_json(platform.centre_url, "/api/kiosk/verify?number=1234567890123456")["genuine"] is False


def platform_get(base: str, path: str) -> bytes:
    import httpx

    response = httpx.get(base + path, timeout=10, trust_env=False)
    assert response.status_code == 200, response.text
    return response.content


def httpx_get_json(base: str, path: str) -> dict[str, object]:
    return json.loads(platform_get(base, path))


def test_a_refusal_exits_non_zero_with_the_reason(platform: Platform, tmp_path: Path) -> None:
    code, output, out = issue(platform, tmp_path, "--pin", "1234", "--kind", "koseki")
    assert code == 1 and "no family register" in output and not out.exists()
    code, output, _ = issue(platform, tmp_path, "--pin", "1234", "--kind", "tax")
    assert code == 1 and "no assessment" in output  # the resident has no tax record


def test_zbarimg_reads_the_qr_code_and_the_offline_check_passes_only_unaltered(
    platform: Platform, tmp_path: Path
) -> None:
    code, output, out = issue(platform, tmp_path, "--pin", "1234", "--kind", "inkan")
    assert code == 0, output
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(out), str(tmp_path / "page")], check=True)
    scanned = subprocess.run(["zbarimg", "--raw", "-q", str(tmp_path / "page.png")], capture_output=True, text=True)
    text = scanned.stdout.strip()
    assert text.startswith("OMK1."), scanned
    (tmp_path / "trust.pem").write_bytes(platform_get(platform.centre_url, "/kiosk/ca.pem"))
    runner = CliRunner()
    good = runner.invoke(cli, ["kiosk", "check-qr", text, "--certs", str(tmp_path / "trust.pem")], env=platform.env)
    assert good.exit_code == 0 and json.loads(good.output)["k"] == "inkan"
    head, payload, signature = text.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["nm"] = "偽造　太郎"
    altered = ".".join((head, base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode(), signature))
    bad = runner.invoke(cli, ["kiosk", "check-qr", altered, "--certs", str(tmp_path / "trust.pem")], env=platform.env)
    assert bad.exit_code == 1 and "does not verify" in " ".join(bad.output.split())


def _validate(pdf: bytes, trust_pem: bytes) -> bool:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    ca = asn1_x509.Certificate.load(
        x509.load_pem_x509_certificates(trust_pem)[0].public_bytes(serialization.Encoding.DER)
    )
    context = ValidationContext(trust_roots=[ca], allow_fetching=True, revocation_mode="hard-fail")
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    status = validate_pdf_signature(signature, context)
    return bool(status.bottom_line)


def test_pyhanko_in_hard_fail_mode_accepts_a_fresh_certificate_and_rejects_a_revoked_key(
    platform: Platform, tmp_path: Path
) -> None:
    code, output, out = issue(platform, tmp_path, "--pin", "1234", "--kind", "juminhyo_kisai")
    assert code == 0, output
    trust = platform_get(platform.centre_url, "/kiosk/ca.pem")
    assert _validate(out.read_bytes(), trust)
    context = platform.context
    config = CaConfig.from_settings(context.settings, context.keys)
    with unit_of_work(context.session_factory) as session:
        town = runtime.participating(context.settings)["131016"]
        old = signing.municipality_signer(session, config=config, code="131016", name=town.name)
        signing.revoke(session, config=config, code="131016")
    with unit_of_work(context.session_factory) as session:
        resident = registry.find_resident(session, resident_id=platform.resident_id)
        document = documents.juminhyo_kisai(
            session,
            resident=resident,  # type: ignore[arg-type]
            options=documents.Options(),
            keys=context.keys,
            mayor=town.mayor,
        )
        with pytest.raises(pdf.SignerUnusable):  # the platform signs nothing with a revoked key
            municipality.produce(
                session,
                config=config,
                municipality=town,
                document=document,
                number="1000000000000001",
                copies=1,
                base_url=context.settings.base_url,
                signer=old,
            )
    forged = leaked_key_signature(document, old)  # someone who kept a copy of the revoked key signs anyway
    deadline = time.monotonic() + REVOCATION_BOUND_SECONDS  # the responders see a revocation within this bound
    while _validate(forged, trust):
        assert time.monotonic() < deadline, "a signature by the revoked key still validated after the bound"
        time.sleep(0.2)
    assert "Revoked" in pdfsig(nss(tmp_path, trust), write(tmp_path / "forged.pdf", forged))
    code, output, fresh = issue(platform, tmp_path, "--pin", "1234", "--kind", "juminhyo_kisai", name="fresh.pdf")
    assert code == 0, output  # a new key, certified anew
    assert _validate(fresh.read_bytes(), platform_get(platform.centre_url, "/kiosk/ca.pem"))


def leaked_key_signature(document: documents.Document, key: signing.LoadedSigner) -> bytes:
    """A PDF signed with ``key`` by plain pyhanko, as a thief of the key would (no platform checks)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    page = pdf.Page(
        number="1000000000000001",
        issued_on=dt.date.today(),
        municipality="千代田区",
        mayor="千代田区長",
        qr_text="OMK1.x.y",
        verify_url="http://127.0.0.1/verify",
    )
    signer = signers.SimpleSigner(
        signing_cert=pdf._asn1_cert(key.certificate),
        signing_key=pdf._asn1_key(key),
        cert_registry=SimpleCertificateStore.from_certs([pdf._asn1_cert(key.ca_certificate)]),
    )
    output = io.BytesIO()
    meta = PdfSignatureMetadata(field_name="Forged", subfilter=fields.SigSeedSubFilter.PADES)
    PdfSigner(meta, signer).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf.render(document, page))), output=output)
    return output.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
