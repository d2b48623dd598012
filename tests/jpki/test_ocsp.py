"""OCSP against a live server: openssl says good, then revoked within a second; GET, nonce and bad requests."""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp

from openmyna.core.db import unit_of_work
from openmyna.jpki import service
from tests.jpki.conftest import HOLDER, Live, csr_for, write


def issue(live: Live, key: rsa.RSAPrivateKey, kind: str = "auth") -> tuple[str, bytes]:
    with unit_of_work(live.context.session_factory) as session:
        row = service.issue(
            session,
            config=live.config,
            kind=kind,  # type: ignore[arg-type]
            csr_der=csr_for(key),
            holder=HOLDER,
            holder_ref="card:live",
            subject="person:live",
        )
        return row.serial, row.der


def pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def openssl_ocsp(live: Live, ca: Path, cert: Path, *extra: str) -> str:
    done = subprocess.run(
        ["openssl", "ocsp", "-issuer", ca, "-cert", cert, "-url", f"{live.base_url}/jpki/ocsp", "-CAfile", ca, *extra],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_openssl_sees_good_then_revoked_within_a_second(
    live: Live, rsa_keys: list[rsa.RSAPrivateKey], tmp_path: Path
) -> None:
    serial, der = issue(live, rsa_keys[0])
    ca = write(tmp_path / "ca.pem", httpx.get(f"{live.base_url}/jpki/ca/auth.pem").content)
    cert = write(tmp_path / "cert.pem", pem(der))
    first = openssl_ocsp(live, ca, cert)  # with a nonce: signed on the fly, nonce echoed
    assert f"{cert}: good" in first and "Response verify OK" in first and "WARNING" not in first
    assert f"{cert}: good" in openssl_ocsp(live, ca, cert, "-no_nonce")  # the pre-signed answer
    with unit_of_work(live.context.session_factory) as session:
        service.revoke(session, config=live.config, serial=serial, reason="key_compromise")
    revoked_at = time.monotonic()
    while True:
        answer = openssl_ocsp(live, ca, cert, "-no_nonce")
        if f"{cert}: revoked" in answer:
            break
        assert time.monotonic() - revoked_at < 1.0, answer
        time.sleep(0.05)
    assert "Reason: keyCompromise" in answer and "Response verify OK" in answer
    crl = write(tmp_path / "auth.crl", httpx.get(f"{live.base_url}/jpki/crl/auth.crl").content)
    listed = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", crl, "-noout", "-text"], capture_output=True, text=True
    )
    assert serial.upper() in listed.stdout.replace(":", "")


def _request(cert_der: bytes, ca_pem: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    cert = x509.load_der_x509_certificate(cert_der)
    ca = x509.load_pem_x509_certificate(ca_pem)
    return (
        ocsp.OCSPRequestBuilder().add_certificate(cert, ca, algorithm).build().public_bytes(serialization.Encoding.DER)
    )


def test_get_sha256_unknown_unauthorized_and_malformed(live: Live, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    _serial, der = issue(live, rsa_keys[1], "sign")
    ca_pem = httpx.get(f"{live.base_url}/jpki/ca/sign.pem").content
    encoded = base64.b64encode(_request(der, ca_pem, hashes.SHA256())).decode()
    answer = ocsp.load_der_ocsp_response(httpx.get(f"{live.base_url}/jpki/ocsp/{encoded}").content)
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD and answer.hash_algorithm.name == "sha256"

    other_ca_pem = httpx.get(f"{live.base_url}/jpki/ca/auth.pem").content  # right serial, wrong issuer
    foreign = _request(der, other_ca_pem, hashes.SHA1())
    headers = {"Content-Type": "application/ocsp-request"}
    reply = httpx.post(f"{live.base_url}/jpki/ocsp", content=foreign, headers=headers)
    assert ocsp.load_der_ocsp_response(reply.content).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED

    for body in (b"garbage", b""):
        reply = httpx.post(f"{live.base_url}/jpki/ocsp", content=body, headers=headers)
        assert reply.status_code == 200
        status = ocsp.load_der_ocsp_response(reply.content).response_status
        assert status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    reply = httpx.get(f"{live.base_url}/jpki/ocsp/not*base64")
    assert ocsp.load_der_ocsp_response(reply.content).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST

    ca = x509.load_pem_x509_certificate(ca_pem)
    fake = (
        x509.CertificateBuilder()
        .subject_name(ca.subject)
        .issuer_name(ca.subject)
        .public_key(rsa_keys[1].public_key())
        .serial_number(12345)
        .not_valid_before(ca.not_valid_before_utc)
        .not_valid_after(ca.not_valid_after_utc)
        .sign(rsa_keys[1], hashes.SHA256())
    )
    unknown = _request(fake.public_bytes(serialization.Encoding.DER), ca_pem, hashes.SHA1())
    reply = ocsp.load_der_ocsp_response(
        httpx.post(f"{live.base_url}/jpki/ocsp", content=unknown, headers=headers).content
    )
    assert reply.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


@pytest.mark.parametrize("path", ["/jpki/ca/other.pem", "/jpki/crl/sign.der"])
def test_unknown_ca_paths_are_404(live: Live, path: str) -> None:
    reply = httpx.get(live.base_url + path)
    assert reply.status_code in (404, 422) and reply.headers["content-type"].startswith("application/problem+json")
