"""Card login check on one core: verify the challenge signature, the chain to the CA, dates, policy and status.

Status comes from the OCSP responder's memory (entries re-read at most every 0.5 s, as in the server), so
the figure includes those re-reads. The floor, in the same run on the same core: the library's bare work for the
same logins (``cryptography``: the certificate parsed, the challenge signature verified with its key, the
certificate's signature verified with the CA's key), for as long. Headline: our rate / the floor's. Target
(issue 17): at least 0.5 (half of the time for everything else a login check needs: dates, policy, status).

    .venv/bin/python bench/bench_login_verify.py [--database sqlite|postgresql] [--seconds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

from _common import add_database_argument, code_version, emit, fresh_database, log, machine, settings_for

WORKLOAD = "login_verify"
TARGET_RATIO = 0.5  # checks/s over the bare signature checks' rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_database_argument(parser)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--holders", type=int, default=200)
    args = parser.parse_args()

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from openmyna.app import migrate
    from openmyna.core.context import open_context
    from openmyna.jpki import service as jpki
    from openmyna.jpki.authority import CaConfig
    from openmyna.jpki.ocsp import Responder
    from openmyna.jpki.verify import verify_signature

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    holder = jpki.HolderFacts(
        "山田 花子", "female", dt.date(1985, 4, 5), "東京都千代田区千代田1番1号", "東京都", "千代田区"
    )
    with fresh_database(args.database, WORKLOAD) as (url, var_dir):
        context = open_context(settings_for(url, var_dir))
        migrate.upgrade(context.engine)
        config = CaConfig.from_settings(context.settings, context.keys)
        keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(8)]
        logins = []
        with context.session_factory() as session, session.begin():
            for i in range(args.holders):
                key = keys[i % len(keys)]
                csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
                row = jpki.issue(
                    session,
                    config=config,
                    kind="auth",
                    csr_der=csr.public_bytes(serialization.Encoding.DER),
                    holder=holder,
                    holder_ref=f"card:{i}",
                    subject="person:bench",
                )
                challenge = os.urandom(32)
                logins.append((row.der, challenge, key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())))
        responder = Responder(context.session_factory, config)
        for der, challenge, signature in logins:  # warm: authorities loaded, entries read once
            verify_signature(responder, certificate_der=der, data=challenge, signature=signature)
        log(f"{args.holders} holders ready; verifying for {args.seconds} s on one core")
        count, started = 0, time.perf_counter()
        deadline = started + args.seconds
        while time.perf_counter() < deadline:
            for der, challenge, signature in logins:
                verify_signature(responder, certificate_der=der, data=challenge, signature=signature)
            count += len(logins)
        elapsed = time.perf_counter() - started
        with context.session_factory() as session:
            ca = x509.load_pem_x509_certificate(jpki.ca_certificate_pem(session, config=config, kind="auth"))
        context.engine.dispose()
    bare, bare_started = 0, time.perf_counter()
    while time.perf_counter() < bare_started + args.seconds:
        for der, challenge, signature in logins:
            certificate = x509.load_der_x509_certificate(der)
            certificate.public_key().verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
            certificate.verify_directly_issued_by(ca)
        bare += len(logins)
    bare_rate = bare / (time.perf_counter() - bare_started)
    rate = count / elapsed
    log(f"{count} checks in {elapsed:.2f} s: {rate:.0f}/s; bare signature checks {bare_rate:.0f}/s")
    emit(
        {
            "workload": WORKLOAD,
            "database": args.database,
            "headline_ratio_to_bare_signature_checks": round(rate / bare_rate, 3),
            "checks": count,
            "seconds": round(elapsed, 3),
            "checks_per_s": round(rate, 1),
            "bare_signature_checks_per_s": round(bare_rate, 1),
            "target": {"ratio_min": TARGET_RATIO},
            "ok": rate / bare_rate >= TARGET_RATIO,
            "cores_used": 1,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
