"""The CA issues certificates that OpenSSL accepts, with the JPKI profile, and publishes DER CRLs."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from openmyna.jpki import profiles, service
from openmyna.jpki.authority import CaConfig
from tests.jpki.conftest import HOLDER, csr_for, write

pytestmark = pytest.mark.usefixtures("authorities")


def issue(db: Session, config: CaConfig, key: rsa.RSAPrivateKey, kind: str = "sign") -> service.Certificate:
    row = service.issue(
        db,
        config=config,
        kind=kind,
        csr_der=csr_for(key),
        holder=HOLDER,
        holder_ref="card:t",
        subject="person:t",  # type: ignore[arg-type]
    )
    db.flush()
    return row


def pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def openssl(*args: str | Path) -> str:
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("kind", ["sign", "auth"])
def test_openssl_verifies_the_chain_and_shows_the_profile(
    db: Session, ca_config: CaConfig, rsa_keys: list[rsa.RSAPrivateKey], tmp_path: Path, kind: str
) -> None:
    row = issue(db, ca_config, rsa_keys[0], kind)
    ca = write(tmp_path / "ca.pem", service.ca_certificate_pem(db, config=ca_config, kind=kind))  # type: ignore[arg-type]
    cert = write(tmp_path / "cert.pem", pem(row.der))
    assert openssl("verify", "-CAfile", ca, cert).strip().endswith(": OK")
    text = openssl("x509", "-in", cert, "-noout", "-text", "-nameopt", "utf8")
    unit = "digital signature" if kind == "sign" else "user authentication"
    assert f"Issuer: C=JP, O=JPKI, OU=JPKI for {unit}" in text
    assert f"Subject: C=JP, L=東京都, L=千代田区, CN={row.issue_id}" in text
    assert "Signature Algorithm: sha256WithRSAEncryption" in text and "Public-Key: (2048 bit)" in text
    assert f"URI:http://testserver/jpki/crl/{kind}.crl" in text
    assert "OCSP - URI:http://testserver/jpki/ocsp" in text
    if kind == "sign":
        assert "Policy: 1.2.392.200149.8.5.1.1" in text
        assert "Digital Signature, Non Repudiation" in text
        assert "othername: 1.2.392.200149.8.5.5.1::山田 花子" in text
        assert "1.2.392.200149.8.5.5.5::東京都千代田区千代田1番1号" in text
        facts = profiles.facts_in(x509.load_der_x509_certificate(row.der))
        assert facts == {"name": "山田 花子", "sex": "2", "birth_date": "19850405", "address": HOLDER.address}
    else:
        assert "Policy: 1.2.392.200149.8.5.1.3" in text
        assert "Non Repudiation" not in text and "othername" not in text and "Alternative Name" not in text


def test_validity_ends_on_the_fifth_birthday_after_issue(
    db: Session, ca_config: CaConfig, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    from openmyna.core import clock

    with clock.frozen_at(dt.datetime(2026, 6, 1, 10, 0)):
        cert = x509.load_der_x509_certificate(issue(db, ca_config, rsa_keys[0], "auth").der)
    assert cert.not_valid_after_utc == dt.datetime(2031, 4, 5, 14, 59, 59, tzinfo=dt.UTC)  # 23:59:59 JST


@given(st.dates(dt.date(1900, 1, 1), dt.date(2090, 1, 1)), st.dates(dt.date(1950, 1, 1), dt.date(2090, 1, 1)))
def test_nth_birthday_is_after_the_date_and_n_years_apart(birth: dt.date, issued: dt.date) -> None:
    fifth = profiles.nth_birthday_after(birth, issued, 5)
    first = profiles.nth_birthday_after(birth, issued, 1)
    assert (
        issued < first <= issued.replace(year=issued.year + 1) if not (issued.month == 2 and issued.day == 29) else True
    )
    assert fifth.year - first.year == 4
    assert (fifth.month, fifth.day) in {(birth.month, birth.day), (3, 1)}


def test_csrs_that_are_not_acceptable_are_refused(db: Session, ca_config: CaConfig) -> None:
    def refused(csr: bytes) -> str:
        with pytest.raises(service.BadCsr) as caught:
            service.issue(
                db, config=ca_config, kind="auth", csr_der=csr, holder=HOLDER, holder_ref="card:x", subject="person:x"
            )
        return caught.value.detail

    assert "DER PKCS#10" in refused(b"garbage")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert "RSA-2048" in refused(csr_for(small))
    ec_csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    assert "RSA-2048" in refused(ec_csr.public_bytes(serialization.Encoding.DER))
    assert (
        db.scalars(service.select(service.Certificate).where(service.Certificate.holder_ref == "card:x")).first()
        is None
    )


def test_crl_lists_revoked_and_held_serials_with_reasons(
    db: Session, ca_config: CaConfig, rsa_keys: list[rsa.RSAPrivateKey], tmp_path: Path
) -> None:
    gone, held, fine = (issue(db, ca_config, rsa_keys[i]) for i in range(3))
    service.revoke(db, config=ca_config, serial=gone.serial, reason="affiliation_changed")
    service.revoke(db, config=ca_config, serial=held.serial, reason="certificate_hold")
    crl_file = write(tmp_path / "sign.crl", service.current_crl(db, config=ca_config, kind="sign"))
    text = openssl("crl", "-inform", "DER", "-in", crl_file, "-noout", "-text")
    assert gone.serial.upper() in text.replace(":", "") and held.serial.upper() in text.replace(":", "")
    assert fine.serial.upper() not in text.replace(":", "")
    assert "Affiliation Changed" in text and "Certificate Hold" in text
    ca = write(tmp_path / "ca.pem", service.ca_certificate_pem(db, config=ca_config, kind="sign"))
    openssl("crl", "-inform", "DER", "-in", crl_file, "-CAfile", ca, "-noout")  # signature verifies

    with pytest.raises(service.AlreadyRevoked):
        service.revoke(db, config=ca_config, serial=gone.serial, reason="key_compromise")
    service.release_hold(db, config=ca_config, serial=held.serial)
    crl = x509.load_der_x509_crl(service.current_crl(db, config=ca_config, kind="sign"))
    crl = x509.load_der_x509_crl(service.publish_crl(db, config=ca_config, kind="sign").der)
    assert crl.get_revoked_certificate_by_serial_number(int(held.serial, 16)) is None
    assert crl.get_revoked_certificate_by_serial_number(int(gone.serial, 16)) is not None
    with pytest.raises(service.InvalidInput):
        service.revoke(db, config=ca_config, serial=fine.serial, reason="because")
