"""Filesystem primitives shared by the store, the credential file and the caches.

Two things every file kitops shares with other processes needs: replacing it so that a
reader sees the old or the new content, never half of one; and an advisory lock so that a
read-modify-write by one process does not lose another's. This module is a leaf (standard
library only), so every layer can use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory file locks
    fcntl = None  # type: ignore[assignment]


class HasFileno(Protocol):
    def fileno(self) -> int: ...


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` with permissions ``mode`` (umask aside) so that readers see the
    old or the new file, never half of one: a temporary file in the same directory, renamed over."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def lock(file: HasFileno | int, *, shared: bool = False, blocking: bool = True) -> bool:
    """Take an advisory lock (``flock``) on an open file; closing the file releases it.

    Returns False only when ``blocking`` is False and another open file holds a conflicting
    lock. The kernel drops a lock when its process dies, so a held lock also says "its owner is
    alive". Without ``fcntl`` (Windows) there are no such locks: this returns True and callers
    are left with their in-process locks.
    """
    if fcntl is None:  # pragma: no cover - Windows
        return True
    fd = file if isinstance(file, int) else file.fileno()
    flags = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
    try:
        fcntl.flock(fd, flags)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def locked(path: Path, *, shared: bool = False, blocking: bool = True) -> Iterator[bool]:
    """Hold :func:`lock` on the lock file ``path`` (created if missing) for the block.

    Yields whether the lock was taken: always True when ``blocking``; with ``blocking=False``,
    False when another process holds it (the block then runs unlocked and should only report).
    """
    with open(path, "ab") as fh:  # closing it releases the lock
        yield lock(fh, shared=shared, blocking=blocking)


__all__ = ["atomic_write", "lock", "locked"]
