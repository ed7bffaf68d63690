"""Progress reporting and cancellation: the two things every long operation accepts.

The library reports bytes through a :class:`Progress` and checks a :class:`Cancel`
token at chunk boundaries; only the CLI decides how to render (rich bars on a TTY,
plain lines otherwise, nothing with ``--progress none``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from kitops.errors import Cancelled


@runtime_checkable
class Progress(Protocol):
    """Thread-safe sink for byte progress. ``key`` identifies one unit of work (a layer, a blob)."""

    def begin(self, key: str, action: str, total: int | None) -> None: ...
    def advance(self, key: str, nbytes: int) -> None: ...
    def end(self, key: str, error: BaseException | None = None) -> None: ...


class NullProgress:
    """Discards everything; the default."""

    def begin(self, key: str, action: str, total: int | None) -> None:
        pass

    def advance(self, key: str, nbytes: int) -> None:
        pass

    def end(self, key: str, error: BaseException | None = None) -> None:
        pass


class Cancel:
    """A cancellation token (a thin ``threading.Event``); Ctrl-C in the CLI sets it.

    Work blocked outside a chunk boundary (a read from a stalled connection) registers a
    callback with :meth:`on_cancel` that unblocks it, so cancelling takes effect at once
    instead of when the next byte arrives.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next_id = 0

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            with contextlib.suppress(Exception):  # unblocking is best effort; the check still stops the work
                callback()

    def on_cancel(self, callback: Callable[[], None]) -> int:
        """Call ``callback`` when cancelled (at once if already); returns a handle for :meth:`forget`."""
        with self._lock:
            if not self._event.is_set():
                self._next_id += 1
                self._callbacks[self._next_id] = callback
                return self._next_id
        callback()
        return 0

    def forget(self, handle: int) -> None:
        with self._lock:
            self._callbacks.pop(handle, None)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("operation cancelled")


NULL_PROGRESS = NullProgress()
