"""Running one job per item on a few threads that a Ctrl-C can always leave behind.

Transfers and ``pack --push`` upload on worker threads. An upload blocked on a stalled
connection cannot be interrupted from another thread, and an executor's threads are joined
when the interpreter exits, so with ``ThreadPoolExecutor`` a Ctrl-C waited for the stalled
registry (the process never exited). These workers are daemon threads: after a Ctrl-C they
get a moment to stop at a chunk boundary, and whatever is still blocked ends with the process.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from kitops.errors import Cancelled
from kitops.progress import Cancel

T = TypeVar("T")
R = TypeVar("R")

POLL = 0.1  # seconds between looks at the workers while the calling thread waits (Ctrl-C lands here)
CANCEL_GRACE = 1.0  # seconds the workers get to reach a chunk boundary after Ctrl-C


def run_each(
    items: Sequence[T],
    job: Callable[[T], R],
    *,
    concurrency: int,
    stop: Cancel,
    name: str,
    cancelled: Callable[[], Cancelled] = Cancelled,
) -> list[R]:
    """``job(item)`` for every item, ``concurrency`` at a time; the results in the items' order.

    The first failure cancels ``stop`` (so the other jobs end at their next check) and is raised
    once all workers have stopped; a real error wins over the :class:`Cancelled` of the jobs it
    stopped. A Ctrl-C in the calling thread cancels ``stop``, waits up to :data:`CANCEL_GRACE`
    (a second Ctrl-C stops waiting) and raises ``cancelled()``, which can say what was kept."""
    results: list[R | None] = [None] * len(items)
    done = [False] * len(items)
    errors: list[BaseException] = []
    lock = threading.Lock()
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(items)):
        todo.put(index)

    def work() -> None:
        while not stop.cancelled:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = job(items[index])
                done[index] = True
            except BaseException as exc:  # handed to the calling thread, which raises it
                with lock:
                    errors.append(exc)
                stop.cancel()
                return

    workers = [
        threading.Thread(target=work, name=name, daemon=True)
        for _ in range(max(1, min(concurrency, len(items))))
    ]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            while worker.is_alive():
                worker.join(POLL)
    except BaseException:  # Ctrl-C arrives in this (the calling) thread: stop the workers now
        stop.cancel()
        deadline = time.monotonic() + CANCEL_GRACE
        with contextlib.suppress(BaseException):  # a second Ctrl-C stops waiting
            for worker in workers:
                worker.join(max(0.0, deadline - time.monotonic()))
        raise cancelled() from None
    if errors:
        real = [e for e in errors if not isinstance(e, Cancelled)]
        if real:
            raise real[0]
        raise cancelled()
    if not all(done):  # stopped from outside (another transfer's failure, a cancel) before the end
        raise cancelled()
    return [r for r in results]  # type: ignore[misc]
