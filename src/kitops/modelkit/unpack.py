"""``kit unpack``: ModelKit -> files, verified before anything gets its final name.

Each selected layer is extracted into temporary names beside their targets while
its digest (and diffId, for compressed layers) is computed; only when the layer
verifies are the files renamed into place. Paths are checked component by
component: absolute names, ``..`` escapes, links leaving the target directory
and device files are refused (spec §7 #14, #18; registries-and-users §3).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import posixpath
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from kitops.errors import AlreadyExistsError, FormatError, IntegrityError, UsageError
from kitops.kitfile.validate import clean_path
from kitops.modelkit.compression import decompression_errors, open_decompressed
from kitops.modelkit.read import LayerBinding, ModelKit, bind_layers
from kitops.modelkit.tar import iter_tar
from kitops.oci.reference import is_modelkit_reference
from kitops.progress import NULL_PROGRESS, Cancel, Progress
from kitops.store.base import BLOB_BUFFER, ReadableStore, VerifyingReader

log = logging.getLogger(__name__)

FILTER_TYPES = ("kitfile", "model", "datasets", "code", "docs", "prompts")
_TYPE_FOR_LAYER = {"model": "model", "modelpart": "model", "dataset": "datasets", "code": "code", "docs": "docs"}


@dataclass(frozen=True)
class UnpackFilter:
    types: frozenset[str]
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> UnpackFilter:
        """``type1,type2[:name1,name2]``."""
        if text.count(":") > 1:
            raise UsageError(
                "invalid filter: should be in format <type1>,<type2>[:<filter1>,<filter2>]",
                hint="example: --filter model,datasets:training-data",
            )
        types_part, _, names_part = text.partition(":")
        types = [t.strip() for t in types_part.split(",") if t.strip()]
        for t in types:
            if t not in FILTER_TYPES:
                raise UsageError(
                    f"invalid filter type {t} (must be one of 'kitfile', 'model', 'datasets', 'code', or 'docs')",
                    hint="prompts are selected with 'code' or 'prompts'",
                )
        names = tuple(n.strip() for n in names_part.split(",") if n.strip()) if names_part else ()
        return cls(frozenset(types), names)

    @property
    def text(self) -> str:
        """The filter as written on the command line (types sorted)."""
        types = ",".join(sorted(self.types))
        return f"{types}:{','.join(self.names)}" if self.names else types

    def matches(self, binding: LayerBinding) -> bool:
        ftype = _TYPE_FOR_LAYER.get(binding.base_type, binding.base_type)
        subtype = "prompts" if (binding.desc.annotations or {}).get("ml.kitops.modelkit.layer-subtype") == "prompt" else None
        if ftype not in self.types and not (subtype and subtype in self.types):
            return False
        if not self.names:
            return True
        candidates = {binding.path}
        if binding.base_type in ("model", "modelpart", "dataset") and binding.name:
            candidates.add(binding.name)
        return any(n in candidates for n in self.names)


def filters_for_parent(filters: Sequence[UnpackFilter]) -> list[UnpackFilter]:
    """What to unpack from a referenced parent ModelKit: only model layers, by the user's names.

    No user filters -> the model; user filters without the model type -> nothing (``[]``).
    """
    if not filters:
        return [UnpackFilter(frozenset({"model"}))]
    return [UnpackFilter(frozenset({"model"}), f.names) for f in filters if "model" in f.types]


def parse_filters(texts: Sequence[str]) -> list[UnpackFilter]:
    return [UnpackFilter.parse(t) for t in texts]


def wants_kitfile(filters: Sequence[UnpackFilter]) -> bool:
    return not filters or any("kitfile" in f.types for f in filters)


def select_layers(bindings: Sequence[LayerBinding], filters: Sequence[UnpackFilter]) -> list[LayerBinding]:
    if not filters:
        return list(bindings)
    return [b for b in bindings if any(f.matches(b) for f in filters)]


def check_filters(kit: ModelKit, filters: Sequence[UnpackFilter]) -> None:
    """Refuse a filter whose names match nothing: a mistyped name would otherwise "succeed" with
    nothing unpacked. Names of the model may belong to a referenced parent ModelKit, so they are
    not checked when there is one. A type with no layers is only worth a warning (a script may
    ask every ModelKit for its docs). Called before anything (parents included) is written."""
    bindings = bind_layers(kit)
    model_path = kit.kitfile.model.path if kit.kitfile.model else ""
    has_parent = bool(model_path) and is_modelkit_reference(model_path)
    for f in filters:
        layer_types = f.types - {"kitfile"}
        if not layer_types or any(f.matches(b) for b in bindings):
            continue
        if not f.names:
            log.warning("No %s layers in this ModelKit: nothing to unpack for --filter %s", "/".join(sorted(layer_types)), f.text)
            continue
        if has_parent and "model" in layer_types:
            continue
        available = [_describe(b) for b in bindings] or ["no layers"]
        hint = "names are matched exactly (no wildcards) against the Kitfile's name or path of each entry"
        raise UsageError(f"--filter {f.text} matches nothing in this ModelKit; it has: {'; '.join(available)}",
                         hint=hint)


def _describe(binding: LayerBinding) -> str:
    kind = _TYPE_FOR_LAYER.get(binding.base_type, binding.base_type)
    if binding.name and binding.base_type in ("model", "modelpart", "dataset"):
        return f"{kind} {binding.name!r} (path {binding.path})"
    return f"{kind} (path {binding.path})"


@dataclass
class UnpackResult:
    target: Path
    layers: list[LayerBinding] = field(default_factory=list)
    kitfile_written: bool = False
    files: int = 0
    skipped: int = 0


def write_kitfile(kit: ModelKit, target: Path, *, overwrite: bool) -> bool:
    """Write ``target/Kitfile``; an identical existing file is fine, a different one needs overwrite."""
    path = target / "Kitfile"
    data = kit.kitfile.to_yaml().encode("utf-8")
    if os.path.lexists(path):
        if not path.is_file() or path.is_symlink():
            raise AlreadyExistsError(f"failed to unpack config: path {path} exists and is not a regular file")
        if not overwrite:
            existing = path.read_bytes()
            if existing == data:
                log.info("Found existing Kitfile at %s", path)
                return False
            raise AlreadyExistsError(
                f"failed to unpack: Kitfile exists and does not match model's Kitfile ({path})",
                hint="use --overwrite to replace it, or unpack into another directory with -d",
            )
    from kitops.store.layout import atomic_write

    log.info("Unpacking config to %s", path)
    atomic_write(path, data)
    return True


class _DiffIdReader:
    """Hashes the uncompressed stream (diffId) as the tar reader consumes it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.hasher = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.hasher.update(data)
        return data

    def readinto(self, buf: memoryview) -> int:
        n = self._raw.readinto(buf)  # type: ignore[attr-defined]
        self.hasher.update(buf[:n])
        return int(n)


class _CountingReader:
    def __init__(self, raw: VerifyingReader, key: str, progress: Progress, cancel: Cancel | None) -> None:
        self._raw = raw
        self._key = key
        self._progress = progress
        self._cancel = cancel

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._progress.advance(self._key, len(data))
        return data

    def readinto(self, buf: memoryview) -> int:
        if self._cancel is not None:
            self._cancel.check()
        n = self._raw.readinto(buf)
        self._progress.advance(self._key, n)
        return n


def _safe_relative(name: str) -> str:
    """Validate a tar entry name; return its cleaned relative form."""
    if not name or "\0" in name:
        raise IntegrityError(f"illegal file path: {name!r}: empty or NUL in name")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise IntegrityError(f"illegal file path: {name}: absolute paths are not allowed")
    cleaned = posixpath.normpath(norm)
    if cleaned == ".." or cleaned.startswith("../"):
        raise IntegrityError(f"illegal file path: {name}: escapes the target directory")
    return cleaned


def _inside(root_real: str, path: str) -> bool:
    return path == root_real or path.startswith(root_real.rstrip(os.sep) + os.sep)


class _LayerExtraction:
    """Extracts one layer into temporary names; ``commit`` renames them after verification."""

    def __init__(self, root: Path, base: Path, *, overwrite: bool, ignore_existing: bool) -> None:
        self.root_real = os.path.realpath(root)
        self.base = base
        self.overwrite = overwrite
        self.ignore_existing = ignore_existing
        self.pending: list[tuple[str, str]] = []  # (tmp, final)
        self.links: list[tuple[str, str, str]] = []  # (kind, target, final)
        self.dir_modes: list[tuple[str, int]] = []
        self.finals: set[str] = set()
        self.files = 0
        self.skipped = 0

    def _ensure_parent(self, final: str) -> None:
        parent = os.path.dirname(final)
        os.makedirs(parent, mode=0o755, exist_ok=True)
        real_parent = os.path.realpath(parent)
        if not _inside(self.root_real, real_parent):
            raise IntegrityError(f"illegal file path: {final}: a symlink leads outside the target directory")

    def _target(self, name: str) -> tuple[str, str]:
        rel = _safe_relative(name)
        final = os.path.join(str(self.base), rel) if rel != "." else str(self.base)
        if not _inside(self.root_real, os.path.realpath(os.path.dirname(final)) if rel != "." else self.root_real):
            # the lexical check passed, so only a symlink on the way can lead out
            raise IntegrityError(f"illegal file path: {name}: a symlink leads outside the target directory")
        return rel, final

    def directory(self, name: str, mode: int) -> None:
        rel, final = self._target(name)
        if rel == ".":
            return
        if os.path.lexists(final):
            if not os.path.isdir(final) or os.path.islink(final):
                raise AlreadyExistsError(f"path '{final}' already exists and is not a directory")
            return
        self._ensure_parent(final)
        os.makedirs(final, mode=0o755, exist_ok=True)
        self.dir_modes.append((final, mode & 0o777))

    def file(self, name: str, mode: int, reader: object, buf: memoryview) -> None:
        _rel, final = self._target(name)
        if os.path.lexists(final) or final in self.finals:
            if self.ignore_existing:
                log.debug("skipping existing file %s", final)
                self.skipped += 1
                return
            if not self.overwrite:
                raise AlreadyExistsError(
                    f"path '{final}' already exists",
                    hint="use --overwrite to replace files, or --ignore-existing to keep them",
                )
            if not os.path.isfile(final) or os.path.islink(final):
                raise AlreadyExistsError(f"path '{final}' already exists and is not a regular file")
        self._ensure_parent(final)
        tmp = os.path.join(os.path.dirname(final), f".{os.path.basename(final)[:200]}.kit-partial-{os.getpid()}-{id(self)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        self.pending.append((tmp, final))
        self.finals.add(final)
        with os.fdopen(fd, "wb", buffering=0) as out:
            while True:
                n = reader.readinto(buf)  # type: ignore[attr-defined]
                if not n:
                    break
                view = buf[:n]
                while view:
                    w = out.write(view)
                    view = view[w:]
            os.fchmod(out.fileno(), mode & 0o777)  # setuid/setgid/sticky are dropped
        self.files += 1

    def link(self, kind: str, name: str, linkname: str) -> None:
        rel, final = self._target(name)
        if kind == "symlink":
            if linkname.startswith("/"):
                raise IntegrityError(f"illegal link: {name} -> {linkname}: absolute link targets are not allowed")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), linkname))
        else:
            resolved = _safe_relative(linkname)
        if resolved == ".." or resolved.startswith("../"):
            raise IntegrityError(f"illegal link: {name} -> {linkname}: points outside the target directory")
        if os.path.lexists(final) and not self.overwrite:
            if self.ignore_existing:
                self.skipped += 1
                return
            raise AlreadyExistsError(f"path '{final}' already exists")
        target = linkname if kind == "symlink" else os.path.join(str(self.base), resolved)
        self.links.append((kind, target, final))

    def commit(self) -> None:
        for tmp, final in self.pending:
            os.replace(tmp, final)
        self.pending.clear()
        for kind, target, final in self.links:
            self._ensure_parent(final)
            with contextlib.suppress(FileNotFoundError):
                if self.overwrite:
                    os.unlink(final)
            if kind == "symlink":
                os.symlink(target, final)
            else:
                os.link(target, final)
        for path, mode in reversed(self.dir_modes):
            os.chmod(path, mode | 0o700 if mode & 0o700 != 0o700 else mode)

    def abort(self) -> None:
        for tmp, _final in self.pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self.pending.clear()


def extract_layer(
    store: ReadableStore,
    binding: LayerBinding,
    target: Path,
    *,
    overwrite: bool = False,
    ignore_existing: bool = False,
    progress: Progress = NULL_PROGRESS,
    cancel: Cancel | None = None,
) -> tuple[int, int]:
    """Extract one layer, verifying digest and diffId; returns (files written, files skipped)."""
    if binding.entry is None:
        raise FormatError(f"layer {binding.desc.digest} ({binding.base_type}) has no matching Kitfile entry")
    base = target
    if binding.legacy_paths and binding.path:
        base = target / posixpath.dirname(clean_path(binding.path))
    key = binding.desc.digest
    progress.begin(key, f"unpacking {binding.base_type}", binding.desc.size)
    job = _LayerExtraction(target, base, overwrite=overwrite, ignore_existing=ignore_existing)
    try:
        with store.fetch(binding.desc) as raw:
            verifying = raw if isinstance(raw, VerifyingReader) else VerifyingReader(raw, binding.desc)
            counted = _CountingReader(verifying, key, progress, cancel)
            decompressed = open_decompressed(counted, binding.compression)  # type: ignore[arg-type]
            diff = _DiffIdReader(decompressed) if binding.compression != "none" else None
            tar_stream = diff if diff is not None else decompressed
            buf = memoryview(bytearray(BLOB_BUFFER))
            try:
                for entry, reader in iter_tar(tar_stream):  # type: ignore[arg-type]
                    if entry.typeflag == "dir":
                        job.directory(entry.name, entry.mode)
                    elif entry.typeflag == "file":
                        job.file(entry.name, entry.mode, reader, buf)
                    else:
                        job.link(entry.typeflag, entry.name, entry.linkname)
            except (FormatError, *decompression_errors()) as exc:  # type: ignore[misc]
                # Unreadable content: if the blob does not match its digest, that is the real story.
                verifying.verify_rest()
                if isinstance(exc, FormatError):
                    raise
                raise FormatError(f"layer {binding.desc.digest} is not a valid archive: {exc}") from None
            if diff is not None:
                while diff.readinto(buf):
                    pass
            verifying.verify_rest()
            info = getattr(binding.entry, "layer", None)
            want_diff = info.diff_id if info is not None and info.diff_id else None
            got_diff = "sha256:" + diff.hasher.hexdigest() if diff is not None else binding.desc.digest
            if want_diff and want_diff != got_diff:
                raise IntegrityError(
                    f"layer {binding.desc.digest}: uncompressed content does not match diffId {want_diff} (got {got_diff})",
                    hint="the ModelKit is corrupt or was tampered with",
                )
        job.commit()
    except BaseException as exc:
        job.abort()
        progress.end(key, exc)
        raise
    progress.end(key)
    return job.files, job.skipped


def layer_log_line(binding: LayerBinding, target: Path) -> str:
    where = target / clean_path(binding.path) if binding.path else target
    return {
        "model": f"Unpacking model {binding.name} to {where}",
        "modelpart": f"Unpacking model part {binding.name} to {where}",
        "code": f"Unpacking code to {where}",
        "dataset": f"Unpacking dataset {binding.name} to {where}",
        "docs": f"Unpacking docs to {where}",
    }.get(binding.base_type, f"Unpacking {binding.base_type} to {where}")


def unpack_modelkit(
    store: ReadableStore,
    kit: ModelKit,
    target: str | os.PathLike[str],
    *,
    filters: Sequence[UnpackFilter] = (),
    overwrite: bool = False,
    ignore_existing: bool = False,
    include_kitfile: bool | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    concurrency: int = 4,
) -> UnpackResult:
    progress = progress or NULL_PROGRESS
    bindings = bind_layers(kit)
    root = Path(target).absolute()
    root.mkdir(parents=True, exist_ok=True)
    result = UnpackResult(root)
    if include_kitfile if include_kitfile is not None else wants_kitfile(filters):
        result.kitfile_written = write_kitfile(kit, root, overwrite=overwrite)
    selected = select_layers(bindings, filters)
    result.layers = selected
    for b in selected:
        log.info("%s", layer_log_line(b, root))
    if not selected:
        return result
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(selected))), thread_name_prefix="kit-unpack") as pool:
        futures = [
            pool.submit(
                extract_layer, store, b, root,
                overwrite=overwrite, ignore_existing=ignore_existing, progress=progress, cancel=cancel,
            )
            for b in selected
        ]
        errors = []
        for f in futures:
            try:
                files, skipped = f.result()
                result.files += files
                result.skipped += skipped
            except BaseException as exc:
                errors.append(exc)
                if cancel is not None:
                    cancel.cancel()
        if errors:
            raise errors[0]
    return result

