"""The local store: the very on-disk layout the Go ``kit`` CLI uses.

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
import io
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from kitops import fsutil
from kitops.errors import FormatError, IntegrityError, NotFoundError
from kitops.fsutil import atomic_write
from kitops.oci import gojson
from kitops.oci import mediatypes as mt
from kitops.oci.digest import is_digest
from kitops.oci.models import Descriptor, Index, Manifest
from kitops.oci.reference import validate_tag
from kitops.store.base import BLOB_BUFFER, VerifyingReader, copy_stream, read_blob_bytes
from kitops.store.filehash import FileVerifier
from kitops.store.ingest import INLINE_HASH_LIMIT, MAX_DROPS, BlobWriter, receive
from kitops.store.lease import Lease, leased_digests
from kitops.store.referrers import cosign_tags, referrer_entry

_REPO_FILE_RE = re.compile(r"([-A-Za-z0-9_-]*={0,3})-index\.json")
log = logging.getLogger(__name__)

LOCK_NAME = ".kitops-python.lock"


def encode_repo(repo_key: str) -> str:
    return base64.urlsafe_b64encode(repo_key.encode()).decode()


def decode_repo(encoded: str) -> str:
    return base64.urlsafe_b64decode(encoded.encode()).decode()


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
            raise IntegrityError(
                f"{self._what} {self._desc.digest} is larger than its descriptor's size {self._desc.size}"
            )

    def send_to(self, out_fd: int, count: int) -> int:
        """Copy the next bytes into ``out_fd`` inside the kernel: the verifier hashes the file on
        its own, so the caller never needs to see them (unpack of an uncompressed layer)."""
        n = os.sendfile(out_fd, self._raw.fileno(), None, count)
        self._read += n
        if self._read > self._desc.size:
            raise IntegrityError(
                f"{self._what} {self._desc.digest} is larger than its descriptor's size {self._desc.size}"
            )
        if not n:
            self._finish()
        return n

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        if self._read != self._desc.size:
            self._verifier.abandon()
            raise IntegrityError(
                f"{self._what} {self._desc.digest}: expected {self._desc.size} bytes, got {self._read}"
            )
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
        self._lease: Lease | None = None
        # manifest digest -> (its subject's digest or None, its referrers-list entry) of each
        # manifest read whole; keyed by content, so an entry never goes stale
        self._subjects: dict[str, tuple[str | None, Descriptor]] = {}

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
        """Exclusive across threads (RLock) and processes (a lock on a lock file); re-entrant."""
        with self._rlock:
            if self._depth:  # this thread holds the file lock already
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.ensure_layout()
            with fsutil.locked(self.root / LOCK_NAME):
                self._depth = 1
                try:
                    yield
                finally:
                    self._depth = 0

    # -- blobs --------------------------------------------------------------------------------
    def blob_writer(self) -> BlobWriter:
        self.ensure_layout()
        return BlobWriter.temporary(self.ingest_dir, self._place_blob)

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

        The kept prefix is hashed again and checked with the rest; a partial that turns out
        corrupt is discarded and the download restarted once, so it never blocks later pulls.
        A failed or interrupted download keeps what it wrote for the next run to continue.
        """
        if self.has_blob(desc.digest):
            return
        self.ensure_layout()
        self.ingest_dir.mkdir(parents=True, exist_ok=True)
        path = self.ingest_dir / desc.digest.partition(":")[2]
        for _attempt in range(2):
            with BlobWriter.continuing(path, desc, self._place_blob) as writer:
                if self.has_blob(desc.digest):  # another process finished it while we waited
                    return
                receive(writer, desc, opener, on_bytes)
                if writer.matches(desc):
                    writer.commit(desc.media_type)
                    return
                writer.discard()
            if writer.size != desc.size:
                raise IntegrityError(
                    f"blob {desc.digest}: got {writer.size} bytes, expected {desc.size}",
                    hint="re-run to resume",
                )
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

    def subject_entry(self, desc: Descriptor) -> tuple[str | None, Descriptor]:
        """The digest ``desc``'s manifest names as its ``subject`` (None: it refers to nothing, or
        is an index or a manifest that cannot be read) and its entry in a referrers list."""
        cached = self._subjects.get(desc.digest)
        if cached is not None:
            return cached
        found: tuple[str | None, Descriptor] = (None, desc)
        if desc.media_type not in (mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST):
            try:
                manifest = self.read_manifest(desc)
            except (FormatError, NotFoundError, IntegrityError) as exc:
                log.debug("%s is read as no referrer: %s", desc.digest, exc)
                return found  # not remembered: the blob may yet arrive whole
            subject = manifest.subject.digest if manifest.subject is not None else None
            found = (subject, referrer_entry(desc, manifest))
        self._subjects[desc.digest] = found
        return found

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
        return self.delete_manifests([desc])

    def delete_manifests(self, descs: list[Descriptor]) -> list[str]:
        """:meth:`delete_manifest` for several at once (a ModelKit and its referrers): one pass
        over the store instead of one per manifest."""
        gone = {d.digest for d in descs}
        with self.locked():
            remaining = [d for d in self.root_manifests() if d.digest not in gone]
            # Manifests some repo still lists (the Go CLI may know more than index.json).
            for key in self.repo_keys():
                for d in self.repository(key).manifests():
                    if d.digest not in gone and all(r.digest != d.digest for r in remaining):
                        remaining.append(d.plain())
            self._write_root_index(remaining)
            sure = [True]
            keep = self._referenced_blobs(remaining, sure=sure) | leased_digests(self.root)
            doomed = self._referenced_blobs(list(descs)) - keep
            if not sure[0]:
                log.warning(
                    "Some stored manifests cannot be read: no blobs were deleted (run 'kit remove --all' "
                    "after fixing or removing them)"
                )
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
    # referrers() scans the manifests listed here: a plain push of one with a subject is found
    referrers_by_scan = True

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
        self,
        desc: Descriptor,
        opener: Callable[[int], BinaryIO],
        *,
        on_bytes: Callable[[int], None] | None = None,
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
                mans.append(
                    Descriptor(
                        mt.OCI_MANIFEST if not desc.media_type else desc.media_type, desc.digest, desc.size
                    )
                )
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

    def delete(self, desc: Descriptor) -> list[Descriptor]:
        """Drop the manifest and its tags from this repo, with what refers to it here (see
        :meth:`dependents`); GC each one no other repo holds. Returns the referrers dropped."""
        with self.store.locked():
            tag_map = self.tag_map()
            dependents = self.dependents([desc.digest], tag_map)
            gone = {desc.digest} | {d.digest for d in dependents}
            self._write_tags({t: d for t, d in tag_map.items() if d.digest not in gone})
            self._write_manifests([d for d in self.manifests() if d.digest not in gone])
            held = set()  # what another repository still lists stays in the shared layout
            for key in self.store.repo_keys():
                if key != self.repo_key:
                    held |= {d.digest for d in self.store.repository(key).manifests() if d.digest in gone}
            collect = [d for d in (desc, *dependents) if d.digest not in held]
            if collect:
                self.store.delete_manifests(collect)
            return dependents

    def dependents(
        self, digests: Sequence[str], tag_map: dict[str, Descriptor] | None = None
    ) -> list[Descriptor]:
        """What exists here only because of ``digests``: their referrers and the manifests of
        their cosign tags, and theirs in turn (a signature of an attestation). One the user also
        tagged under a name of their own is no dependent: it stays, and so does what refers to it."""
        tag_map = self.tag_map() if tag_map is None else tag_map
        names: dict[str, set[str]] = {}
        for tag, d in tag_map.items():
            names.setdefault(d.digest, set()).add(tag)
        by_subject: dict[str, list[Descriptor]] = {}
        for d in self.manifests():
            subject, _entry = self.store.subject_entry(d)
            if subject is not None:
                by_subject.setdefault(subject, []).append(d)
        out: list[Descriptor] = []
        seen, todo = set(digests), list(digests)
        while todo:
            current = todo.pop(0)
            scheme = set(cosign_tags(current))
            found = [tag_map[t] for t in sorted(scheme) if t in tag_map] + by_subject.get(current, [])
            for d in found:
                if d.digest in seen or names.get(d.digest, set()) - scheme:
                    continue
                seen.add(d.digest)
                out.append(d)
                todo.append(d.digest)
        return out

    # -- referrers ----------------------------------------------------------------------------
    def referrers(self, subject: str, *, artifact_type: str | None = None) -> list[Descriptor]:
        """The manifests of this repository whose ``subject`` is ``subject``, as a registry's
        referrers API lists them (artifact type and annotations), in index order; only those of
        ``artifact_type`` when given. Each manifest is read once per store object."""
        out = []
        for desc in self.manifests():
            found, entry = self.store.subject_entry(desc)
            if found == subject and (artifact_type is None or entry.artifact_type == artifact_type):
                out.append(entry)
        return out

    def push_referrer(self, manifest: Manifest) -> Descriptor:
        """Store a manifest that has a ``subject`` and list it here, untagged (it is found through
        its subject, and lives and goes with it). Its config and layers must be stored already."""
        if manifest.subject is None:
            raise FormatError("a referrer manifest needs a subject")
        for blob in (manifest.config, *manifest.layers):
            if not self.store.has_blob(blob.digest):
                raise NotFoundError(
                    f"blob {blob.digest} of the referrer is not in local storage",
                    hint="store the config and layers before the manifest that names them",
                )
        data = manifest.to_bytes()
        desc = manifest.descriptor(data)
        if manifest.media_type and manifest.media_type != desc.media_type:
            desc = Descriptor(manifest.media_type, desc.digest, desc.size, artifact_type=desc.artifact_type)
        self.push(desc, io.BytesIO(data))
        return desc


# atomic_write and MAX_DROPS are re-exported: callers outside the store import them from here.
__all__ = [
    "BLOB_BUFFER",
    "MAX_DROPS",
    "BlobWriter",
    "LocalRepository",
    "LocalStore",
    "atomic_write",
    "decode_repo",
    "encode_repo",
]
