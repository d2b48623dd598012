"""RFC 5019 caching of OCSP answers: the headers, conditional requests, and Debian's nginx in front.

The nginx tests run the configuration shipped in ``deploy/nginx`` through the benchmark's own launcher
(``bench/_nginx.py``), so what the benchmark measures is what is tested here.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from fastapi.testclient import TestClient

from openmyna.app import create_app
from openmyna.core.db import unit_of_work
from openmyna.jpki import service
from openmyna.jpki.ocsp import ENTRY_TTL
from tests.jpki.conftest import LIVE_MAX_AGE, Live, free_port
from tests.jpki.test_ocsp import issue

ROOT = Path(__file__).resolve().parents[2]
CACHE_CONTROL = re.compile(r"^max-age=(\d+), public, no-transform, must-revalidate$")


def _request(live: Live, cert_der: bytes, *, nonce: bytes | None = None) -> bytes:
    ca = x509.load_pem_x509_certificate(httpx.get(f"{live.base_url}/jpki/ca/auth.pem").content)
    builder = ocsp.OCSPRequestBuilder().add_certificate(x509.load_der_x509_certificate(cert_der), ca, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _path(request: bytes) -> str:
    return "/jpki/ocsp/" + quote(base64.b64encode(request).decode(), safe="")


def _http_date(value: str) -> float:
    return email.utils.parsedate_to_datetime(value).timestamp()


def test_a_get_answer_tells_caches_what_rfc_5019_says(live: Live, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    _serial, der = issue(live, rsa_keys[0])
    reply = httpx.get(live.base_url + _path(_request(live, der)))
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/ocsp-response"
    answer = ocsp.load_der_ocsp_response(reply.content)
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert answer.next_update_utc is not None
    found = CACHE_CONTROL.match(reply.headers["cache-control"])
    assert found, reply.headers["cache-control"]
    max_age = int(found.group(1))
    assert 0 < max_age <= LIVE_MAX_AGE  # the configured bound, well before nextUpdate (a day)
    assert max_age <= (answer.next_update_utc.timestamp() - time.time())
    assert _http_date(reply.headers["last-modified"]) == answer.this_update_utc.timestamp()
    assert _http_date(reply.headers["expires"]) == answer.next_update_utc.timestamp()
    assert reply.headers["etag"] == '"' + hashlib.sha1(reply.content).hexdigest() + '"'
    assert "date" in reply.headers

    head = httpx.head(live.base_url + _path(_request(live, der)))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == reply.headers["etag"] and head.headers["content-length"] == str(len(reply.content))


def test_a_cache_revalidating_gets_304_until_the_status_changes(live: Live, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    serial, der = issue(live, rsa_keys[1])
    url = live.base_url + _path(_request(live, der))
    first = httpx.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    unchanged = httpx.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["etag"] == etag and CACHE_CONTROL.match(unchanged.headers["cache-control"])
    assert httpx.get(url, headers={"If-None-Match": '"other", ' + etag}).status_code == 304
    assert httpx.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert httpx.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert httpx.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200

    with unit_of_work(live.context.session_factory) as session:
        service.revoke(session, config=live.config, serial=serial, reason="key_compromise")
    time.sleep(ENTRY_TTL + 0.1)
    changed = httpx.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert ocsp.load_der_ocsp_response(changed.content).certificate_status == ocsp.OCSPCertStatus.REVOKED


def test_answers_no_cache_may_keep_say_so(live: Live, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    _serial, der = issue(live, rsa_keys[2])
    headers = {"Content-Type": "application/ocsp-request"}
    with_nonce = httpx.post(f"{live.base_url}/jpki/ocsp", content=_request(live, der, nonce=b"n" * 16), headers=headers)
    assert ocsp.load_der_ocsp_response(with_nonce.content).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert "no-store" in with_nonce.headers["cache-control"] and "etag" not in with_nonce.headers
    garbage = httpx.get(f"{live.base_url}/jpki/ocsp/{quote(base64.b64encode(b'garbage').decode(), safe='')}")
    assert ocsp.load_der_ocsp_response(garbage.content).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert "no-store" in garbage.headers["cache-control"] and "expires" not in garbage.headers
    posted = httpx.post(f"{live.base_url}/jpki/ocsp", content=_request(live, der), headers=headers)
    assert CACHE_CONTROL.match(posted.headers["cache-control"])  # the same pre-signed answer as a GET


def test_the_application_alone_answers_as_the_fast_path_does(live: Live, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    """``create_app`` without the wrapper ``openmyna serve`` puts in front: its routes give the same answer."""
    _serial, der = issue(live, rsa_keys[0])
    path = _path(_request(live, der))
    served = httpx.get(live.base_url + path)
    settings = live.context.settings.model_copy(update={"ocsp_cache_max_age_seconds": LIVE_MAX_AGE})
    with TestClient(create_app(settings, engine=live.context.engine)) as client:
        alone = client.get(path)
        assert alone.status_code == 200 and alone.content == served.content
        assert alone.headers["etag"] == served.headers["etag"]
        assert alone.headers["cache-control"] == served.headers["cache-control"]
        assert client.get(path, headers={"If-None-Match": served.headers["etag"]}).status_code == 304
        posted = client.post("/jpki/ocsp", content=_request(live, der), headers={"Content-Type": "text/plain"})
        assert ocsp.load_der_ocsp_response(posted.content).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.fixture
def nginx(live: Live, tmp_path: Path) -> Iterator[str]:
    """Debian's nginx with ``deploy/nginx/openmyna-ocsp-cache.conf`` in front of the live server."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed (make nginx)")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from _nginx import cache_proxy  # the benchmark's launcher of the shipped configuration
    finally:
        sys.path.remove(str(ROOT / "bench"))
    upstream = live.base_url.removeprefix("http://")
    with cache_proxy(upstream, free_port(), tmp_path / "nginx", workers=1) as url:
        yield url


def test_nginx_caches_answers_and_shows_a_revocation_within_the_bound(
    live: Live, nginx: str, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    serial, der = issue(live, rsa_keys[1])
    path = _path(_request(live, der))
    first = httpx.get(nginx + path)
    assert first.status_code == 200 and first.headers["x-cache-status"] == "MISS"
    second = httpx.get(nginx + path)
    assert second.headers["x-cache-status"] == "HIT" and second.content == first.content
    time.sleep(LIVE_MAX_AGE + 1.1)  # expired in the cache: revalidated with the ETag, still the same answer
    again = httpx.get(nginx + path)
    assert again.headers["x-cache-status"] == "REVALIDATED" and again.content == first.content

    with unit_of_work(live.context.session_factory) as session:
        service.revoke(session, config=live.config, serial=serial, reason="key_compromise")
    revoked = time.monotonic()
    bound = LIVE_MAX_AGE + 1 + ENTRY_TTL  # max-age, a cache's whole-second clock, openmyna's own refresh
    while True:
        answer = ocsp.load_der_ocsp_response(httpx.get(nginx + path).content)
        if answer.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            break
        assert time.monotonic() - revoked < bound + 0.5, "the cache served the old answer past the bound"
        time.sleep(0.05)
    assert answer.revocation_reason == x509.ReasonFlags.key_compromise

    posted = httpx.post(
        f"{nginx}/jpki/ocsp", content=_request(live, der), headers={"Content-Type": "application/ocsp-request"}
    )
    assert posted.status_code == 200, (posted.status_code, posted.text[:300])
    assert posted.headers.get("x-cache-status") is None  # POST goes past the cache
    assert ocsp.load_der_ocsp_response(posted.content).certificate_status == ocsp.OCSPCertStatus.REVOKED
