"""HTTP face of the CA: CA certificates, CRLs, OCSP (RFC 6960) and the validity-check API for verifiers."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from cryptography.hazmat.primitives import serialization
from cryptography.x509 import load_der_x509_certificate
from cryptography.x509.ocsp import OCSPResponseStatus
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.routing import Route

from openmyna.core import clock
from openmyna.core.web import AppSettings, DbSession, Keys, UnitOfWorkRoute
from openmyna.jpki import ocsp as ocsp_answers
from openmyna.jpki import service
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import MEDIA_REQUEST, MEDIA_RESPONSE, Responder, unsuccessful
from openmyna.jpki.schemas import CertificateRef, ValidityOut, ValidityRequest
from openmyna.orgs.dependencies import require_scope
from openmyna.orgs.service import Caller

router = APIRouter(route_class=UnitOfWorkRoute, tags=["jpki"])
VERIFY_SCOPE = "jpki:verify"
Verifier = Annotated[Caller, Depends(require_scope(VERIFY_SCOPE))]
MAX_OCSP_REQUEST = 8192


def config_of(settings: AppSettings, keys: Keys) -> CaConfig:
    return CaConfig.from_settings(settings, keys)


Config = Annotated[CaConfig, Depends(config_of)]


def responder(request: Request) -> Responder:
    """The process's OCSP responder, built on first use."""
    return _responder_of(request.app)


def _responder_of(app: Any) -> Responder:
    state = app.state
    found: Responder | None = getattr(state, "jpki_responder", None)
    if found is None:
        found = Responder(state.read_session_factory, CaConfig.from_settings(state.settings, state.keys))
        state.jpki_responder = found
    return found


def _body(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The document's 200 answer of an endpoint that returns bytes rather than JSON."""
    return {200: {"description": description, "content": {media_type: {}}}}


@router.get(
    "/jpki/ca/{kind}.pem",
    summary="CA certificate (PEM)",
    response_class=Response,
    responses=_body("application/x-pem-file", "The CA certificate"),
)
def ca_certificate(kind: Literal["sign", "auth", "org"], db: DbSession, config: Config) -> Response:
    return Response(service.ca_certificate_pem(db, config=config, kind=kind), media_type="application/x-pem-file")


@router.get(
    "/jpki/crl/{kind}.crl",
    summary="Current CRL (DER, RFC 5280)",
    response_class=Response,
    responses=_body("application/pkix-crl", "The CA's current CRL"),
)
def crl(kind: Literal["sign", "auth", "org"], db: DbSession, config: Config) -> Response:
    return Response(service.current_crl(db, config=config, kind=kind), media_type="application/pkix-crl")


async def _answer(app: Any, body: bytes | None, request_headers: dict[bytes, bytes]) -> tuple[int, list, bytes]:
    """Status, headers and body of the answer to a DER OCSPRequest (None: not even base64 or too long).

    A pre-signed answer comes from memory; the database is read off the event loop only when it must be.
    A cacheable answer carries RFC 5019's cache headers, and a cache revalidating what it holds gets 304.
    """
    if body is None or not body or len(body) > MAX_OCSP_REQUEST:
        answer = ocsp_answers.Answer(unsuccessful(OCSPResponseStatus.MALFORMED_REQUEST))
    else:
        answerer = _responder_of(app)
        found = answerer.respond(body, memory_only=True)
        answer = found if found is not None else await run_in_threadpool(answerer.respond, body)
        assert answer is not None
    settings = app.state.settings
    headers = ocsp_answers.cache_headers(answer, now=clock.now(), max_age_bound=settings.ocsp_cache_max_age_seconds)
    if ocsp_answers.not_modified(
        answer, request_headers.get(b"if-none-match"), request_headers.get(b"if-modified-since")
    ):
        return 304, headers, b""
    headers += [(b"content-type", MEDIA_RESPONSE.encode()), (b"content-length", str(len(answer.der)).encode())]
    return 200, headers, answer.der


def _decoded(encoded: str) -> bytes | None:
    """The DER request of a GET (RFC 6960 A.1: URL-encoded base64 in the path), or None."""
    if len(encoded) > MAX_OCSP_REQUEST * 2:
        return None
    try:
        return base64.b64decode(unquote(encoded), validate=True)
    except (binascii.Error, ValueError):
        return None


async def _read_body(receive: Any) -> bytes | None:
    """The request body, or None once it is longer than any OCSP request may be."""
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_OCSP_REQUEST:
            return None
        more = message.get("more_body", False)
    return body


class OcspFastPath:
    """ASGI wrapper answering OCSP (``POST /jpki/ocsp``, ``GET /jpki/ocsp/{base64}``) before the application.

    Wraps the whole FastAPI application (``app.factory.create_server_app``): the answers are pre-signed blobs
    in memory, and the application's middleware, routing and response objects would cost more than the answer
    itself. Everything else, lifespan included, goes to the application untouched. The routes below document
    the same endpoints in the OpenAPI description and answer the same way where the application runs alone.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/jpki/ocsp"):
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        headers = dict(scope["headers"])
        if method == "POST" and path == "/jpki/ocsp":
            content_type = headers.get(b"content-type", MEDIA_REQUEST.encode()).split(b";")[0].strip()
            body = await _read_body(receive)
            if content_type != MEDIA_REQUEST.encode():
                body = None
        elif method in ("GET", "HEAD") and path.startswith("/jpki/ocsp/"):
            body = _decoded(path[len("/jpki/ocsp/") :])
        else:
            await self.app(scope, receive, send)
            return
        status, answer_headers, der = await _answer(self.app, body, headers)
        await send({"type": "http.response.start", "status": status, "headers": answer_headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else der})


def _response(status: int, headers: list, der: bytes) -> Response:
    response = Response(der, status_code=status)
    response.raw_headers = headers
    return response


async def ocsp_post(request: Request) -> Response:
    """OCSP (RFC 6960), POST: a plain Starlette endpoint (no dependency resolution)."""
    content_type = request.headers.get("content-type", MEDIA_REQUEST).split(";")[0].strip()
    body = await _read_body(request.receive)
    return _response(*await _answer(request.app, body if content_type == MEDIA_REQUEST else None, {}))


router.routes.append(Route("/jpki/ocsp", ocsp_post, methods=["POST"]))


@router.get(
    "/jpki/ocsp/{encoded:path}",
    summary="OCSP (RFC 6960 appendix A.1, RFC 5019), GET: cacheable by any HTTP cache",
    response_class=Response,
    responses=_body(MEDIA_RESPONSE, "An OCSP response; a malformed request is answered malformedRequest"),
)
async def ocsp_get(encoded: str, request: Request) -> Response:
    conditional = {
        name: request.headers[name].encode("latin-1")
        for name in ("if-none-match", "if-modified-since")
        if name in request.headers
    }
    return _response(*await _answer(request.app, _decoded(encoded), {k.encode(): v for k, v in conditional.items()}))


def _certificate_data(text: str) -> bytes:
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        return stripped.encode()
    try:
        return base64.b64decode("".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise service.MalformedCertificate("certificate: neither PEM nor base64 of DER") from exc


def _ref(request: Request, row: service.Certificate) -> CertificateRef:
    pem = load_der_x509_certificate(row.der).public_bytes(serialization.Encoding.PEM).decode()
    url = str(request.url_for("certificate_by_serial", serial=row.serial))
    return CertificateRef(serial=row.serial, kind=row.kind, certificate_pem=pem, url=url)  # type: ignore[arg-type]


@router.post("/api/jpki/validity", response_model=ValidityOut, summary="Validity check for registered verifiers")
def validity(body: ValidityRequest, request: Request, db: DbSession, config: Config, caller: Verifier) -> ValidityOut:
    result = service.check_validity(
        db,
        config=config,
        data=_certificate_data(body.certificate),
        at=body.at,
        verifier_org=caller.org_code,
        actor=caller.actor,
    )
    return ValidityOut(
        serial=result.serial,
        kind=result.kind,  # type: ignore[arg-type]
        status=result.status,  # type: ignore[arg-type]
        at=result.at,
        not_before=result.not_before,
        not_after=result.not_after,
        revoked_at=result.revoked_at,
        reason=result.reason,
        replaced_by=_ref(request, result.replaced_by) if result.replaced_by else None,
        holder_abroad_since=result.holder_abroad_since,
    )


@router.get(
    "/api/jpki/certificates/{serial}",
    response_model=CertificateRef,
    name="certificate_by_serial",
    summary="A certificate by serial (hex), for verifiers following a replacement",
)
def certificate_by_serial(serial: str, request: Request, db: DbSession, caller: Verifier) -> CertificateRef:
    if not serial or len(serial) > 40 or any(c not in "0123456789abcdefABCDEF" for c in serial):
        raise service.CertificateNotFound(f"{serial!r} is not a hexadecimal serial number")
    return _ref(request, service.certificate(db, serial=serial))
