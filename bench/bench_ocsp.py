"""OCSP GET requests (RFC 5019) under 16 connections (wrk): openmyna against `openssl ocsp -multi N` on equal
terms, and Debian's nginx caching openmyna's answers, all in one run.

Every responder answers for the same CA and the same certificates (a tenth revoked), signing with the same
delegated P-256 responder key, with as many processes (``--processes``, default one a core): openmyna's
workers, ``openssl ocsp -index … -port … -multi N`` (which signs every answer; openmyna serves the answers it
pre-signed at issue or revocation) and nginx's workers with ``deploy/nginx/openmyna-ocsp-cache.conf`` in front
of openmyna. Requests carry no nonce, as browsers and most clients send them. The load generator shares the
same cores. Then a certificate the cache holds as good is revoked, and the time until the cache answers
revoked is measured against the documented bound (the answers' max-age cap, ``--max-age``, plus openmyna's
half-second refresh).
Targets (issue): openmyna ≥ 1.5× OpenSSL with p99 < 20 ms; the nginx cache ≥ 5× OpenSSL; the revocation
visible through the cache within the bound.

    .venv/bin/python bench/bench_ocsp.py [--duration 10] [--certificates 200] [--processes 2] [--max-age 5]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from _common import code_version, emit, fresh_database, log, machine, settings_for
from _nginx import cache_proxy
from _serve import free_port, server

WORKLOAD = "ocsp"
CONNECTIONS = 16


def prepare(url: str, var_dir: Path, certificates: int) -> tuple[list[bytes], list[str], dict[str, Path]]:
    """Issue certificates (a tenth revoked); write the CA, responder and OpenSSL index files; build requests."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509 import ocsp

    from openmyna.app import migrate
    from openmyna.core.context import open_context
    from openmyna.jpki import service as jpki
    from openmyna.jpki.authority import CaConfig, loaded_authority

    context = open_context(settings_for(url, var_dir, base_url="http://127.0.0.1:1"))
    migrate.upgrade(context.engine)
    config = CaConfig.from_settings(context.settings, context.keys)
    holder = jpki.HolderFacts(
        "山田 花子", "female", dt.date(1985, 4, 5), "東京都千代田区千代田1番1号", "東京都", "千代田区"
    )
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4)]
    index_lines, requests, serials = [], [], []
    with context.session_factory() as session, session.begin():
        authority = loaded_authority(session, config=config, kind="auth")
        for i in range(certificates):
            csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(keys[i % 4], hashes.SHA256())
            row = jpki.issue(
                session,
                config=config,
                kind="auth",
                csr_der=csr.public_bytes(serialization.Encoding.DER),
                holder=holder,
                holder_ref=f"card:{i}",
                subject="person:bench",
            )
            session.flush()
            if i % 10 == 0:
                jpki.revoke(session, config=config, serial=row.serial, reason="key_compromise")
            cert = x509.load_der_x509_certificate(row.der)
            expiry = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
            serial = format(cert.serial_number, "X")
            serial = serial if len(serial) % 2 == 0 else "0" + serial
            dn = "/" + "/".join(a.rfc4514_string() for a in cert.subject)
            if row.status == "revoked":
                revoked = jpki.aware(row.revoked_at).strftime("%y%m%d%H%M%SZ") + ",keyCompromise"  # type: ignore[arg-type]
                index_lines.append(f"R\t{expiry}\t{revoked}\t{serial}\tunknown\t{dn}")
            else:
                index_lines.append(f"V\t{expiry}\t\t{serial}\tunknown\t{dn}")
            request = ocsp.OCSPRequestBuilder().add_certificate(cert, authority.certificate, hashes.SHA1()).build()
            requests.append(request.public_bytes(serialization.Encoding.DER))
            serials.append(row.serial)
        files = {
            "ca": var_dir / "ca.pem",
            "responder": var_dir / "responder.pem",
            "responder_key": var_dir / "responder.key",
            "index": var_dir / "index.txt",
        }
        files["ca"].write_bytes(authority.certificate.public_bytes(serialization.Encoding.PEM))
        files["responder"].write_bytes(authority.responder_certificate.public_bytes(serialization.Encoding.PEM))
        files["responder_key"].write_bytes(
            authority.responder_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        files["index"].write_text("\n".join(index_lines) + "\n", encoding="utf-8")
    context.engine.dispose()
    return requests, serials, files


def lua_script(path: Path, requests: list[bytes], prefix: str) -> None:
    """wrk's script: GET requests (RFC 5019) cycling through the certificates' URL-encoded base64 requests.

    ``prefix`` is the responder's path: openmyna's ``/jpki/ocsp``; OpenSSL's responder answers GET at ``/`` only.
    """
    paths = ",\n".join(f'"{prefix}/{get_path(body)}"' for body in requests)
    path.write_text(
        f"""local paths = {{
{paths}
}}
local i = 0
-- no probe connection: OpenSSL's single-threaded responder stalls on a connection closed unread
wrk.resolve = function(host, service) wrk.addrs = wrk.lookup(host, service) end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""
    )


def get_path(body: bytes) -> str:
    return quote(base64.b64encode(body).decode(), safe="")


def run_wrk(url: str, script: Path, duration: int) -> dict[str, Any]:
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency", "-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    log(output)

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 3)

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests_per_s": rate,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def status(responder_url: str, body: bytes) -> str:
    """The certificate status a GET request for ``body`` is answered with (good, revoked, unknown)."""
    from cryptography.x509 import ocsp

    reply = httpx.get(f"{responder_url}/{get_path(body)}", timeout=10)
    if reply.status_code != 200 or reply.headers.get("content-type") != "application/ocsp-response":
        raise RuntimeError(f"{responder_url} answered {reply.status_code}: {reply.text[:300]}")
    return str(ocsp.load_der_ocsp_response(reply.content).certificate_status.name.lower())


def check(responder_url: str, body: bytes, expected: str) -> None:
    assert status(responder_url, body) == expected, (responder_url, expected)


def run_openssl(files: dict[str, Path], requests: list[bytes], script: Path, duration: int, processes: int) -> Any:
    """`openssl ocsp -index … -port … -multi N` signing every answer with the same delegated P-256 key."""
    port = free_port()
    command = ["openssl", "ocsp", "-index", files["index"], "-port", str(port), "-rsigner", files["responder"]]
    command += ["-rkey", files["responder_key"], "-CA", files["ca"], "-ndays", "1", "-ignore_err"]
    command += ["-multi", str(processes)]
    # its own process group, so that the -multi children end with it (a new session kept it from listening)
    openssl = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)
    try:
        target = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                check(target, requests[1], "good")
                break
            except (httpx.TransportError, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        check(target, requests[0], "revoked")
        return run_wrk(target, script, duration)
    finally:
        os.killpg(openssl.pid, signal.SIGTERM)
        try:
            openssl.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(openssl.pid, signal.SIGKILL)
            openssl.wait()


def revocation_through_cache(url: str, var_dir: Path, cache_url: str, body: bytes, serial: str) -> float:
    """Revoke a certificate the cache holds as good; seconds until the cache answers revoked."""
    from openmyna.core.context import open_context
    from openmyna.core.db import unit_of_work
    from openmyna.jpki import service as jpki
    from openmyna.jpki.authority import CaConfig

    check(cache_url, body, "good")  # in the cache now
    context = open_context(settings_for(url, var_dir, base_url="http://127.0.0.1:1"))
    try:
        config = CaConfig.from_settings(context.settings, context.keys)
        with unit_of_work(context.session_factory) as session:
            jpki.revoke(session, config=config, serial=serial, reason="unspecified")
        revoked = time.monotonic()
        while status(cache_url, body) != "revoked":
            if time.monotonic() - revoked > 600:
                raise RuntimeError("the cache still answered good 10 minutes after the revocation")
            time.sleep(0.05)
        return time.monotonic() - revoked
    finally:
        context.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per responder (default 10)")
    parser.add_argument("--certificates", type=int, default=200)
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 2, help="openmyna workers = openssl -multi = nginx workers"
    )
    parser.add_argument(
        "--max-age", type=int, default=5, help="OPENMYNA_OCSP_CACHE_MAX_AGE_SECONDS for the run (default 5)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (make wrk)")
    with fresh_database("sqlite", WORKLOAD) as (url, var_dir):
        requests, serials, files = prepare(url, var_dir, args.certificates)
        mine_script, openssl_script = var_dir / "openmyna.lua", var_dir / "openssl.lua"
        lua_script(mine_script, requests, "/jpki/ocsp")
        lua_script(openssl_script, requests, "")
        results: dict[str, Any] = {}
        port = free_port()
        environment = {
            "OPENMYNA_BASE_URL": f"http://127.0.0.1:{port}",
            "OPENMYNA_OCSP_CACHE_MAX_AGE_SECONDS": str(args.max_age),
        }
        with server(url, var_dir, port, workers=args.processes, access_log=False, extra_env=environment):
            responder = f"http://127.0.0.1:{port}/jpki/ocsp"
            check(responder, requests[0], "revoked")
            check(responder, requests[1], "good")
            results["openmyna"] = run_wrk(f"http://127.0.0.1:{port}", mine_script, args.duration)
            with cache_proxy(f"127.0.0.1:{port}", free_port(), var_dir / "nginx", workers=args.processes) as cache:
                for body in requests:  # fill the cache
                    status(f"{cache}/jpki/ocsp", body)
                results["nginx_cache"] = run_wrk(cache, mine_script, args.duration)
                visible_after = revocation_through_cache(url, var_dir, f"{cache}/jpki/ocsp", requests[1], serials[1])
        results["openssl"] = run_openssl(files, requests, openssl_script, args.duration, args.processes)
    mine, cached, openssl = (results[k]["requests_per_s"] for k in ("openmyna", "nginx_cache", "openssl"))
    ratio, cache_ratio = mine / max(openssl, 1e-9), cached / max(openssl, 1e-9)
    from openmyna.jpki.ocsp import ENTRY_TTL

    bound = args.max_age + ENTRY_TTL
    log(f"openmyna {mine:.0f}/s = {ratio:.2f}x openssl -multi {args.processes}; nginx cache {cache_ratio:.2f}x")
    log(f"revocation seen through the cache after {visible_after:.2f} s (bound {bound:.1f} s)")
    target = {"ratio_to_openssl": 1.5, "p99_ms": 20.0, "cache_ratio_to_openssl": 5.0, "revocation_within_s": bound}
    emit(
        {
            "workload": WORKLOAD,
            "headline_ratio_to_openssl": round(ratio, 2),
            "cache_ratio_to_openssl": round(cache_ratio, 2),
            "revocation_visible_through_cache_s": round(visible_after, 2),
            "processes": args.processes,
            "connections": CONNECTIONS,
            "duration_s": args.duration,
            "certificates": args.certificates,
            "max_age_s": args.max_age,
            "method": "GET (RFC 5019), no nonce",
            **results,
            "target": target,
            "ok": ratio >= 1.5
            and results["openmyna"]["p99_ms"] < 20.0
            and cache_ratio >= 5.0
            and visible_after <= bound + 0.5  # one polling step and a loopback round trip
            and all(results[k]["non_2xx"] == 0 for k in results),
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
