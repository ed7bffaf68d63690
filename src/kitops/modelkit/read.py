"""Loading a stored ModelKit: manifest, config, Kitfile, and the layer <-> entry mapping.

Every model format reads into one shape, :class:`ModelKit`: a Kit ModelKit's config is its
Kitfile; a ModelPack or Docker Model Runner artifact has a config of its own and a Kitfile from
its manifest annotation or generated from its layers (:mod:`kitops.modelkit.modelpack_read`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kitops.errors import FormatError, NotFoundError
from kitops.kitfile.config import kitfile_from_config
from kitops.kitfile.model import Kitfile
from kitops.kitfile.validate import clean_path
from kitops.modelkit.modelpack_read import (
    ModelConfig,
    check_filepath,
    config_diff_ids,
    layer_filepaths,
    model_kitfile,
    parse_model_config,
)
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Index, Manifest
from kitops.store.base import ReadableStore, read_blob_bytes

if TYPE_CHECKING:
    from kitops.modelkit.layers import LayerSpec


@dataclass(frozen=True)
class ModelKit:
    """A stored model artifact of any format (``format``: ``kit``, ``modelpack``, ``docker-model``).

    ``model_config`` is the parsed config of a ModelPack or Docker model (None for Kit, whose
    config is the Kitfile); ``kitfile_generated`` says the Kitfile was made from the layers
    because the artifact carries none.
    """

    descriptor: Descriptor
    manifest: Manifest
    manifest_bytes: bytes
    config_bytes: bytes
    kitfile: Kitfile
    format: str = "kit"
    model_config: ModelConfig | None = None
    kitfile_generated: bool = False


@dataclass(frozen=True)
class LayerBinding:
    """A manifest layer and the Kitfile entry it was built from.

    ``layer_format`` is ``tar`` or ``raw`` (one file, written to ``filepath``), or '' for a layer
    type kit does not know (refused by name if it is to be unpacked). ``diff_ids`` are what the
    uncompressed content must hash to: the Kitfile's diffId and the model config's, where given.
    """

    desc: Descriptor
    base_type: str
    compression: str
    entry: object | None
    path: str
    name: str
    legacy_paths: bool  # config entry without digest: tar paths relative to dirname(path)
    layer_format: str = "tar"
    filepath: str = ""
    diff_ids: tuple[str, ...] = field(default=())

    @property
    def target_path(self) -> str:
        """What the layer writes, relative to the output directory: a raw layer's file, else
        the Kitfile path of its entry."""
        return self.filepath if self.layer_format == "raw" else self.path


def load_modelkit(store: ReadableStore, ref: str, *, display: str | None = None) -> ModelKit:
    try:
        desc = store.resolve(ref)
    except NotFoundError:
        raise NotFoundError(
            f"model {display or ref} not found", hint="run 'kit list' to see the ModelKits in local storage"
        ) from None
    return load_modelkit_at(store, desc)


def load_modelkit_at(store: ReadableStore, desc: Descriptor) -> ModelKit:
    """The model artifact whose manifest ``desc`` names. An index is not followed: its variants
    are chosen by the caller (``-l``), so naming one here is an error that says what it is."""
    data = read_blob_bytes(store, desc)
    if desc.media_type in (mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST):
        count = len(Index.from_bytes(data).manifests)
        raise FormatError(
            f"reference exists but is not a modelkit (it is an index of {count} manifests)",
            hint="name one of the manifests it lists, by digest ('kit inspect' shows them)",
        )
    manifest = Manifest.from_bytes(data)
    fmt = manifest.format
    if fmt is None:
        raise FormatError(
            "reference exists but is not a modelkit",
            hint="this artifact's config media type is " + manifest.config.media_type,
        )
    config = read_blob_bytes(store, manifest.config)
    if fmt == "kit":
        return ModelKit(desc, manifest, data, config, kitfile_from_config(config))
    model_config = parse_model_config(config, fmt)
    kitfile, generated = model_kitfile(manifest, model_config)
    return ModelKit(desc, manifest, data, config, kitfile, fmt, model_config, generated)


def _layer_type(kit: ModelKit, layer: Descriptor, path: str) -> mt.LayerType | None:
    layer_type = mt.parse_layer_type(layer.media_type, path)
    if layer_type is None and kit.format == "kit":
        raise FormatError(f"unknown layer media type {layer.media_type}")
    return layer_type


def _holder_digest(spec: LayerSpec) -> str:
    info = getattr(spec.holder, "layer", None)
    return str(info.digest) if info is not None and info.digest else ""


def _containing(specs: Sequence[LayerSpec], path: str) -> LayerSpec | None:
    """The entry whose path is ``path`` or a directory holding it (the deepest one): a ModelPack
    written with one raw layer per file names the directory in its Kitfile (with no layer digest)
    and records the files' layers only in the manifest."""
    target = clean_path(path)
    best, best_len = None, -2
    for spec in specs:
        own = clean_path(spec.path)
        if own == target or own == "." or target.startswith(own + "/"):
            length = -1 if own == "." else len(own)
            if length > best_len:
                best, best_len = spec, length
    return best


def bind_layers(kit: ModelKit) -> list[LayerBinding]:
    """Match layers to Kitfile entries: by digest; else (ModelPack) by the layer's file path
    inside the path of an entry without digest; else by per-type order (Kit configs without
    digests)."""
    # pack's planner (ignore rules, tar modes): a pull never needs it
    from kitops.modelkit.layers import plan_layers

    specs = plan_layers(kit.kitfile)
    layers = kit.manifest.layers
    config_ids = config_diff_ids(kit.model_config, layers)
    paths = layer_filepaths(kit.manifest, strict=False)
    by_digest: dict[str, list[LayerSpec]] = {}
    for s in specs:
        if _holder_digest(s):
            by_digest.setdefault(_holder_digest(s), []).append(s)
    digestless = [s for s in specs if not _holder_digest(s)] if kit.format != "kit" else []
    used: set[int] = set()
    out = []
    for i, layer in enumerate(layers):
        layer_type = _layer_type(kit, layer, paths[i])
        candidates = by_digest.get(layer.digest)
        how, spec = "digest", candidates.pop(0) if candidates else None
        if spec is None and paths[i]:
            how, spec = "path", _containing(digestless, paths[i])
        if spec is None and layer_type is not None:
            how = "order"
            spec = _next_in_order(specs, used, layer_type.kind, weights_to_parts=kit.format != "kit")
            if spec is not None and _holder_digest(spec) and _holder_digest(spec) != layer.digest:
                raise FormatError(f"digest in config and manifest do not match in {layer_type.kind}")
        if spec is not None:
            used.add(id(spec))
        out.append(_binding(kit, layer, layer_type, spec, how, paths[i], config_ids[i] if config_ids else ""))
    return out


def _next_in_order(
    specs: Sequence[LayerSpec], used: set[int], kind: str, *, weights_to_parts: bool
) -> LayerSpec | None:
    """The first entry of ``kind`` not bound yet; with ``weights_to_parts`` (ModelPack, which may
    have several weight layers) extra weights fall through to model parts, as the Go kit binds them."""
    kinds = ("model", "modelpart") if kind == "model" and weights_to_parts else (kind,)
    for want in kinds:
        for s in specs:
            if id(s) not in used and s.base_type == want:
                return s
    return None


def _binding(
    kit: ModelKit,
    layer: Descriptor,
    layer_type: mt.LayerType | None,
    spec: LayerSpec | None,
    how: str,
    annotated: str,
    config_diff_id: str,
) -> LayerBinding:
    entry = spec.holder if spec is not None else None
    info = getattr(entry, "layer", None)
    entry_path = spec.path if spec is not None else ""
    if layer_type is None:
        base = "unknown"
    elif kit.format == "kit" or spec is None:
        base = layer_type.kind
    else:  # a file inside a model directory belongs to the model, whatever its own kind
        base = spec.base_type
    filepath = ""
    if layer_type is not None and layer_type.layer_format == "raw":
        # the layer names its own file; an entry bound by digest is that one file
        source = annotated or (entry_path if how == "digest" else "")
        if not source:
            raise FormatError(
                f"raw layer {layer.digest} has no file path",
                hint=f"a raw layer is one file; its {mt.ANNOTATION_FILEPATH} annotation says where it goes",
            )
        filepath = check_filepath(source, layer.digest)
    diff_ids = tuple(
        d for d in (info.diff_id if info is not None and how != "path" else "", config_diff_id) if d
    )
    return LayerBinding(
        desc=layer,
        base_type=base,
        compression=layer_type.compression if layer_type is not None else "none",
        entry=entry,
        path=entry_path if spec is not None else annotated,
        name=str(getattr(entry, "name", "") or ""),
        legacy_paths=kit.format == "kit" and (info is None or not info.digest),
        layer_format=layer_type.layer_format if layer_type is not None else "",
        filepath=filepath,
        diff_ids=diff_ids,
    )
