"""RFC 9457 problem details: the base domain error, the handlers that render it and how the document says so."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://openmyna.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("openmyna.errors")


class DomainError(Exception):
    """A rule of the domain was broken; rendered as problem+json with a stable ``type``.

    Subclasses set ``slug``, ``status`` and both titles; ``detail`` says precisely what was wrong.
    """

    slug: ClassVar[str] = "domain-error"
    status: ClassVar[int] = 400
    title_ja: ClassVar[str] = "要求を処理できません"
    title_en: ClassVar[str] = "The request cannot be processed"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(DomainError):
    slug = "not-found"
    status = 404
    title_ja = "見つかりません"
    title_en = "Not found"


class Conflict(DomainError):
    slug = "conflict"
    status = 409
    title_ja = "現在の状態と矛盾します"
    title_en = "Conflicts with the current state"


class InvalidInput(DomainError):
    slug = "invalid-input"
    status = 400
    title_ja = "入力が正しくありません"
    title_en = "Invalid input"


class Unauthorized(DomainError):
    slug = "unauthorized"
    status = 401
    title_ja = "認証が必要です"
    title_en = "Authentication required"


class Forbidden(DomainError):
    slug = "forbidden"
    status = 403
    title_ja = "権限がありません"
    title_en = "Not permitted"


def problem(
    *, status: int, slug: str, title: str, detail: str, title_ja: str | None = None, **extensions: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if title_ja:
        body["title_ja"] = title_ja
    body.update(extensions)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if "retry_after" in extensions:
        headers["Retry-After"] = str(extensions["retry_after"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body",)) or "body"


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; a domain error adds its own members (e.g. field, required_scope)",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A stable URI naming the kind of problem"},
        "title": {"type": "string"},
        "title_ja": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What precisely was wrong"},
    },
}
_VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["pointer", "detail"],
                        "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
                    },
                }
            },
        },
    ]
}


def _problem_response(description: str, schema: str = "Problem") -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


# 422: the body or parameters do not match the operation (a ValidationProblem, with ``errors``), or, as the IETF
# Idempotency-Key draft answers, a key sent again with another request (a plain Problem).
_UNPROCESSABLE: dict[str, Any] = {
    "description": "The request does not match this operation, or an Idempotency-Key was reused with another request",
    "content": {
        PROBLEM_MEDIA_TYPE: {
            "schema": {
                "anyOf": [
                    {"$ref": "#/components/schemas/ValidationProblem"},
                    {"$ref": "#/components/schemas/Problem"},
                ]
            }
        }
    },
}


def declare_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Say in an OpenAPI document what the handlers below answer: problem+json for every client error.

    FastAPI documents its own validation body (``HTTPValidationError``, ``application/json``), which this
    application never sends. An operation whose router renders its own errors declares ``4XX`` itself
    and is left as it is.
    """
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = _PROBLEM_SCHEMA
    schemas["ValidationProblem"] = _VALIDATION_PROBLEM_SCHEMA
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "4XX" in responses:
                continue
            if "422" in responses:
                responses["422"] = _UNPROCESSABLE
            if operation.get("security"):
                responses.setdefault("401", _problem_response("No access token, or a malformed or expired one"))
                responses.setdefault("403", _problem_response("The caller may not do this"))
            responses["4XX"] = _problem_response("Bad input, not found, or a conflict with the current state")
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install_problem_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors and HTTP errors to problem+json, and declare it in ``/openapi.json``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            declare_problems(generate())  # FastAPI keeps the generated document; it is amended once, in place
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem(
            status=exc.status,
            slug=exc.slug,
            title=exc.title_en,
            title_ja=exc.title_ja,
            detail=exc.detail,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"pointer": _location(e.get("loc", ())), "detail": str(e.get("msg", "invalid"))} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['pointer']}: {e['detail']}" for e in errors)
        return problem(
            status=422,
            slug="validation",
            title="Request validation failed",
            title_ja="入力内容に誤りがあります",
            detail=detail,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            status=exc.status_code, slug=f"http-{exc.status_code}", title=str(exc.detail), detail=str(exc.detail)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            status=500,
            slug="internal",
            title="Internal error",
            title_ja="内部エラー",
            detail="An unexpected error occurred; it has been logged.",
        )
