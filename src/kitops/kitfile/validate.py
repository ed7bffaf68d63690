"""Kitfile validation: every problem at once, before a single blob is written.

Stricter than the reference (spec §7 #11): paths are compared after cleaning
(``./a`` and ``a`` collide), ``..`` escapes are refused by path components (so a
name like ``a..b`` is fine), and missing paths are reported together with
everything else.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from kitops.errors import KitfileError
from kitops.kitfile.model import Kitfile

_PART_TYPE_RE = re.compile(r"^\w[\w.-]*$")
MAX_PART_TYPE = 64


def clean_path(path: str) -> str:
    """Go's filepath.Clean on a Kitfile path, with '' meaning the context dir."""
    return posixpath.normpath(path.replace("\\", "/")) if path else "."


def is_escaping(cleaned: str) -> bool:
    return cleaned == ".." or cleaned.startswith("../")


def find_problems(kitfile: Kitfile, context_dir: Path | None = None) -> list[str]:
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
                if not _PART_TYPE_RE.match(part.type):
                    problems.append(
                        f"modelpart {part.name} has invalid type (must be alphanumeric with dots, dashes, and underscores)"
                    )
                elif len(part.type) > MAX_PART_TYPE:
                    problems.append(f"modelpart {part.name} type is too long (must be fewer than 64 characters)")
    return sorted(problems)


def validate(kitfile: Kitfile, context_dir: Path | None = None) -> None:
    problems = find_problems(kitfile, context_dir)
    if problems:
        raise KitfileError(
            "errors while validating Kitfile",
            problems=problems,
            hint="fix the Kitfile paths listed above; paths are relative to the context directory",
        )
