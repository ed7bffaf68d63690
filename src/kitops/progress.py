"""Progress reporting and cancellation: the two things every long operation accepts.

The library reports bytes through a :class:`Progress` and checks a :class:`Cancel`
token at chunk boundaries; only the CLI decides how to render (rich bars on a TTY,
plain lines otherwise, nothing with ``--progress none``).
"""

from __future__ import annotations

import threading
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
    """A cancellation token (a thin ``threading.Event``); Ctrl-C in the CLI sets it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("operation cancelled")


NULL_PROGRESS = NullProgress()
