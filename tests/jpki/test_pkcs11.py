"""CA keys on a PKCS#11 token: SoftHSM2 signs certificates and CRLs that OpenSSL accepts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.jpki import authority as service
from openmyna.jpki.authority import CaConfig, create_authority
from openmyna.jpki.signers import Pkcs11Signer, SignerError, sign_crl
from tests.conftest import TEST_MASTER_KEY
from tests.jpki.conftest import HOLDER, csr_for

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "1234"
pytestmark = pytest.mark.skipif(
    not (Path(MODULE).exists() and shutil.which("softhsm2-util")),
    reason="SoftHSM2 is not installed (apt-get install softhsm2; `make test` does it as root)",
)


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh SoftHSM2 token in its own directory; SOFTHSM2_CONF must be set before the module loads."""
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "openmyna-test", "--pin", PIN, "--so-pin", "5678"],
        check=True,
        capture_output=True,
    )
    return "openmyna-test"


def test_a_token_held_ca_issues_certificates_and_crls_openssl_accepts(
    db: Session, token: str, rsa_keys: list, tmp_path: Path
) -> None:
    config = CaConfig(
        keys=KeyRing(TEST_MASTER_KEY),
        base_url="http://testserver",
        key_dir=tmp_path,
        pkcs11_module=MODULE,
        pkcs11_token=token,
        pkcs11_pin=PIN,
    )
    from sqlalchemy import delete

    from openmyna.jpki.models import Authority

    db.execute(delete(Authority).where(Authority.kind == "sign"))  # the suite's file CA; rolled back after
    authority = create_authority(db, config=config, kind="sign")
    assert authority.signer_ref.startswith("pkcs11:token=openmyna-test;object=jpki-sign-ca-")
    signer = service.load(config, authority).signer
    assert isinstance(signer, Pkcs11Signer) and signer.in_process_key() is None
    ca = x509.load_der_x509_certificate(authority.certificate_der)
    ca.verify_directly_issued_by(ca)  # self-signature made on the token verifies
    from openmyna.jpki import profiles

    builder = profiles.end_entity_builder(
        "sign",
        ca_certificate=ca,
        public_key=x509.load_der_x509_csr(csr_for(rsa_keys[0])).public_key(),  # type: ignore[arg-type]
        holder=HOLDER,
        issue_id="PKCS11TEST000001",
        serial=4242,
        not_before=ca.not_valid_before_utc,
        not_after=ca.not_valid_after_utc,
        urls=config.urls,
    )
    from openmyna.jpki.signers import sign_certificate

    cert = sign_certificate(builder, signer)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", tmp_path / "ca.pem", tmp_path / "cert.pem"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip().endswith(": OK"), done.stderr
    crl = sign_crl(
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(ca.not_valid_before_utc)
        .next_update(ca.not_valid_after_utc),
        signer,
    )
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]


def test_a_missing_key_label_is_a_signer_error(token: str) -> None:
    with pytest.raises(SignerError):
        Pkcs11Signer(MODULE, token, PIN, "no-such-key")
