"""``kit pack --push``: layers built straight into a registry, nothing written to local storage.

Each layer takes two passes over its files. The first computes the blob's digest, size and
DiffID without keeping a byte (the pack cache answers it without reading when no file changed
since the layer was last packed). A registry that holds the blob already (``HEAD``), or that can
mount it from another repository, gets nothing more. Otherwise the blob is uploaded with
``push_from(desc, opener)``, whose ``opener(offset)`` makes the layer's bytes again from the
files: the same writer as ``kit pack`` (a deterministic tar, the same compression; a raw file's
bytes), from a producer thread into a bounded pipe the uploader reads. Retries, the auth
refresh, the fallback to chunks and the resume of a killed push (chunk sessions remembered in
``$KITOPS_HOME``, as for ``kit push``) therefore work as for any blob.

The bytes are hashed again as they go out and must match the first pass: a file changed in
between fails with an :class:`~kitops.errors.IntegrityError` naming it, before the upload is
completed (and the registry would refuse a wrong digest anyway). Layers go in parallel; memory
stays flat (a few MiB of buffers per layer in flight, never a whole layer). The config and the
manifest go last, the manifest under every tag, so the registry never holds a manifest whose
blobs are missing. Layers, config and manifest are byte-identical to a local ``kit pack`` of
the same content (:mod:`kitops.modelkit.pack` plans and assembles both).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, cast

from kitops.errors import Cancelled, FormatError, IntegrityError, NotFoundError
from kitops.kitfile.model import LayerInfo
from kitops.modelkit.layers import LayerSpec, WalkEntry, file_identity, walk_layer
from kitops.modelkit.pack import PackPlan, PackResult, assemble_manifest, write_tar_layer
from kitops.modelkit.packcache import CachedLayer, PackCache, layer_key
from kitops.modelkit.rawlayer import raw_layer_source, write_raw_layer
from kitops.modelkit.tar import tar_mode
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest
from kitops.progress import NULL_PROGRESS, Cancel, Progress
from kitops.registry.repository import RemoteRepository
from kitops.store.base import read_blob_bytes
from kitops.workers import run_each

log = logging.getLogger(__name__)

PIECE = 1 << 20  # bytes per item in a layer's pipe, and the tar writer's buffer
PIPE_DEPTH = 4  # items a producer may run ahead of the uploader: at most 4 MiB per layer in flight
POLL = 0.1  # seconds between looks at a closed pipe or a cancel while waiting on the other side
_Identity = tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, inode, device


@dataclass
class _Layer:
    """One layer described by its first pass: what to make again, and what it must hash to."""

    spec: LayerSpec
    entries: list[WalkEntry]
    identities: list[_Identity | None]  # of each entry's file before the first pass read it
    compression: str
    raw: bool
    descriptor: Descriptor

    @property
    def name(self) -> str:
        return self.spec.clean

    def changed_files(self) -> list[str]:
        """The files that are not what the first pass read (written, replaced, removed since)."""
        return [
            e.name for e, before in zip(self.entries, self.identities, strict=True) if _identity(e) != before
        ]

    def check_unchanged(self) -> None:
        changed = self.changed_files()
        if changed:
            raise IntegrityError(
                f"{_shown(changed)} changed while layer {self.name} was being pushed",
                hint="pack again once the files no longer change",
            )


def pack_push(
    plan: PackPlan,
    remote: RemoteRepository,
    tags: Sequence[str],
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    concurrency: int = 5,
    cache: PackCache | None = None,
) -> PackResult:
    """Build the layers of ``plan`` into ``remote``, then its config and its manifest, tagged
    with each of ``tags`` (pushed by digest alone when there are none)."""
    progress = progress or NULL_PROGRESS
    target = RemoteTarget(remote, tags)
    target.look_up()
    # the layers stop on a failure of one of them: a token of our own, so the caller's is not set
    stop = Cancel()
    handle = cancel.on_cancel(stop.cancel) if cancel is not None else None
    try:
        layers = _run_layers(plan, remote, progress, stop, concurrency, cache)
    finally:
        if cancel is not None and handle is not None:
            cancel.forget(handle)
        if cache is not None:
            cache.save()  # what the first passes learnt spares the next run reading unchanged files
    if cancel is not None:
        cancel.check()
    manifest, data = assemble_manifest(plan, layers, target)
    desc = Descriptor(mt.OCI_MANIFEST, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    for ref in tags or [desc.digest]:
        remote.put_manifest(desc, data, ref)
    where = f"{remote.client.registry}/{remote.repository}"
    pushed = f"{where}:{tags[0]}" if tags else f"{where}@{desc.digest}"
    log.info("Pushed manifest %s to %s", desc.digest, pushed)
    return PackResult(desc, manifest, plan.kitfile, where, tuple(tags), pushed_to=pushed)


def _run_layers(
    plan: PackPlan,
    remote: RemoteRepository,
    progress: Progress,
    stop: Cancel,
    concurrency: int,
    cache: PackCache | None,
) -> list[Descriptor]:
    """Every layer described and uploaded, ``concurrency`` at a time, on daemon workers
    (:func:`kitops.workers.run_each`: a Ctrl-C never waits for a stalled registry); the first
    failure stops the others. Descriptors in the plan's order."""
    claimed: set[str] = set()  # digests being uploaded: two layers with the same bytes go up once
    lock = threading.Lock()

    def one(spec: LayerSpec) -> Descriptor:
        layer = _describe(plan, spec, cache, progress, stop)
        with lock:
            first = layer.descriptor.digest not in claimed
            claimed.add(layer.descriptor.digest)
        if first:
            _upload(remote, layer, progress, stop)
        return layer.descriptor

    return run_each(plan.specs, one, concurrency=concurrency, stop=stop, name="kit-pack-push")


# ---------------------------------------------------------------------------------------------
# First pass: digest, size and DiffID


def _describe(
    plan: PackPlan, spec: LayerSpec, cache: PackCache | None, progress: Progress, cancel: Cancel
) -> _Layer:
    """The layer's descriptor, as ``kit pack`` would store it, from reading its files once (or
    from the pack cache when none changed); sets the spec's digests for the Kitfile."""
    media_type = plan.media_type(spec)
    compression = plan.layer_compression(spec)
    raw = spec.layer_format == "raw"
    annotations: dict[str, str] | None
    if raw:
        st, annotations = raw_layer_source(plan.context, spec, plan.annotations(spec) or {}, plan.fixed_mtime)
        entries = [
            WalkEntry(
                spec.clean, plan.context / spec.clean, tar_mode(st.st_mode), st.st_size, file_identity(st)
            )
        ]
    else:
        annotations = plan.annotations(spec) or None
        entries = list(walk_layer(plan.context, spec.path, plan.ignore))
    identities = [_identity(e) for e in entries]  # before reading: a write meanwhile shows later
    key = layer_key(entries, compression, media_type, "raw" if raw else "tar") if cache is not None else None
    hit = cache.get(key) if cache is not None else None
    if hit is not None and hit.media_type == media_type:
        assert cache is not None and key is not None
        cache.touch(key)
        spec.set_layer(LayerInfo(hit.digest, hit.diff_id))
        log.info(
            "%s layer %s: %s (files unchanged since it was packed: not read)",
            spec.base_type,
            spec.clean,
            hit.digest,
        )
        desc = Descriptor(media_type, hit.digest, hit.size, annotations=annotations)
        return _Layer(spec, entries, identities, compression, raw, desc)
    progress_key = f"{spec.base_type}:{spec.clean}"
    progress.begin(progress_key, f"packing {spec.base_type}", sum(e.size for e in entries))

    def advance(n: int) -> None:
        cancel.check()
        progress.advance(progress_key, n)

    sink = _DigestSink()
    try:
        compressed_diff_id = _write(sink, entries, compression, raw, advance)
    except BaseException as exc:
        progress.end(progress_key, exc)
        raise
    progress.end(progress_key)
    digest = "sha256:" + sink.hasher.hexdigest()
    diff_id = compressed_diff_id or digest
    spec.set_layer(LayerInfo(digest, diff_id))
    if cache is not None:
        cache.put(key, CachedLayer(digest, diff_id, sink.size, media_type))
    log.info("%s layer %s: %s", spec.base_type, spec.clean, digest)
    return _Layer(
        spec,
        entries,
        identities,
        compression,
        raw,
        Descriptor(media_type, digest, sink.size, annotations=annotations),
    )


def _write(
    dest: _DigestSink | _Pipe,
    entries: list[WalkEntry],
    compression: str,
    raw: bool,
    on_bytes: Callable[[int], None],
) -> str | None:
    """The layer's bytes into ``dest``, exactly as ``kit pack`` writes them into the store."""
    if raw:
        entry = entries[0]
        assert entry.source is not None
        return write_raw_layer(dest, entry.source, entry.size, entry.name, compression, on_bytes)
    return write_tar_layer(dest, entries, compression, on_bytes, buffer_size=PIECE)


class _DigestSink:
    """Counts and hashes what is written, keeping nothing."""

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.hasher.update(data)
        n = memoryview(data).nbytes
        self.size += n
        return n


def _identity(entry: WalkEntry) -> _Identity | None:
    """What changes when a file is written or replaced (a write always moves ctime)."""
    if entry.source is None:
        return None
    try:
        st = os.stat(entry.source)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


def _shown(names: list[str]) -> str:
    listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"file{'s' if len(names) > 1 else ''} {listed}"


# ---------------------------------------------------------------------------------------------
# Second pass: the upload


def _upload(remote: RemoteRepository, layer: _Layer, progress: Progress, cancel: Cancel) -> None:
    desc = layer.descriptor
    if remote.exists(desc):
        log.info("layer %s: %s is on the registry already: not uploaded", layer.name, desc.digest)
        return
    progress.begin(desc.digest, "pushing", desc.size)

    def on_bytes(n: int) -> None:
        cancel.check()
        progress.advance(desc.digest, n)

    source = _LayerSource(layer, cancel)
    try:
        remote.push_from(desc, source, on_bytes=on_bytes)
    except BaseException as exc:
        progress.end(desc.digest, exc)
        if cancel.cancelled and not isinstance(exc, Cancelled):
            raise Cancelled() from exc  # what a cancel looks like from inside: a broken stream
        raise
    finally:
        source.close()
    progress.end(desc.digest)
    log.info("Pushed layer %s: %s", layer.name, desc.digest)


class _LayerSource:
    """``opener(offset)`` for :meth:`RemoteRepository.push_from`: the layer's bytes from ``offset``.

    One stream of regenerated bytes serves consecutive requests (a chunked upload asks for
    each chunk in turn); a request behind the stream's position (a retry, a resynchronised
    session) starts the stream over, and one ahead of it (a session resumed from an earlier
    run) skips forward by reading. Every byte from 0 goes through the hash, so the end of the
    layer is checked against the first pass's digest before its last bytes are handed over,
    whatever offset the upload started from: for a raw file, reading the prefix again costs a
    local read, far cheaper than what the check protects (an upload refused at its very end).
    """

    def __init__(self, layer: _Layer, cancel: Cancel) -> None:
        self._layer = layer
        self._cancel = cancel
        self._size = layer.descriptor.size
        self._stream: _RawFileStream | _ProducerStream | None = None
        self._position = 0
        self._hasher = hashlib.sha256()

    def __call__(self, offset: int) -> BinaryIO:
        self._cancel.check()
        if self._stream is None or offset < self._position:
            if self._stream is not None:
                log.debug(
                    "layer %s: making its bytes again to send them from byte %d", self._layer.name, offset
                )
            self._restart()
        while self._position < offset:
            self._next(min(PIECE, offset - self._position))
        return cast(BinaryIO, _View(self))

    def _restart(self) -> None:
        self.close()
        self._layer.check_unchanged()  # fails at once rather than after the whole upload
        layer = self._layer
        if layer.raw and layer.compression == "none":
            entry = layer.entries[0]
            assert entry.source is not None
            self._stream = _RawFileStream(entry.source)
        else:

            def produce(pipe: _Pipe) -> None:
                _write(pipe, layer.entries, layer.compression, layer.raw, lambda _n: self._cancel.check())

            self._stream = _ProducerStream(produce, self._cancel)
        self._position = 0
        self._hasher = hashlib.sha256()
        if self._size == 0:
            self._finish()

    def read(self, n: int) -> bytes:
        if self._position >= self._size:
            return b""
        return self._next(n)

    def _next(self, n: int) -> bytes:
        assert self._stream is not None
        data = self._stream.read(min(n, self._size - self._position))
        if not data:
            raise self._changed(f"ended after {self._position} of its {self._size} bytes")
        self._hasher.update(data)
        self._position += len(data)
        if self._position == self._size:
            self._finish()
        return data

    def _finish(self) -> None:
        """The whole layer went through the hash: it must have ended there, with the same digest."""
        assert self._stream is not None
        if self._stream.read(1):
            raise self._changed(f"is longer than the {self._size} bytes it had")
        digest = "sha256:" + self._hasher.hexdigest()
        if digest != self._layer.descriptor.digest:
            raise self._changed(f"hashes to {digest}, not {self._layer.descriptor.digest}")

    def _changed(self, what: str) -> IntegrityError:
        layer = self._layer
        changed = layer.changed_files()
        culprit = f" ({_shown(changed)} changed)" if changed else ""
        return IntegrityError(
            f"layer {layer.name} {what} when it was read again for the upload{culprit}: its files "
            "changed while it was being pushed",
            hint="pack again once the files no longer change",
        )

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class _View:
    """What one request body reads: the shared stream, left open when the body is done with it."""

    def __init__(self, source: _LayerSource) -> None:
        self._source = source

    def read(self, n: int = -1) -> bytes:
        return self._source.read(PIECE if n is None or n < 0 else n)

    def close(self) -> None:
        pass


class _RawFileStream:
    """An uncompressed raw layer: the file's bytes, read in the uploader's thread."""

    def __init__(self, path: os.PathLike[str]) -> None:
        self._fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()

    def read(self, n: int) -> bytes:
        return self._fh.read(min(n, 4 * PIECE)) or b""

    def close(self) -> None:
        self._fh.close()


class _Closed(Exception):
    """The reader went away (upload done, failed or restarted): the producer stops."""


class _Pipe:
    """A bounded pipe of byte pieces from a producer thread to the uploader.

    Pieces are copies (the tar writer reuses its buffer), at most :data:`PIECE` bytes each and
    :data:`PIPE_DEPTH` of them waiting. Both ends wait with a timeout, so a closed pipe or a
    cancel ends either wait within :data:`POLL` seconds.
    """

    def __init__(self, cancel: Cancel) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(PIPE_DEPTH)
        self._closed = threading.Event()
        self._cancel = cancel
        self._buf = b""
        self._ended = False

    # producer side
    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), PIECE):
            self._put(bytes(view[start : start + PIECE]))
        return len(view)

    def end(self, error: BaseException | None) -> None:
        with contextlib.suppress(_Closed):
            self._put(error)

    def _put(self, item: bytes | BaseException | None) -> None:
        while True:
            if self._closed.is_set():
                raise _Closed()
            try:
                self._queue.put(item, timeout=POLL)
                return
            except queue.Full:
                continue

    # reader side
    def read(self, n: int) -> bytes:
        if not self._buf:
            if self._ended:
                return b""
            item = self._get()
            if item is None:
                self._ended = True
                return b""
            if isinstance(item, BaseException):
                self._ended = True
                raise item
            self._buf = item
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _get(self) -> bytes | BaseException | None:
        while True:
            self._cancel.check()
            try:
                return self._queue.get(timeout=POLL)
            except queue.Empty:
                continue

    def close(self) -> None:
        self._closed.set()


class _ProducerStream:
    """A layer's bytes made by ``produce(pipe)`` in a thread of its own, read from the pipe."""

    def __init__(self, produce: Callable[[_Pipe], None], cancel: Cancel) -> None:
        self._pipe = _Pipe(cancel)
        self._thread = threading.Thread(target=self._run, args=(produce,), name="kit-pack-push", daemon=True)
        self._thread.start()

    def _run(self, produce: Callable[[_Pipe], None]) -> None:
        try:
            produce(self._pipe)
        except _Closed:
            return
        except BaseException as exc:  # handed to the reader, which raises it in the uploader
            self._pipe.end(exc)
            return
        self._pipe.end(None)

    def read(self, n: int) -> bytes:
        return self._pipe.read(n)

    def close(self) -> None:
        self._pipe.close()
        self._thread.join(5 * POLL)  # a producer blocked on the full pipe sees the close at once


# ---------------------------------------------------------------------------------------------
# Config and manifest


class RemoteTarget:
    """The registry repository as the place of the config; the manifests its ``tags`` name now
    are those a re-pack of unchanged content returns (so pushing the same content twice leaves
    each tag on the same digest, as a local re-pack does)."""

    def __init__(self, remote: RemoteRepository, tags: Sequence[str]) -> None:
        self.remote = remote
        self.tags = list(tags)
        self._found: list[Manifest] = []

    def look_up(self) -> None:
        """Read what the tags name now. Done before anything else, one request at a time: the
        first requests to a registry settle its scheme and credentials, which parallel first
        requests would each try to settle at once. Also fails fast (an unreachable registry,
        refused credentials) before any layer is read."""
        if not self.tags:
            self.remote.client.request("GET", "/v2/", scope="", expect=(200,))
        for tag in self.tags:
            try:
                desc = self.remote.resolve(tag)
                if desc.media_type != mt.OCI_MANIFEST:
                    continue
                manifest = Manifest.from_bytes(read_blob_bytes(self.remote, desc))
            except (NotFoundError, FormatError, IntegrityError):
                continue  # no such tag, or nothing a pack would have written: no candidate
            # reused only when our encoding gives its very bytes (the tag then stays where it is)
            if manifest.descriptor().digest == desc.digest:
                self._found.append(manifest)

    def put_config(self, media_type: str, data: bytes) -> Descriptor:
        desc = Descriptor(media_type, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
        if not self.remote.exists(desc):
            self.remote.push_from(desc, lambda offset: cast(BinaryIO, io.BytesIO(data[offset:])))
        log.info("Pushed configuration: %s", desc.digest)
        return desc

    def candidates(self, artifact_type: str) -> list[Manifest]:
        return [m for m in self._found if m.artifact_type == artifact_type]

    def read_blob(self, desc: Descriptor) -> bytes:
        return read_blob_bytes(self.remote, desc)
