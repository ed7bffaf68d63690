"""The local store: the very on-disk layout the Go ``kit`` CLI uses (spec §3.2).

``$KITOPS_HOME/storage`` is one OCI image layout shared by every repository
(``blobs/sha256/<hex>``, ``index.json`` listing every manifest by digest) plus, per
repository, ``<base64url(registry/repo)>-index.json`` and ``-tags.json``.

Unlike the reference, every metadata write here is atomic (temp file +
``os.replace``) and done under a lock file, so concurrent ``kit`` processes never
lose updates; blobs become visible under their final name only after their size
and digest were checked; deleting a manifest garbage-collects the blobs nothing
else references.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from kitops.errors import ConnectionDropped, FormatError, IntegrityError, NotFoundError
from kitops.oci import gojson
from kitops.oci import mediatypes as mt
from kitops.oci.digest import is_digest
from kitops.oci.models import Descriptor, Index, Manifest
from kitops.oci.reference import validate_tag
from kitops.store.base import BLOB_BUFFER, VerifyingReader, copy_stream, read_blob_bytes
from kitops.store.filehash import FileVerifier, TrailingHasher
from kitops.store.lease import Lease, leased_digests

_REPO_FILE_RE = re.compile(r"([-A-Za-z0-9_-]*={0,3})-index\.json")
log = logging.getLogger(__name__)

LOCK_NAME = ".kitops-python.lock"
INLINE_HASH_LIMIT = 4 << 20  # blobs up to this size are hashed in the writing thread (no thread to start)
# A download's buffer: a network read never brings more than about 1 MiB (the HTTP layer's read
# size), so a larger one would only add resident memory per parallel blob.
DOWNLOAD_BUFFER = 1 << 20
MAX_DROPS = 5  # connection drops in a row without progress before a download gives up


def encode_repo(repo_key: str) -> str:
    return base64.urlsafe_b64encode(repo_key.encode()).decode()


def decode_repo(encoded: str) -> str:
    return base64.urlsafe_b64decode(encoded.encode()).decode()


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half of one."""
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


def _open_ingest(path: Path) -> int:
    """Open (or create) a partial download; a symlink or anything but a regular file planted at
    that name is refused, never written through."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), 0o600)
    except OSError:
        if path.is_symlink():
            raise IntegrityError(f"refusing to write through a symlink at {path}",
                                 hint="something replaced a partial download with a link: remove it and re-run") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IntegrityError(f"{path} is not a regular file", hint="remove it and re-run")
    os.set_blocking(fd, True)
    return fd


class BlobWriter:
    """A blob being written into ``storage/ingest``; ``commit`` verifies and renames it into place.

    Small blobs are hashed as they are written. Past :data:`INLINE_HASH_LIMIT` the hash moves to
    a :class:`TrailingHasher` thread that reads the file behind the writer, so hashing (user
    time) and the writes (system time) run on both cores instead of adding up.
    """

    def __init__(self, store: LocalStore) -> None:
        self._store = store
        store.ingest_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=store.ingest_dir, prefix="kitops_")
        self.path = Path(name)
        self._fh = os.fdopen(fd, "wb", buffering=0)
        self._hasher = hashlib.sha256()
        self._trailing: TrailingHasher | None = None
        self._digest: str | None = None
        self.size = 0
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._trailing is None:
            if self.size + len(data) <= INLINE_HASH_LIMIT:
                self._hasher.update(data)
            else:  # from here on the hash follows the file in a thread of its own
                self._trailing = TrailingHasher(self.path, start=self.size, hasher=self._hasher)
        view = memoryview(data)
        while view:
            n = self._fh.write(view)
            if n is None:  # pragma: no cover - non-blocking only
                continue
            view = view[n:]
        self.size += len(data)
        if self._trailing is not None:
            self._trailing.advance(self.size)
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def digest(self) -> str:
        """The digest of everything written (waits for the hashing thread)."""
        if self._digest is None:
            hexdigest = self._trailing.hexdigest(self.size) if self._trailing else self._hasher.hexdigest()
            self._trailing = None
            self._digest = "sha256:" + hexdigest
        return self._digest

    def commit(self, media_type: str, expected: Descriptor | None = None) -> Descriptor:
        """Check against ``expected`` (when given), then move into ``blobs/``."""
        self._fh.close()
        self._closed = True
        digest = self.digest
        if expected is not None and (expected.digest != digest or expected.size != self.size):
            self.discard()
            raise IntegrityError(
                f"content does not match descriptor: expected {expected.digest} ({expected.size} bytes), "
                f"got {digest} ({self.size} bytes)"
            )
        self._store._place_blob(self.path, digest)
        return Descriptor(media_type, digest, self.size)

    def discard(self) -> None:
        if self._trailing is not None:
            self._trailing.abandon()
            self._trailing = None
        if not self._closed:
            self._fh.close()
            self._closed = True
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None or not self._closed:
            self.discard()


class _ParallelVerifyingReader(VerifyingReader):
    """Reads a stored blob without hashing it; a :class:`FileVerifier` hashes the same file on
    the other core, and the verdict is raised where :class:`VerifyingReader` raises it (at the
    end of the data, or in :meth:`verify_rest`)."""

    def __init__(self, raw: BinaryIO, path: Path, desc: Descriptor) -> None:
        super().__init__(raw, desc)
        self._verifier = FileVerifier(path, desc.digest, desc.size)

    def _account(self, data: bytes | memoryview) -> None:
        self._read += len(data)
        if self._read > self._desc.size:
            raise IntegrityError(f"{self._what} {self._desc.digest} is larger than its descriptor's size {self._desc.size}")

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        if self._read != self._desc.size:
            self._verifier.abandon()
            raise IntegrityError(f"{self._what} {self._desc.digest}: expected {self._desc.size} bytes, got {self._read}")
        self._verifier.verify()

    def verify_rest(self) -> None:
        """The verifier hashes the whole file: nothing left to read here, only its verdict to wait for."""
        if not self._done:
            self._done = True
            self._verifier.verify()

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._verifier.abandon()
        super().close()


class LocalStore:
    """All of ``$KITOPS_HOME/storage``: shared blobs plus per-repository index and tag files."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._rlock = threading.RLock()
        self._depth = 0
        self._lock_fh: BinaryIO | None = None
        self._lease: Lease | None = None

    # -- layout -------------------------------------------------------------------------------
    @property
    def blobs_dir(self) -> Path:
        return self.root / "blobs" / "sha256"

    @property
    def ingest_dir(self) -> Path:
        return self.root / "ingest"

    def ensure_layout(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        layout = self.root / "oci-layout"
        if not layout.exists():
            atomic_write(layout, b'{"imageLayoutVersion":"1.0.0"}')

    def blob_path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise IntegrityError(f"invalid digest {digest!r}")
        algo, _, hexpart = digest.partition(":")
        return self.root / "blobs" / algo / hexpart

    def has_blob(self, digest: str) -> bool:
        """Whether the blob is stored. Under a :meth:`leased` operation the answer also protects it:
        a blob found here is not garbage-collected before the operation ends."""
        if self._lease is None:
            return self.blob_path(digest).is_file()
        with self.locked():
            self._lease.add(digest)
            return self.blob_path(digest).is_file()

    @contextlib.contextmanager
    def leased(self) -> Iterator[None]:
        """Hold a lease (see :mod:`kitops.store.lease`) on every blob this store object finds or
        writes until the block ends: a pack or pull then survives a concurrent ``kit remove``."""
        if self._lease is not None:  # nested: the outer lease covers it
            yield
            return
        self.ensure_layout()
        self._lease = Lease(self.root)
        try:
            yield
        finally:
            lease, self._lease = self._lease, None
            lease.release()

    def _place_blob(self, source: Path, digest: str) -> bool:
        """Move a verified blob from ``ingest/`` to its final name, unless it is there already
        (then ``source`` is removed). Under the store lock, and leased, so a collection running
        at the same time cannot delete the blob this operation has just decided to rely on."""
        final = self.blob_path(digest)
        with self.locked():
            if self._lease is not None:
                self._lease.add(digest)
            if final.is_file():
                with contextlib.suppress(FileNotFoundError):
                    source.unlink()
                return False
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(source, 0o444)
            os.replace(source, final)
            return True

    # -- locking ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across threads (RLock) and processes (flock on a lock file)."""
        with self._rlock:
            if self._depth == 0:
                self.ensure_layout()
                fh = open(self.root / LOCK_NAME, "ab")  # noqa: SIM115 - held across the block
                try:
                    import fcntl

                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                except ImportError:  # pragma: no cover - Windows: in-process lock only
                    pass
                self._lock_fh = fh
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fh is not None:
                    self._lock_fh.close()  # closing releases the flock
                    self._lock_fh = None

    # -- blobs --------------------------------------------------------------------------------
    def blob_writer(self) -> BlobWriter:
        self.ensure_layout()
        return BlobWriter(self)

    def open_blob(self, desc: Descriptor) -> VerifyingReader:
        """A verified reader of a stored blob. A large one is verified by a second thread hashing
        the file while the caller reads it (unpack), so the hash costs no time on the caller's core."""
        path = self.blob_path(desc.digest)
        try:
            raw = open(path, "rb", buffering=0)  # noqa: SIM115 - returned to caller
        except FileNotFoundError:
            raise NotFoundError(f"blob {desc.digest} not found in local storage") from None
        if desc.size > INLINE_HASH_LIMIT:
            try:
                return _ParallelVerifyingReader(raw, path, desc)
            except BaseException:
                raw.close()
                raise
        return VerifyingReader(raw, desc)

    def put_blob(self, desc: Descriptor, data: BinaryIO) -> Descriptor:
        if self.has_blob(desc.digest):
            return desc
        with self.blob_writer() as writer:
            copy_stream(data, writer)  # type: ignore[arg-type]
            return writer.commit(desc.media_type, expected=desc)

    def ingest_resumable(
        self,
        desc: Descriptor,
        opener: Callable[[int], BinaryIO],
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Download ``desc`` into ``ingest/<hex>``, continuing a partial file left by a crash.

        The kept prefix is re-hashed first; a corrupt partial is discarded and the
        download restarted once, so it never blocks later pulls (spec §7 #24). An
        exclusive lock on the ingest file keeps two processes from writing it at once.
        """
        if self.has_blob(desc.digest):
            return
        self.ensure_layout()
        self.ingest_dir.mkdir(parents=True, exist_ok=True)
        algo, _, hexpart = desc.digest.partition(":")
        path = self.ingest_dir / hexpart
        for attempt in range(2):
            fd = _open_ingest(path)
            with os.fdopen(fd, "r+b", buffering=0) as fh:
                try:
                    import fcntl

                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                except ImportError:  # pragma: no cover
                    pass
                if self.has_blob(desc.digest):  # another process finished it while we waited
                    return
                hasher = hashlib.new(algo)
                have = 0
                buf = bytearray(DOWNLOAD_BUFFER)
                while True:
                    n = fh.readinto(buf)
                    if not n:
                        break
                    hasher.update(memoryview(buf)[:n])
                    have += n
                if have > desc.size:
                    fh.truncate(0)
                    fh.seek(0)
                    hasher, have = hashlib.new(algo), 0
                drops = 0
                # Hashed in this thread: a download shares the cores with the registry and the other
                # blobs in flight, and a hashing thread would read every byte back (measured: pull at
                # 0.84-0.96x with one). Pack and unpack, which have no peer, hash on a thread.
                while have < desc.size:
                    started = have
                    src = opener(have)
                    try:
                        # a source that lends its own buffers (a registry body) is hashed and
                        # written without a copy into ours
                        readview: Callable[[], memoryview] | None = getattr(src, "readview", None)
                        view = memoryview(buf)
                        while have < desc.size:
                            if readview is not None:
                                piece = readview()
                                n = len(piece)
                            else:
                                n = src.readinto(view)  # type: ignore[attr-defined]
                                piece = view[:n]
                            if not n:
                                break
                            hasher.update(piece)
                            fh.write(piece)
                            have += n
                            if on_bytes is not None:
                                on_bytes(n)
                        break
                    except ConnectionDropped:
                        # what arrived is hashed and written: ask for the rest; give up after
                        # MAX_DROPS drops in a row that brought nothing new
                        drops = 0 if have > started else drops + 1
                        if drops >= MAX_DROPS:
                            raise
                    finally:
                        src.close()
                got = hasher.hexdigest()
                if have == desc.size and got == hexpart:
                    self._place_blob(path, desc.digest)
                    return
                path.unlink(missing_ok=True)
            if have != desc.size:
                raise IntegrityError(f"blob {desc.digest}: got {have} bytes, expected {desc.size}", hint="re-run to resume")
            if attempt == 0:
                continue
        raise IntegrityError(
            f"downloaded content does not match its digest {desc.digest}",
            hint="the registry serves corrupt data for this blob",
        )

    def put_bytes(self, media_type: str, data: bytes) -> Descriptor:
        with self.blob_writer() as writer:
            writer.write(data)
            return writer.commit(media_type)

    def read_manifest(self, desc: Descriptor) -> Manifest:
        return Manifest.from_bytes(read_blob_bytes(_BlobView(self), desc))

    # -- repositories -------------------------------------------------------------------------
    def repository(self, repo_key: str) -> LocalRepository:
        return LocalRepository(self, repo_key)

    def repo_keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        keys = []
        for name in os.listdir(self.root):
            m = _REPO_FILE_RE.fullmatch(name)
            if m:
                try:
                    keys.append(decode_repo(m.group(1)))
                except (ValueError, UnicodeDecodeError):
                    continue
        return sorted(keys)

    # -- root index.json ----------------------------------------------------------------------
    def _root_index_path(self) -> Path:
        return self.root / "index.json"

    def root_manifests(self) -> list[Descriptor]:
        path = self._root_index_path()
        if not path.exists():
            return []
        return list(Index.from_bytes(path.read_bytes()).manifests)

    def _write_root_index(self, manifests: list[Descriptor]) -> None:
        atomic_write(self._root_index_path(), Index(tuple(manifests), media_type=mt.OCI_INDEX).to_bytes())

    def add_to_root_index(self, desc: Descriptor) -> None:
        with self.locked():
            mans = self.root_manifests()
            if not any(d.digest == desc.digest for d in mans):
                mans.append(desc.plain())
                self._write_root_index(mans)

    def _referenced_blobs(self, manifests: list[Descriptor], *, sure: list[bool] | None = None) -> set[str]:
        """Every digest reachable from ``manifests`` (configs, layers, index children).

        A manifest or index that cannot be read leaves its references unknown: ``sure[0]`` is
        then set to False, and a collection must not delete anything on that basis."""
        seen: set[str] = set()
        stack = list(manifests)
        while stack:
            desc = stack.pop()
            if desc.digest in seen:
                continue
            seen.add(desc.digest)
            path = self.blob_path(desc.digest)
            if not path.is_file():
                continue
            try:
                data = path.read_bytes() if path.stat().st_size < (4 << 20) else b""
                obj: Any = json.loads(data) if data else None
                if isinstance(obj, dict) and "manifests" in obj:
                    stack.extend(Index.from_bytes(data).manifests)
                elif isinstance(obj, dict) and "config" in obj:
                    man = Manifest.from_bytes(data)
                    seen.add(man.config.digest)
                    seen.update(d.digest for d in man.layers)
            except (OSError, ValueError, RecursionError, FormatError):
                if sure is not None and desc.is_manifest:
                    sure[0] = False
        return seen

    def delete_manifest(self, desc: Descriptor) -> list[str]:
        """Remove a manifest from the shared layout and collect blobs nothing else references.

        Returns the digests removed. Callers must already have dropped it from every repo.
        """
        with self.locked():
            remaining = [d for d in self.root_manifests() if d.digest != desc.digest]
            # Manifests some repo still lists (the Go CLI may know more than index.json).
            for key in self.repo_keys():
                for d in self.repository(key).manifests():
                    if d.digest != desc.digest and all(r.digest != d.digest for r in remaining):
                        remaining.append(d.plain())
            self._write_root_index(remaining)
            sure = [True]
            keep = self._referenced_blobs(remaining, sure=sure) | leased_digests(self.root)
            doomed = self._referenced_blobs([desc]) - keep
            if not sure[0]:
                log.warning("Some stored manifests cannot be read: no blobs were deleted (run 'kit remove --all' "
                            "after fixing or removing them)")
                doomed = set()
            removed = []
            for digest in sorted(doomed):
                with contextlib.suppress(FileNotFoundError):
                    self.blob_path(digest).unlink()
                    removed.append(digest)
            return removed

    def gc(self) -> list[str]:
        """Delete every blob no manifest of any repository references."""
        with self.locked():
            manifests = []
            for key in self.repo_keys():
                manifests.extend(self.repository(key).manifests())
            sure = [True]
            keep = self._referenced_blobs(manifests, sure=sure) | leased_digests(self.root)
            removed = []
            if not sure[0]:
                log.warning("Some stored manifests cannot be read: garbage collection skipped")
            elif self.blobs_dir.is_dir():
                for name in os.listdir(self.blobs_dir):
                    digest = "sha256:" + name
                    if digest not in keep and is_digest(digest):
                        with contextlib.suppress(FileNotFoundError):
                            (self.blobs_dir / name).unlink()
                            removed.append(digest)
            self._write_root_index([d.plain() for d in manifests])
            return removed


class _BlobView:
    """Adapter so module helpers can read blobs of the shared layout with verification."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store

    def fetch(self, desc: Descriptor) -> BinaryIO:
        return self._store.open_blob(desc)  # type: ignore[return-value]

    def exists(self, desc: Descriptor) -> bool:
        return self._store.has_blob(desc.digest)

    def resolve(self, ref: str) -> Descriptor:  # pragma: no cover - not used
        raise NotFoundError(ref)


class LocalRepository:
    """One ``<registry>/<repository>`` in the local store; implements the Store protocol."""

    # An interrupted download keeps its verified prefix in ingest/ and the next run continues it.
    keeps_partial_blobs = True

    def __init__(self, store: LocalStore, repo_key: str) -> None:
        self.store = store
        self.repo_key = repo_key
        enc = encode_repo(repo_key)
        self._index_path = store.root / f"{enc}-index.json"
        self._tags_path = store.root / f"{enc}-tags.json"

    def __repr__(self) -> str:
        return f"LocalRepository({self.repo_key!r})"

    # -- per-repo files -----------------------------------------------------------------------
    def manifests(self) -> list[Descriptor]:
        if not self._index_path.exists():
            return []
        try:
            return list(Index.from_bytes(self._index_path.read_bytes()).manifests)
        except FormatError as exc:
            raise FormatError(f"corrupt repository index {self._index_path}: {exc}") from None

    def tag_map(self) -> dict[str, Descriptor]:
        if not self._tags_path.exists():
            return {}
        try:
            obj = json.loads(self._tags_path.read_bytes())
        except ValueError as exc:
            raise FormatError(f"corrupt tags file {self._tags_path}: {exc}") from None
        if not isinstance(obj, dict):
            raise FormatError(f"corrupt tags file {self._tags_path}")
        return {str(k): Descriptor.from_json(v) for k, v in obj.items()}

    def tags(self) -> list[str]:
        return sorted(self.tag_map())

    def tags_for(self, digest: str) -> list[str]:
        return sorted(t for t, d in self.tag_map().items() if d.digest == digest)

    def _write_manifests(self, mans: list[Descriptor]) -> None:
        if not mans:
            with contextlib.suppress(FileNotFoundError):
                self._index_path.unlink()
            return
        atomic_write(self._index_path, Index(tuple(mans), media_type=None).to_bytes())

    def _write_tags(self, tags: dict[str, Descriptor]) -> None:
        if not tags:
            with contextlib.suppress(FileNotFoundError):
                self._tags_path.unlink()
            return
        body = gojson.GoMap({k: v.to_go() for k, v in tags.items()})
        atomic_write(self._tags_path, gojson.dump_bytes(body))

    # -- Store protocol -----------------------------------------------------------------------
    def resolve(self, ref: str) -> Descriptor:
        if is_digest(ref):
            for d in self.manifests():
                if d.digest == ref:
                    return d
            raise NotFoundError(f"{ref} not found in {self.repo_key}")
        desc = self.tag_map().get(ref)
        if desc is None:
            raise NotFoundError(f"tag {ref} not found in {self.repo_key}")
        return desc

    def fetch(self, desc: Descriptor) -> BinaryIO:
        return self.store.open_blob(desc)  # type: ignore[return-value]

    def open_at(self, desc: Descriptor, offset: int) -> BinaryIO:
        """The raw blob from ``offset`` (unverified: the receiver verifies the whole)."""
        try:
            fh = open(self.store.blob_path(desc.digest), "rb")  # noqa: SIM115 - returned to caller
        except FileNotFoundError:
            raise NotFoundError(f"blob {desc.digest} not found in local storage") from None
        fh.seek(offset)
        return fh

    def push_from(
        self, desc: Descriptor, opener: Callable[[int], BinaryIO], *, on_bytes: Callable[[int], None] | None = None
    ) -> None:
        """Resumable, verified download of a blob (manifests go through :meth:`push`)."""
        self.store.ingest_resumable(desc, opener, on_bytes=on_bytes)

    def exists(self, desc: Descriptor) -> bool:
        if desc.is_manifest:
            return any(d.digest == desc.digest for d in self.manifests()) and self.store.has_blob(desc.digest)
        return self.store.has_blob(desc.digest)

    def push(self, desc: Descriptor, data: BinaryIO) -> None:
        self.store.put_blob(desc, data)
        if desc.is_manifest:
            self.add_manifest(desc)

    def add_manifest(self, desc: Descriptor) -> None:
        """Record a stored manifest in this repo's index and in the shared index.json."""
        with self.store.locked():
            mans = self.manifests()
            if not any(d.digest == desc.digest for d in mans):
                mans.append(Descriptor(mt.OCI_MANIFEST if not desc.media_type else desc.media_type, desc.digest, desc.size))
                self._write_manifests(mans)
            self.store.add_to_root_index(desc)

    def tag(self, desc: Descriptor, ref: str) -> None:
        validate_tag(ref)
        with self.store.locked():
            self.add_manifest(desc)
            tags = self.tag_map()
            tags[ref] = desc.plain()
            self._write_tags(tags)

    def untag(self, tag: str) -> Descriptor:
        with self.store.locked():
            tags = self.tag_map()
            desc = tags.pop(tag, None)
            if desc is None:
                raise NotFoundError(f"tag {tag} not found in {self.repo_key}")
            self._write_tags(tags)
            return desc

    def delete(self, desc: Descriptor) -> None:
        """Drop the manifest and its tags from this repo; GC it when no other repo holds it."""
        with self.store.locked():
            holders = [k for k in self.store.repo_keys() if any(d.digest == desc.digest for d in self.store.repository(k).manifests())]
            tags = {t: d for t, d in self.tag_map().items() if d.digest != desc.digest}
            self._write_tags(tags)
            self._write_manifests([d for d in self.manifests() if d.digest != desc.digest])
            if len(holders) <= 1:
                self.store.delete_manifest(desc)


__all__ = ["BLOB_BUFFER", "BlobWriter", "LocalRepository", "LocalStore", "atomic_write", "decode_repo", "encode_repo"]
