"""Card issuance through the CA on one core: CSR → two certificates (auth + sign), stored, OCSP pre-signed.

The chip's key generation is excluded (the CSRs are made beforehand, as the chips would); everything the
CA does is included: CSR parse and proof-of-possession check, building and RSA-signing both certificates
with the DOMAIN §5 profiles, pre-signing each certificate's OCSP answer, inserting the rows, committing
every 100 cards. The floor, in the same run on the same core: the library's bare work for the same
certificates (``cryptography``: each CSR parsed and its signature checked, a certificate with the same subject
key built and signed by a key of the CA's type and size). Headline: our rate / the floor's. Target (issue 17):
at least 0.4 (the CA also pre-signs each certificate's OCSP answer and stores both).

    .venv/bin/python bench/bench_card_issuance.py [--database sqlite|postgresql] [--cards 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from _common import add_database_argument, code_version, emit, fresh_database, log, machine, settings_for

WORKLOAD = "card_issuance"
TARGET_RATIO = 0.4  # cards/s over the bare certificate signing's rate (two certificates a card)
BATCH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_database_argument(parser)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=16, help="distinct chip key pairs to cycle through")
    args = parser.parse_args()

    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from openmyna.app import migrate
    from openmyna.core.context import open_context
    from openmyna.jpki import service as jpki
    from openmyna.jpki.authority import CaConfig

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    holder = jpki.HolderFacts(
        "山田 花子", "female", dt.date(1985, 4, 5), "東京都千代田区千代田1番1号", "東京都", "千代田区"
    )
    with fresh_database(args.database, WORKLOAD) as (url, var_dir):
        context = open_context(settings_for(url, var_dir))
        migrate.upgrade(context.engine)
        config = CaConfig.from_settings(context.settings, context.keys)
        with context.session_factory() as session, session.begin():
            jpki.ensure_authorities(session, config=config)
        log(f"making {args.keys} chip key pairs and {args.cards * 2} CSRs (not timed)")
        keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(args.keys)]
        csrs = [
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .sign(k, hashes.SHA256())
            .public_bytes(serialization.Encoding.DER)
            for k in keys
        ]
        # warm-up: load the CA signer and responder once
        with context.session_factory() as session, session.begin():
            jpki.issue(
                session, config=config, kind="auth", csr_der=csrs[0], holder=holder, holder_ref="card:0", subject="s"
            )
        started = time.perf_counter()
        done = 0
        while done < args.cards:
            with context.session_factory() as session, session.begin():
                for i in range(done, min(done + BATCH, args.cards)):
                    for kind in ("auth", "sign"):
                        jpki.issue(
                            session,
                            config=config,
                            kind=kind,
                            csr_der=csrs[(2 * i + (kind == "sign")) % len(csrs)],
                            holder=holder,
                            holder_ref=f"card:{i + 1}",
                            subject="person:bench",
                        )
            done = min(done + BATCH, args.cards)
        elapsed = time.perf_counter() - started
        with context.session_factory() as session:
            ca = x509.load_pem_x509_certificate(jpki.ca_certificate_pem(session, config=config, kind="auth"))
        context.engine.dispose()
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=ca.public_key().key_size)  # type: ignore[union-attr]
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    for i in range(2 * args.cards):
        csr = x509.load_der_x509_csr(csrs[i % len(csrs)])
        if not csr.is_signature_valid:
            raise RuntimeError("a bench CSR does not verify")
        (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, f"card {i}")]))
            .issuer_name(ca.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1825))
            .sign(ca_key, hashes.SHA256())
        )
    floor_rate = args.cards / (time.perf_counter() - started)
    rate = args.cards / elapsed
    log(f"{args.cards} cards ({2 * args.cards} certificates) in {elapsed:.2f} s: {rate:.0f} cards/s")
    log(f"floor: the same certificates bare by cryptography: {floor_rate:.0f} cards/s")
    emit(
        {
            "workload": WORKLOAD,
            "database": args.database,
            "headline_ratio_to_bare_signing": round(rate / floor_rate, 3),
            "cards": args.cards,
            "certificates": 2 * args.cards,
            "seconds": round(elapsed, 3),
            "cards_per_s": round(rate, 1),
            "bare_signing_cards_per_s": round(floor_rate, 1),
            "target": {"ratio_min": TARGET_RATIO},
            "ok": rate / floor_rate >= TARGET_RATIO,
            "cores_used": 1,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
