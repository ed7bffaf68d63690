"""``kit diff``: compare two ModelKits' configs, annotations and layers (spec §4.11)."""

from __future__ import annotations

from kitops.modelkit.listing import format_bytes
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest

DASHES = "-" * 39


def _layer_rows(layers: list[Descriptor]) -> list[str]:
    if not layers:
        return ["<none>"]
    rows = ["Type    | Digest             | Size"]
    for d in sorted(layers, key=lambda x: x.media_type):
        parsed = mt.parse_layer_media_type(d.media_type)
        base = parsed[0] if parsed else d.media_type
        rows.append(f"{base:<7} | {d.digest[:17]:<18} | {format_bytes(d.size)}")
    return rows


def diff_report(ref_a: str, desc_a: Descriptor, man_a: Manifest, ref_b: str, desc_b: Descriptor, man_b: Manifest) -> str:
    if desc_a.digest == desc_b.digest:
        return "ModelKits are identical\n"
    out = ["Comparing:", f"  ModelKit1: {ref_a}", f"  ModelKit2: {ref_b}", ""]
    out += ["Configurations:", DASHES]
    if man_a.config.digest == man_b.config.digest:
        out.append(f"  Configs are identical (Digest: {man_a.config.digest})")
    else:
        out += ["Configs differ:", f"  ModelKit1 Config Digest: {man_a.config.digest}",
                f"  ModelKit2 Config Digest: {man_b.config.digest}"]
    out += ["", "Annotations:", DASHES]
    same_ann = dict(man_a.annotations or {}) == dict(man_b.annotations or {})
    out.append("  Annotations are identical" if same_ann else "  Annotations does not match")
    a_digests = {d.digest for d in man_a.layers}
    b_digests = {d.digest for d in man_b.layers}
    shared = [d for d in man_b.layers if d.digest in a_digests]
    only_a = [d for d in man_a.layers if d.digest not in b_digests]
    only_b = [d for d in man_b.layers if d.digest not in a_digests]
    out += ["", "Shared Layers", DASHES, *_layer_rows(shared)]
    out += ["", f"Unique Layers to ModelKit1 ({ref_a})", DASHES, *_layer_rows(only_a)]
    out += ["", f"Unique Layers to ModelKit2 ({ref_b})", DASHES, *_layer_rows(only_b)]
    return "\n".join(out) + "\n"
