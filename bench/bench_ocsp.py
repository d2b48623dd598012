"""OCSP under 16 concurrent clients (wrk, 10 s), openmyna's responder and `openssl ocsp -index … -port …` side by side.

Both answer for the same CA and the same certificates (some revoked), signing with the same delegated
responder key; requests carry no nonce (as browsers and most clients send them). openmyna serves the
answers it pre-signed at issue or revocation; OpenSSL signs every answer. One uvicorn worker against
one OpenSSL process, both on loopback with the load generator on the same 2 cores. OpenSSL runs twice:
signing with the CA's RSA-2048 key (the usual `-rsigner ca.pem -rkey ca.key` set-up; the target's
baseline) and with the same P-256 delegated responder key openmyna uses.
Target (issue): openmyna at least 3× OpenSSL's rate, p99 under 20 ms.

    .venv/bin/python bench/bench_ocsp.py [--duration 10] [--certificates 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from _common import code_version, emit, fresh_database, log, machine, settings_for
from _serve import free_port, server

WORKLOAD = "ocsp"
CONNECTIONS = 16


def prepare(url: str, var_dir: Path, certificates: int) -> tuple[list[bytes], dict[str, Path]]:
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
    index_lines, requests = [], []
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
        ca_key = authority.signer.in_process_key()
        assert ca_key is not None
        files["ca_key"] = var_dir / "ca.key"
        files["ca_key"].write_bytes(
            ca_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    context.engine.dispose()
    return requests, files


def lua_script(path: Path, requests: list[bytes]) -> None:
    bodies = ",\n".join('"' + "".join(f"\\{b}" for b in body) + '"' for body in requests)
    path.write_text(
        f"""local bodies = {{
{bodies}
}}
local i = 0
-- no probe connection: OpenSSL's single-threaded responder stalls on a connection closed unread
wrk.resolve = function(host, service) wrk.addrs = wrk.lookup(host, service) end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/ocsp-request"
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end
"""
    )


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


def check(url: str, body: bytes, expected: str) -> None:
    from cryptography.x509 import ocsp

    answer = ocsp.load_der_ocsp_response(
        httpx.post(url, content=body, headers={"Content-Type": "application/ocsp-request"}, timeout=10).content
    )
    assert answer.certificate_status.name.lower() == expected, (url, answer.certificate_status)


def run_openssl(
    files: dict[str, Path], signer: Path, key: Path, requests: list[bytes], script: Path, duration: int
) -> dict[str, Any]:
    """`openssl ocsp -index … -port …` signing every answer with ``key``, under the same wrk load."""
    port = free_port()
    command = ["openssl", "ocsp", "-index", files["index"], "-port", str(port), "-rsigner", signer, "-rkey", key]
    command += ["-CA", files["ca"], "-ndays", "1", "-ignore_err"]
    openssl = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        target = f"http://127.0.0.1:{port}/"
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
        openssl.terminate()
        openssl.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--certificates", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="openmyna worker processes (default 1)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")
    with fresh_database("sqlite", WORKLOAD) as (url, var_dir):
        requests, files = prepare(url, var_dir, args.certificates)
        script = var_dir / "ocsp.lua"
        lua_script(script, requests)
        results: dict[str, Any] = {}
        port = free_port()
        with server(
            url,
            var_dir,
            port,
            workers=args.workers,
            access_log=False,
            extra_env={"OPENMYNA_BASE_URL": f"http://127.0.0.1:{port}"},
        ):
            target = f"http://127.0.0.1:{port}/jpki/ocsp"
            check(target, requests[0], "revoked")
            check(target, requests[1], "good")
            results["openmyna"] = run_wrk(target, script, args.duration)
        for label, signer, key in (
            ("openssl_ca_key", files["ca"], files["ca_key"]),
            ("openssl_delegated_key", files["responder"], files["responder_key"]),
        ):
            results[label] = run_openssl(files, signer, key, requests, script, args.duration)
    mine = results["openmyna"]["requests_per_s"]
    ratio = mine / max(results["openssl_ca_key"]["requests_per_s"], 1e-9)
    ratio_delegated = mine / max(results["openssl_delegated_key"]["requests_per_s"], 1e-9)
    log(f"openmyna {mine:.0f}/s; {ratio:.2f}x openssl with the CA key, {ratio_delegated:.2f}x with the P-256 responder")
    emit(
        {
            "workload": WORKLOAD,
            "connections": CONNECTIONS,
            "openmyna_workers": args.workers,
            "duration_s": args.duration,
            "certificates": args.certificates,
            "openmyna": results["openmyna"],
            "openssl_ca_key": results["openssl_ca_key"],
            "openssl_delegated_key": results["openssl_delegated_key"],
            "speedup": round(ratio, 2),
            "speedup_vs_delegated_key": round(ratio_delegated, 2),
            "target": {"speedup": 3.0, "p99_ms": 20.0},
            "ok": ratio >= 3.0 and results["openmyna"]["p99_ms"] < 20.0 and results["openmyna"]["non_2xx"] == 0,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
