"""Raw layers: the bytes of one regular file as the blob, no tar around them.

An uncompressed raw blob *is* the file, so its digest is also its DiffID, a registry stores
each file once whatever artifact it appears in, and a reader may hard-link or mount it. Large
files move into the store inside the kernel (``sendfile``) while the blob writer's second
thread hashes them behind the copy: one pass over the data, as for tar layers. Where the
kernel cannot copy between the two files, the bytes go through one buffer instead.

The Kit format also allows a compressed raw layer (the Go kit writes ``…raw+gzip`` /
``…raw+zstd``): the blob is then the compressed file and the DiffID the digest of the file.
ModelPack forbids that combination; :mod:`kitops.modelkit.pack` refuses it there.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
import stat
from collections.abc import Callable, Mapping
from io import FileIO
from pathlib import Path

from kitops.errors import IntegrityError, UsageError
from kitops.kitfile.model import LayerInfo
from kitops.modelkit.compression import CompressingSink
from kitops.modelkit.layers import LayerSpec, WalkEntry, file_identity
from kitops.modelkit.packcache import CachedLayer, PackCache, layer_key
from kitops.modelkit.tar import KERNEL_COPY_MIN, Sink, send_into, tar_mode
from kitops.oci import gojson
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor
from kitops.progress import NULL_PROGRESS, Cancel, Progress
from kitops.store.base import KERNEL_COPY
from kitops.store.ingest import BlobWriter
from kitops.store.layout import LocalStore

log = logging.getLogger(__name__)

COPY_BUFFER = 1 << 20
OnBytes = Callable[[int], None]
TYPEFLAG_FILE = 0  # the number 0, as modctl, Docker Model Runner and the Go kit write it (not '0')


class HashingSink:
    """Hashes the uncompressed bytes (the DiffID) on their way into a compressor."""

    def __init__(self, dest: CompressingSink) -> None:
        self.dest = dest
        self.hasher = hashlib.sha256()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.hasher.update(data)
        return self.dest.write(data)


def regular_file(context: Path, rel: str, shown: str) -> os.stat_result:
    """The stat of the regular file ``rel`` (symlinks followed: the layer path was already
    checked to stay inside the context); anything else is refused as the Go kit refuses it."""
    try:
        st = os.stat(context / rel)
    except FileNotFoundError:
        raise UsageError(f"file {shown} does not exist", hint="check the path in the Kitfile") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(
            f"file {shown} is not a regular file",
            hint="raw layers hold one file each: point the Kitfile at files, or use --layer-format tar "
            "(or native, which packs each file of a weights directory as its own raw layer)",
        )
    return st


def metadata_time(st: os.stat_result, fixed: str | None) -> str:
    """RFC 3339 UTC, whole seconds: ``fixed`` (``SOURCE_DATE_EPOCH``'s time) when given, else the mtime."""
    if fixed is not None:
        return fixed
    when = _dt.datetime.fromtimestamp(int(st.st_mtime), tz=_dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def file_metadata(name: str, st: os.stat_result, mtime: str) -> str:
    """The ``org.cncf.model.file.metadata+json`` value: compact JSON in the Go struct's key order,
    permission bits only in ``mode``, owner 0:0 (ids of the packing machine mean nothing elsewhere)."""
    return gojson.dumps(
        {
            "name": name,
            "mode": st.st_mode & 0o777,
            "uid": 0,
            "gid": 0,
            "size": st.st_size,
            "mtime": mtime,
            "typeflag": TYPEFLAG_FILE,
        }
    )


def build_raw_layer(
    store: LocalStore,
    context: Path,
    spec: LayerSpec,
    compression: str,
    *,
    media_type: str,
    annotations: Mapping[str, str],
    fixed_mtime: str | None = None,
    progress: Progress = NULL_PROGRESS,
    cancel: Cancel | None = None,
    cache: PackCache | None = None,
) -> Descriptor:
    """Store the file ``spec.clean`` as one blob; annotate it with ``annotations`` plus its metadata."""
    rel = spec.clean
    source = context / rel
    st, ann = raw_layer_source(context, spec, annotations, fixed_mtime)
    entry = WalkEntry(rel, source, tar_mode(st.st_mode), st.st_size, file_identity(st))
    identity = layer_key([entry], compression, media_type, "raw") if cache is not None else None
    hit = cache.get(identity) if cache is not None else None
    if hit is not None and hit.media_type == media_type and store.has_blob(hit.digest):  # has_blob leases it
        assert cache is not None and identity is not None
        cache.touch(identity)
        spec.set_layer(LayerInfo(hit.digest, hit.diff_id))
        log.info("Saved %s layer: %s (file unchanged since it was packed: not read again)", rel, hit.digest)
        return Descriptor(media_type, hit.digest, hit.size, annotations=ann)
    key = f"{spec.base_type}:{rel}"
    progress.begin(key, f"packing {spec.base_type}", st.st_size)

    def advance(n: int) -> None:
        if cancel is not None:
            cancel.check()
        progress.advance(key, n)

    try:
        with store.blob_writer() as writer:
            compressed_diff_id = write_raw_layer(writer, source, st.st_size, rel, compression, advance)
            desc = writer.commit(media_type)
        diff_id = compressed_diff_id or desc.digest
    except BaseException as exc:
        progress.end(key, exc)
        raise
    progress.end(key)
    spec.set_layer(LayerInfo(desc.digest, diff_id))
    if cache is not None:
        cache.put(identity, CachedLayer(desc.digest, diff_id, desc.size, media_type))
    log.info("Saved %s layer: %s", rel, desc.digest)
    return Descriptor(media_type, desc.digest, desc.size, annotations=ann)


def raw_layer_source(
    context: Path, spec: LayerSpec, annotations: Mapping[str, str], fixed_mtime: str | None
) -> tuple[os.stat_result, dict[str, str]]:
    """The stat of the raw layer's file and its descriptor's annotations (``annotations`` plus the
    file's metadata, whose mtime is ``fixed_mtime`` when given)."""
    rel = spec.clean
    st = regular_file(context, rel, spec.file or spec.path)
    meta = file_metadata(os.path.basename(rel), st, metadata_time(st, fixed_mtime))
    return st, {**annotations, mt.ANNOTATION_FILE_METADATA: meta}


def write_raw_layer(
    dest: Sink, source: Path, size: int, rel: str, compression: str, on_bytes: OnBytes
) -> str | None:
    """Write the raw layer of the file ``source`` (``size`` bytes, no more, no less) into ``dest``:
    the same bytes whoever calls it (the store's blob writer, which may receive the file inside
    the kernel, or ``kit pack --push``). Returns the file's digest (the DiffID) when compressed,
    else None: the blob's own digest is then the DiffID."""
    with open(source, "rb", buffering=0) as fh:
        if compression == "none":
            _copy_file(fh, dest, size, rel, on_bytes)
            return None
        compressor = CompressingSink(compression, dest)
        hashing = HashingSink(compressor)
        _copy_file(fh, hashing, size, rel, on_bytes)
        compressor.close()
        return "sha256:" + hashing.hasher.hexdigest()


def _copy_file(fh: FileIO, sink: Sink, size: int, rel: str, advance: OnBytes) -> None:
    """Exactly ``size`` bytes from ``fh`` into ``sink``; a file that changes size meanwhile is an error."""
    remaining = size
    if isinstance(sink, BlobWriter) and KERNEL_COPY and size >= KERNEL_COPY_MIN:
        remaining = send_into(sink, fh.fileno(), size, advance)
    view = memoryview(bytearray(min(COPY_BUFFER, max(remaining, 1))))
    while remaining:
        n = fh.readinto(view[: min(len(view), remaining)])
        if not n:
            raise IntegrityError(f"file {rel} shrank while it was being packed", hint="pack again")
        sink.write(view[:n])
        advance(n)
        remaining -= n
    if fh.read(1):
        raise IntegrityError(f"file {rel} grew while it was being packed", hint="pack again")
