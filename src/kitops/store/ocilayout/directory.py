"""An OCI image layout directory as a store: read (``kit load -i DIR``) and written
(``kit save --format oci-dir -o DIR``).

Blobs are written through :class:`kitops.store.ingest.BlobWriter` under a temporary name in
their own directory and renamed once their size and digest check out, so the layout never
holds a blob whose bytes are wrong. ``index.json`` is written once, by :meth:`commit`, after
every copy succeeded: a failed save leaves the index (and so the names) as they were.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from kitops.errors import AlreadyExistsError, FormatError, NotFoundError
from kitops.fsutil import atomic_write
from kitops.oci.models import Descriptor
from kitops.store.base import VerifyingReader, copy_stream
from kitops.store.ingest import BlobWriter
from kitops.store.ocilayout.index import (
    INDEX_FILE,
    LAYOUT_BYTES,
    LAYOUT_FILE,
    MAX_INDEX_BYTES,
    MAX_LAYOUT_FILE,
    LayoutIndex,
    blob_name,
    check_layout_file,
)
from kitops.store.ocilayout.readers import CountingReader


def _read_small(path: Path, limit: int, what: str) -> bytes:
    size = path.stat().st_size
    if size > limit:
        raise FormatError(f"{what} is {size} bytes, over the {limit}-byte limit")
    return path.read_bytes()


class OciLayoutDir:
    """A layout directory; see the module docstring. Not shared between processes: two saves
    into one directory at once each write their own ``index.json``, and the last one wins."""

    keeps_partial_blobs = False  # a blob is written whole or not at all: nothing to resume

    def __init__(self, root: Path, index: LayoutIndex) -> None:
        self.root = root
        self.index = index
        self.blob_count = 0  # blobs this object wrote (a save's summary)
        self.blob_bytes = 0
        self._count_lock = threading.Lock()

    @classmethod
    def open(cls, root: Path) -> OciLayoutDir:
        """An existing layout, to read."""
        layout, index = root / LAYOUT_FILE, root / INDEX_FILE
        if not layout.is_file() or not index.is_file():
            raise FormatError(
                f"{root} is not an OCI image layout (it has no {LAYOUT_FILE} or no {INDEX_FILE})",
                hint="give a directory written by kit save --format oci-dir, skopeo or oras",
            )
        check_layout_file(_read_small(layout, MAX_LAYOUT_FILE, f"{layout}"), str(root))
        return cls(root, LayoutIndex.from_bytes(_read_small(index, MAX_INDEX_BYTES, f"{index}"), str(root)))

    @classmethod
    def create(cls, root: Path) -> OciLayoutDir:
        """A layout to write: a new or empty directory, or an existing layout to add to."""
        if root.exists() and not root.is_dir():
            raise AlreadyExistsError(f"{root} exists and is not a directory")
        if root.is_dir() and any(root.iterdir()):
            if not (root / LAYOUT_FILE).is_file():
                raise AlreadyExistsError(
                    f"{root} is not empty and is not an OCI image layout",
                    hint="give a new or empty directory, or a layout to add to",
                )
            return cls.open(root)
        root.mkdir(parents=True, exist_ok=True)
        return cls(root, LayoutIndex())

    def blob_path(self, digest: str) -> Path:
        return self.root / blob_name(digest)

    # -- ReadableStore ------------------------------------------------------------------------
    def resolve(self, ref: str) -> Descriptor:
        return self.index.resolve(ref)

    def fetch(self, desc: Descriptor) -> BinaryIO:
        return VerifyingReader(self.open_at(desc, 0), desc)  # type: ignore[return-value]

    def open_at(self, desc: Descriptor, offset: int) -> BinaryIO:
        """The raw blob from ``offset``: unverified, the receiver verifies (a load hashes it once)."""
        try:
            fh = open(self.blob_path(desc.digest), "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError:
            raise NotFoundError(f"blob {desc.digest} is missing from the layout {self.root}") from None
        fh.seek(offset)
        return fh

    def exists(self, desc: Descriptor) -> bool:
        return self.blob_path(desc.digest).is_file()

    # -- Store --------------------------------------------------------------------------------
    def push(self, desc: Descriptor, data: BinaryIO) -> None:
        if self.exists(desc):
            return
        directory = self.blob_path(desc.digest).parent
        with BlobWriter.temporary(directory, self._place) as writer:
            copy_stream(data, writer)  # type: ignore[arg-type]
            writer.commit(desc.media_type, expected=desc)
        with self._count_lock:
            self.blob_count += 1
            self.blob_bytes += desc.size

    def push_from(
        self,
        desc: Descriptor,
        opener: Callable[[int], BinaryIO],
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Take the source's raw bytes (the writer hashes them: one hash per blob, not two)."""
        with opener(0) as raw:
            self.push(desc, CountingReader(raw, on_bytes))  # type: ignore[arg-type]

    def _place(self, source: Path, digest: str) -> None:
        final = self.blob_path(digest)
        if final.is_file():
            with contextlib.suppress(FileNotFoundError):
                source.unlink()
            return
        os.chmod(source, 0o644)
        os.replace(source, final)

    def tag(self, desc: Descriptor, ref: str) -> None:
        """Name ``desc`` in the index (written by :meth:`commit`)."""
        self.index.add(desc, ref)

    def commit(self) -> None:
        """Write ``oci-layout`` (when new) and ``index.json``: the names become visible."""
        if not (self.root / LAYOUT_FILE).is_file():
            atomic_write(self.root / LAYOUT_FILE, LAYOUT_BYTES)
        atomic_write(self.root / INDEX_FILE, self.index.to_bytes())
