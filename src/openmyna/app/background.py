"""Work the server does on a schedule: signed tree heads of the exchange log, and its retention purge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from openmyna.core import clock
from openmyna.core.db import unit_of_work
from openmyna.network import log as exchange_log
from openmyna.portal.notices import worker as notice_worker
from openmyna.portal.oidc import service as oidc

logger = logging.getLogger("openmyna.background")


def publish_once(app: FastAPI) -> None:
    with unit_of_work(app.state.session_factory) as session:
        exchange_log.publish(session, keys=app.state.keys)


def purge_once(app: FastAPI) -> None:
    """Drop entries past the retention period (7 years), leaving a signed statement."""
    cutoff = exchange_log.retention_cutoff(clock.now(), years=app.state.settings.network_retention_years)
    with unit_of_work(app.state.session_factory) as session:
        exchange_log.purge(session, keys=app.state.keys, older_than=cutoff)


def purge_oidc_once(app: FastAPI) -> None:
    """Drop OpenID Connect codes and access tokens a day after they expired."""
    with unit_of_work(app.state.session_factory) as session:
        oidc.purge_expired(session)


async def _every(interval: float, job: Callable[[FastAPI], None], app: FastAPI) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(job, app)
        except Exception:  # keep the schedule after a failed round; the next one retries
            logger.exception("scheduled job %s failed", job.__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the scheduled jobs (the sequencer takes a lock, so one publishes at a time across processes)."""
    settings = app.state.settings
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
    tasks = [asyncio.create_task(_every(3600, purge_oidc_once, app))]
    if settings.network_publish_seconds > 0:
        tasks.append(asyncio.create_task(_every(settings.network_publish_seconds, publish_once, app)))
        tasks.append(asyncio.create_task(_every(24 * 3600, purge_once, app)))
    stop_notice_workers = notice_worker.start_in_app(app)
    yield
    stop_notice_workers()
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
