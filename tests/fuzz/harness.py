"""schemathesis over every operation of ``/openapi.json``, as one caller, with the failures collected.

Shared by ``make test`` (a few examples per operation) and ``make soak`` (``OPENMYNA_FUZZ_EXAMPLES``).
Each operation gets hypothesis-generated cases that follow the schema and cases that break it; every
response is checked for a server error and against the status codes, media types and schema the
document declares. Failures are collected per operation instead of stopping at the first, so one run
says everything that is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_ENV = "OPENMYNA_FUZZ_EXAMPLES"
REPORT_ENV = "OPENMYNA_FUZZ_REPORT"  # a file to which each run appends one JSON line (``make soak`` reads it)
DEFAULT_EXAMPLES = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def examples() -> int:
    """Examples per operation and generation mode: ``$OPENMYNA_FUZZ_EXAMPLES`` or a CI-sized default."""
    return int(os.environ.get(EXAMPLES_ENV, DEFAULT_EXAMPLES))


@dataclass(frozen=True)
class Finding:
    operation: str
    check: str
    status: int
    message: str
    request: str


@dataclass
class Report:
    operations: int = 0
    cases: int = 0
    findings: dict[tuple[str, str, int, str], Finding] = field(default_factory=dict)
    unnegatable: list[str] = field(default_factory=list)

    def summary(self, label: str) -> str:
        return (
            f"fuzz {label}: {self.operations} operations, {self.cases} cases, {len(self.findings)} distinct failures"
            f" ({len(self.unnegatable)} operations have no invalid form to send)"
        )

    def append_to(self, path: str, label: str) -> None:
        line = {
            "label": label,
            "operations": self.operations,
            "cases": self.cases,
            "findings": [dataclasses.asdict(f) for f in self.findings.values()],
        }
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")

    def details(self) -> str:
        return "\n\n".join(
            f"{f.operation} [{f.check}] {f.status}: {f.message}\n  {f.request}" for f in self.findings.values()
        )


class _Contained:
    """What a server does with an exception the app raises after its 500 went out: keep it, go on.

    Starlette re-raises it for test clients; the harness wants the 500 checked like any response and
    the exception named in the finding.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.last_error: BaseException | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = False

        async def watch(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            if not started:
                raise
            self.last_error = error


def _record(
    report: Report,
    case: schemathesis.Case,
    headers: dict[str, str],
    error: Failure,
    status: int,
    cause: BaseException | None,
) -> None:
    if status >= 500 and error.title != "Server error":
        return  # a server error is one finding, not also an undocumented status and body
    reason = f"{type(cause).__name__}: {cause}".splitlines()[0][:200] if cause else ""
    key = (case.operation.label, error.title, status, reason)
    if key not in report.findings:
        report.findings[key] = Finding(
            operation=case.operation.label,
            check=error.title,
            status=status,
            message=(reason + "\n" if reason else "") + error.message.strip()[:2000],
            request=case.as_curl_command(headers=headers),
        )


@dataclass(frozen=True)
class Caller:
    """Who sends the cases: headers on every request, and query parameters pinned where an operation has them."""

    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)


def fuzz(app: FastAPI, callers: dict[str, Caller], *, max_examples: int | None = None) -> dict[str, Report]:
    """Run every operation of the app's document as each caller; a report per caller.

    Each case is generated once and sent as every caller in turn: generating cases from the schemas costs
    several times more than answering them, and a case that one role may send is worth sending as all.
    A caller's pinned ``query`` replaces the generated value wherever the operation declares that parameter
    (the NTA API's token is ``?id=``).
    """
    contained = _Contained(app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", contained)
    reports = {name: Report() for name in callers}
    settings = hypothesis_settings(
        max_examples=max_examples or examples(),
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    for result in schema.get_all_operations():
        operation = result.ok()
        for report in reports.values():
            report.operations += 1
        negatable = any(True for _ in operation.iter_parameters()) or len(operation.body) > 0
        for mode in MODES if negatable else MODES[:1]:

            @settings
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                for name, caller in callers.items():
                    _send(case, caller, reports[name], contained)

            try:
                run()
            except Unsatisfiable:
                for report in reports.values():  # every parameter's invalid forms were filtered out
                    report.unnegatable.append(operation.label)
    return reports


def _send(case: schemathesis.Case, caller: Caller, report: Report, contained: _Contained) -> None:
    """Send ``case`` as ``caller`` (its pinned query values in place of the generated ones) and check the answer."""
    generated = case.query
    pinned = {name: value for name, value in caller.query.items() if name in case.operation.query}
    if pinned:
        case.query = {**(generated or {}), **pinned}
    report.cases += 1
    contained.last_error = None
    headers = caller.headers
    try:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        for error in group.exceptions:
            _record(report, case, headers, error, response.status_code, contained.last_error)
    except Failure as error:
        _record(report, case, headers, error, response.status_code, contained.last_error)
    finally:
        case.query = generated
