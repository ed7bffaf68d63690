"""``kit diff``: compare two ModelKits' configs, annotations and layers.

This module reads the two sides (a manifest, and its config when it can be read) and compares
them: layers by digest (and file path), annotations and Kitfile configs key by key. A config that
cannot be read (a missing blob, a registry's 404) is recorded on its side, never raised, so a
comparison of the manifests is always possible. The report text is :mod:`kitops.cli.diff_text`.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kitops.errors import FormatError, KitError
from kitops.modelkit.modelpack_read import (
    annotated_filepath,
    annotated_kitfile,
    generate_kitfile,
    parse_model_config,
)
from kitops.oci import gojson
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest
from kitops.store.base import ReadableStore, read_blob_bytes

# The reference's user-facing names for ModelPack layer types (mediatype.UserString()).
_MODELPACK_TYPES = ("config", "weight", "weight.config", "dataset", "code", "doc")
_MODELPACK_PREFIX = "application/vnd.cncf.model."

# Lists of Kitfile entries, matched by their ``path`` when every path is unique.
_ENTRY_LISTS = ("model.parts", "code", "datasets", "docs", "prompts")
# Keys of the config blob that only repeat what another key says (diffId follows digest).
_NOISE_KEYS = frozenset({"diffId"})


@dataclass(frozen=True)
class ModelKitDiff:
    """Two ModelKits side by side, as :func:`kitops.api.diff` returns them; ``kit diff`` renders
    the report from them (:func:`kitops.cli.diff_text.diff_report`)."""

    a: DiffSide
    b: DiffSide

    @property
    def identical(self) -> bool:
        return self.a.descriptor.digest == self.b.descriptor.digest

    @property
    def layers(self) -> LayerComparison:
        return compare_layers(self.a.manifest, self.b.manifest)

    @property
    def annotations(self) -> list[Change]:
        return annotation_changes(self.a.manifest.annotations, self.b.manifest.annotations)

    @property
    def kitfile(self) -> list[Change] | None:
        """Kitfile differences, or None when a config could not be read."""
        if self.a.config is None or self.b.config is None:
            return None
        return kitfile_changes(self.a.config, self.b.config)


@dataclass(frozen=True)
class DiffSide:
    """One of the two ModelKits: its manifest, and its config when that could be read.

    ``config`` is the config blob as JSON (the Kitfile with layer digests); when it is None,
    ``config_error`` says why (missing blob, not a Kitfile config...).
    """

    reference: str
    descriptor: Descriptor
    manifest: Manifest
    config: Mapping[str, Any] | None = None
    config_error: str | None = None


@dataclass(frozen=True)
class Change:
    """One key that differs: ``added`` (only in ModelKit2), ``removed`` (only in ModelKit1), or ``changed``."""

    kind: Literal["added", "removed", "changed"]
    key: str
    old: Any = None
    new: Any = None
    short_digests: bool = False  # a config value: its layer digests are shown cut, like the layer tables


@dataclass(frozen=True)
class LayerComparison:
    shared: list[Descriptor]
    only_a: list[Descriptor]
    only_b: list[Descriptor]


def read_side(store: ReadableStore, desc: Descriptor, reference: str) -> DiffSide:
    """The manifest at ``desc`` (of any model format, else FormatError), and its Kitfile config
    when it can be read: a missing or unreadable config is recorded, never raised. A ModelPack or
    Docker model is compared through its Kitfile (annotated, or made from its layers and config),
    so that it compares with a Kit ModelKit key by key."""
    manifest = Manifest.from_bytes(read_blob_bytes(store, desc))
    if manifest.format is None:
        raise FormatError(
            "reference exists but is not a modelkit",
            hint="this artifact's config media type is " + manifest.config.media_type,
        )
    if manifest.format != "kit":
        return _model_side(store, desc, reference, manifest, manifest.format)
    if manifest.config.media_type != mt.KIT_CONFIG:
        return DiffSide(
            reference, desc, manifest, None, f"its config ({manifest.config.media_type}) is not a Kitfile"
        )
    try:
        config = json.loads(read_blob_bytes(store, manifest.config))
    except (KitError, OSError) as exc:
        return DiffSide(reference, desc, manifest, None, str(exc) or type(exc).__name__)
    except ValueError as exc:
        return DiffSide(reference, desc, manifest, None, f"config is not valid JSON: {exc}")
    if not isinstance(config, dict):
        return DiffSide(reference, desc, manifest, None, "config is not a JSON object")
    return DiffSide(reference, desc, manifest, config)


def _model_side(
    store: ReadableStore, desc: Descriptor, reference: str, manifest: Manifest, fmt: str
) -> DiffSide:
    try:
        kitfile = annotated_kitfile(manifest)
        if kitfile is None:
            kitfile = generate_kitfile(
                manifest, parse_model_config(read_blob_bytes(store, manifest.config), fmt)
            )
    except (KitError, OSError) as exc:
        return DiffSide(reference, desc, manifest, None, str(exc) or type(exc).__name__)
    # the JSON a Kit config holds (plain values), as the other side's is read
    return DiffSide(reference, desc, manifest, json.loads(gojson.dump_bytes(kitfile.to_config_dict())))


# ---------------------------------------------------------------------------------------------
# comparisons


def layer_type(media_type: str) -> str:
    """The "Type" column: the layer's base type (``model``, ``modelpart``, ``dataset``, ``code``,
    ``docs``; ModelPack's own names for its layers), as the reference prints it."""
    if media_type == mt.OCI_MANIFEST:
        return "manifest"
    parsed = mt.parse_layer_media_type(media_type)
    if parsed is not None:
        return parsed[0]
    if media_type in mt.MODELPACK_CONFIGS or media_type in mt.DOCKER_MODEL_CONFIGS:
        return "config"
    try:  # legacy cnai names and Docker Model Runner's types: the ModelPack kind they stand for
        any_type = mt.parse_layer_type(media_type)
    except FormatError:  # a raw type with compression: named by its kind below, when it has one
        any_type = None
    if any_type is not None:
        return any_type.modelpack_kind
    if media_type.startswith(_MODELPACK_PREFIX):
        base = media_type[len(_MODELPACK_PREFIX) :].split(".v1.", 1)[0]
        if base in _MODELPACK_TYPES:
            return base
    return "(invalid media type)"


def _filepath(desc: Descriptor) -> str:
    return annotated_filepath(desc)


def _clean(path: str) -> str:
    return posixpath.normpath(path)


def compare_layers(man_a: Manifest, man_b: Manifest) -> LayerComparison:
    """Layers compared by digest, each layer of A used once; when both layers carry a file path
    annotation (newer ModelKits) the paths must match too. Shared layers come in B's order, the
    others in their own manifest's order; each group is then sorted by media type (stably)."""
    pool: dict[str, list[int]] = {}  # digest -> indexes of A's layers not matched yet
    for i, layer in enumerate(man_a.layers):
        pool.setdefault(layer.digest, []).append(i)
    shared: list[Descriptor] = []
    only_b: list[Descriptor] = []
    for layer in man_b.layers:
        candidates = pool.get(layer.digest, [])
        path_b = _filepath(layer)
        match = next(
            (
                n
                for n, i in enumerate(candidates)
                if not path_b
                or not _filepath(man_a.layers[i])
                or _clean(_filepath(man_a.layers[i])) == _clean(path_b)
            ),
            None,
        )
        if match is None:
            only_b.append(layer)
        else:
            shared.append(layer)
            del candidates[match]
    left = sorted(i for indexes in pool.values() for i in indexes)
    only_a = [man_a.layers[i] for i in left]

    def by_type(layers: list[Descriptor]) -> list[Descriptor]:
        return sorted(layers, key=lambda d: d.media_type)

    return LayerComparison(by_type(shared), by_type(only_a), by_type(only_b))


def annotation_changes(a: Mapping[str, str] | None, b: Mapping[str, str] | None) -> list[Change]:
    """Keys only in B (added), only in A (removed), or with another value (changed), sorted by key."""
    a, b = dict(a or {}), dict(b or {})
    out = []
    for key in sorted(set(a) | set(b)):
        if key not in a:
            out.append(Change("added", key, new=b[key]))
        elif key not in b:
            out.append(Change("removed", key, old=a[key]))
        elif a[key] != b[key]:
            out.append(Change("changed", key, a[key], b[key]))
    return out


def _entry_keys(items: Sequence[Any]) -> list[str] | None:
    """Each entry's ``path`` when every entry is a mapping with a unique, non-empty path."""
    paths = [item.get("path") if isinstance(item, Mapping) else None for item in items]
    if all(isinstance(p, str) and p for p in paths) and len(set(paths)) == len(paths):
        return [str(p) for p in paths]
    return None


def _strip_noise(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_noise(v) for k, v in value.items() if k not in _NOISE_KEYS}
    if isinstance(value, list):
        return [_strip_noise(v) for v in value]
    return value


def _diff_values(key: str, a: Any, b: Any, out: list[Change]) -> None:
    if a == b:
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for k in [*a, *(k for k in b if k not in a)]:
            sub = f"{key}.{k}" if key else str(k)
            if sub in _ENTRY_LISTS and isinstance(a.get(k, []), list) and isinstance(b.get(k, []), list):
                _diff_values(sub, a.get(k, []), b.get(k, []), out)  # a whole list added: one line per entry
            elif k not in b:
                out.append(Change("removed", sub, old=a[k], short_digests=True))
            elif k not in a:
                out.append(Change("added", sub, new=b[k], short_digests=True))
            else:
                _diff_values(sub, a[k], b[k], out)
        return
    if isinstance(a, list) and isinstance(b, list) and key in _ENTRY_LISTS:
        keys_a, keys_b = _entry_keys(a), _entry_keys(b)
        if keys_a is not None and keys_b is not None:  # entries matched by path
            _diff_keyed(key, dict(zip(keys_a, a, strict=True)), dict(zip(keys_b, b, strict=True)), out)
        else:  # otherwise by position
            _diff_keyed(key, dict(enumerate(a)), dict(enumerate(b)), out)
        return
    out.append(Change("changed", key, a, b, short_digests=True))


def _diff_keyed(key: str, items_a: Mapping[Any, Any], items_b: Mapping[Any, Any], out: list[Change]) -> None:
    """Entries of a list, matched by their key (a path, or a position): A's order, then B's new ones."""
    for k in [*items_a, *(k for k in items_b if k not in items_a)]:
        sub = f"{key}[{k}]"
        if k not in items_b:
            out.append(Change("removed", sub, old=items_a[k], short_digests=True))
        elif k not in items_a:
            out.append(Change("added", sub, new=items_b[k], short_digests=True))
        else:
            _diff_values(sub, items_a[k], items_b[k], out)


def kitfile_changes(config_a: Mapping[str, Any], config_b: Mapping[str, Any]) -> list[Change]:
    """What differs between two config blobs (Kitfiles with layer digests), key by key, in the
    Kitfile's order. Entries of ``model.parts``, ``code``, ``datasets``, ``docs`` and ``prompts``
    are matched by path (by position when paths repeat), so an entry added or removed shows as one
    change. ``diffId`` is left out: it changes exactly when ``digest`` does."""
    out: list[Change] = []
    _diff_values("", _strip_noise(config_a), _strip_noise(config_b), out)
    return out
