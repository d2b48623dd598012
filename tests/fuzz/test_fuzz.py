"""schemathesis over every operation, on both databases, unauthenticated and as each role.

Passes only with no server error and every response as the document declares it (status code, media
type, schema). Each generated case is sent as every role. ``OPENMYNA_FUZZ_EXAMPLES`` raises the examples per
operation (``make soak``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from fastapi import FastAPI

from tests.fuzz import harness, world


def test_every_operation_answers_as_documented(
    app: FastAPI, fuzz_world: world.World, record_property: Callable[[str, object], None]
) -> None:
    callers = {role: harness.Caller(fuzz_world.headers[role], fuzz_world.query[role]) for role in world.ROLES}
    reports = harness.fuzz(app, callers)
    dialect = app.state.engine.dialect.name
    for role, report in reports.items():
        label = f"{dialect} {role}"
        print(report.summary(label))
        record_property(f"fuzz_cases_{role}", report.cases)
        if path := os.environ.get(harness.REPORT_ENV):
            report.append_to(path, label)
        assert report.operations >= 50 and report.cases >= report.operations, label
    failures = {role: report.details() for role, report in reports.items() if report.findings}
    assert not failures, "\n\n".join(f"as {role}:\n{details}" for role, details in failures.items())
