"""A monotonic clock for tests that age things (tokens, progress rates) without waiting."""

from __future__ import annotations

import threading


class FakeClock:
    """Seconds that move only when the test calls :meth:`advance`; thread-safe, as the code
    reading it may run in worker threads."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
