"""Local storage's blobs as a store of their own, listed in no repository.

A load copies every manifest graph of a layout here first, verifying each blob as it is
stored, and names nothing; only when all of them arrived whole does it list the manifests in
their repositories and tag them. A damaged archive thus loads nothing partial: no tag, no
manifest in any listing (the blobs that did check out stay, unreferenced, like those of an
interrupted pull; the caller holds a lease on them until it is done).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from kitops.errors import NotFoundError, UsageError
from kitops.oci.models import Descriptor
from kitops.store.layout import LocalStore
from kitops.store.ocilayout.readers import CountingReader


class LocalBlobs:
    keeps_partial_blobs = False  # a blob is stored whole or not at all: nothing to resume

    def __init__(self, store: LocalStore) -> None:
        self._store = store

    def resolve(self, ref: str) -> Descriptor:
        raise NotFoundError(f"{ref}: local blobs have no names")

    def fetch(self, desc: Descriptor) -> BinaryIO:
        return self._store.open_blob(desc)  # type: ignore[return-value]

    def exists(self, desc: Descriptor) -> bool:
        return self._store.has_blob(desc.digest)

    def push(self, desc: Descriptor, data: BinaryIO) -> None:
        """Store the blob; its size and digest are checked before it gets its name."""
        self._store.put_blob(desc, data)

    def push_from(
        self,
        desc: Descriptor,
        opener: Callable[[int], BinaryIO],
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Take the source's raw bytes: the store's writer hashes them, once."""
        if self.exists(desc):
            return
        with opener(0) as raw:
            self.push(desc, CountingReader(raw, on_bytes))  # type: ignore[arg-type]

    def tag(self, desc: Descriptor, ref: str) -> None:
        raise UsageError(f"cannot tag {desc.digest} as {ref}: local blobs have no names")
