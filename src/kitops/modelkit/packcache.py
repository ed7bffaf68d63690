"""Re-packing unchanged files without reading them: layer digests remembered by file identity.

A layer's bytes are a pure function of its entries (names, modes, sizes, contents), the
compression and the layer format (tar, or one file's raw bytes). When every file of a layer
still has the identity it had when the layer was built — same path, size, mtime, ctime, inode
and device — its content has not been written since (any write moves ctime, which no user-level call can set back), so the layer would come
out byte for byte the same: its stored blob is reused without reading a byte. A cache miss
packs as usual; a stale entry can only cost a miss, never a wrong layer, because the key is
taken *before* the files are read and a file changed during the read gets a new ctime.

The cache is one small JSON file under ``$KITOPS_HOME/cache``, written atomically, merged with
what other processes wrote, and capped at :data:`MAX_ENTRIES` (least recently used go first).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kitops.fsutil import atomic_write
from kitops.modelkit.layers import WalkEntry, file_identity
from kitops.oci.digest import is_digest

CACHE_FILE = "pack-digests.json"
MAX_ENTRIES = 2000
_FORMAT = 1  # bump when the layer bytes for the same entries would change (writer change)


@dataclass(frozen=True)
class CachedLayer:
    digest: str
    diff_id: str
    size: int
    media_type: str


def layer_key(
    entries: Sequence[WalkEntry], compression: str, media_type: str, layer_format: str = "tar"
) -> str | None:
    """The identity of everything a layer is built from; ``None`` when a file cannot be stat'ed.

    ``layer_format`` ``raw`` (the file's bytes, no tar around them) gives other bytes for the
    same entries, so it is part of the key; ``tar`` adds nothing, keeping the keys of tar
    layers cached before raw layers existed."""
    fmt = "" if layer_format == "tar" else f" {layer_format}"
    h = hashlib.sha256(f"kitops-pack-cache {_FORMAT} {compression} {media_type}{fmt}\n".encode())
    for entry in entries:
        if entry.source is None:
            h.update(f"d {entry.name!r} {entry.mode:o}\n".encode("utf-8", "surrogateescape"))
            continue
        identity = entry.identity
        if identity is None:  # an entry not made by the walk: stat it now
            try:
                st = os.stat(entry.source)
            except OSError:
                return None
            if st.st_size != entry.size:
                return None
            identity = file_identity(st)
        mtime, ctime, ino, dev = identity
        h.update(
            f"f {entry.name!r} {entry.mode:o} {entry.size} {mtime} {ctime} {ino} {dev}\n".encode(
                "utf-8", "surrogateescape"
            )
        )
    return h.hexdigest()


class PackCache:
    """The remembered layers of one ``$KITOPS_HOME``; thread-safe within a process."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / CACHE_FILE
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, object]] = self._read()
        self._dirty: dict[str, dict[str, object]] = {}

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return {}
        entries = data.get("layers") if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str | None) -> CachedLayer | None:
        if key is None:
            return None
        with self._lock:
            item = self._entries.get(key)
        if not isinstance(item, dict):
            return None
        digest, diff_id, size, media_type = (item.get(k) for k in ("digest", "diffId", "size", "mediaType"))
        if not (
            isinstance(digest, str)
            and is_digest(digest)
            and isinstance(diff_id, str)
            and is_digest(diff_id)
            and isinstance(size, int)
            and size >= 0
            and isinstance(media_type, str)
        ):
            return None
        return CachedLayer(digest, diff_id, size, media_type)

    def put(self, key: str | None, layer: CachedLayer) -> None:
        if key is None:
            return
        item: dict[str, object] = {
            "digest": layer.digest,
            "diffId": layer.diff_id,
            "size": layer.size,
            "mediaType": layer.media_type,
            "used": int(time.time()),
        }
        with self._lock:
            self._entries[key] = item
            self._dirty[key] = item

    def touch(self, key: str) -> None:
        with self._lock:
            item = self._entries.get(key)
            if isinstance(item, dict):
                item = {**item, "used": int(time.time())}
                self._entries[key] = item
                self._dirty[key] = item

    def save(self) -> None:
        """Merge what this process learned into the file (last writer wins per key)."""
        with self._lock:
            if not self._dirty:
                return
            dirty, self._dirty = self._dirty, {}
        merged = {**self._read(), **dirty}
        if len(merged) > MAX_ENTRIES:
            newest = sorted(merged.items(), key=lambda kv: _used(kv[1]))
            merged = dict(newest[-MAX_ENTRIES:])
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs a re-read next time
            self._path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self._path, json.dumps({"layers": merged}, separators=(",", ":")).encode("utf-8"))


def _used(item: object) -> int:
    used = item.get("used") if isinstance(item, dict) else None
    return used if isinstance(used, int) else 0
