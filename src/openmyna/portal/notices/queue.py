"""The queue that carries background work (a send's fan-out, e-mail batches): Redis streams, or in-process.

Redis (``OPENMYNA_QUEUE_URL=redis://…``) through redis-py's stream commands: tasks are ``XADD``-ed to one
stream read by a consumer group, so each task goes to one worker and stays in the group's pending list
until that worker ``XACK``-s it. A worker that dies holding a task leaves it pending; another worker takes
it over with ``XAUTOCLAIM`` once it has been idle for ``reclaim_after`` seconds. A failed attempt is put
back with a delay in a sorted set (score = when it is due) and moved to the stream when due; the ``ZREM``
that removes it decides which worker moves it, so a due task is moved once. Without a URL the same
interface runs in process (a thread-safe queue and a heap of delayed tasks); only for a laptop demo.

A task is delivered at least once. Exactly-once effects are the handlers' job (``notices.worker``): a
send job keeps its progress in the database, so a repeated or retried task never creates a notice twice.
"""

from __future__ import annotations

import heapq
import itertools
import json
import queue as stdlib_queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from openmyna.core.config import Settings


@dataclass(frozen=True)
class Task:
    """One unit of background work: ``kind`` (``fanout``, ``mail``), its arguments, and which attempt this is."""

    kind: str
    args: dict[str, Any]
    attempt: int = 1

    def encode(self) -> str:
        return json.dumps({"kind": self.kind, "args": self.args, "attempt": self.attempt}, sort_keys=True)

    @classmethod
    def decode(cls, text: str | bytes) -> Task:
        data = json.loads(text)
        return cls(kind=str(data["kind"]), args=dict(data["args"]), attempt=int(data.get("attempt", 1)))

    def again(self) -> Task:
        return Task(self.kind, self.args, self.attempt + 1)


@dataclass(frozen=True)
class Received:
    """A task handed to this worker, with the queue's handle for acknowledging it."""

    task: Task
    handle: Any = field(compare=False)


class TaskQueue(Protocol):
    """What the worker and the request handlers need from a queue."""

    description: str

    def enqueue(self, task: Task) -> None: ...

    def receive(self, *, count: int, wait_seconds: float) -> list[Received]: ...

    def ack(self, received: Received) -> None: ...

    def retry(self, received: Received, *, delay_seconds: float) -> None: ...


class QueueUnavailable(RuntimeError):
    """The configured queue cannot be reached."""


class RedisQueue:
    """A Redis stream with one consumer group; delayed retries in a sorted set beside it."""

    description = "redis"

    def __init__(self, url: str, *, name: str, reclaim_after: float = 60.0, consumer: str | None = None) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.stream = f"{name}:tasks"
        self.delayed = f"{name}:delayed"
        self.group = "workers"
        self.consumer = consumer or f"worker-{uuid.uuid4().hex[:12]}"
        self.reclaim_after_ms = int(reclaim_after * 1000)
        self._group_ready = False

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def enqueue(self, task: Task) -> None:
        try:
            self._ensure_group()
            self.client.xadd(self.stream, {"task": task.encode()})
        except redis.RedisError as exc:
            raise QueueUnavailable(f"cannot add a task to {self.stream}: {exc}") from exc

    def _promote_due(self) -> None:
        """Move delayed tasks that are due to the stream; the worker whose ZREM succeeds moves each one."""
        due = self.client.zrangebyscore(self.delayed, "-inf", time.time(), start=0, num=100)
        for member in due:
            if self.client.zrem(self.delayed, member):
                self.client.xadd(self.stream, {"task": member})

    def receive(self, *, count: int, wait_seconds: float) -> list[Received]:
        self._ensure_group()
        self._promote_due()
        _next, claimed, _deleted = self.client.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_time=self.reclaim_after_ms, start_id="0-0", count=count
        )
        entries = list(claimed)
        if not entries:
            block = max(1, int(wait_seconds * 1000)) if wait_seconds > 0 else None
            answer = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=count, block=block)
            for _stream, stream_entries in answer or []:
                entries.extend(stream_entries)
        return [Received(Task.decode(fields[b"task"]), entry_id) for entry_id, fields in entries if fields]

    def ack(self, received: Received) -> None:
        pipe = self.client.pipeline()
        pipe.xack(self.stream, self.group, received.handle)
        pipe.xdel(self.stream, received.handle)
        pipe.execute()

    def retry(self, received: Received, *, delay_seconds: float) -> None:
        pipe = self.client.pipeline()
        pipe.zadd(self.delayed, {received.task.again().encode(): time.time() + delay_seconds})
        pipe.xack(self.stream, self.group, received.handle)
        pipe.xdel(self.stream, received.handle)
        pipe.execute()

    def depth(self) -> dict[str, int]:
        """Tasks waiting, handed out but not acknowledged, and delayed for a retry (for the status page)."""
        self._ensure_group()
        pending = self.client.xpending(self.stream, self.group)
        return {
            "waiting": int(self.client.xlen(self.stream)) - int(pending["pending"]),
            "in_progress": int(pending["pending"]),
            "delayed": int(self.client.zcard(self.delayed)),
        }


class InProcessQueue:
    """The same interface within one process, when no queue server is configured."""

    description = "in-process"

    def __init__(self) -> None:
        self._ready: stdlib_queue.Queue[Task] = stdlib_queue.Queue()
        self._delayed: list[tuple[float, int, Task]] = []
        self._lock = threading.Lock()
        self._order = itertools.count()

    def enqueue(self, task: Task) -> None:
        self._ready.put(task)

    def _promote_due(self) -> None:
        with self._lock:
            while self._delayed and self._delayed[0][0] <= time.monotonic():
                self._ready.put(heapq.heappop(self._delayed)[2])

    def receive(self, *, count: int, wait_seconds: float) -> list[Received]:
        self._promote_due()
        tasks: list[Received] = []
        try:
            first = self._ready.get(timeout=wait_seconds) if wait_seconds > 0 else self._ready.get_nowait()
        except stdlib_queue.Empty:
            return tasks
        tasks.append(Received(first, None))
        while len(tasks) < count:
            try:
                tasks.append(Received(self._ready.get_nowait(), None))
            except stdlib_queue.Empty:
                break
        return tasks

    def ack(self, received: Received) -> None:
        return None

    def retry(self, received: Received, *, delay_seconds: float) -> None:
        with self._lock:
            heapq.heappush(self._delayed, (time.monotonic() + delay_seconds, next(self._order), received.task.again()))

    def depth(self) -> dict[str, int]:
        return {"waiting": self._ready.qsize(), "in_progress": 0, "delayed": len(self._delayed)}


def from_settings(settings: Settings) -> RedisQueue | InProcessQueue:
    """Redis when ``OPENMYNA_QUEUE_URL`` names one; in-process otherwise (no connection is made here)."""
    url = settings.queue_url
    if not url:
        return InProcessQueue()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisQueue(url, name=settings.queue_name)
    raise ValueError(f"OPENMYNA_QUEUE_URL must be a redis:// URL, not {url.split(':', 1)[0]}://")
