"""Loading a stored ModelKit: manifest, config, Kitfile, and the layer <-> entry mapping."""

from __future__ import annotations

from dataclasses import dataclass

from kitops.errors import FormatError, NotFoundError
from kitops.kitfile.config import kitfile_from_config
from kitops.kitfile.model import Kitfile
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Index, Manifest
from kitops.store.base import ReadableStore, read_blob_bytes


@dataclass(frozen=True)
class ModelKit:
    descriptor: Descriptor
    manifest: Manifest
    manifest_bytes: bytes
    config_bytes: bytes
    kitfile: Kitfile


@dataclass(frozen=True)
class LayerBinding:
    """A manifest layer and the Kitfile entry it was built from."""

    desc: Descriptor
    base_type: str
    compression: str
    entry: object | None
    path: str
    name: str
    legacy_paths: bool  # config entry without digest: tar paths relative to dirname(path)


def load_modelkit(store: ReadableStore, ref: str, *, display: str | None = None) -> ModelKit:
    try:
        desc = store.resolve(ref)
    except NotFoundError:
        raise NotFoundError(
            f"model {display or ref} not found", hint="run 'kit list' to see the ModelKits in local storage"
        ) from None
    return load_modelkit_at(store, desc)


def load_modelkit_at(store: ReadableStore, desc: Descriptor) -> ModelKit:
    """The ModelKit whose manifest ``desc`` names. An index is not followed: its variants are
    chosen by the caller (``-l``), so naming one here is an error that says what it is."""
    data = read_blob_bytes(store, desc)
    if desc.media_type in (mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST):
        count = len(Index.from_bytes(data).manifests)
        raise FormatError(
            f"reference exists but is not a modelkit (it is an index of {count} manifests)",
            hint="name one of the manifests it lists, by digest ('kit inspect' shows them)",
        )
    manifest = Manifest.from_bytes(data)
    if manifest.format != "kit":
        raise FormatError(
            "reference exists but is not a modelkit",
            hint="this artifact's config media type is " + manifest.config.media_type,
        )
    config = read_blob_bytes(store, manifest.config)
    return ModelKit(desc, manifest, data, config, kitfile_from_config(config))


def bind_layers(kit: ModelKit) -> list[LayerBinding]:
    """Match layers to Kitfile entries: by digest when every entry has one, else by per-type order."""
    # pack's planner (ignore rules, tar modes): a pull never needs it
    from kitops.modelkit.layers import plan_layers

    specs = plan_layers(kit.kitfile)
    by_digest = {}
    all_have_digest = bool(specs) and all(getattr(s.holder, "layer", None) is not None for s in specs)
    if all_have_digest:
        by_digest = {s.holder.layer.digest: s for s in specs}  # type: ignore[attr-defined]
    queues: dict[str, list[object]] = {}
    for s in specs:
        queues.setdefault(s.base_type, []).append(s)
    out = []
    for layer in kit.manifest.layers:
        parsed = mt.parse_layer_media_type(layer.media_type)
        if parsed is None:
            raise FormatError(f"unknown layer media type {layer.media_type}")
        base, _fmt, comp = parsed
        spec = by_digest.get(layer.digest) if all_have_digest else None
        if spec is None:
            queue = queues.get(base) or []
            spec = queue.pop(0) if queue else None  # type: ignore[assignment]
        elif spec in queues.get(base, []):
            queues[base].remove(spec)
        entry = spec.holder if spec is not None else None
        info = getattr(entry, "layer", None)
        if info is not None and info.digest and info.digest != layer.digest:
            raise FormatError(f"digest in config and manifest do not match in {base}")
        out.append(
            LayerBinding(
                desc=layer,
                base_type=base,
                compression=comp,
                entry=entry,
                path=spec.path if spec is not None else "",
                name=str(getattr(entry, "name", "") or ""),
                legacy_paths=info is None or not info.digest,
            )
        )
    return out
