"""Card issuance through the CA on one core: CSR → two certificates (auth + sign), stored, OCSP pre-signed.

The chip's key generation is excluded (the CSRs are made beforehand, as the chips would); everything the
CA does is included: CSR parse and proof-of-possession check, building and RSA-signing both certificates
with the DOMAIN §5 profiles, pre-signing each certificate's OCSP answer, inserting the rows, committing
every 100 cards. Target (issue): at least 500 cards/s on one core.

    .venv/bin/python bench/bench_card_issuance.py [--database sqlite|postgresql] [--cards 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from _common import add_database_argument, code_version, emit, fresh_database, log, machine, settings_for

WORKLOAD = "card_issuance"
TARGET = 500
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
        context.engine.dispose()
    rate = args.cards / elapsed
    log(f"{args.cards} cards ({2 * args.cards} certificates) in {elapsed:.2f} s: {rate:.0f} cards/s")
    emit(
        {
            "workload": WORKLOAD,
            "database": args.database,
            "cards": args.cards,
            "certificates": 2 * args.cards,
            "seconds": round(elapsed, 3),
            "cards_per_s": round(rate, 1),
            "target_cards_per_s": TARGET,
            "ok": rate >= TARGET,
            "cores_used": 1,
            "machine": machine(),
            "code": code_version(),
        }
    )


if __name__ == "__main__":
    main()
