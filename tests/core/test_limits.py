"""The body-limits middleware on its own: what reaches the app, what is refused, and how much is read."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from openmyna.core.limits import BodyLimits, json_depth, too_deep

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab'),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"ab', max_size=3), inner, max_size=3)
    ),
    max_leaves=30,
)


def nesting(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    return 0


@given(json_values)
def test_depth_counts_arrays_and_objects_not_brackets_in_strings(value: Any) -> None:
    body = json.dumps(value).encode()
    assert json_depth(body) == nesting(value)
    assert too_deep(body, 2) is (nesting(value) > 2)


class Echo:
    """An app that reads its whole body and answers with its length."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def run(
    chunks: list[bytes], *, headers: list[tuple[bytes, bytes]] = (), max_bytes: int = 100
) -> tuple[int, bytes, Echo, int]:
    """Send ``chunks`` through the middleware; the status, the body, the app, and how many chunks were read."""
    app, sent, read = Echo(), [], 0

    async def receive() -> Message:
        nonlocal read
        read += 1
        if read > len(chunks):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": list(headers)}
    # In a thread of its own: another test in this worker may have left an event loop set on this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, BodyLimits(app, max_bytes=max_bytes, max_depth=3)(scope, receive, send)).result()
    status = sent[0]["status"]
    return status, b"".join(m.get("body", b"") for m in sent[1:]), app, read


def test_a_body_within_the_cap_reaches_the_app_whole() -> None:
    status, body, app, _ = run([b"a" * 60, b"b" * 40])
    assert (status, body, app.called) == (200, b"100", True)


def test_a_chunked_body_over_the_cap_is_refused_once_it_passes_it() -> None:
    status, body, app, read = run([b"a" * 60, b"b" * 60, b"c" * 60, b"d" * 60])
    assert status == 413 and not app.called
    assert read == 2  # the third chunk was never asked for
    problem = json.loads(body)
    assert problem["type"].endswith("/body-too-large") and problem["status"] == 413


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    status, _, app, read = run([b"a" * 10], headers=[(b"content-length", b"101")])
    assert (status, app.called, read) == (413, False, 0)


def test_json_nested_deeper_than_the_limit_is_refused() -> None:
    json_type = [(b"content-type", b"application/json; charset=utf-8")]
    status, body, app, _ = run([b"[[[[1]]]]"], headers=json_type)
    assert status == 400 and not app.called
    assert json.loads(body)["type"].endswith("/json-too-deep")
    assert run([b"[[[1]]]"], headers=json_type)[0] == 200
    assert run([b'["[[[[[["]'], headers=json_type)[0] == 200  # brackets in a string do not nest
    assert run([b"[[[[1]]]]"], headers=[(b"content-type", b"text/plain")])[0] == 200  # not JSON: not parsed as such
