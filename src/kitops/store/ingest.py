"""Blobs on their way into the store: written to ``storage/ingest``, hashed as they are written,
checked against what they should be, and only then given their final name.

Both ways a blob arrives go through :class:`BlobWriter`. A pack (or any ``push``) writes a
fresh temporary file. A download writes ``ingest/<hex>`` and, after a crash or a dropped
connection, continues the file it left there: the kept prefix is hashed again first, so the
verdict always covers every byte of the final file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable
from io import FileIO
from pathlib import Path
from typing import BinaryIO

from kitops import fsutil
from kitops.errors import ConnectionDropped, IntegrityError
from kitops.oci.models import Descriptor
from kitops.store.base import BufferLender
from kitops.store.filehash import SideHasher, TrailingHasher

INLINE_HASH_LIMIT = (
    4 << 20
)  # stored blobs up to this size are verified in the reading thread (no thread to start)
# A download's buffer: a network read never brings more than about 1 MiB (the HTTP layer's read
# size), so a larger one would only add resident memory per parallel blob.
DOWNLOAD_BUFFER = 1 << 20
MAX_DROPS = 5  # connection drops in a row without progress before a download gives up
# A chunk at least this large is hashed beside its write (SideHasher) by a writer that hashes
# everything itself (a download); smaller ones are not worth the hand-over between threads.
SIDE_HASH_MIN = 128 << 10

# Gives a verified file in ingest/ its final name: ``place(path, digest)``.
Place = Callable[[Path, str], object]


def _open_ingest(path: Path) -> int:
    """Open (or create) a partial download; a symlink or anything but a regular file planted at
    that name is refused, never written through."""
    try:
        fd = os.open(
            path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), 0o600
        )
    except OSError:
        if path.is_symlink():
            raise IntegrityError(
                f"refusing to write through a symlink at {path}",
                hint="something replaced a partial download with a link: remove it and re-run",
            ) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IntegrityError(f"{path} is not a regular file", hint="remove it and re-run")
    os.set_blocking(fd, True)
    return fd


class BlobWriter:
    """A blob being written into ``storage/ingest``; :meth:`commit` checks it and moves it into place.

    Made by :meth:`temporary` (a new file, removed unless committed) or :meth:`continuing` (a
    download's ``ingest/<hex>``, kept on failure so the next attempt resumes it).

    Bytes given to :meth:`write` are hashed from the caller's buffer, never read back: small
    chunks in the writing thread, large ones beside their write (:class:`SideHasher`), so the
    hash (user time) and the write (system time) run on both cores instead of adding up. Bytes
    copied inside the kernel (:meth:`receive_from`: sendfile, a pack's large files) never pass
    through a buffer of ours: from the first such copy on, a :class:`TrailingHasher` thread
    reads the file behind the writer. A download (``kernel_copy=False``) takes no kernel copies.
    """

    def __init__(
        self,
        fh: FileIO,
        path: Path,
        place: Place,
        *,
        algo: str = "sha256",
        kernel_copy: bool = True,
        keep_partial: bool = False,
    ) -> None:
        self.path = path
        self._fh = fh
        self._place = place
        self._hasher = hashlib.new(algo)
        self._kernel_copy = kernel_copy
        self._keep_partial = keep_partial
        self._trailing: TrailingHasher | None = None
        self._side: SideHasher | None = None
        self._digest: str | None = None
        self.size = 0
        self._closed = False

    @classmethod
    def temporary(cls, directory: Path, place: Place) -> BlobWriter:
        """A writer of a new, uniquely named file in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="kitops_")
        return cls(os.fdopen(fd, "wb", buffering=0), Path(name), place)

    @classmethod
    def continuing(cls, path: Path, expected: Descriptor, place: Place) -> BlobWriter:
        """A writer that continues the partial file at ``path`` (created when missing).

        Waits for an exclusive lock on the file, so two processes never write it at once; the
        lock lasts until the writer is closed. The bytes already there are hashed again, and a
        file longer than ``expected`` is emptied. The bytes are hashed from the download's own
        buffers (beside each write), not read back from the file: a download shares the cores
        with the registry and the other blobs in flight, and a read-back thread cost more than
        it saved (measured: pull at 0.84-0.96x with one).
        """
        fh = os.fdopen(_open_ingest(path), "r+b", buffering=0)
        try:
            fsutil.lock(fh)
            writer = cls(
                fh, path, place, algo=expected.digest.partition(":")[0], kernel_copy=False, keep_partial=True
            )
            writer._take_existing(expected.size)
        except BaseException:
            fh.close()
            raise
        return writer

    def _take_existing(self, limit: int) -> None:
        """Hash what the file holds, leaving the position at its end; empty it when over ``limit``."""
        buf = bytearray(DOWNLOAD_BUFFER)
        view = memoryview(buf)
        while n := self._fh.readinto(buf):
            self._hasher.update(view[:n])
            self.size += n
        if self.size > limit:
            self._fh.truncate(0)
            self._fh.seek(0)
            self._hasher = hashlib.new(self._hasher.name)
            self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        side = None
        if self._trailing is None:
            if len(data) < SIDE_HASH_MIN:
                self._hasher.update(data)
            else:
                if self._side is None:
                    self._side = SideHasher(self._hasher)
                side = self._side
                side.start(data)
        try:
            view = memoryview(data)
            while view:
                n = self._fh.write(view)
                if n is None:  # pragma: no cover - non-blocking only
                    continue
                view = view[n:]
        finally:
            if side is not None:
                side.wait()  # the caller may reuse ``data`` once this returns
        self.size += len(data)
        if self._trailing is not None:
            self._trailing.advance(self.size)
        return len(data)

    def receive_from(self, in_fd: int, count: int) -> int:
        """Copy up to ``count`` bytes from ``in_fd`` into the blob inside the kernel (sendfile; a
        :class:`FileReceiver`): the hashing thread reads them back from the page cache, so the
        data never passes through a buffer of ours. Raises ``OSError`` (nothing written) where
        the kernel cannot copy between these two files, or ENOTSUP for a writer that hashes inline."""
        if self._trailing is None:
            if not self._kernel_copy:
                raise OSError(errno.ENOTSUP, "this blob is hashed as it is written")
            self._trailing = TrailingHasher(self.path, start=self.size, hasher=self._hasher)
        n = os.sendfile(self._fh.fileno(), in_fd, None, count)
        self.size += n
        self._trailing.advance(self.size)
        return n

    def flush(self) -> None:
        pass

    @property
    def digest(self) -> str:
        """The digest of everything written (waits for the hashing thread)."""
        if self._digest is None:
            hexdigest = self._trailing.hexdigest(self.size) if self._trailing else self._hasher.hexdigest()
            self._trailing = None
            self._digest = f"{self._hasher.name}:{hexdigest}"
        return self._digest

    def matches(self, expected: Descriptor) -> bool:
        """Whether what was written has exactly the size and digest ``expected`` promises."""
        return self.size == expected.size and self.digest == expected.digest

    def commit(self, media_type: str, expected: Descriptor | None = None) -> Descriptor:
        """Check against ``expected`` (when given), then move into ``blobs/``.

        The file is placed before it is closed, so a continuing writer's lock covers the rename
        and a process waiting for the same download finds the blob stored, not a finished file
        to hash again."""
        if expected is not None and not self.matches(expected):
            got = self.digest
            self.discard()
            raise IntegrityError(
                f"content does not match descriptor: expected {expected.digest} ({expected.size} bytes), "
                f"got {got} ({self.size} bytes)"
            )
        desc = Descriptor(media_type, self.digest, self.size)
        self._place(self.path, desc.digest)
        self._close()
        return desc

    def discard(self) -> None:
        """Stop and remove the file."""
        self._close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None
        if self._trailing is not None:
            self._trailing.abandon()
            self._trailing = None
        if not self._closed:
            self._fh.close()
            self._closed = True

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self._closed:
            return
        if self._keep_partial:  # what was written stays for the next attempt (which hashes it again)
            self._close()
        else:
            self.discard()


def receive(
    writer: BlobWriter,
    desc: Descriptor,
    opener: Callable[[int], BinaryIO],
    on_bytes: Callable[[int], None] | None,
) -> None:
    """Write ``desc``'s bytes from ``opener(offset)`` into ``writer`` until it holds ``desc.size``.

    A dropped connection is asked again from where it broke: what arrived is hashed and written
    already. After :data:`MAX_DROPS` drops in a row that brought nothing new, the drop is
    raised. A source that ends early ends this too; the caller sees the short size.
    """
    buf = memoryview(bytearray(DOWNLOAD_BUFFER))
    drops = 0
    while writer.size < desc.size:
        started = writer.size
        src = opener(writer.size)
        try:
            # a source that lends its own buffers (a registry body) is hashed and written without
            # a copy into ours
            lender = src if isinstance(src, BufferLender) else None
            while writer.size < desc.size:
                piece = lender.readview() if lender is not None else buf[: src.readinto(buf)]  # type: ignore[attr-defined]
                if not piece:
                    break
                writer.write(piece)
                if on_bytes is not None:
                    on_bytes(len(piece))
            return
        except ConnectionDropped:
            drops = 0 if writer.size > started else drops + 1
            if drops >= MAX_DROPS:
                raise
        finally:
            src.close()
