"""The bounded worker pool: inference and jobs run in threads, never on the event loop.

At most ``workers`` tasks run at once and at most ``max_queue`` wait; one more is
refused at once with :class:`QueueFull` (the API answers 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["QueueFull", "WorkerPool"]


class QueueFull(Exception):
    """Every worker is busy and the queue is full.

    Attributes
    ----------
    retry_after_s : int
        A guess at when a slot frees up.
    """

    def __init__(self, retry_after_s: int, waiting: int) -> None:
        self.retry_after_s = int(retry_after_s)
        self.waiting = int(waiting)
        super().__init__(f"the server is busy: {waiting} requests are waiting; retry in {retry_after_s} s")


class WorkerPool:
    """A thread pool with a bounded queue.

    Parameters
    ----------
    workers : int
        Tasks running at once.
    max_queue : int
        Tasks waiting at most (beyond the running ones).
    """

    def __init__(self, *, workers: int, max_queue: int) -> None:
        self.workers = int(workers)
        self.max_queue = int(max_queue)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="musictag-api")
        self._lock = threading.Lock()
        self._admitted = 0  # waiting + running
        self._mean_s = 1.0  # moving average of a task's seconds, for Retry-After

    @property
    def pending(self) -> int:
        """Tasks admitted and not finished (running and waiting)."""
        return self._admitted

    @property
    def waiting(self) -> int:
        """Tasks waiting for a worker."""
        return max(0, self._admitted - self.workers)

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.workers + self.max_queue:
                waiting = self._admitted - self.workers
                retry = max(1, math.ceil(self._mean_s * (waiting + 1) / self.workers))
                raise QueueFull(retry, waiting)
            self._admitted += 1

    def _call(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            dt = time.perf_counter() - t0
            with self._lock:
                self._admitted -= 1
                self._mean_s = 0.8 * self._mean_s + 0.2 * dt

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Queue ``fn(*args, **kwargs)``; raise :class:`QueueFull` when the queue is full."""
        self._admit()
        try:
            return self._executor.submit(self._call, fn, args, kwargs)
        except RuntimeError:  # the executor is shut down
            with self._lock:
                self._admitted -= 1
            raise

    async def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` in the pool and await its result (the event loop stays free)."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def shutdown(self) -> None:
        """Stop taking tasks; running ones finish in the background."""
        self._executor.shutdown(wait=False, cancel_futures=True)
