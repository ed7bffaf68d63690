"""ModelKit layers as image layers.

A ModelKit tar layer holds paths relative to the ModelKit root (``model/x.gguf``). Placed at
``/`` (the default workdir) it is already a valid image layer: the very blob is listed in the
image manifest under an image media type, so the registry keeps the weights once for the
ModelKit and every image built from it. Any other workdir needs the paths prefixed, which is a
new blob: written in one streaming pass (tar rewrite and SHA-256 together) into a scratch file.
A raw layer (one file, ModelPack ``--layer-format raw``) is wrapped into a tar entry the same way.
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kitops.errors import FormatError, NotFoundError
from kitops.modelkit.compression import open_decompressed
from kitops.modelkit.read import LayerBinding
from kitops.modelkit.tar import GoTarWriter, iter_tar
from kitops.oci.models import Descriptor
from kitops.progress import NULL_PROGRESS, Cancel, Progress
from kitops.store.base import ReadableStore, VerifyingReader

# Where an image layer came from, on its descriptor in the image manifest (``kit image inspect``).
ANNOTATION_LAYER_TYPE = "ml.kitops.modelkit.layer.type"
ANNOTATION_LAYER_PATH = "ml.kitops.modelkit.layer.path"
ANNOTATION_LAYER_DIGEST = "ml.kitops.modelkit.layer.digest"  # the ModelKit blob, when rewritten
BUFFER = 4 << 20  # large reads: hashing and file I/O release the GIL on them
DIR_MODE = 0o755

_OCI_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
_DOCKER_TYPES = {
    "none": "application/vnd.docker.image.rootfs.diff.tar",
    "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
}


def image_layer_type(compression: str, *, docker: bool) -> str:
    """The image media type of a tar layer; a Docker v2s2 image has no zstd type (KeyError)."""
    return (_DOCKER_TYPES if docker else _OCI_TYPES)[compression]


def needs_oci(bindings: Sequence[LayerBinding], workdir: str) -> bool:
    """Whether a layer is used as it is with zstd compression, which only OCI manifests can list."""
    return any(plan_kind(b, workdir) == "shared" and b.compression == "zstd" for b in bindings)


@dataclass(frozen=True)
class ImageLayer:
    """One ModelKit layer as the image lists it. ``source`` is the ModelKit blob copied as it is
    (shared); ``file`` the rewritten layer in the scratch directory otherwise."""

    descriptor: Descriptor
    diff_id: str
    kind: str
    path: str
    source: Descriptor | None = None
    file: Path | None = None


def prefix_for(binding: LayerBinding, workdir: str) -> str:
    """The directory the layer's tar paths must be placed under, relative to ``/``. A legacy
    layer (written before configs held digests) holds paths relative to its entry's directory."""
    prefix = workdir.strip("/")
    if binding.legacy_paths and binding.layer_format == "tar":
        parent = posixpath.dirname(binding.path.strip("/"))
        if parent and parent != ".":
            prefix = posixpath.join(prefix, parent) if prefix else parent
    return prefix


def plan_kind(binding: LayerBinding, workdir: str) -> str:
    """``shared`` (the ModelKit blob as it is), ``retar`` (paths prefixed) or ``wrap`` (a raw file)."""
    if binding.layer_format == "raw":
        return "wrap"
    if binding.layer_format != "tar":
        raise FormatError(
            f"layer {binding.desc.digest} ({binding.desc.media_type}) is of a type kit cannot place in an image"
        )
    return "retar" if prefix_for(binding, workdir) else "shared"


def plan_layer(
    binding: LayerBinding,
    store: ReadableStore,
    *,
    workdir: str,
    docker: bool,
    scratch: Path,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> ImageLayer:
    """The image layer for ``binding``: the ModelKit blob with its diff_id (computed by streaming
    it when the ModelKit config does not record it), or a rewritten blob in ``scratch``."""
    kind = plan_kind(binding, workdir)
    origin = {ANNOTATION_LAYER_TYPE: binding.base_type, ANNOTATION_LAYER_PATH: binding.target_path}
    if kind == "shared":
        diff_id = _known_diff_id(binding) or _stream_diff_id(binding, store, progress, cancel)
        media_type = image_layer_type(binding.compression, docker=docker and binding.compression != "zstd")
        desc = Descriptor(media_type, binding.desc.digest, binding.desc.size, annotations=origin)
        return ImageLayer(desc, diff_id, binding.base_type, binding.target_path, source=binding.desc)
    fd, name = tempfile.mkstemp(dir=scratch, prefix="layer-", suffix=".tar")
    target = Path(name)
    key = binding.desc.digest
    prog = progress or NULL_PROGRESS
    prog.begin(key, "placing under " + "/" + workdir.strip("/"), binding.desc.size)
    try:
        with open(fd, "wb", buffering=0) as out, store.fetch(binding.desc) as raw:
            sink = _HashingFile(out)
            counted = _Counting(raw, lambda n: _advance(prog, key, n, cancel))  # the blob's bytes read
            if kind == "wrap":
                _wrap_raw(counted, binding, prefix_for(binding, workdir), sink)  # type: ignore[arg-type]
            else:
                _retar(counted, binding, prefix_for(binding, workdir), sink)  # type: ignore[arg-type]
            _finish(raw)
    except BaseException as exc:
        prog.end(key, exc)
        target.unlink(missing_ok=True)
        raise
    prog.end(key)
    digest = "sha256:" + sink.hasher.hexdigest()
    annotations = {**origin, ANNOTATION_LAYER_DIGEST: binding.desc.digest}
    desc = Descriptor(image_layer_type("none", docker=docker), digest, sink.size, annotations=annotations)
    return ImageLayer(desc, digest, binding.base_type, binding.target_path, file=target)


def _advance(progress: Progress, key: str, n: int, cancel: Cancel | None) -> None:
    if cancel is not None:
        cancel.check()
    progress.advance(key, n)


def _known_diff_id(binding: LayerBinding) -> str:
    if binding.compression == "none":
        return binding.desc.digest  # an uncompressed layer is its own diff_id
    return binding.diff_ids[0] if binding.diff_ids else ""


def _stream_diff_id(
    binding: LayerBinding, store: ReadableStore, progress: Progress | None, cancel: Cancel | None
) -> str:
    """The SHA-256 of the uncompressed tar, read through once (the blob verified on the way)."""
    prog = progress or NULL_PROGRESS
    key = binding.desc.digest
    prog.begin(key, "hashing", binding.desc.size)
    hasher = hashlib.sha256()
    buf = bytearray(BUFFER)
    view = memoryview(buf)
    try:
        with store.fetch(binding.desc) as raw:
            counted = _Counting(raw, lambda n: _advance(prog, key, n, cancel))
            plain = open_decompressed(counted, binding.compression)  # type: ignore[arg-type]
            while n := plain.readinto(view):  # type: ignore[attr-defined]
                hasher.update(view[:n])
            _finish(raw)
    except BaseException as exc:
        prog.end(key, exc)
        raise
    prog.end(key)
    return "sha256:" + hasher.hexdigest()


def _finish(raw: BinaryIO) -> None:
    """Read what the consumer left (end blocks, padding) so the blob's digest is checked."""
    if isinstance(raw, VerifyingReader):
        raw.verify_rest()


class _Counting:
    """Reports the compressed bytes read (the blob's progress) as they go by."""

    def __init__(self, raw: BinaryIO, on_bytes: object) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._on_bytes(len(data))  # type: ignore[operator]
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        n = int(self._raw.readinto(buf))  # type: ignore[attr-defined]
        self._on_bytes(n)  # type: ignore[operator]
        return n

    def readable(self) -> bool:
        return True


class _HashingFile:
    """The scratch file a rewritten layer goes into, hashed and counted as it is written."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.hasher.update(data)
        view = memoryview(data)
        while view:
            view = view[self._out.write(view) or 0 :]
        self.size += len(data)
        return len(data)


class _EntryData:
    """An entry's data as :class:`GoTarWriter` reads a file: ``readinto`` and a final ``read``."""

    def __init__(self, reader: object) -> None:
        self._reader = reader

    def readinto(self, buf: memoryview) -> int:
        return int(self._reader.readinto(buf))  # type: ignore[attr-defined]

    def read(self, n: int = -1) -> bytes:
        return b""  # called once at the end: the entry reader stops at the entry's size


def _parents(prefix: str) -> list[str]:
    parts = [p for p in prefix.split("/") if p]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _retar(raw: BinaryIO, binding: LayerBinding, prefix: str, sink: _HashingFile) -> None:
    """Copy the layer's tar with every path placed under ``prefix`` (an uncompressed tar out)."""
    writer = GoTarWriter(sink)
    for parent in _parents(prefix):
        writer.add_dir(parent, DIR_MODE)
    plain = open_decompressed(raw, binding.compression)
    for entry, reader in iter_tar(plain):
        name = posixpath.join(prefix, entry.name.lstrip("/"))
        if entry.typeflag == "dir":
            writer.add_dir(name.rstrip("/"), entry.mode)
        elif entry.typeflag == "file":
            writer.add_file(name, entry.mode, entry.size, _EntryData(reader))  # type: ignore[arg-type]
        else:
            raise FormatError(
                f"layer {binding.desc.digest} holds a {entry.typeflag} ({entry.name}): "
                "it can be placed under a workdir only when it holds files and directories",
                hint="build with the default --workdir /",
            )
    writer.close()
    if plain is not raw:  # the decompressor may stop before the compressed stream's end
        while plain.read(BUFFER):
            pass


def _wrap_raw(raw: BinaryIO, binding: LayerBinding, prefix: str, sink: _HashingFile) -> None:
    """A raw layer (one file) as a tar of that file at its path under ``prefix``."""
    name = posixpath.join(prefix, binding.filepath) if prefix else binding.filepath
    writer = GoTarWriter(sink)
    for parent in _parents(posixpath.dirname(name)):
        writer.add_dir(parent, DIR_MODE)
    plain = open_decompressed(raw, binding.compression)
    size = binding.desc.size
    if plain is not raw:
        raise FormatError(f"raw layer {binding.desc.digest} is compressed: its size is unknown")
    writer.add_file(name, 0o644, size, plain)
    writer.close()


class ScratchBlobs:
    """The rewritten layers, as a store the copy engine reads from (by digest, verified)."""

    def __init__(self, layers: Sequence[ImageLayer]) -> None:
        self._files = {layer.descriptor.digest: layer.file for layer in layers if layer.file is not None}

    def resolve(self, ref: str) -> Descriptor:
        raise NotFoundError(f"{ref}: the scratch layers have no names")

    def fetch(self, desc: Descriptor) -> BinaryIO:
        return VerifyingReader(self.open_at(desc, 0), desc)  # type: ignore[return-value]

    def open_at(self, desc: Descriptor, offset: int) -> BinaryIO:
        path = self._files.get(desc.digest)
        if path is None:
            raise NotFoundError(f"blob {desc.digest} is not a rewritten layer")
        fh = open(path, "rb")  # noqa: SIM115 - returned to the caller
        fh.seek(offset)
        return fh

    def exists(self, desc: Descriptor) -> bool:
        return desc.digest in self._files
