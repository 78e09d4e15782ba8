"""Server-Sent Events: the wire format and a polling stream over any event source."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

__all__ = ["SSE_HEADERS", "format_event", "poll_stream"]

#: Headers of every event stream (no proxy buffering, no caching).
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def format_event(data: Any, *, event: str | None = None, id: str | int | None = None) -> bytes:
    """One event: ``id:``, ``event:`` and a one-line JSON ``data:``, then a blank line."""
    lines = []
    if id is not None:
        lines.append(f"id: {id}")
    if event is not None:
        lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), default=str))
    return ("\n".join(lines) + "\n\n").encode()


async def poll_stream(
    read: Callable[[Any], tuple[list[tuple[Any, str, dict]], Any, bool]],
    *,
    cursor: Any,
    interval_s: float = 0.25,
    keepalive_s: float = 15.0,
    follow: bool = True,
) -> AsyncIterator[bytes]:
    """Yield events from ``read(cursor) -> (events, cursor, done)`` until ``done``.

    Each event is ``(id, type, data)``. ``read`` runs in a thread (it may read files).
    A comment line keeps idle connections open every ``keepalive_s``. With ``follow=False``
    the stream ends after the events there are now.
    """
    last = time.monotonic()
    while True:
        events, cursor, done = await asyncio.to_thread(read, cursor)
        for eid, kind, data in events:
            yield format_event(data, event=kind, id=eid)
            last = time.monotonic()
        if done or not follow:
            return
        if time.monotonic() - last > keepalive_s:
            yield b": keep-alive\n\n"
            last = time.monotonic()
        await asyncio.sleep(interval_s)
