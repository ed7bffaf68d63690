"""``kit unpack``: ModelKit -> files, verified before anything gets its final name.

Each selected layer is extracted into temporary names beside their targets while
its digest (and diffId, for compressed layers) is computed; only when the layer
verifies are the files renamed into place. Paths are checked component by
component: absolute names, ``..`` escapes, links leaving the target directory
and device files are refused, since a ModelKit may come from anyone.
Nothing is written through a symlink; a symlink may use ``..`` only across real
directories (so no chain of links resolves outside the target); a hard link may
only point to a file of the same layer; two entries for one path are refused.
A successful unpack removes the ``.kit-partial-*`` files a killed one left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import posixpath
import shutil
import stat
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from kitops.errors import AlreadyExistsError, FormatError, IntegrityError, UsageError
from kitops.fsutil import atomic_write
from kitops.kitfile.validate import clean_path
from kitops.modelkit.compression import decompression_errors, open_decompressed
from kitops.modelkit.modelpack_read import file_metadata
from kitops.modelkit.read import LayerBinding, ModelKit, bind_layers
from kitops.modelkit.tar import EntryReader, iter_tar, parse_partial_name, partial_name
from kitops.oci.reference import is_modelkit_reference
from kitops.progress import NULL_PROGRESS, Cancel, Progress
from kitops.store.base import KERNEL_COPY, FileSender, ReadableStore, VerifyingReader

log = logging.getLogger(__name__)

FILTER_TYPES = ("kitfile", "model", "datasets", "code", "docs", "prompts")
_TYPE_FOR_LAYER = {
    "model": "model",
    "modelpart": "model",
    "dataset": "datasets",
    "code": "code",
    "docs": "docs",
}


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
        subtype = (
            "prompts"
            if (binding.desc.annotations or {}).get("ml.kitops.modelkit.layer-subtype") == "prompt"
            else None
        )
        if ftype not in self.types and not (subtype and subtype in self.types):
            return False
        if not self.names:
            return True
        candidates = {binding.path}
        if binding.filepath:  # a raw layer's own file, e.g. one shard of a model directory
            candidates.add(binding.filepath)
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
            log.warning(
                "No %s layers in this ModelKit: nothing to unpack for --filter %s",
                "/".join(sorted(layer_types)),
                f.text,
            )
            continue
        if has_parent and "model" in layer_types:
            continue
        available = [_describe(b) for b in bindings] or ["no layers"]
        hint = "names are matched exactly (no wildcards) against the Kitfile's name or path of each entry"
        raise UsageError(
            f"--filter {f.text} matches nothing in this ModelKit; it has: {'; '.join(available)}", hint=hint
        )


def _describe(binding: LayerBinding) -> str:
    if not binding.layer_format:
        return f"a layer of unknown type {binding.desc.media_type} (path {binding.path or 'unknown'})"
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
    """Reports progress and checks for cancellation as the tar reader consumes the blob."""

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


class _CountingSender(_CountingReader):
    """The same over a stored blob that can copy its bytes inside the kernel (a :class:`FileSender`)."""

    def send_to(self, out_fd: int, count: int) -> int:
        if self._cancel is not None:
            self._cancel.check()
        n = cast(FileSender, self._raw).send_to(out_fd, count)  # checked once, when this reader was chosen
        self._progress.advance(self._key, n)
        return n


RAW_FILE_MODE = 0o644  # a raw layer's file when its annotations give no mode, as the Go kit writes it
# Per layer being extracted. Network reads bring at most 1 MiB and stored blobs' large files move
# in the kernel (sendfile), so a larger buffer would only add resident memory per parallel layer.
EXTRACT_BUFFER = 1 << 20
_WINDOWS = os.name == "nt"
_OPEN_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_KIND_NAMES = {"file": "file", "dir": "directory", "symlink": "symlink", "hardlink": "hard link"}
_EXISTS_HINT = "use --overwrite to replace files, or --ignore-existing to keep them"
_CONFLICT_HINT = "the layer holds two entries for one path: it was not made by kit pack, or is corrupt"
_SYMLINK_HINT = "kit never writes through symlinks: remove the link, or unpack into another directory with -d"

# Temporary files that extractions of this process are writing (full paths): the sweep of stale
# ``.kit-partial-*`` files never touches them, whatever thread or unpack they belong to.
_LIVE_PARTIALS: set[str] = set()
_LIVE_LOCK = threading.Lock()
_SEQ = itertools.count(1)


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` sets it, racing other threads);
    on systems without ``/proc`` every bit, so that modes are always set explicitly."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o777


def _remove_tree(path: str) -> None:
    """Remove a staging directory of ours (its directories keep their owner's rwx until renamed)."""
    shutil.rmtree(path, ignore_errors=True)


def _safe_relative(name: str) -> str:
    """Validate a tar entry name; return its cleaned relative form ('/'-separated).

    A backslash is an ordinary character of a POSIX file name and is kept as one (as Go's kit
    does on Linux); on Windows, where it would silently become a separator, it is refused.
    """
    if not name or "\0" in name:
        raise IntegrityError(f"illegal file path: {name!r}: empty or NUL in name")
    if _WINDOWS and "\\" in name:
        raise IntegrityError(
            f"illegal file path: {name}: a backslash would become a directory separator on Windows",
            hint="the ModelKit was packed on a system where '\\' is part of a file name; unpack it on Linux or macOS",
        )
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise IntegrityError(f"illegal file path: {name}: absolute paths are not allowed")
    cleaned = posixpath.normpath(name)
    if cleaned == ".." or cleaned.startswith("../"):
        raise IntegrityError(f"illegal file path: {name}: escapes the target directory")
    return cleaned


def _inside(root_real: str, path: str) -> bool:
    return path == root_real or path.startswith(root_real.rstrip(os.sep) + os.sep)


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` may still be running (and writing its partial files)."""
    if pid <= 0:
        return False
    if _WINDOWS:
        return True  # no harmless probe there (os.kill terminates): leave such files alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):
        return False
    except OSError:
        return True  # EPERM: alive, someone else's
    return True


def sweep_partials(directories: Iterable[str]) -> int:
    """Remove ``.kit-partial-*`` files and staging directories an interrupted unpack left in ``directories``.

    Only regular files and directories named exactly as the extractor names them, and only when
    their writer is gone: not one this process is writing, not one of another live process.
    Returns the count.
    """
    me = os.getpid()
    removed = 0
    for directory in sorted(set(directories)):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            parsed = parse_partial_name(name)
            if parsed is None:
                continue
            path = os.path.join(directory, name)
            with _LIVE_LOCK:
                if path in _LIVE_PARTIALS:
                    continue
            if parsed[0] != me and _pid_alive(parsed[0]):
                continue
            try:
                mode = os.lstat(path).st_mode
                if stat.S_ISDIR(mode):  # a staged layer path
                    _remove_tree(path)
                elif stat.S_ISREG(mode):
                    os.unlink(path)
                else:
                    continue
            except OSError:
                continue
            removed += 1
            log.info("Removed %s, left behind by an interrupted unpack", path)
    return removed


class _FileContent(Protocol):
    """A file's data as the extractor writes it: a tar entry's, or a raw layer's."""

    def copy_to(self, fd: int, buf: memoryview) -> None: ...


class _LayerExtraction:
    """Extracts one layer into temporary names; ``commit`` renames them after verification.

    Nothing is ever written through a symlink: every directory on the way to an entry must be a
    real directory (created here when missing), files are opened with ``O_NOFOLLOW | O_EXCL``.
    A symlink may use ``..`` only across real directories, so that no chain of links can resolve
    outside the target; a hard link may only point to a regular file written by this same layer.

    A layer whose own path (``stage``) is not in the target yet is written under a hidden
    staging name beside it instead, each file directly under its own name there, and ``commit``
    renames the staging directory once: a temporary name and a rename per file cost more than
    writing a small file itself. Everything outside ``stage`` gets a temporary name per file.
    """

    def __init__(
        self, root: Path, base: Path, *, overwrite: bool, ignore_existing: bool, stage: str | None = None
    ) -> None:
        self.root_real = os.path.realpath(root)
        base_rel = os.path.relpath(os.path.abspath(base), os.path.abspath(root)).replace(os.sep, "/")
        if base_rel == ".." or base_rel.startswith("../"):
            raise IntegrityError(f"illegal layer path: {base} is outside the target directory {root}")
        self.base_rel = base_rel
        self.overwrite = overwrite
        self.ignore_existing = ignore_existing
        self.pending: list[tuple[str, str, bool]] = []  # (tmp, final, final existed)
        self.links: list[tuple[str, str, str, str]] = []  # (kind, target text or source rel, final, entry)
        self.dir_modes: list[tuple[str, int]] = []
        self.entries: dict[str, str] = {}  # rel (to the root) -> kind, for every entry of this layer
        self.implied: set[str] = set()  # directories this layer's entries need
        self.real_dirs: set[str] = {"."}  # rels checked to be real directories, component by component
        self.written: dict[str, tuple[str, int, int]] = {}  # file rel -> (final, st_dev, st_ino)
        self.skipped_files: set[str] = set()
        self.touched: set[str] = set()  # directories holding this layer's files and links
        self.files = 0
        self.skipped = 0
        self.stage_rel: str | None = None  # the layer's path, written under ``stage_dir`` until commit
        self.stage_dir = ""
        self.stage_final = ""
        if stage:
            rel = self._rel(stage)
            final = self._abs(rel)
            if rel != "." and not os.path.lexists(final):
                self.stage_rel = rel
                self.stage_final = final
                self.stage_dir = os.path.join(
                    os.path.dirname(final), partial_name(os.path.basename(final), os.getpid(), next(_SEQ))
                )
                with _LIVE_LOCK:
                    _LIVE_PARTIALS.add(self.stage_dir)
        self.mode_mask = _umask()  # permission bits the kernel would clear at creation

    # -- paths ---------------------------------------------------------------------------------

    def _rel(self, name: str) -> str:
        rel = _safe_relative(name)
        if self.base_rel != ".":
            rel = self.base_rel if rel == "." else f"{self.base_rel}/{rel}"
        return rel

    def _abs(self, rel: str) -> str:
        """Where ``rel`` is written now: under the staging directory when it is in the staged path."""
        if rel == ".":
            return self.root_real
        if self.stage_rel is not None and self._staged(rel):
            return self.stage_dir + rel[len(self.stage_rel) :]
        return os.path.join(self.root_real, rel)

    def _staged(self, rel: str) -> bool:
        stage = self.stage_rel
        return stage is not None and (rel == stage or (rel.startswith(stage) and rel[len(stage)] == "/"))

    def _through_symlink(self, name: str, path: str) -> IntegrityError:
        try:
            shown = f"{path} -> {os.readlink(path)}"
        except OSError:
            shown = path
        if not _inside(self.root_real, os.path.realpath(path)):
            return IntegrityError(
                f"illegal file path: {name}: a symlink leads outside the target directory ({shown})",
                hint=_SYMLINK_HINT,
            )
        return IntegrityError(
            f"cannot unpack archive entry {name}: {shown} is a symlink on its way", hint=_SYMLINK_HINT
        )

    def _ensure_dir(self, rel: str, name: str) -> bool:
        """Make ``rel`` a real directory, creating missing components; True if its last one was created."""
        if rel in self.real_dirs:
            return False
        parts = rel.split("/")
        created = False
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub in self.real_dirs:
                continue
            kind = self.entries.get(sub)
            if kind is not None and kind != "dir":
                raise FormatError(
                    f"archive entry {name} needs {sub} to be a directory, but the layer also has {sub} as a "
                    f"{_KIND_NAMES[kind]}",
                    hint=_CONFLICT_HINT,
                )
            self.implied.add(sub)
            path = self._abs(sub)
            created = False
            try:
                os.mkdir(path, 0o755)
                created = True
            except FileExistsError:
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    raise self._through_symlink(name, path) from None
                if not stat.S_ISDIR(st.st_mode):
                    raise AlreadyExistsError(
                        f"cannot unpack archive entry {name}: {path} exists and is not a directory",
                        hint="move it away, or unpack into another directory with -d",
                    ) from None
            self.real_dirs.add(sub)
        return created

    def _is_real_dir(self, rel: str) -> bool:
        """``rel`` is a directory now, and so is every component on its way (no symlink)."""
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub in self.real_dirs:
                continue
            if self.entries.get(sub, "dir") != "dir":
                return False  # a file or link of this layer, not on disk yet
            try:
                if not stat.S_ISDIR(os.lstat(self._abs(sub)).st_mode):
                    return False
            except OSError:
                return False
            self.real_dirs.add(sub)
        return True

    def _claim(self, rel: str, name: str, kind: str) -> None:
        """Refuse a second entry for one path in this layer (two directory entries are fine)."""
        prior = self.entries.get(rel)
        if prior is not None and not (prior == kind == "dir"):
            raise FormatError(
                f"archive entry {name} ({_KIND_NAMES[kind]}) conflicts with an earlier entry of the layer for the "
                f"same path {self._abs(rel)} ({_KIND_NAMES[prior]})",
                hint=_CONFLICT_HINT,
            )
        if kind != "dir" and rel in self.implied:
            raise FormatError(
                f"archive entry {name} is a {_KIND_NAMES[kind]}, but earlier entries of the layer use "
                f"{self._abs(rel)} as a directory",
                hint=_CONFLICT_HINT,
            )
        self.entries[rel] = kind

    def _existing(self, final: str, name: str, kind: str) -> bool | None:
        """Whether ``final`` exists and may be replaced; None when the entry is to be skipped."""
        try:
            st = os.lstat(final)
        except FileNotFoundError:
            return False
        if self.ignore_existing:
            log.debug("skipping existing file %s", final)
            return None
        if stat.S_ISDIR(st.st_mode):
            raise AlreadyExistsError(
                f"cannot unpack archive entry {name} ({_KIND_NAMES[kind]}): {final} exists and is a directory",
                hint="move it away, or unpack into another directory with -d",
            )
        if not self.overwrite:
            raise AlreadyExistsError(
                f"path '{final}' already exists (archive entry {name})", hint=_EXISTS_HINT
            )
        if kind == "file" and not stat.S_ISREG(st.st_mode):
            raise AlreadyExistsError(
                f"path '{final}' already exists and is not a regular file (archive entry {name})"
            )
        return True

    def _not_the_root(self, name: str, kind: str) -> None:
        if _safe_relative(name) == "." or name.endswith("/"):
            raise FormatError(
                f"archive entry {name!r} is a {_KIND_NAMES[kind]} but its name is a directory's",
                hint=_CONFLICT_HINT,
            )

    # -- entries -------------------------------------------------------------------------------

    def directory(self, name: str, mode: int) -> None:
        rel = self._rel(name)
        if rel == self.base_rel:
            self._ensure_dir(rel, name)
            return
        self._claim(rel, name, "dir")
        if self._ensure_dir(rel, name):
            self.dir_modes.append((self._abs(rel), mode & 0o777))

    def file(self, name: str, mode: int, reader: _FileContent, buf: memoryview) -> None:
        self._not_the_root(name, "file")
        rel = self._rel(name)
        self._claim(rel, name, "file")
        self._ensure_dir(posixpath.dirname(rel) or ".", name)
        final = self._abs(rel)
        if self._staged(rel):  # a new directory of ours: nothing there to check or replace
            path = final
        else:
            self.touched.add(os.path.dirname(final))
            existed = self._existing(final, name, "file")
            if existed is None:
                self.skipped += 1
                self.skipped_files.add(rel)
                return
            path = os.path.join(
                os.path.dirname(final), partial_name(os.path.basename(final), os.getpid(), next(_SEQ))
            )
            with _LIVE_LOCK:
                _LIVE_PARTIALS.add(path)
            self.pending.append((path, final, existed))
        perm = mode & 0o777  # setuid/setgid/sticky are dropped
        fd = os.open(path, _OPEN_FLAGS, perm)
        try:
            reader.copy_to(fd, buf)
            if perm & self.mode_mask:
                os.fchmod(fd, perm)  # the exact mode, as packed, whatever the umask
            st = os.fstat(fd)
        finally:
            os.close(fd)
        self.written[rel] = (final, st.st_dev, st.st_ino)
        self.files += 1

    def _check_symlink(self, rel: str, name: str, linkname: str) -> None:
        """The kernel resolves ``a/..`` through ``a``: when ``a`` is a symlink, ``..`` is not the lexical
        parent. So ``..`` is allowed only after components that are real directories already, and
        must not climb above the root; everything else is resolved by links checked the same way."""
        if not linkname or "\0" in linkname:
            raise IntegrityError(f"illegal link: {name} -> {linkname!r}: empty or NUL in target")
        if linkname.startswith("/") or (_WINDOWS and ("\\" in linkname or linkname[1:2] == ":")):
            raise IntegrityError(f"illegal link: {name} -> {linkname}: absolute link targets are not allowed")
        parent = posixpath.dirname(rel)
        stack = parent.split("/") if parent else []
        checked = len(stack)  # stack[:checked] are real directories (the link's own directory)
        for part in linkname.split("/"):
            if part in ("", "."):
                continue
            if part != "..":
                stack.append(part)
                continue
            if not stack:
                raise IntegrityError(
                    f"illegal link: {name} -> {linkname}: points outside the target directory"
                )
            if len(stack) > checked:
                where = "/".join(stack)
                if not self._is_real_dir(where):
                    raise IntegrityError(
                        f"illegal link: {name} -> {linkname}: '..' after {where}, which is not a directory "
                        "(a symlink, or not there yet), could lead anywhere",
                        hint="a symlink in a ModelKit may use '..' only across real directories",
                    )
            stack.pop()
            checked = len(stack)

    def link(self, kind: str, name: str, linkname: str) -> None:
        self._not_the_root(name, kind)
        rel = self._rel(name)
        self._claim(rel, name, kind)
        self._ensure_dir(posixpath.dirname(rel) or ".", name)
        final = self._abs(rel)
        staged = self._staged(rel)
        if not staged:
            self.touched.add(os.path.dirname(final))
        if kind == "symlink":
            self._check_symlink(rel, name, linkname)
            source = linkname
        else:
            source = self._rel(linkname)
            if source in self.skipped_files:
                log.warning(
                    "skipping hard link %s: its target %s was kept as it was (--ignore-existing)",
                    name,
                    linkname,
                )
                self.skipped += 1
                return
            if source not in self.written:
                raise IntegrityError(
                    f"illegal link: {name} -> {linkname}: a hard link may only point to a regular file "
                    "extracted earlier from the same layer",
                    hint="the ModelKit was not made by kit pack; do not trust it",
                )
        if not staged and self._existing(final, name, kind) is None:
            self.skipped += 1
            return
        self.links.append((kind, source, final, name))

    # -- outcome -------------------------------------------------------------------------------

    def commit(self) -> None:
        # Another layer may have written one of our paths meanwhile: check all before renaming any.
        keep: list[tuple[str, str]] = []
        dropped: set[str] = set()
        for tmp, final, existed in self.pending:
            if not existed and not self.overwrite and os.path.lexists(final):
                if not self.ignore_existing:
                    raise AlreadyExistsError(f"path '{final}' already exists", hint=_EXISTS_HINT)
                self._drop(tmp)
                dropped.add(final)
                self.files -= 1
                self.skipped += 1
                continue
            keep.append((tmp, final))
        for tmp, final in keep:
            os.replace(tmp, final)
            with _LIVE_LOCK:
                _LIVE_PARTIALS.discard(tmp)
        self.pending.clear()
        for kind, source, final, name in self.links:
            if os.path.lexists(final):
                if not self.overwrite:
                    if self.ignore_existing:
                        self.skipped += 1
                        continue
                    raise AlreadyExistsError(
                        f"path '{final}' already exists (archive entry {name})", hint=_EXISTS_HINT
                    )
                if stat.S_ISDIR(os.lstat(final).st_mode):
                    raise AlreadyExistsError(
                        f"cannot unpack archive entry {name}: {final} exists and is a directory"
                    )
                os.unlink(final)
            if kind == "symlink":
                os.symlink(source, final)
                continue
            src_final, dev, ino = self.written[source]
            if src_final in dropped:  # kept as it was (--ignore-existing): not ours to link to
                self.skipped += 1
                continue
            st = os.lstat(src_final)
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (dev, ino):
                raise IntegrityError(f"cannot link {name}: {src_final} changed while the layer was unpacked")
            try:
                os.link(src_final, final, follow_symlinks=False)
            except NotImplementedError:
                os.link(src_final, final)
        for path, mode in reversed(self.dir_modes):
            os.chmod(path, mode | 0o700 if mode & 0o700 != 0o700 else mode)
        self._commit_stage()

    def _commit_stage(self) -> None:
        """Give the staged path its final name (one rename for the whole layer)."""
        if not self.stage_dir or not os.path.lexists(self.stage_dir):
            self._drop_stage()
            return
        self.touched.add(os.path.dirname(self.stage_final))
        if os.path.lexists(self.stage_final):  # appeared while the layer was unpacked
            if not self.ignore_existing:
                raise AlreadyExistsError(f"path '{self.stage_final}' already exists", hint=_EXISTS_HINT)
            log.debug("skipping %s: it appeared while the layer was unpacked", self.stage_final)
            self.skipped += self.files
            self.files = 0
            self._drop_stage()
            return
        os.rename(self.stage_dir, self.stage_final)
        with _LIVE_LOCK:
            _LIVE_PARTIALS.discard(self.stage_dir)
        self.stage_dir = ""

    def _drop_stage(self) -> None:
        if self.stage_dir:
            _remove_tree(self.stage_dir)
            with _LIVE_LOCK:
                _LIVE_PARTIALS.discard(self.stage_dir)
            self.stage_dir = ""

    def _drop(self, tmp: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        with _LIVE_LOCK:
            _LIVE_PARTIALS.discard(tmp)

    def abort(self) -> None:
        for tmp, _final, _existed in self.pending:
            self._drop(tmp)
        self.pending.clear()
        self._drop_stage()


def extract_layer(
    store: ReadableStore,
    binding: LayerBinding,
    target: Path,
    *,
    overwrite: bool = False,
    ignore_existing: bool = False,
    progress: Progress = NULL_PROGRESS,
    cancel: Cancel | None = None,
    stage: bool = False,
) -> tuple[int, int]:
    """Extract one layer, verifying digest and diffId; returns (files written, files skipped).

    A tar layer is extracted entry by entry; a raw layer is one file, written to its file path.
    ``stage`` writes a tar layer's path under a staging name renamed at the end (when that path
    is not in the target yet): only for a layer whose path no other layer of the unpack shares."""
    if not binding.layer_format:
        raise FormatError(
            f"layer {binding.desc.digest} ({binding.path or 'no file path'}) has media type "
            f"{binding.desc.media_type}, which kit cannot unpack",
            hint="unpack the other layers with --filter (e.g. --filter model,docs)",
        )
    if binding.entry is None:
        raise FormatError(f"layer {binding.desc.digest} ({binding.base_type}) has no matching Kitfile entry")
    raw = binding.layer_format == "raw"
    base = target
    if binding.legacy_paths and binding.path and not raw:
        base = target / posixpath.dirname(clean_path(binding.path))
    key = binding.desc.digest
    progress.begin(key, f"unpacking {binding.base_type}", binding.desc.size)
    job = _LayerExtraction(
        target,
        base,
        overwrite=overwrite,
        ignore_existing=ignore_existing,
        stage=clean_path(binding.path)
        if stage and not raw and not binding.legacy_paths and binding.path
        else None,
    )
    try:
        if raw:
            _extract_raw(store, binding, job, progress, cancel)
        else:
            _extract_tar(store, binding, job, progress, cancel)
        job.commit()
    except BaseException as exc:
        job.abort()
        progress.end(key, exc)
        raise
    progress.end(key)
    sweep_partials(job.touched)  # what a killed unpack left beside the files just written
    return job.files, job.skipped


def _counted(
    verifying: VerifyingReader, binding: LayerBinding, progress: Progress, cancel: Cancel | None
) -> _CountingReader:
    """The blob as the extractor reads it: with progress and cancellation, and able to copy in
    the kernel when it is a stored blob read as it is (an uncompressed layer)."""
    sender = binding.compression == "none" and isinstance(verifying, FileSender)
    return (_CountingSender if sender else _CountingReader)(verifying, binding.desc.digest, progress, cancel)


def _extract_tar(
    store: ReadableStore,
    binding: LayerBinding,
    job: _LayerExtraction,
    progress: Progress,
    cancel: Cancel | None,
) -> None:
    with store.fetch(binding.desc) as raw:
        verifying = raw if isinstance(raw, VerifyingReader) else VerifyingReader(raw, binding.desc)
        counted = _counted(verifying, binding, progress, cancel)
        decompressed = open_decompressed(counted, binding.compression)  # type: ignore[arg-type]
        diff = _DiffIdReader(decompressed) if binding.compression != "none" else None
        tar_stream = diff if diff is not None else decompressed
        buf = memoryview(bytearray(EXTRACT_BUFFER))
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
        _check_diff_ids(
            binding, "sha256:" + diff.hasher.hexdigest() if diff is not None else binding.desc.digest
        )


def _extract_raw(
    store: ReadableStore,
    binding: LayerBinding,
    job: _LayerExtraction,
    progress: Progress,
    cancel: Cancel | None,
) -> None:
    """One file: the blob's bytes exactly (or, for a compressed Kit raw layer, decompressed). Its
    mode comes from the file metadata annotation (else 0644) and its size must be the annotation's:
    checked before anything is written when the blob is the file, after the decompression
    otherwise, before the file gets its name in either case. An uncompressed blob is its own
    uncompressed content, so its diffId must be its digest."""
    meta = file_metadata(binding.desc)
    compressed = binding.compression != "none"
    if not compressed:
        _check_raw_size(binding, meta.size, binding.desc.size)
        _check_diff_ids(binding, binding.desc.digest)  # known before a byte is read
    if job.ignore_existing and os.path.lexists(os.path.join(job.root_real, binding.filepath)):
        log.debug("skipping existing file %s", binding.filepath)
        job.skipped += 1
        return  # nothing of the blob is needed: not even fetched
    mode = meta.mode if meta.mode is not None else RAW_FILE_MODE
    with store.fetch(binding.desc) as raw:
        verifying = raw if isinstance(raw, VerifyingReader) else VerifyingReader(raw, binding.desc)
        counted = _counted(verifying, binding, progress, cancel)
        buf = memoryview(
            bytearray(EXTRACT_BUFFER if compressed else min(EXTRACT_BUFFER, max(binding.desc.size, 1)))
        )
        if not compressed:
            sends = KERNEL_COPY and isinstance(counted, _CountingSender)
            job.file(binding.filepath, mode, EntryReader(counted, binding.desc.size, can_send=sends), buf)  # type: ignore[arg-type]
            verifying.verify_rest()
            return
        diff = _DiffIdReader(open_decompressed(counted, binding.compression))  # type: ignore[arg-type]
        content = _WholeStream(diff)
        try:
            job.file(binding.filepath, mode, content, buf)
        except decompression_errors() as exc:
            verifying.verify_rest()  # a blob that does not match its digest is the real story
            raise FormatError(
                f"layer {binding.desc.digest} is not a valid {binding.compression} stream: {exc}"
            ) from None
        verifying.verify_rest()
    _check_raw_size(binding, meta.size, content.size)
    _check_diff_ids(binding, "sha256:" + diff.hasher.hexdigest())


def _check_raw_size(binding: LayerBinding, want: int | None, got: int) -> None:
    if want is not None and want != got:
        raise IntegrityError(
            f"raw layer {binding.desc.digest} ({binding.filepath}): its file metadata says {want} bytes, "
            f"the {'file' if binding.compression != 'none' else 'layer'} has {got}",
            hint="the ModelKit is corrupt or was tampered with",
        )


class _WholeStream:
    """A stream's bytes to its end, as a file's content (a compressed raw layer's file), counted."""

    def __init__(self, stream: _DiffIdReader) -> None:
        self._stream = stream
        self.size = 0

    def copy_to(self, fd: int, buf: memoryview) -> None:
        while n := self._stream.readinto(buf):
            self.size += n
            view = buf[:n]
            while view:
                view = view[os.write(fd, view) :]


def _check_diff_ids(binding: LayerBinding, got: str) -> None:
    for want in binding.diff_ids:
        if want != got:
            raise IntegrityError(
                f"layer {binding.desc.digest}: uncompressed content does not match diffId {want} (got {got})",
                hint="the ModelKit is corrupt or was tampered with",
            )


def _paths_of_their_own(bindings: Sequence[LayerBinding]) -> set[int]:
    """Indexes of the tar layers whose path no other layer's path equals, contains or lies in:
    those can be staged and renamed whole without meeting another layer's files. (A raw layer is
    one file, written under a temporary name and renamed: nothing to stage, but its path counts.)"""
    paths = [clean_path(b.target_path) if b.target_path and not b.legacy_paths else "" for b in bindings]
    alone = set()
    for i, path in enumerate(paths):
        if not path or path == "." or path.startswith("../") or bindings[i].layer_format == "raw":
            continue
        if all(
            j == i
            or not (
                other == path
                or other.startswith(path + "/")
                or path.startswith(other + "/")
                or not other
                or other == "."
            )
            for j, other in enumerate(paths)
        ):
            alone.add(i)
    return alone


def _check_raw_targets(bindings: Sequence[LayerBinding]) -> None:
    """Refuse a raw layer writing the same path as another layer, before anything is written: one
    would replace the other (with --overwrite), or the unpack fail halfway through."""
    owners: dict[str, LayerBinding] = {}
    for b in bindings:
        path = clean_path(b.target_path) if b.target_path and not b.legacy_paths else ""
        if not path:
            continue
        other = owners.setdefault(path, b)
        if other is not b and "raw" in (b.layer_format, other.layer_format):
            raise IntegrityError(
                f"layers {other.desc.digest} and {b.desc.digest} both write {path}",
                hint="the ModelKit was not made by kit pack; do not trust it",
            )


def layer_log_line(binding: LayerBinding, target: Path) -> str:
    where = target / clean_path(binding.target_path) if binding.target_path else target
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
    selected = select_layers(bindings, filters)
    _check_raw_targets(selected)
    root = Path(target).absolute()
    root.mkdir(parents=True, exist_ok=True)
    result = UnpackResult(root)
    write = include_kitfile if include_kitfile is not None else wants_kitfile(filters)
    if write and kit.kitfile_generated and not any("kitfile" in f.types for f in filters):
        # As the Go kit: an artifact without a Kitfile unpacks to its files only, byte for byte.
        log.info(
            "This %s artifact has no Kitfile; use --filter kitfile to write the one made from its layers",
            kit.format,
        )
        write = False
    if write:
        result.kitfile_written = write_kitfile(kit, root, overwrite=overwrite)
    result.layers = selected
    for b in selected:
        log.info("%s", layer_log_line(b, root))
    if not selected:
        return result
    alone = _paths_of_their_own(selected)
    with ThreadPoolExecutor(
        max_workers=max(1, min(concurrency, len(selected))), thread_name_prefix="kit-unpack"
    ) as pool:
        futures = [
            pool.submit(
                extract_layer,
                store,
                b,
                root,
                overwrite=overwrite,
                ignore_existing=ignore_existing,
                progress=progress,
                cancel=cancel,
                stage=i in alone,
            )
            for i, b in enumerate(selected)
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
