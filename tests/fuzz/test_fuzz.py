"""schemathesis over every operation, on both databases, unauthenticated and as each role.

Passes only with no server error and every response as the document declares it (status code, media
type, schema). ``OPENMYNA_FUZZ_EXAMPLES`` raises the examples per operation (``make soak``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from tests.fuzz import harness, world


@pytest.mark.parametrize("role", world.ROLES)
def test_every_operation_answers_as_documented(
    app: FastAPI, fuzz_world: world.World, role: str, record_property: Callable[[str, object], None]
) -> None:
    report = harness.fuzz(app, fuzz_world.headers[role], query=fuzz_world.query[role])
    label = f"{app.state.engine.dialect.name} {role}"
    print(report.summary(label))
    record_property("fuzz_operations", report.operations)
    record_property("fuzz_cases", report.cases)
    if path := os.environ.get(harness.REPORT_ENV):
        report.append_to(path, label)
    assert report.operations >= 50 and report.cases >= report.operations
    assert not report.findings, report.details()
