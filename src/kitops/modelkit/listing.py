"""Rows for ``kit list`` and the reference's size formatting and table layout."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kitops.oci.reference import display_form

NONE = "<none>"


def format_bytes(size: int) -> str:
    """Go FormatBytes: ``<n> B`` below 1 KiB, else one decimal rounded down, up to PiB."""
    if size < 1024:
        return f"{size} B"
    units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
    value = float(size)
    unit = ""
    for unit in units:
        value /= 1024
        if value < 1024 or unit == "PiB":
            break
    return f"{math.floor(value * 10) / 10:.1f} {unit}"


@dataclass(frozen=True)
class ModelKitSummary:
    """One stored manifest with its tags (the JSON/template form of ``kit list``)."""

    repo: str
    digest: str
    tags: tuple[str, ...] | None
    model_name: str
    size: int
    author: str

    def to_go(self) -> dict[str, object]:
        return {
            "repo": self.repo,
            "digest": self.digest,
            "tags": list(self.tags) if self.tags is not None else None,
            "modelName": self.model_name,
            "size": format_bytes(self.size),
            "author": self.author,
        }


def repo_display(repo_key: str) -> str:
    return display_form(repo_key) or NONE


def table(rows: Sequence[Sequence[str]], *, padding: int = 3) -> str:
    """Go tabwriter (minwidth 0, padding 3, spaces): every column but the last padded to its width."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for r in rows:
        for i, cell in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for r in rows:
        cells = [cell.ljust(widths[i] + padding) if i < len(r) - 1 else cell for i, cell in enumerate(r)]
        lines.append("".join(cells))
    return "\n".join(lines) + "\n"


def list_table(items: Sequence[ModelKitSummary]) -> str:
    rows = [["REPOSITORY", "TAG", "MAINTAINER", "NAME", "SIZE", "DIGEST"]]
    for it in items:
        for tag in it.tags or [NONE]:
            rows.append([it.repo, tag, it.author, it.model_name, format_bytes(it.size), it.digest])
    return table(rows)
