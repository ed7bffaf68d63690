"""The store protocols (and the optional capabilities the copy engine asks for once per copy),
the verified reader and the one streaming loop.

What ``fetch`` returns is a :class:`VerifyingReader`; what the local store takes in goes through
:class:`kitops.store.ingest.BlobWriter` (raw ``open_at`` bytes are checked there, by the
receiver). Both check the size and digest the descriptor promises, and a mismatch raises
:class:`~kitops.errors.IntegrityError` before anything is committed under its final name.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from typing import BinaryIO, Protocol, runtime_checkable

from kitops.errors import IntegrityError
from kitops.oci.models import MAX_MANIFEST_BYTES, Descriptor
from kitops.progress import Cancel, Progress

BLOB_BUFFER = 4 * 1024 * 1024  # large buffers: hashing and file I/O release the GIL on them


@runtime_checkable
class ReadableStore(Protocol):
    def resolve(self, ref: str) -> Descriptor:
        """Tag or digest -> manifest descriptor; raises NotFoundError."""
        ...

    def fetch(self, desc: Descriptor) -> BinaryIO:
        """A stream of the blob's bytes, verified against ``desc`` as it is read; caller closes."""
        ...

    def exists(self, desc: Descriptor) -> bool: ...


@runtime_checkable
class Store(ReadableStore, Protocol):
    def push(self, desc: Descriptor, data: BinaryIO) -> None:
        """Store the bytes read from ``data``; verifies size and digest before committing."""
        ...

    def tag(self, desc: Descriptor, ref: str) -> None: ...


@runtime_checkable
class SeekableSource(Protocol):
    """A store that can produce a blob's bytes from any offset (unverified: the receiver verifies
    the whole), so the destination may retry, resume and re-authenticate freely."""

    def open_at(self, desc: Descriptor, offset: int) -> BinaryIO: ...


@runtime_checkable
class ResumableSink(Protocol):
    """A store that takes a blob from a re-openable source (``opener(offset)``) and can resume it.

    ``keeps_partial_blobs``: an interrupted copy leaves its verified prefix for the next run."""

    keeps_partial_blobs: bool

    def push_from(
        self,
        desc: Descriptor,
        opener: Callable[[int], BinaryIO],
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None: ...


@runtime_checkable
class Interruptible(Protocol):
    """A stream whose blocked read another thread can end at once (a network body: its socket is
    shut down). Cancelling a transfer calls it so a stalled connection does not delay the stop."""

    def interrupt(self) -> None: ...


@runtime_checkable
class BufferLender(Protocol):
    """A stream that can hand out its own buffer (a network body's received bytes) instead of
    copying into the caller's: :meth:`readview` returns the next piece, empty at the end, valid
    until the next call."""

    def readview(self) -> memoryview: ...


@runtime_checkable
class FileSender(Protocol):
    """A stream backed by a file that can copy its next bytes into another file inside the kernel
    (``sendfile``): no trip through a user-space buffer, and the stream advances as if read.
    :meth:`send_to` returns the count copied (at most ``count``; 0 at the end), and raises
    ``OSError`` where the kernel cannot do it for this pair (the caller then copies through a buffer)."""

    def send_to(self, out_fd: int, count: int) -> int: ...


@runtime_checkable
class FileReceiver(Protocol):
    """A sink backed by a file that can take bytes from another file inside the kernel; see
    :class:`FileSender`. :meth:`receive_from` copies up to ``count`` bytes from ``in_fd``'s
    current position and returns the count (0: ``in_fd`` is at its end)."""

    def receive_from(self, in_fd: int, count: int) -> int: ...


KERNEL_COPY = sys.platform.startswith("linux")  # file-to-file sendfile: Linux only (macOS: sockets only)


class VerifyingReader:
    """Wraps a raw stream; raises IntegrityError at EOF (or on overrun) if size or digest differ."""

    def __init__(self, raw: BinaryIO, desc: Descriptor, *, what: str = "blob") -> None:
        algo, _, self._want_hex = desc.digest.partition(":")
        self._raw = raw
        self._desc = desc
        self._hasher = hashlib.new(algo)
        self._read = 0
        self._done = False
        self._what = what

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n) if n is not None and n >= 0 else self._raw.read()
        self._account(data)
        if not data or (n is None or n < 0):
            self._finish()
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        if hasattr(self._raw, "readinto"):
            count = int(self._raw.readinto(buf))
            view = memoryview(buf)[:count]
            self._account(view)
        else:  # pragma: no cover - every stream we wrap has readinto
            data = self._raw.read(len(buf))
            count = len(data)
            memoryview(buf)[:count] = data
            self._account(data)
        if count == 0:
            self._finish()
        return count

    def _account(self, data: bytes | memoryview) -> None:
        self._read += len(data)
        if self._read > self._desc.size:
            raise IntegrityError(
                f"{self._what} {self._desc.digest} is larger than its descriptor's size {self._desc.size}"
            )
        self._hasher.update(data)

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        if self._read != self._desc.size:
            raise IntegrityError(
                f"{self._what} {self._desc.digest}: expected {self._desc.size} bytes, got {self._read}"
            )
        if self._hasher.hexdigest() != self._want_hex:
            raise IntegrityError(
                f"{self._what} content does not match its digest {self._desc.digest} "
                f"(got {self._hasher.name}:{self._hasher.hexdigest()})",
                hint="the stored copy is corrupt: remove it and pull or pack again",
            )

    def verify_rest(self) -> None:
        """Drain and verify whatever the consumer did not read (tar readers stop at the end blocks)."""
        buf = bytearray(BLOB_BUFFER)
        while self.readinto(buf):
            pass

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def readable(self) -> bool:
        return True


def copy_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    key: str = "",
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    buffer_size: int = BLOB_BUFFER,
) -> int:
    """Copy with one reusable buffer, reporting progress and honouring cancel per chunk."""
    buf = bytearray(buffer_size)
    view = memoryview(buf)
    total = 0
    readinto: Callable[[memoryview], int] | None = getattr(src, "readinto", None)
    while True:
        if cancel is not None:
            cancel.check()
        if readinto is not None:
            n = int(readinto(view))
            if not n:
                break
            dst.write(view[:n])
        else:
            chunk = src.read(buffer_size)
            if not chunk:
                break
            n = len(chunk)
            dst.write(chunk)
        total += n
        if progress is not None:
            progress.advance(key, n)
    return total


def read_blob_bytes(store: ReadableStore, desc: Descriptor, *, limit: int = MAX_MANIFEST_BYTES) -> bytes:
    """Read a small blob (manifest, config) whole, verified; refuses anything over ``limit``."""
    if desc.size > limit:
        raise IntegrityError(f"{desc.digest} is {desc.size} bytes, over the {limit}-byte limit for metadata")
    chunks: list[bytes] = []
    got = 0
    with store.fetch(desc) as stream:
        while True:
            chunk = stream.read(desc.size + 1 - got if got <= desc.size else 1)
            if not chunk:
                break
            got += len(chunk)
            chunks.append(chunk)
            if got > desc.size:
                raise IntegrityError(f"{desc.digest} is larger than its descriptor's size {desc.size}")
    return b"".join(chunks)
