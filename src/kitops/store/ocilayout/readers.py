"""A pass-through reader that reports the bytes read: progress and cancellation per chunk."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO


class CountingReader:
    """Reads from ``raw`` and calls ``on_bytes(n)`` after each chunk (it may raise to stop)."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if self._on_bytes is not None and data:
            self._on_bytes(len(data))
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        count = int(self._raw.readinto(buf))  # type: ignore[attr-defined]
        if self._on_bytes is not None and count:
            self._on_bytes(count)
        return count

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
