"""What an image is made of: its base layers and the ModelKit layers ``kit image build`` added,
each with the ModelKit entry it came from (the annotations the build put on its descriptor)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kitops.errors import FormatError
from kitops.imagebuild.base import Platform, resolve_base
from kitops.imagebuild.config import LABEL_MODELKIT_DIGEST, LABEL_MODELKIT_REF
from kitops.imagebuild.layers import ANNOTATION_LAYER_DIGEST, ANNOTATION_LAYER_PATH, ANNOTATION_LAYER_TYPE
from kitops.oci.models import Descriptor
from kitops.store.base import ReadableStore


@dataclass(frozen=True)
class LayerSummary:
    """One image layer: ``origin`` is ``base`` or ``modelkit``; a ModelKit layer names its entry
    (``kind``, ``path``) and, when it was rewritten, the ModelKit blob it was made from."""

    digest: str
    size: int
    media_type: str
    origin: str
    kind: str = ""
    path: str = ""
    modelkit_blob: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "digest": self.digest,
            "size": self.size,
            "mediaType": self.media_type,
            "origin": self.origin,
        }
        if self.origin == "modelkit":
            out.update(
                {"type": self.kind, "path": self.path, "modelkitBlob": self.modelkit_blob or self.digest}
            )
        return out


@dataclass(frozen=True)
class ImageSummary:
    descriptor: Descriptor
    platform: str
    modelkit: str
    modelkit_digest: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    workdir: str
    env: tuple[str, ...]
    layers: tuple[LayerSummary, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.descriptor.digest,
            "mediaType": self.descriptor.media_type,
            "platform": self.platform,
            "modelkit": {"ref": self.modelkit, "digest": self.modelkit_digest},
            "entrypoint": list(self.entrypoint),
            "cmd": list(self.cmd),
            "workingDir": self.workdir,
            "env": list(self.env),
            "layers": [x.to_json() for x in self.layers],
        }


def summarize(store: ReadableStore, ref: str, platform: Platform, *, name: str) -> ImageSummary:
    """The summary of the image ``ref`` names in ``store`` (an index: its ``platform`` entry)."""
    image = resolve_base(store, ref, platform, name=name, what="image")
    run = image.config.get("config") or {}
    if not isinstance(run, dict):
        raise FormatError(f"the config of {name} has no valid 'config' object")
    labels = run.get("Labels") or {}
    layers = tuple(_layer(d) for d in image.manifest.layers)
    return ImageSummary(
        descriptor=image.descriptor,
        platform=str(image.platform or ""),
        modelkit=str(labels.get(LABEL_MODELKIT_REF, "")),
        modelkit_digest=str(labels.get(LABEL_MODELKIT_DIGEST, "")),
        entrypoint=_words(run.get("Entrypoint")),
        cmd=_words(run.get("Cmd")),
        workdir=str(run.get("WorkingDir") or ""),
        env=_words(run.get("Env")),
        layers=layers,
    )


def _words(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _layer(desc: Descriptor) -> LayerSummary:
    notes = desc.annotations or {}
    if ANNOTATION_LAYER_TYPE not in notes:
        return LayerSummary(desc.digest, desc.size, desc.media_type, "base")
    return LayerSummary(
        desc.digest,
        desc.size,
        desc.media_type,
        "modelkit",
        kind=notes[ANNOTATION_LAYER_TYPE],
        path=notes.get(ANNOTATION_LAYER_PATH, ""),
        modelkit_blob=notes.get(ANNOTATION_LAYER_DIGEST, ""),
    )


def as_json(summary: ImageSummary) -> str:
    return json.dumps(summary.to_json(), indent=2)


def as_table(summary: ImageSummary) -> str:
    """The summary for a terminal: the image's run settings, then one row per layer."""
    lines = [
        f"Image:      {summary.descriptor.digest} ({summary.descriptor.media_type})",
        f"Platform:   {summary.platform or '-'}",
        f"ModelKit:   {summary.modelkit or '-'}"
        + (f" ({summary.modelkit_digest})" if summary.modelkit_digest else ""),
        f"Entrypoint: {json.dumps(list(summary.entrypoint))}",
        f"Cmd:        {json.dumps(list(summary.cmd))}",
        f"WorkingDir: {summary.workdir or '-'}",
        "",
    ]
    rows = [("ORIGIN", "DIGEST", "SIZE", "TYPE", "PATH")]
    for layer in summary.layers:
        rows.append((layer.origin, layer.digest[:19], str(layer.size), layer.kind or "-", layer.path or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)
