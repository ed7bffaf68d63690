"""Kitfile validation: every problem at once, before a single blob is written.

Stricter than the reference: paths are compared after cleaning
(``./a`` and ``a`` collide), ``..`` escapes are refused by path components (so a
name like ``a..b`` is fine), and missing paths are reported together with
everything else. The config blob the Kitfile becomes is checked too: it must encode as
Go's ``json.Marshal`` would (no ``.inf``/``.nan``, string map keys: the reference's pack fails
on those) and stay within the metadata limit that readers of the ModelKit enforce.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from kitops.errors import KitfileError
from kitops.kitfile.model import Kitfile
from kitops.oci import gojson
from kitops.oci.models import MAX_MANIFEST_BYTES

_PART_TYPE_RE = re.compile(r"^\w[\w.-]*$")
MAX_PART_TYPE = 64
# The largest config blob: ``read_blob_bytes`` refuses a bigger one, so a ModelKit with it
# could be packed but never listed, inspected or unpacked.
MAX_CONFIG_BYTES = MAX_MANIFEST_BYTES
# What pack adds to the config for each layer: ``,"digest":"sha256:<64 hex>","diffId":"sha256:<64 hex>"``.
_LAYER_INFO_BYTES = len(',"digest":"sha256:' + "0" * 64 + '"') + len(',"diffId":"sha256:' + "0" * 64 + '"')


def config_problems(kitfile: Kitfile) -> list[str]:
    """Why ``kitfile`` cannot become a readable config blob (an empty list when it can)."""
    try:
        data = gojson.dump_bytes(kitfile.to_config_dict(with_layers=False))
    except gojson.UnsupportedValueError as exc:
        return [f"the Kitfile cannot be stored as a ModelKit config: {exc}"]
    size = len(data) + _LAYER_INFO_BYTES * len(kitfile.layer_entries())
    if size > MAX_CONFIG_BYTES:
        return [
            f"the Kitfile's config would be {size} bytes, over the {MAX_CONFIG_BYTES}-byte limit for ModelKit metadata"
        ]
    return []


def clean_path(path: str) -> str:
    """Go's filepath.Clean on a Kitfile path, with '' meaning the context dir."""
    return posixpath.normpath(path.replace("\\", "/")) if path else "."


def is_escaping(cleaned: str) -> bool:
    return cleaned == ".." or cleaned.startswith("../")


def find_problems(kitfile: Kitfile, context_dir: Path | None = None) -> list[str]:
    """The reference's checks of paths and part types (sorted); see :func:`config_problems` too."""
    return sorted(_path_problems(kitfile, context_dir))


def _path_problems(kitfile: Kitfile, context_dir: Path | None) -> list[str]:
    problems: list[str] = []
    by_path: dict[str, list[str]] = {}
    for entry in kitfile.layer_entries():
        label, path = entry.label, entry.path or "."
        if posixpath.isabs(path.replace("\\", "/")) or re.match(r"^[A-Za-z]:[\\/]", path):
            problems.append(f"absolute paths are not supported in a Kitfile (path {path} in {label})")
            continue
        cleaned = clean_path(path)
        if is_escaping(cleaned):
            problems.append(f"path {path} in {label} is outside the context directory")
            continue
        by_path.setdefault(cleaned, []).append(label)
        if context_dir is not None:
            target = context_dir / cleaned
            if not target.exists():
                problems.append(f"path {path} in {label} does not exist")
    for path, labels in by_path.items():
        if len(labels) > 1:
            problems.append(f"{', '.join(labels[:-1])} and {labels[-1]} use the same path {path}")
    if kitfile.model is not None:
        for part in kitfile.model.parts:
            if part.type:
                if not _PART_TYPE_RE.fullmatch(part.type):
                    problems.append(
                        f"modelpart {part.name} has invalid type (must be alphanumeric with dots, dashes, and underscores)"
                    )
                elif len(part.type) > MAX_PART_TYPE:
                    problems.append(
                        f"modelpart {part.name} type is too long (must be fewer than 64 characters)"
                    )
    return problems


def validate(kitfile: Kitfile, context_dir: Path | None = None) -> None:
    """Every problem :func:`find_problems` and :func:`config_problems` find, before pack writes a blob."""
    paths, config = _path_problems(kitfile, context_dir), config_problems(kitfile)
    if paths or config:
        raise KitfileError(
            "errors while validating Kitfile",
            problems=sorted(paths + config),
            hint="fix the Kitfile paths listed above; paths are relative to the context directory"
            if not config
            else "fix the problems listed above: parameters must be JSON values (no .inf or .nan, only string keys) "
            f"and the Kitfile's config at most {MAX_CONFIG_BYTES} bytes",
        )
