"""An OCI image layout in a tar archive, as three stores: a reader over a tar file (read in
place), a writer of a tar stream, and a reader of a tar stream (a pipe) read once.

No temporary copy of an archive is ever made. A tar file is indexed by one scan of its headers
and each blob is read at its offset. A written archive is one forward stream (it may be
stdout): blobs go from the source store into it as they are read, each once, and
``index.json`` comes last, when every manifest is named. A streamed archive is read front to
back: each blob goes into the destination store as it arrives (verified against the digest its
name promises), and ``index.json``, which may be the last member, is read at the end.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import BinaryIO

from kitops.errors import FormatError, NotFoundError
from kitops.oci.models import Descriptor
from kitops.progress import NULL_PROGRESS, Cancel, Progress
from kitops.store.base import BLOB_BUFFER, Store, VerifyingReader
from kitops.store.ocilayout.index import (
    BLOBS_DIR,
    INDEX_FILE,
    LAYOUT_BYTES,
    LAYOUT_FILE,
    MAX_INDEX_BYTES,
    MAX_LAYOUT_FILE,
    LayoutIndex,
    blob_digest,
    blob_name,
    check_layout_file,
)
from kitops.store.ocilayout.readers import CountingReader
from kitops.store.ocilayout.tario import (
    Member,
    Section,
    TarStreamWriter,
    index_members,
    read_member,
    read_small,
    stream_members,
)

UNKNOWN_BLOB = "application/octet-stream"  # a streamed blob's type is known only from the manifests
_HINT = "give an archive written by kit save or skopeo (oci-archive)"


def _missing(where: str, name: str) -> FormatError:
    return FormatError(f"{where} is not an OCI image layout: it has no {name}", hint=_HINT)


class OciLayoutArchive:
    """A layout in a tar file, read in place (``kit load -i models.tar``)."""

    def __init__(self, path: Path, members: dict[str, Member], index: LayoutIndex) -> None:
        self.path = path
        self._members = members
        self.index = index

    @classmethod
    def open(cls, path: Path) -> OciLayoutArchive:
        members = index_members(path)
        for name in (LAYOUT_FILE, INDEX_FILE):
            if name not in members:
                raise _missing(str(path), name)
        layout = read_member(path, members[LAYOUT_FILE], MAX_LAYOUT_FILE, f"{path}: {LAYOUT_FILE}")
        check_layout_file(layout, str(path))
        index = read_member(path, members[INDEX_FILE], MAX_INDEX_BYTES, f"{path}: {INDEX_FILE}")
        return cls(path, members, LayoutIndex.from_bytes(index, str(path)))

    def resolve(self, ref: str) -> Descriptor:
        return self.index.resolve(ref)

    def fetch(self, desc: Descriptor) -> BinaryIO:
        return VerifyingReader(self.open_at(desc, 0), desc)  # type: ignore[return-value]

    def open_at(self, desc: Descriptor, offset: int) -> BinaryIO:
        """The member's raw bytes from ``offset``: unverified, the receiver verifies."""
        member = self._members.get(blob_name(desc.digest))
        if member is None:
            raise NotFoundError(f"blob {desc.digest} is missing from the archive {self.path}")
        fh = open(self.path, "rb")  # noqa: SIM115 - closed by the Section
        fh.seek(member.offset + offset)
        return Section(fh, max(0, member.size - offset))  # type: ignore[return-value]

    def exists(self, desc: Descriptor) -> bool:
        return blob_name(desc.digest) in self._members


class OciLayoutTarWriter:
    """Writes a layout as a tar stream into ``out``: ``oci-layout`` first, then each blob once as
    it is pushed, then ``index.json`` at :meth:`commit`. Pushes are serialised (a tar has one
    position to write at); copy into it with concurrency 1 so no source waits with a blob open."""

    def __init__(self, out: BinaryIO) -> None:
        self._tar = TarStreamWriter(out)
        self._lock = threading.Lock()
        self._written: set[str] = set()
        self._dirs: set[str] = set()
        self.index = LayoutIndex()
        self.blob_count = 0
        self.blob_bytes = 0
        self._tar.add_bytes(LAYOUT_FILE, LAYOUT_BYTES)

    def resolve(self, ref: str) -> Descriptor:
        return self.index.resolve(ref)

    def fetch(self, desc: Descriptor) -> BinaryIO:
        raise NotFoundError(f"blob {desc.digest}: an archive being written cannot be read back")

    def exists(self, desc: Descriptor) -> bool:
        with self._lock:
            return desc.digest in self._written

    def push(self, desc: Descriptor, data: BinaryIO) -> None:
        """Append the blob (exactly ``desc.size`` bytes, else the archive is broken: an error)."""
        name = blob_name(desc.digest)
        with self._lock:
            if desc.digest in self._written:
                return
            for directory in (f"{BLOBS_DIR}/", name.rsplit("/", 1)[0] + "/"):
                if directory not in self._dirs:  # directory members, for extractors that want them
                    self._tar.add_dir(directory)
                    self._dirs.add(directory)
            self._tar.begin(name, desc.size)
            buf = bytearray(BLOB_BUFFER)
            view = memoryview(buf)
            readinto = getattr(data, "readinto", None)
            while True:
                if readinto is not None:
                    n = int(readinto(view))
                    chunk = view[:n]
                else:  # pragma: no cover - every store's stream has readinto
                    chunk = memoryview(data.read(BLOB_BUFFER))
                    n = len(chunk)
                if not n:
                    break
                self._tar.write(chunk)
            self._tar.end()
            self._written.add(desc.digest)
            self.blob_count += 1
            self.blob_bytes += desc.size

    def tag(self, desc: Descriptor, ref: str) -> None:
        with self._lock:
            self.index.add(desc, ref)

    def commit(self) -> None:
        """Append ``index.json`` and the end-of-archive marker."""
        with self._lock:
            self._tar.add_bytes(INDEX_FILE, self.index.to_bytes())
            self._tar.close()


class OciLayoutStream:
    """A layout read once from a tar stream (``kit load -i -``); see the module docstring.

    Build it with :meth:`receive`, which puts every blob into ``blobs`` (a store that verifies
    what it is given: here, against the digest the member's name promises). Afterwards it
    answers from its ``index.json`` and from ``blobs``."""

    def __init__(self, blobs: Store, index: LayoutIndex) -> None:
        self._blobs = blobs
        self.index = index

    @classmethod
    def receive(
        cls,
        stream: BinaryIO,
        blobs: Store,
        *,
        what: str = "standard input",
        progress: Progress | None = None,
        cancel: Cancel | None = None,
    ) -> OciLayoutStream:
        progress = progress or NULL_PROGRESS
        index: LayoutIndex | None = None
        layout_seen = False
        for name, reader, size in stream_members(stream, what):
            if name == INDEX_FILE:
                index = LayoutIndex.from_bytes(read_small(reader, size, MAX_INDEX_BYTES, INDEX_FILE), what)
            elif name == LAYOUT_FILE:
                check_layout_file(read_small(reader, size, MAX_LAYOUT_FILE, LAYOUT_FILE), what)
                layout_seen = True
            elif (digest := blob_digest(name)) is not None:
                _receive_blob(blobs, Descriptor(UNKNOWN_BLOB, digest, size), reader, progress, cancel)
        if not layout_seen:
            raise _missing(what, LAYOUT_FILE)
        if index is None:
            raise _missing(what, INDEX_FILE)
        return cls(blobs, index)

    def resolve(self, ref: str) -> Descriptor:
        return self.index.resolve(ref)

    def fetch(self, desc: Descriptor) -> BinaryIO:
        return self._blobs.fetch(desc)

    def exists(self, desc: Descriptor) -> bool:
        return self._blobs.exists(desc)


def _receive_blob(
    blobs: Store, desc: Descriptor, reader: BinaryIO, progress: Progress, cancel: Cancel | None
) -> None:
    def on_bytes(n: int) -> None:
        if cancel is not None:
            cancel.check()
        progress.advance(desc.digest, n)

    progress.begin(desc.digest, "loading", desc.size)
    try:
        blobs.push(desc, CountingReader(reader, on_bytes))  # type: ignore[arg-type]
    except BaseException as exc:
        progress.end(desc.digest, exc)
        raise
    progress.end(desc.digest)
