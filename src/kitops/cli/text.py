"""Plain-text renderings that ``kit`` prints: sizes, tables, ``kit list`` rows and the version.

Shared by the command line and the PyKitOps functions (``kitops.cli.kit``), which return the
same text ``kit`` prints. Nothing here imports click or rich, so the PyKitOps layer can use it
without loading the command line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kitops.modelkit.listing import NONE

if TYPE_CHECKING:
    from kitops.modelkit.listing import ModelKitSummary

LIST_HEADER = ("REPOSITORY", "TAG", "MAINTAINER", "NAME", "SIZE", "DIGEST")


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
    """The ``kit list`` table: one row per tag (``<none>`` for an untagged manifest)."""
    rows = [list(LIST_HEADER)]
    for it in items:
        for tag in it.tags or [NONE]:
            rows.append([it.repo, tag, it.author, it.model_name, format_bytes(it.size), it.digest])
    return table(rows)


def list_fields(item: ModelKitSummary) -> dict[str, object]:
    """One ``kit list`` entry as JSON and templates see it: the Go kit's keys in its order, plus
    ``sizeBytes`` (the layers' size as a number; ``size`` is the Go kit's formatted string)."""
    return {
        "repo": item.repo,
        "digest": item.digest,
        "tags": list(item.tags) if item.tags is not None else None,
        "modelName": item.model_name,
        "size": format_bytes(item.size),
        "sizeBytes": item.size,
        "author": item.author,
    }


def list_json(items: Sequence[ModelKitSummary]) -> str:
    """``kit list --format json``: the entries as an indented JSON array, as the Go kit writes it."""
    from kitops.oci import gojson

    return gojson.dumps([list_fields(i) for i in items], indent="  ")


def version_text() -> str:
    """What ``kit version`` prints (without the final newline)."""
    import platform

    from kitops import __version__

    return (
        f"Version: {__version__}\nPython: {platform.python_version()}\nImplementation: kitops (pure Python)"
    )
