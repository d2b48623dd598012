"""Work the server does on a schedule: publishing the exchange log's signed tree heads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from openmyna.core.db import unit_of_work
from openmyna.network import log as exchange_log

logger = logging.getLogger("openmyna.background")


def publish_once(app: FastAPI) -> None:
    with unit_of_work(app.state.session_factory) as session:
        exchange_log.publish(session, keys=app.state.keys)


async def _publish_forever(app: FastAPI, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(publish_once, app)
        except Exception:  # keep publishing after a failed round; the next one retries
            logger.exception("publishing the exchange log's tree head failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the tree-head publisher (one at a time across processes: the sequencer takes a lock)."""
    settings = app.state.settings
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
    interval = settings.network_publish_seconds
    task = asyncio.create_task(_publish_forever(app, interval)) if interval > 0 else None
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
