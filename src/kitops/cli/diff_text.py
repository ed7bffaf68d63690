"""The ``kit diff`` report: the reference CLI's blocks, unchanged, plus annotation details and a
Kitfile block, rendered from the comparisons of :mod:`kitops.modelkit.diff`.

The reference's blocks keep their headings, dash lines and ``%-7s | %-18s | %s`` layer rows;
under ``Annotations does not match`` each differing key gets a line, and a last ``Kitfile
Differences:`` block lists what differs between the two config blobs (or says why they could
not be compared).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from kitops.cli.text import format_bytes
from kitops.modelkit.diff import (
    Change,
    DiffSide,
    annotation_changes,
    compare_layers,
    kitfile_changes,
    layer_type,
)
from kitops.oci.models import Descriptor

DASHES = "-" * 39
SHORT_DIGEST = 17  # "sha256:" and 10 hex digits, as the reference cuts digests
TYPE_WIDTH = 7  # the reference's "%-7s"; widened only when a type is longer
ARROW = "→"


def _short(digest: str) -> str:
    return digest[:SHORT_DIGEST]


def _short_digests(value: Any, key: str) -> Any:
    if isinstance(value, str) and key.rsplit(".", 1)[-1] == "digest":
        return _short(value)
    if isinstance(value, Mapping):
        return {k: _short_digests(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_short_digests(v, "") for v in value]
    return value


def show_value(value: Any, config_key: str | None = None) -> str:
    """A value on one line: plain text for ordinary strings, JSON for anything else (and for
    strings that are empty, padded or multi-line). With ``config_key`` (a key of the config
    blob), layer digests are cut to 17 characters like the layer tables."""
    if config_key is not None:
        value = _short_digests(value, config_key)
    if isinstance(value, str) and value and value == value.strip() and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def render_change(change: Change) -> str:
    """``+ key: new``, ``- key: old`` or ``~ key: old → new``."""

    def show(value: Any) -> str:
        return show_value(value, change.key if change.short_digests else None)

    if change.kind == "added":
        return f"+ {change.key}: {show(change.new)}"
    if change.kind == "removed":
        return f"- {change.key}: {show(change.old)}"
    return f"~ {change.key}: {show(change.old)} {ARROW} {show(change.new)}"


def _type_width(groups: Sequence[Sequence[Descriptor]]) -> int:
    return max([TYPE_WIDTH, *(len(layer_type(d.media_type)) for g in groups for d in g)])


def _layer_block(title: str, layers: Sequence[Descriptor], width: int) -> list[str]:
    out = [title, DASHES]
    if not layers:
        out.append("<none>")
    else:
        out.append(f"{'Type':<{width}} | {'Digest':<18} | Size")
        out += [
            f"{layer_type(d.media_type):<{width}} | {_short(d.digest):<18} | {format_bytes(d.size)}"
            for d in layers
        ]
    out.append("")
    return out


def _kitfile_block(a: DiffSide, b: DiffSide) -> list[str]:
    out = ["Kitfile Differences:", DASHES]
    if a.manifest.config.digest == b.manifest.config.digest:
        out.append("  Kitfiles are identical")
    elif a.config is None or b.config is None:
        for which, side in (("ModelKit1", a), ("ModelKit2", b)):
            if side.config is None:
                out.append(
                    f"  Not compared: the config of {which} ({_short(side.manifest.config.digest)}) "
                    f"could not be read: {side.config_error or 'unknown error'}"
                )
    else:
        changes = kitfile_changes(a.config, b.config)
        out += [f"  {render_change(c)}" for c in changes] or ["  Kitfiles are identical"]
    out.append("")
    return out


def diff_report(a: DiffSide, b: DiffSide) -> str:
    """The ``kit diff`` text: ``ModelKits are identical`` when the manifest digests are equal,
    else the reference's blocks (with annotation details) and the Kitfile block."""
    if a.descriptor.digest == b.descriptor.digest:
        return "ModelKits are identical\n"
    man_a, man_b = a.manifest, b.manifest
    out = ["Comparing:", f"  ModelKit1: {a.reference}", f"  ModelKit2: {b.reference}", ""]
    out += ["Configurations:", DASHES]
    if man_a.config.digest == man_b.config.digest:
        out.append(f"  Configs are identical (Digest: {_short(man_a.config.digest)})")
    else:
        out += [
            "Configs differ:",
            f"  ModelKit1 Config Digest: {_short(man_a.config.digest)}",
            f"  ModelKit2 Config Digest: {_short(man_b.config.digest)}",
        ]
    out += ["", "Annotations:", DASHES]
    changes = annotation_changes(man_a.annotations, man_b.annotations)
    if not changes:
        out.append("  Annotations are identical")
    else:
        out.append("  Annotations does not match")
        out += [f"    {render_change(c)}" for c in changes]
    out.append("")
    layers = compare_layers(man_a, man_b)
    width = _type_width((layers.shared, layers.only_a, layers.only_b))
    out += _layer_block("Shared Layers", layers.shared, width)
    out += _layer_block(f"Unique Layers to ModelKit1 ({a.reference})", layers.only_a, width)
    out += _layer_block(f"Unique Layers to ModelKit2 ({b.reference})", layers.only_b, width)
    out += _kitfile_block(a, b)
    return "\n".join(out)
