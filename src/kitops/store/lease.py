"""Leases: the blobs a pack or pull relies on, kept safe from a concurrent ``kit remove``.

A pack that finds a layer already stored does not write it again, and a pull skips blobs it
has; both write their manifest only at the end. A garbage collection running in between (a
``kit remove`` of the ModelKit that held those blobs) would delete them, and the new manifest
would reference missing blobs. So an operation records every digest it reuses or writes in a
lease file, under the store lock, *before* relying on the blob; garbage collection, under the
same lock, keeps every digest of every live lease.

A lease is live while its owner holds an exclusive ``flock`` on it: the kernel drops the lock
when the process dies, so a lease left by ``kill -9`` is recognised as stale and removed.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import BinaryIO

from kitops import fsutil
from kitops.oci.digest import is_digest

LEASES_DIR = ".kitops-leases"


class Lease:
    """The digests one operation relies on; released (file removed) when it ends."""

    def __init__(self, storage_root: Path) -> None:
        directory = storage_root / LEASES_DIR
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{os.getpid()}-{uuid.uuid4().hex}.lease"
        self._fh: BinaryIO = open(self.path, "ab")  # noqa: SIM115 - held for the lease's life
        fsutil.lock(self._fh)
        self._digests: set[str] = set()

    def add(self, digest: str) -> None:
        """Record ``digest``; the caller holds the store lock, so a collection sees it or ran before."""
        if digest in self._digests:
            return
        self._digests.add(digest)
        self._fh.write(digest.encode("ascii") + b"\n")
        self._fh.flush()

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._fh.close()  # also releases the flock


def leased_digests(storage_root: Path) -> set[str]:
    """Every digest held by a live lease; stale leases (their owner died) are removed.

    Called by garbage collection under the store lock.
    """
    directory = storage_root / LEASES_DIR
    held: set[str] = set()
    if not directory.is_dir():
        return held
    for entry in os.scandir(directory):
        if not entry.name.endswith(".lease"):
            continue
        try:
            fh = open(entry.path, "rb")  # noqa: SIM115 - closed below
        except OSError:
            continue
        with fh:
            if fsutil.lock(fh, blocking=False):  # nobody holds it: the owner is gone
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                continue
            for line in fh.read().decode("ascii", "replace").splitlines():
                if is_digest(line):
                    held.add(line)
    return held
