"""Machine APIs: agencies send notices (scope ``notices:send``) and watch their jobs; delivery services
(scope ``notices:deliver``) fetch copies; the portal shell asks for the unread count."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from openmyna.core.validation import IdParam
from openmyna.core.web import DbSession, Keys, ReadSession, UnitOfWorkRoute
from openmyna.orgs.dependencies import require_scope
from openmyna.orgs.service import Caller
from openmyna.portal.auth.dependencies import CurrentUser
from openmyna.portal.notices import delivery, service
from openmyna.portal.notices.queue import TaskQueue
from openmyna.portal.notices.schemas import DeliveryBatch, DeliveryFetch, SendJobOut, SendRequest, UnreadCount

router = APIRouter(route_class=UnitOfWorkRoute, tags=["notices"])

Sender = Annotated[Caller, Depends(require_scope(service.SEND_SCOPE))]
DeliveryService = Annotated[Caller, Depends(require_scope(delivery.DELIVER_SCOPE))]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=128,
        pattern=r"^[!-~]+$",
        description="A key of the client's choosing, unique per send; a retry with the same key and body "
        "answers the first job and sends nothing again",
    ),
]


def get_queue(request: Request) -> TaskQueue:
    return request.app.state.notice_queue


Queue = Annotated[TaskQueue, Depends(get_queue)]


@router.post("/api/notices/sends", status_code=202, response_model=SendJobOut)
def send(
    body: SendRequest, session: DbSession, caller: Sender, queue: Queue, idempotency_key: IdempotencyKey
) -> JSONResponse:
    """Send a notice to one resident or a selection; the fan-out runs in the background (202 + the job).

    Replaying the same key with the same body answers the same job (header ``Idempotent-Replayed: true``).
    """
    job, created = service.request_send(
        session, caller=caller, idempotency_key=idempotency_key, request=body, queue=queue
    )
    out = SendJobOut.model_validate(service.job_view(session, job))
    headers = {"Location": f"/api/notices/sends/{job.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(out.model_dump(mode="json"), status_code=202, headers=headers)


@router.get("/api/notices/sends", response_model=list[SendJobOut])
def list_sends(
    session: ReadSession, caller: Sender, status: Literal["queued", "running", "done", "failed"] | None = None
) -> list[SendJobOut]:
    """The caller's send jobs, newest first (``?status=failed`` for the failures)."""
    jobs = service.list_jobs(session, org_code=caller.org_code, status=status)
    return [SendJobOut.model_validate(service.job_view(session, job)) for job in jobs]


@router.get("/api/notices/sends/{job_id}", response_model=SendJobOut)
def get_send(job_id: IdParam, session: ReadSession, caller: Sender) -> SendJobOut:
    """One send job: status, notices created, e-mails queued, attempts and the last error."""
    job = service.get_job(session, org_code=caller.org_code, job_id=job_id)
    return SendJobOut.model_validate(service.job_view(session, job))


@router.post("/api/delivery/copies", response_model=DeliveryBatch)
def fetch_copies(body: DeliveryFetch, session: DbSession, keys: Keys, caller: DeliveryService) -> DeliveryBatch:
    """The next copies of notices whose recipients consented to this service for that kind (each once)."""
    copies = delivery.fetch(session, keys=keys, caller=caller, limit=body.limit)
    return DeliveryBatch.model_validate({"copies": copies})


@router.get("/api/portal/notices/unread-count", response_model=UnreadCount)
def unread(session: ReadSession, user: CurrentUser) -> UnreadCount:
    """Unread notices of the logged-in resident (the number beside お知らせ in the menu)."""
    return UnreadCount(unread=service.unread_count(session, subject=user.subject))
