"""The one copy engine: every push, pull, export and registry-to-registry copy is ``copy``.

It resolves the reference in the source, copies every blob the destination lacks
(in parallel, verified against its descriptor on the way), and writes manifests
last so a destination never holds a manifest whose blobs are missing. With ``referrers``
the signatures, attestations and other artifacts that refer to the copied manifests come
along (see :func:`copy_referrers`), before the tag is set: a tag in the destination means
the whole of it arrived.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from kitops.errors import Cancelled, FormatError, NotFoundError, RegistryError
from kitops.oci import mediatypes as mt
from kitops.oci.digest import is_digest, sha256_digest
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
from kitops.store.referrers import (
    ReferrerSink,
    ReferrerSource,
    ScanningReferrers,
    TagLister,
    cosign_tags,
)
from kitops.workers import run_each

DEFAULT_CONCURRENCY = 5
log = logging.getLogger(__name__)


def copy(
    src: ReadableStore,
    ref: str | Descriptor,
    dst: Store,
    *,
    dst_ref: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    blob_filter: Callable[[Descriptor], bool] | None = None,
    referrers: bool = False,
) -> Descriptor:
    """Copy the manifest graph named by ``ref`` from ``src`` into ``dst``; return the root descriptor.

    ``ref`` is a tag or digest to resolve in ``src``, or the root's descriptor when the caller
    resolved it already (no second lookup). ``dst_ref`` is the tag to set in ``dst`` (defaults
    to ``ref`` when that is a tag). ``blob_filter`` can skip layers (partial copies); manifests
    and configs always go. ``referrers`` also copies what refers to every copied manifest
    (:func:`copy_referrers`), before the tag is set.
    """
    if concurrency < 1:
        raise ValueError(f"invalid argument for concurrency ({concurrency}): must be at least 1")
    progress = progress or NULL_PROGRESS
    root = ref if isinstance(ref, Descriptor) else src.resolve(ref)
    copied: dict[str, Descriptor] = {}
    _copy_node(src, dst, root, concurrency, progress, cancel, blob_filter, done=copied)
    if referrers:
        copy_referrers(
            src, dst, list(copied.values()), concurrency=concurrency, progress=progress, cancel=cancel
        )
    tag = dst_ref if dst_ref is not None else (None if isinstance(ref, Descriptor) or is_digest(ref) else ref)
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
    done: dict[str, Descriptor] | None = None,
) -> None:
    """Copy ``desc`` and what it names, an index's children first. ``depth``
    counts the indexes above ``desc`` (bounded by MAX_INDEX_DEPTH), ``done`` the nodes already
    copied in this walk, so an index listing one child many times, level after level, is not
    walked exponentially."""
    done = {} if done is None else done
    if desc.digest in done:
        return
    data = read_blob_bytes(src, desc)
    manifest = None
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
    indexed = _to_index(dst, desc, data, manifest)
    if indexed is not None and isinstance(dst, ReferrerSink):
        dst.push_referrer(indexed)  # also when stored already: re-lists one a cut-short push left out
    elif not dst.exists(desc):
        dst.push(desc, io.BytesIO(data))
    done[desc.digest] = desc


def _to_index(dst: Store, desc: Descriptor, data: bytes, manifest: Manifest | None) -> Manifest | None:
    """The manifest to store through ``dst``'s referrer indexing, or None for a plain push.

    A manifest with a ``subject`` goes through it where the destination keeps an index (a
    registry without the referrers API keeps the tag schema's), provided that re-encoding it
    gives these very bytes: its digest must not change on the way. Local storage finds
    referrers by scanning what it holds, so a plain push lists them there."""
    if (
        manifest is None
        or manifest.subject is None
        or not isinstance(dst, ReferrerSink)
        or (isinstance(dst, ScanningReferrers) and dst.referrers_by_scan)
        or desc.media_type != mt.OCI_MANIFEST
    ):
        return None
    if manifest.to_bytes() != data:
        log.warning(
            "referrer %s is copied as it is, without updating the referrers index: its JSON is not "
            "in the canonical form this client writes, and rewriting it would change its digest",
            desc.digest,
        )
        return None
    return manifest


# ---------------------------------------------------------------------------------------------
# referrers: signatures, attestations, SBOMs... of the copied manifests


@dataclass(frozen=True)
class Referrer:
    """A manifest that refers to another: found through its ``subject`` (``tag`` None), or under
    the cosign tag ``tag`` (``sha256-<hex>.sig``...) of the manifest it belongs to."""

    descriptor: Descriptor
    tag: str | None = None


class ReferrerFinder:
    """Finds the referrers of manifests in one store: the store's own referrers list (OCI 1.1
    API, tag-schema index, or local scan) and cosign's tags.

    A store that can list its tags is asked once, and only the cosign tags it has are then
    resolved: on a registry, one listing per copy instead of three lookups per manifest.
    """

    def __init__(self, src: ReadableStore) -> None:
        self._src = src
        self._tags: set[str] | None = None
        self._listed = False

    def _tag_names(self) -> set[str] | None:
        if not self._listed:
            self._listed = True
            if isinstance(self._src, TagLister):
                try:
                    self._tags = set(self._src.tags())
                except RegistryError as exc:  # listing refused: ask for each tag instead
                    log.debug("cannot list the tags of %r (%s): looking each cosign tag up", self._src, exc)
        return self._tags

    def of(self, subject: str) -> list[Referrer]:
        """The referrers of ``subject``: its cosign tags first (signature, attestation, SBOM),
        then the manifests whose ``subject`` it is."""
        found = []
        names = self._tag_names()
        for tag in cosign_tags(subject):
            if names is not None and tag not in names:
                continue
            try:
                found.append(Referrer(self._src.resolve(tag), tag))
            except NotFoundError:
                continue
        if isinstance(self._src, ReferrerSource):
            try:
                listed = self._src.referrers(subject)
            except RegistryError as exc:
                # a registry that answers the referrers API with neither a list nor a 404 (400,
                # 405...) still serves the ModelKit: copy it without them, and say so
                log.warning("the referrers of %s cannot be listed (%s): copied without them", subject, exc)
                listed = []
            for desc in listed:
                # an entry without a media type (lax registries) names an image manifest
                found.append(
                    Referrer(dataclasses.replace(desc, media_type=desc.media_type or mt.OCI_MANIFEST))
                )
        return found

    def closure(self, subjects: Sequence[str]) -> list[Referrer]:
        """The referrers of ``subjects`` and theirs in turn (a signature of an attestation), in
        breadth-first order. A manifest found again through its subject is listed once; every
        cosign tag is listed, even of a manifest already found."""
        out: list[Referrer] = []
        seen = set(subjects)
        todo = list(subjects)
        while todo:
            for found in self.of(todo.pop(0)):
                digest = found.descriptor.digest
                if digest in seen and found.tag is None:
                    continue
                out.append(found)
                if digest not in seen:
                    seen.add(digest)
                    todo.append(digest)
        return out


def copy_referrers(
    src: ReadableStore,
    dst: Store,
    subjects: Sequence[Descriptor],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> list[Referrer]:
    """Copy the referrers of ``subjects`` (and theirs) from ``src`` into ``dst``, each with its
    blobs, and set their cosign tags there; return what was copied.

    A referrer listed in ``src`` whose manifest is gone (a stale tag-schema index) is skipped
    with a warning. A cosign tag ``dst`` already has for another manifest is merged, not
    overwritten: the signatures already there stay (see :func:`_merge_tagged`).
    """
    progress = progress or NULL_PROGRESS
    found = ReferrerFinder(src).closure([d.digest for d in subjects])
    copied: dict[str, Descriptor] = {d.digest: d for d in subjects}
    out = []
    for referrer in found:
        if cancel is not None:
            cancel.check()
        desc = referrer.descriptor
        if desc.digest not in copied:
            try:
                _copy_node(src, dst, desc, concurrency, progress, cancel, None, done=copied)
            except NotFoundError as exc:
                log.warning("referrer %s is listed but cannot be copied (skipped): %s", desc.digest, exc)
                continue
        if referrer.tag is not None:
            _tag_merging(src, dst, desc, referrer.tag)
        out.append(referrer)
    return out


def _tag_merging(src: ReadableStore, dst: Store, desc: Descriptor, tag: str) -> None:
    try:
        current = dst.resolve(tag)
    except NotFoundError:
        current = None
    if current is not None:
        if current.digest == desc.digest:
            return
        merged = _merge_tagged(src, dst, desc, current)
        if merged is None:
            return
        desc = merged
    dst.tag(desc, tag)


def _merge_tagged(src: ReadableStore, dst: Store, ours: Descriptor, theirs: Descriptor) -> Descriptor | None:
    """What a cosign tag should name when ``dst`` has it for ``theirs`` and we bring ``ours``: a
    cosign manifest holds one layer per signature, so the union of both (theirs first) keeps
    every signature. None: theirs has every layer of ours already (leave it)."""
    mine = Manifest.from_bytes(read_blob_bytes(src, ours))
    try:
        other = Manifest.from_bytes(read_blob_bytes(dst, theirs))
    except FormatError as exc:
        log.warning("%s in the destination is no image manifest (%s): replaced", theirs.digest, exc)
        return ours
    missing = [layer for layer in mine.layers if layer not in other.layers]
    if not missing:
        return None
    if all(layer in mine.layers for layer in other.layers):
        return ours
    merged = dataclasses.replace(other, layers=(*other.layers, *missing), layers_null=False)
    data = merged.to_bytes()
    desc = Descriptor(theirs.media_type or mt.OCI_MANIFEST, sha256_digest(data), len(data))
    log.info(
        "merging the %d signature layers of %s into those of %s", len(missing), ours.digest, theirs.digest
    )
    dst.push(desc, io.BytesIO(data))
    return desc


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

    run_each(
        todo,
        one,
        concurrency=concurrency,
        stop=stop,
        name="kit-copy",
        cancelled=lambda: Cancelled(kept_bytes=tally.kept(keeps_partial)),
    )


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


__all__ = [
    "DEFAULT_CONCURRENCY",
    "Referrer",
    "ReferrerFinder",
    "copy",
    "copy_blobs",
    "copy_referrers",
    "copy_stream",
]
