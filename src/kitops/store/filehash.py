"""Hashing a file on the second core: a thread that reads the file behind its writer.

Producing a blob is I/O (read the source, write the blob: system time) plus SHA-256 (user
time, ~1.4 GB/s a core here). Done in one thread the two add up; this moves the hash to a
thread of its own that reads the file *as written* (from the page cache, with ``pread`` on its
own descriptor) while the writer goes on. Nothing is handed between the threads but a byte
count, so the writer may reuse its buffers at once, and what is hashed is exactly what is on
disk. ``hashlib`` and ``pread`` release the GIL, so the two threads really run in parallel.

The same class verifies a stored blob while another reader extracts it (:class:`FileVerifier`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from kitops.errors import IntegrityError

HASH_CHUNK = (
    1 << 20
)  # reads large enough that the hash and pread release the GIL; small enough to keep RSS flat
_MIN_STEP = 256 << 10  # wait for at least this much new data before waking the hasher


class TrailingHasher:
    """Hash ``path`` from ``start`` up to wherever the writer says it has written.

    ``hasher`` carries the state of the bytes before ``start`` (a resumed download). Call
    :meth:`advance` after each write with the file's new length, :meth:`hexdigest` with the
    final length to wait for the result. Errors in the thread are raised there.
    """

    def __init__(self, path: Path | str, *, algo: str = "sha256", start: int = 0, hasher: Any = None) -> None:
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._hasher = hasher if hasher is not None else hashlib.new(algo)
        self._hashed = start
        self._written = start
        self._final: int | None = None
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="kit-hash", daemon=True)
        self._thread.start()

    def advance(self, written: int) -> None:
        """The file now holds ``written`` bytes (never less than before)."""
        with self._cond:
            self._written = written
            if written - self._hashed >= _MIN_STEP:
                self._cond.notify()

    def hexdigest(self, final: int) -> str:
        """Wait until all ``final`` bytes are hashed; the hex digest."""
        with self._cond:
            self._written = max(self._written, final)
            self._final = final
            self._cond.notify()
        self._thread.join()
        self._close_fd()
        if self._error is not None:
            raise self._error
        return str(self._hasher.hexdigest())

    def abandon(self) -> None:
        """Stop without a result (the write failed or was cancelled)."""
        with self._cond:
            self._final = -1
            self._cond.notify()
        self._thread.join()
        self._close_fd()

    @property
    def name(self) -> str:
        return str(self._hasher.name)

    def _close_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _run(self) -> None:
        buf = bytearray(HASH_CHUNK)
        view = memoryview(buf)
        try:
            while True:
                with self._cond:
                    while True:
                        if self._final is not None and self._final < 0:
                            return
                        end = self._written if self._final is None else self._final
                        if self._hashed >= end and self._final is not None:
                            return
                        if end - self._hashed >= _MIN_STEP or (
                            self._final is not None and end > self._hashed
                        ):
                            break
                        self._cond.wait(0.05)
                    offset = self._hashed
                todo = end - offset
                while todo:
                    n = os.preadv(self._fd, [view[: min(len(view), todo)]], offset)
                    if n <= 0:
                        raise IntegrityError(f"file shrank while it was being hashed (at byte {offset})")
                    self._hasher.update(view[:n])
                    offset += n
                    todo -= n
                with self._cond:
                    self._hashed = offset
        except BaseException as exc:
            self._error = exc


class FileVerifier:
    """Check a stored blob's digest in a thread while the caller reads it for another purpose
    (unpack): :meth:`verify` waits for the verdict."""

    def __init__(self, path: Path | str, digest: str, size: int, *, what: str = "blob") -> None:
        algo, _, self._want = digest.partition(":")
        self._digest = digest
        self._size = size
        self._what = what
        actual = os.stat(path).st_size
        if actual != size:
            raise IntegrityError(
                f"{what} {digest}: expected {size} bytes, found {actual}",
                hint="the stored copy is corrupt: remove it and pull or pack again",
            )
        self._hasher = TrailingHasher(path, algo=algo)
        self._hasher.advance(size)

    def verify(self) -> None:
        got = self._hasher.hexdigest(self._size)
        if got != self._want:
            raise IntegrityError(
                f"{self._what} content does not match its digest {self._digest} (got {self._hasher.name}:{got})",
                hint="the stored copy is corrupt: remove it and pull or pack again",
            )

    def abandon(self) -> None:
        self._hasher.abandon()


class SideHasher:
    """Hash each chunk on the second core while the caller writes the same chunk to its file.

    A download does three things to every byte: receive it, write it, hash it. In one thread
    they add up; here the hash of a chunk runs beside its write (``hashlib`` and ``os.write``
    both release the GIL), so a chunk costs receive + the longer of the two. Unlike
    :class:`TrailingHasher` nothing is read back: the caller's buffer is hashed where it is,
    and :meth:`wait` returns only once the hasher is done with it, so the caller may then reuse it.
    """

    def __init__(self, hasher: Any) -> None:
        self._hasher = hasher
        self._pending: Any = None
        self._busy = False
        self._stop = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="kit-hash", daemon=True)
        self._thread.start()

    def start(self, data: Any) -> None:
        """Begin hashing ``data`` (not to be changed until :meth:`wait` returns)."""
        with self._cond:
            self._pending = data
            self._busy = True
            self._cond.notify()

    def wait(self) -> None:
        """Until the chunk given to :meth:`start` is hashed; raises what the hasher raised."""
        with self._cond:
            while self._busy:
                self._cond.wait()
            if self._error is not None:
                raise self._error

    def close(self) -> None:
        """Stop the thread (after the chunk in progress, if any)."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stop:
                    self._cond.wait()
                if self._pending is None:
                    return
                data, self._pending = self._pending, None
            try:
                self._hasher.update(data)
            except BaseException as exc:  # handed to the writer, which raises it
                self._error = exc
            with self._cond:
                self._busy = False
                self._cond.notify()
