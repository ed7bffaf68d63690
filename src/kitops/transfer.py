"""The one copy engine: every push, pull, export and registry-to-registry copy is ``copy``.

It resolves the reference in the source, copies every blob the destination lacks
(in parallel, verified against its descriptor on the way), and writes manifests
last so a destination never holds a manifest whose blobs are missing.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import BinaryIO

from kitops.errors import Cancelled, FormatError
from kitops.oci import mediatypes as mt
from kitops.oci.digest import is_digest
from kitops.oci.models import MAX_INDEX_DEPTH, Descriptor, Index, Manifest
from kitops.progress import NULL_PROGRESS, Cancel, Progress
from kitops.store.base import (
    Interruptible,
    ReadableStore,
    ResumableSink,
    SeekableSource,
    Store,
    copy_stream,
    read_blob_bytes,
)

DEFAULT_CONCURRENCY = 5


def copy(
    src: ReadableStore,
    ref: str,
    dst: Store,
    *,
    dst_ref: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    blob_filter: Callable[[Descriptor], bool] | None = None,
) -> Descriptor:
    """Copy the manifest graph named by ``ref`` from ``src`` into ``dst``; return the root descriptor.

    ``dst_ref`` is the tag to set in ``dst`` (defaults to ``ref`` when that is a tag).
    ``blob_filter`` can skip layers (partial copies); manifests and configs always go.
    """
    if concurrency < 1:
        raise ValueError(f"invalid argument for concurrency ({concurrency}): must be at least 1")
    progress = progress or NULL_PROGRESS
    root = src.resolve(ref)
    _copy_node(src, dst, root, concurrency, progress, cancel, blob_filter)
    tag = dst_ref if dst_ref is not None else (None if is_digest(ref) else ref)
    if tag:
        dst.tag(root, tag)
    return root


def _copy_node(
    src: ReadableStore,
    dst: Store,
    desc: Descriptor,
    concurrency: int,
    progress: Progress,
    cancel: Cancel | None,
    blob_filter: Callable[[Descriptor], bool] | None,
    depth: int = 0,
    done: set[str] | None = None,
) -> None:
    """Copy ``desc`` and what it names; an index's children first. ``depth`` counts the indexes
    above ``desc`` (bounded by MAX_INDEX_DEPTH), ``done`` the nodes already copied in this walk,
    so an index listing one child many times, level after level, is not walked exponentially."""
    done = set() if done is None else done
    if desc.digest in done:
        return
    data = read_blob_bytes(src, desc)
    if desc.media_type in (mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST):
        if depth >= MAX_INDEX_DEPTH:
            raise FormatError(
                f"{desc.digest}: indexes nested deeper than {MAX_INDEX_DEPTH} levels",
                hint="an index of indexes this deep is not a ModelKit; check the reference",
            )
        for child in Index.from_bytes(data).manifests:
            _copy_node(src, dst, child, concurrency, progress, cancel, blob_filter, depth + 1, done)
    else:
        try:
            manifest = Manifest.from_bytes(data)
        except FormatError as exc:
            raise FormatError(f"{desc.digest} is not an image manifest: {exc}", hint=exc.hint) from None
        blobs = [manifest.config, *manifest.layers]
        if blob_filter is not None:
            blobs = [manifest.config] + [b for b in manifest.layers if blob_filter(b)]
        copy_blobs(src, dst, _unique(blobs), concurrency=concurrency, progress=progress, cancel=cancel)
    if not dst.exists(desc):
        dst.push(desc, io.BytesIO(data))
    done.add(desc.digest)


def _unique(descs: list[Descriptor]) -> list[Descriptor]:
    seen: set[str] = set()
    out = []
    for d in descs:
        if d.digest not in seen:
            seen.add(d.digest)
            out.append(d)
    return out


def copy_blobs(
    src: ReadableStore,
    dst: Store,
    blobs: list[Descriptor],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> None:
    """Copy the blobs ``dst`` lacks, ``concurrency`` at a time; the first failure cancels the rest."""
    progress = progress or NULL_PROGRESS
    todo = [b for b in blobs if not dst.exists(b)]
    if not todo:
        return
    stop = cancel or Cancel()
    tally = _Tally()
    # capabilities, asked once per copy: both ends seekable -> the destination may retry and resume
    resumable = isinstance(dst, ResumableSink) and isinstance(src, SeekableSource)
    keeps_partial = isinstance(dst, ResumableSink) and dst.keeps_partial_blobs

    def one(desc: Descriptor) -> None:
        stop.check()
        progress.begin(desc.digest, "copying", desc.size)

        def on_bytes(n: int) -> None:
            tally.add(desc.digest, n)
            stop.check()
            progress.advance(desc.digest, n)

        def interruptible(stream: BinaryIO) -> BinaryIO:
            """Let a cancel end a read that is blocked on a stalled connection."""
            if isinstance(stream, Interruptible):
                handles.append(stop.on_cancel(stream.interrupt))
            return stream

        def open_from(offset: int) -> BinaryIO:
            stop.check()  # also after a dropped or interrupted connection: never re-open once cancelled
            assert isinstance(src, SeekableSource)
            return interruptible(src.open_at(desc, offset))

        handles: list[int] = []
        try:
            if resumable and not desc.is_manifest:
                assert isinstance(dst, ResumableSink)
                dst.push_from(desc, open_from, on_bytes=on_bytes)
            else:
                with src.fetch(desc) as stream:
                    reader = _ProgressReader(interruptible(stream), desc.digest, progress, stop, tally)
                    dst.push(desc, reader)  # type: ignore[arg-type]
        except BaseException as exc:
            progress.end(desc.digest, exc)
            if stop.cancelled and not isinstance(exc, Cancelled):
                raise Cancelled() from exc  # what a cancel looks like from inside: a broken stream
            raise
        finally:
            for handle in handles:
                stop.forget(handle)
        tally.finish(desc.digest, desc.size)
        progress.end(desc.digest)

    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(todo)), thread_name_prefix="kit-copy")
    futures = [pool.submit(one, d) for d in todo]
    try:
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    except BaseException:  # Ctrl-C arrives in this (the main) thread: stop the workers now
        _stop_workers(stop, futures)
        pool.shutdown(wait=False, cancel_futures=True)  # a worker still blocked must not hold up the stop
        raise Cancelled(kept_bytes=tally.kept(keeps_partial)) from None
    with pool:
        failed = [f for f in done if f.exception() is not None]
        if failed:
            stop.cancel()
            for f in pending:
                f.cancel()
            wait(pending)
            real = [f.exception() for f in failed if not isinstance(f.exception(), Cancelled)]
            if not real:
                raise Cancelled(kept_bytes=tally.kept(keeps_partial))
            raise real[0]  # type: ignore[misc]


CANCEL_GRACE = 1.0  # seconds the workers get to reach a chunk boundary after Ctrl-C


def _stop_workers(stop: Cancel, futures: list[Future[None]]) -> None:
    """Cancel, and give running blobs a moment to stop at a chunk boundary (a second Ctrl-C
    stops waiting). Blocked reads were interrupted by the cancel callbacks."""
    stop.cancel()
    for f in futures:
        f.cancel()
    with contextlib.suppress(BaseException):
        wait(futures, timeout=CANCEL_GRACE)


class _Tally:
    """Bytes moved per blob, to tell the user what an interrupted transfer keeps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._partial: dict[str, int] = {}
        self._complete = 0

    def add(self, key: str, n: int) -> None:
        with self._lock:
            self._partial[key] = self._partial.get(key, 0) + n

    def finish(self, key: str, size: int) -> None:
        with self._lock:
            self._partial.pop(key, None)
            self._complete += size

    def kept(self, partial_kept: bool) -> int:
        with self._lock:
            return self._complete + (sum(self._partial.values()) if partial_kept else 0)


class _ProgressReader:
    """Reports bytes as the destination pulls them, and honours cancellation per chunk."""

    def __init__(self, raw: object, key: str, progress: Progress, cancel: Cancel, tally: _Tally) -> None:
        self._raw = raw
        self._key = key
        self._progress = progress
        self._cancel = cancel
        self._tally = tally

    def read(self, n: int = -1) -> bytes:
        self._cancel.check()
        data: bytes = self._raw.read(n)  # type: ignore[attr-defined]
        self._progress.advance(self._key, len(data))
        self._tally.add(self._key, len(data))
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        self._cancel.check()
        count: int = self._raw.readinto(buf)  # type: ignore[attr-defined]
        self._progress.advance(self._key, count)
        self._tally.add(self._key, count)
        return count


__all__ = ["DEFAULT_CONCURRENCY", "copy", "copy_blobs", "copy_stream"]
