"""Which files go into which layer, in which order.

The walk is equivalent to the reference's "walk the whole context, keep what is in
the layer path's tree" but visits only the layer path's ancestors and subtree.
Deliberate differences from the reference, each a fix of one of its defects:

* nested layers are excluded by path components, never by string prefix;
* ``..`` in a name is a name, not an escape;
* a file re-included by ``!`` inside an ignored directory brings its parent
  directory entries with it, so it can be unpacked;
* symlinks are followed (content stored), loops detected, targets outside the
  context warned about; other special files are skipped with a warning;
  but a layer path that is itself (or goes through) a symlink leading outside the
  context is refused: the whole layer would be someone else's files;
* ``.kit-partial-*`` files an interrupted ``kit unpack`` left behind are never packed.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kitops.errors import KitfileError
from kitops.kitfile.ignore import LayerIgnore
from kitops.kitfile.model import Kitfile, LayerInfo
from kitops.kitfile.validate import clean_path
from kitops.modelkit.tar import parse_partial_name, tar_mode

log = logging.getLogger(__name__)


@dataclass
class LayerSpec:
    """One layer to build: its base media type, its Kitfile path, and the entry it belongs to.

    ``layer_format`` is ``tar`` (a file or directory tree) or ``raw`` (the bytes of one regular
    file). ``file`` is set when the entry's directory was expanded into one raw layer per file
    (ModelPack-native packing): the layer then holds that file alone and the entry keeps no
    layer of its own in the Kitfile, since it owns several. ``kind`` is the ModelPack layer kind
    (``weight``, ``doc``...) when packing ModelPack, ``guessed`` whether it came from file names.
    """

    base_type: str
    path: str
    holder: object  # the Kitfile entry whose ``layer`` gets the digests
    subtype: str | None = None
    layer_format: str = "tar"
    file: str | None = None
    kind: str | None = None
    guessed: bool = False
    info: LayerInfo | None = None  # digest and diffId, once built

    @property
    def clean(self) -> str:
        """What the layer stands for, relative to the context: its file, or the cleaned Kitfile path."""
        return self.file if self.file is not None else clean_path(self.path)

    def set_layer(self, info: LayerInfo) -> None:
        self.info = info
        if self.file is None:  # an expanded entry owns several layers: none of them is "its" layer
            self.holder.layer = info  # type: ignore[attr-defined]


def plan_layers(kitfile: Kitfile) -> list[LayerSpec]:
    """Fixed order: model, model parts, code, datasets, docs, prompts (as code with a subtype)."""
    return [LayerSpec(e.base_type, e.path, e.holder, e.subtype) for e in kitfile.layer_entries()]


@dataclass
class WalkEntry:
    name: str  # tar entry name, relative to the context, '/'-separated
    source: Path | None  # file to read (None for directories)
    mode: int
    size: int
    # (mtime_ns, ctime_ns, inode, device) as the walk saw the file: the pack cache's key, so a
    # re-pack does not stat every file a second time
    identity: tuple[int, int, int, int] | None = field(default=None, compare=False)

    @property
    def is_dir(self) -> bool:
        return self.source is None


def file_identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What tells a file's content has not been written since: any write moves ctime."""
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def _inside(root_real: str, path: str) -> bool:
    return path == root_real or path.startswith(root_real.rstrip(os.sep) + os.sep)


def check_layer_path(context: Path, layer_path: str) -> None:
    """Refuse a layer path that is, or goes through, a symlink leading outside the context.

    Symlinks inside the layer are followed as before (with a warning when they lead out);
    this is about the Kitfile path itself, e.g. ``model.path: weights`` with ``weights -> /etc``.
    """
    rel = clean_path(layer_path)
    if rel == ".":
        return
    real_context = os.path.realpath(context)
    if _inside(real_context, os.path.realpath(context / rel)):
        return
    parts = rel.split("/")
    for depth in range(1, len(parts) + 1):
        sub = "/".join(parts[:depth])
        real = os.path.realpath(context / sub)
        if _inside(real_context, real):
            continue
        try:
            shown = f"{sub} -> {os.readlink(context / sub)}"
        except OSError:
            shown = sub
        where = "is" if sub == rel else "goes through"
        raise KitfileError(
            f"layer path {layer_path} {where} a symlink leading outside the context directory: {shown} "
            f"(resolves to {real})",
            hint="copy the files into the context directory, or point the Kitfile at a path inside it",
        )


def _sort_key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


class _Walker:
    def __init__(self, context: Path, layer_path: str, ignore: LayerIgnore) -> None:
        self.context = context
        self.real_context = os.path.realpath(context)
        self.layer = layer_path
        self.ignore = ignore
        self.pending: list[WalkEntry] = []  # ignored dirs whose entry is emitted only if a child is
        self.files = 0

    def _ignored_by_patterns(self, rel: str) -> bool:
        return self.ignore.matcher.matches(rel)

    def _flush(self) -> Iterator[WalkEntry]:
        yield from self.pending
        self.pending.clear()

    def walk(self) -> Iterator[WalkEntry]:
        check_layer_path(self.context, self.layer)
        parts = [] if self.layer == "." else self.layer.split("/")
        # Ancestors of the layer path, as directory entries.
        for depth in range(1, len(parts)):
            rel = "/".join(parts[:depth])
            st = os.stat(self.context / rel)
            entry = WalkEntry(rel, None, tar_mode(st.st_mode), 0)
            if self._ignored_by_patterns(rel):
                if not self.ignore.matcher.has_exclusions:
                    log.warning("layer path %s ignored by .kitignore: the layer is empty", self.layer)
                    return
                self.pending.append(entry)
            else:
                yield from self._flush()
                yield entry
        if self.layer == ".":
            yield from self._walk_dir(self.context, "", set())
            return
        top = self.context / self.layer
        try:
            st = os.stat(top)
        except FileNotFoundError:
            raise KitfileError(
                f"path {self.layer} does not exist", hint="check the path in the Kitfile"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            yield from self._visit_dir(top, self.layer, st, {(st.st_dev, st.st_ino)})
        elif stat.S_ISREG(st.st_mode):
            if self._ignored_by_patterns(self.layer):
                log.warning("layer path %s ignored by .kitignore: the layer is empty", self.layer)
                return
            yield from self._flush()
            self.files += 1
            yield WalkEntry(self.layer, top, tar_mode(st.st_mode), st.st_size, file_identity(st))
        else:
            log.warning("layer path %s is not a regular file or directory: skipped", self.layer)

    def _visit_dir(
        self, path: Path, rel: str, st: os.stat_result, seen: set[tuple[int, int]]
    ) -> Iterator[WalkEntry]:
        entry = WalkEntry(rel, None, tar_mode(st.st_mode), 0)
        if self.ignore.is_ignored(rel, self.layer):
            owned_by_nested_layer = not self._ignored_by_patterns(rel)
            if owned_by_nested_layer or not self.ignore.matcher.has_exclusions:
                return
            self.pending.append(entry)
            mark = len(self.pending)
            yield from self._walk_dir(path, rel, seen)
            if len(self.pending) >= mark:  # nothing inside was emitted: forget the dir
                del self.pending[mark - 1 :]
            return
        yield from self._flush()
        yield entry
        yield from self._walk_dir(path, rel, seen)

    def _walk_dir(self, path: Path, rel: str, seen: set[tuple[int, int]]) -> Iterator[WalkEntry]:
        try:
            names = sorted(os.listdir(path), key=_sort_key)
        except PermissionError as exc:
            raise KitfileError(f"cannot read directory {rel or '.'}: {exc.strerror}") from None
        for name in names:
            child_rel = f"{rel}/{name}" if rel else name
            child = path / name
            _check_utf8_name(child_rel)
            try:
                lst = os.lstat(child)
            except FileNotFoundError:
                continue  # vanished while walking
            st = lst
            if stat.S_ISLNK(lst.st_mode):
                try:
                    st = os.stat(child)
                except OSError:
                    log.warning("skipping broken symlink %s", child_rel)
                    continue
                target = os.path.realpath(child)
                if os.path.commonpath([target, self.real_context]) != self.real_context:
                    log.warning(
                        "symlink %s points outside the context (%s); packing its content", child_rel, target
                    )
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    log.warning("skipping symlink loop at %s", child_rel)
                    continue
                yield from self._visit_dir(child, child_rel, st, seen | {key})
            elif stat.S_ISREG(st.st_mode):
                if self.ignore.is_ignored(child_rel, self.layer):
                    continue
                if parse_partial_name(name) is not None:
                    log.warning(
                        "skipping %s: a partial file left behind by an interrupted kit unpack", child_rel
                    )
                    continue
                yield from self._flush()
                self.files += 1
                yield WalkEntry(child_rel, child, tar_mode(st.st_mode), st.st_size, file_identity(st))
            else:
                log.warning("skipping %s: not a regular file, directory or symlink", child_rel)


def _check_utf8_name(rel: str) -> None:
    """Tar names in a ModelKit are UTF-8 (PAX requires it; unpack refuses anything else): a file
    whose name is not valid UTF-8 is refused here rather than packed into an unreadable layer."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(rel).decode("utf-8", "backslashreplace")
        raise KitfileError(
            f"file name {shown} is not valid UTF-8", hint="rename the file (or exclude it in .kitignore)"
        ) from None


def walk_layer(context: Path, layer_path: str, ignore: LayerIgnore) -> Iterator[WalkEntry]:
    """Entries of the layer rooted at ``layer_path`` (cleaned, relative), in tar order."""
    walker = _Walker(context, clean_path(layer_path), ignore)
    yield from walker.walk()
    if walker.files == 0:
        log.warning("No files detected in layer with path %s", layer_path)


def layer_files(context: Path, layer_path: str, ignore: LayerIgnore) -> list[WalkEntry]:
    """The regular files a tar layer of ``layer_path`` would hold (same rules: ``.kitignore``,
    nested layers, symlinks followed), sorted by path; no warning when there are none."""
    files = [e for e in _Walker(context, clean_path(layer_path), ignore).walk() if e.source is not None]
    return sorted(files, key=lambda e: _sort_key(e.name))
