"""The hub's HTTP API: codes, queries, the provider endpoint, signed tree heads, proofs and the citizen view."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from openmyna.core import clock, timefmt
from openmyna.core.crypto import KeyRing
from openmyna.core.errors import DomainError, Forbidden, InvalidInput, Unauthorized
from openmyna.core.limits import too_deep
from openmyna.core.validation import BIGINT_MAX, sanitise
from openmyna.core.web import DbSession, Keys, Language, ReadSession, UnitOfWorkRoute
from openmyna.network import enrolment, history, log, service
from openmyna.network.schemas import (
    AnswerOut,
    CodeOut,
    CodeRequest,
    HistoryOut,
    ProofOut,
    ProvideIn,
    ProvideOut,
    QueryIn,
    TableDiffOut,
    TableRowOut,
    TreeHeadOut,
)
from openmyna.network.table import ExchangeTable, TableError, diff_tables, parse_table
from openmyna.orgs import service as orgs
from openmyna.orgs.dependencies import require_scope

router = APIRouter(route_class=UnitOfWorkRoute, prefix="/api/network", tags=["network"])
_bearer = HTTPBearer(auto_error=False)
Querier = Annotated[orgs.Caller, Depends(require_scope("network:query"))]
HubCaller = Annotated[orgs.Caller, Depends(require_scope("network:provide"))]
Citizen = Annotated[orgs.Caller, Depends(require_scope("self"))]
PERSON_PREFIX = "person:"  # a resident's token subject (registry.subject_of)


def exchange_table(request: Request) -> ExchangeTable:
    return request.app.state.exchange_table


Table = Annotated[ExchangeTable, Depends(exchange_table)]


@router.get("/table", response_model=list[TableRowOut])
def get_table(table: Table) -> list[TableRowOut]:
    """The loaded exchange table (番号法 別表第二)."""
    return [
        TableRowOut(
            requester=r.requester,
            business=r.business,
            provider=r.provider,
            items=list(r.items),
            legal_reference=r.legal_reference,
        )
        for r in table.rows
    ]


@router.post("/table/diff", response_model=TableDiffOut)
async def diff_table(request: Request, table: Table) -> TableDiffOut:
    """What a proposed table (YAML, the same format as the shipped file) would add and remove."""
    text = (await request.body()).decode("utf-8", errors="replace")
    try:
        proposed = parse_table(text, source="proposed table")
    except TableError as exc:
        raise InvalidInput(str(exc)) from exc
    added, removed = diff_tables(table, proposed)
    keys = ("requester", "business", "provider", "item")
    return TableDiffOut(
        added=[dict(zip(keys, row, strict=True)) for row in added],
        removed=[dict(zip(keys, row, strict=True)) for row in removed],
    )


@router.post("/codes", response_model=CodeOut)
def obtain_code(body: CodeRequest, session: DbSession, keys: Keys, caller: Querier) -> CodeOut:
    """Obtain the calling agency's own code for a person (the explicit, recorded step)."""
    return CodeOut(
        agency=caller.org_code,
        code=enrolment.issue_code(session, keys=keys, agency=caller.org_code, my_number=body.my_number),
    )


def _raw_fields(body: bytes) -> dict[str, str]:
    """What a refused body asked for, for the record: each field cut to 32 characters and made storable.

    The body may be anything (not JSON, nested thousands deep, a lone surrogate or a NUL in a string), and
    recording the refusal must not fail on either database: what cannot be read is recorded as "".
    """
    parsed: Any = None
    if not too_deep(body):  # json.loads recurses: a deep enough body would raise RecursionError
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
    fields = parsed if isinstance(parsed, dict) else {}
    return {
        name: sanitise(value[:32]) if isinstance(value := fields.get(name), str) else ""
        for name in ("provider", "business", "item", "purpose_reference")
    }


def _query(request: Request, credentials: HTTPAuthorizationCredentials | None, body: bytes) -> JSONResponse:
    state = request.app.state
    keys: KeyRing = state.keys
    session: Session = state.session_factory()
    if isinstance(session.bind, Engine) and session.bind.dialect.name == "postgresql":
        # The query path writes exactly one statement (both sides' records in one INSERT, atomic on its
        # own) and only reads otherwise: in autocommit PostgreSQL is spared the BEGIN and COMMIT round trips.
        # (A session bound to a connection, as in the tests, keeps that connection's transaction.)
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    try:
        now = clock.now()

        def refuse(subject: str, error: DomainError) -> DomainError:
            # A person's own token (the citizen view's ``person:…``) names no agency: the refusal is kept as
            # that person's record, which they see in their history, under the requester "person".
            requester, citizen = ("person", subject) if subject.startswith(PERSON_PREFIX) else (subject, "")
            raw = _raw_fields(body)
            service.record_exchange(
                session,
                requester=requester,
                provider=raw.pop("provider"),
                query=raw,
                citizen=citizen,
                result=service.REFUSED,
                reason=error.detail,
                asked_at=now,
                answered_at=clock.now(),
            )
            session.commit()
            return error

        if credentials is None:
            raise refuse("unauthenticated", Unauthorized("send the agency's access token (Authorization: Bearer …)"))
        try:
            caller = orgs.verify_access_token(keys, credentials.credentials)
        except Unauthorized as exc:
            raise refuse(orgs.token_subject(keys, credentials.credentials) or "unauthenticated", exc) from exc
        if not caller.allows("network:query"):
            raise refuse(
                caller.org_code,
                Forbidden(f"{caller.actor} lacks the scope network:query", required_scope="network:query"),
            )
        try:
            query = QueryIn.model_validate_json(body or b"null")
        except ValidationError as exc:
            refuse(caller.org_code, InvalidInput("malformed query body"))
            raise RequestValidationError(exc.errors(include_url=False)) from exc
        outcome = service.ask(
            session,
            keys=keys,
            table=state.exchange_table,
            requester=caller.org_code,
            providers=state.network_providers,
            query=service.Query(
                query.business, query.provider, query.item, query.subject_code, query.purpose_reference
            ),
        )
        session.commit()
        if isinstance(outcome, service.Refused):
            raise outcome.error
        # Built here rather than re-validated through the response model: this is the hot path.
        return JSONResponse(
            {
                "exchange_id": outcome.exchange_id,
                "result": outcome.result,
                "data": outcome.data,
                "asked_at": timefmt.to_json(outcome.asked_at),
                "answered_at": timefmt.to_json(outcome.answered_at),
            }
        )
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@router.post(
    "/queries",
    response_model=AnswerOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": QueryIn.model_json_schema()}},
        }
    },
)
async def ask(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> JSONResponse:
    """Ask a provider for a data item about a person, where the exchange table allows.

    Every outcome — answered, no data, or refused for any reason (unknown row, unknown code, bad
    credential, malformed body) — is recorded for both sides before the reply.
    """
    body = await request.body()
    return await run_in_threadpool(_query, request, credentials, body)


@router.post("/provide", response_model=ProvideOut)
def provide(body: ProvideIn, session: DbSession, _hub: HubCaller) -> ProvideOut:
    """The provider side for a hub in another process: answer for an agency hosted here."""
    return ProvideOut(
        data=service.answer_locally(session, agency=body.agency, item=body.item, business=body.business, code=body.code)
    )


@router.get("/sth", response_model=TreeHeadOut)
def signed_tree_head(session: ReadSession) -> dict[str, object]:
    """The latest signed tree head of the exchange log (RFC 6962 get-sth)."""
    head = log.latest_head(session)
    if head is None:
        raise log.NoTreeHead("no tree head has been published yet")
    return log.head_json(head)


@router.get("/sth/key", response_class=PlainTextResponse)
def tree_head_key(keys: Keys) -> str:
    """The Ed25519 public key that signs tree heads, PEM."""
    return (
        keys.log_signing_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _tree_size(session: Session, tree_size: int | None) -> int:
    head = log.latest_head(session)
    if head is None:
        raise log.NoTreeHead("no tree head has been published yet")
    size = head.tree_size if tree_size is None else tree_size
    if not 0 < size <= head.tree_size:
        raise InvalidInput(f"tree_size must be between 1 and {head.tree_size}", field="tree_size")
    return size


@router.get("/proof/inclusion", response_model=ProofOut)
def inclusion(
    session: ReadSession,
    leaf_index: Annotated[int, Query(ge=0, le=BIGINT_MAX)],
    tree_size: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
) -> ProofOut:
    """Audit path of a leaf (RFC 6962 §2.1.1) in a published tree."""
    size = _tree_size(session, tree_size)
    if leaf_index >= size:
        raise InvalidInput(f"leaf {leaf_index} is not in a tree of {size}", field="leaf_index")
    path = log.inclusion_proofs(session, [leaf_index], size)[leaf_index]
    return ProofOut(leaf_index=leaf_index, tree_size=size, audit_path=[base64.b64encode(h).decode() for h in path])


@router.get("/proof/consistency", response_model=ProofOut)
def consistency(
    session: ReadSession,
    first: Annotated[int, Query(ge=1, le=BIGINT_MAX)],
    second: Annotated[int, Query(ge=1, le=BIGINT_MAX)],
) -> ProofOut:
    """Consistency proof between two published tree sizes (RFC 6962 §2.1.2)."""
    size = _tree_size(session, second)
    if first > size:
        raise InvalidInput("first must not exceed second", field="first")
    proof = log.consistency_proof(session, first, size)
    return ProofOut(tree_size=size, consistency=[base64.b64encode(h).decode() for h in proof])


@router.get("/history", response_model=HistoryOut)
def my_history(
    session: ReadSession,
    table: Table,
    citizen: Citizen,
    lang: Language,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """The calling resident's exchanges, newest first, each record with its inclusion proof, and the page's
    completeness proof (its chain segment and the person map proof under the signed head)."""
    page = history.history(session, table=table, citizen=citizen.org_code, lang=lang, limit=limit, offset=offset)
    return {"total": page.total, "tree_head": page.tree_head, "items": page.items, "completeness": page.completeness}
