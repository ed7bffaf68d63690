"""The typed Kitfile: every field of the reference schema plus the newer ``prompts``.

Each Kitfile field is declared once, here: a dataclass field whose metadata says what it is
(:mod:`kitops.kitfile.fields`). Declaration order is the Go struct order, which fixes key
order in both the YAML the CLI writes and the config JSON that is hashed into the ModelKit.
Everything that reads or writes a Kitfile walks these declarations, so a new field is one
line in its class.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from kitops.kitfile import fields as kf
from kitops.kitfile.fields import Kind
from kitops.oci import gojson

_PARAMETERS_DOC = (
    "Any YAML value. kit stores a JSON-compatible form: numbers in decimal (0xFF -> 255), maps sorted by key."
)


@dataclass
class LayerInfo:
    """Digest and diffId of the layer built from an entry; only ever in the config JSON."""

    digest: str = ""
    diff_id: str = ""


@dataclass
class Package:
    name: str = field(default="", metadata=kf.text())
    version: str = field(default="", metadata=kf.text(numbers_as_text=True, examples=("1.2.3", "0.13a")))
    description: str = field(default="", metadata=kf.text())
    license: str = field(default="", metadata=kf.text())
    authors: list[str] = field(default_factory=list, metadata=kf.texts())

    def is_empty(self) -> bool:
        return kf.is_empty(self)


@dataclass
class ModelPart:
    name: str = field(default="", metadata=kf.text())
    path: str = field(default="", metadata=kf.text())
    license: str = field(default="", metadata=kf.text(sdk_after="type"))
    type: str = field(default="", metadata=kf.text())
    layer: LayerInfo | None = None


@dataclass
class Model:
    name: str = field(default="", metadata=kf.text())
    path: str = field(default="", metadata=kf.text())  # a file or directory, or a ModelKit reference
    license: str = field(default="", metadata=kf.text(sdk_after="description"))
    framework: str = field(
        default="", metadata=kf.text(examples=("tensorflow", "pytorch", "onnx", "TensorRT"))
    )
    format: str = field(default="", metadata=kf.text())
    version: str = field(default="", metadata=kf.text(numbers_as_text=True, examples=("0.0a13", "1.8.0")))
    description: str = field(default="", metadata=kf.text())
    parts: list[ModelPart] = field(default_factory=list, metadata=kf.entries(ModelPart))
    parameters: Any = field(default=None, metadata=kf.value(presence="has_parameters", doc=_PARAMETERS_DOC))
    has_parameters: bool = False  # distinguishes "parameters: null" (absent in Go too) from a value
    layer: LayerInfo | None = None


@dataclass
class CodeEntry:
    path: str = field(default="", metadata=kf.text())
    description: str = field(default="", metadata=kf.text())
    license: str = field(default="", metadata=kf.text())
    layer: LayerInfo | None = None


@dataclass
class DatasetEntry:
    name: str = field(default="", metadata=kf.text())
    path: str = field(default="", metadata=kf.text())
    description: str = field(default="", metadata=kf.text())
    license: str = field(default="", metadata=kf.text())
    parameters: Any = field(default=None, metadata=kf.value(presence="has_parameters"))
    has_parameters: bool = False
    layer: LayerInfo | None = None


@dataclass
class DocsEntry:
    path: str = field(default="", metadata=kf.text(omitempty=False))  # the reference writes path: "" too
    description: str = field(default="", metadata=kf.text())
    layer: LayerInfo | None = None


@dataclass
class PromptEntry:
    path: str = field(default="", metadata=kf.text())
    description: str = field(default="", metadata=kf.text())
    layer: LayerInfo | None = None


@dataclass
class Kitfile:
    manifest_version: str = field(
        default="",
        metadata=kf.text("manifestVersion", omitempty=False, numbers_as_text=True, sdk_default="1.0.0"),
    )
    package: Package = field(default_factory=Package, metadata=kf.section(Package))
    model: Model | None = field(default=None, metadata=kf.section(Model, sdk_after="prompts"))
    code: list[CodeEntry] = field(default_factory=list, metadata=kf.entries(CodeEntry))
    datasets: list[DatasetEntry] = field(default_factory=list, metadata=kf.entries(DatasetEntry))
    docs: list[DocsEntry] = field(default_factory=list, metadata=kf.entries(DocsEntry))
    prompts: list[PromptEntry] = field(default_factory=list, metadata=kf.entries(PromptEntry))

    # ---- serialisation ------------------------------------------------------------------
    def to_config_dict(self, *, with_layers: bool = True) -> dict[str, Any]:
        """The config blob's structure (Go struct order); dump with ``gojson``."""
        return _config_value(self, with_layers)

    def to_config_bytes(self) -> bytes:
        return gojson.dump_bytes(self.to_config_dict())

    def to_yaml(self) -> str:
        from kitops.kitfile.yamlio import dump_yaml

        return dump_yaml(self.to_yaml_value())

    def to_yaml_value(self) -> dict[str, Any]:
        """The structure yaml.v3 would encode (omitempty as in the Go tags, no layer info)."""
        return _yaml_value(self)

    # ---- layer bookkeeping --------------------------------------------------------------
    def layer_entries(self) -> list[LayerEntry]:
        """Every entry that becomes a layer, in manifest order: model (unless its path is a
        ModelKit reference), model parts, code, datasets, docs, prompts (code with a subtype)."""
        from kitops.oci.reference import is_modelkit_reference

        out: list[LayerEntry] = []
        if self.model is not None:
            m = self.model
            if m.path and not is_modelkit_reference(m.path):
                out.append(LayerEntry("model", m.path, f"model {m.name}".rstrip(), m))
            out.extend(LayerEntry("modelpart", p.path, f"modelpart {p.name}".rstrip(), p) for p in m.parts)
        out.extend(LayerEntry("code", c.path, f"code layer {i}", c) for i, c in enumerate(self.code))
        out.extend(LayerEntry("dataset", d.path, f"dataset {d.name}".rstrip(), d) for d in self.datasets)
        out.extend(LayerEntry("docs", d.path, f"docs layer {i}", d) for i, d in enumerate(self.docs))
        out.extend(
            LayerEntry("code", p.path, f"prompt layer {i}", p, subtype="prompt")
            for i, p in enumerate(self.prompts)
        )
        return out

    def layer_paths(self) -> list[str]:
        """Every path that becomes a layer (the model path only when it is not a reference)."""
        return [e.path for e in self.layer_entries()]


@dataclass(frozen=True)
class LayerEntry:
    """A Kitfile entry that becomes a layer: base media type, path, label for messages, and the entry."""

    base_type: str
    path: str
    label: str
    holder: Any
    subtype: str | None = None


def _config_value(obj: Any, with_layers: bool) -> dict[str, Any]:
    """One section as Go's ``encoding/json`` writes it, then its layer's digest and diffId."""
    out: dict[str, Any] = {}
    for spec in kf.kitfile_fields(type(obj)):
        v = getattr(obj, spec.attr)
        if spec.kind is Kind.SECTION and not spec.optional:
            out[spec.key] = _config_value(v, with_layers)  # encoding/json never omits a struct value
        elif not (spec.omitempty and kf.is_empty_value(spec, v)):
            out[spec.key] = _config_item(spec, v, with_layers)
    layer = obj.layer if with_layers and kf.carries_layer(type(obj)) else None
    if layer is not None:
        _put(out, "digest", layer.digest)
        _put(out, "diffId", layer.diff_id)
    return out


def _config_item(spec: kf.FieldSpec, v: Any, with_layers: bool) -> Any:
    if spec.kind is Kind.TEXTS:
        return list(v)
    if spec.kind is Kind.VALUE:
        return to_go_value(v)
    if spec.kind is Kind.SECTION:
        return None if v is None else _config_value(v, with_layers)
    if spec.kind is Kind.ENTRIES:
        return [_config_value(item, with_layers) for item in v]
    return v


def _yaml_value(obj: Any) -> dict[str, Any]:
    """One section as yaml.v3 encodes it: omitempty drops empty values and all-empty sections."""
    from kitops.kitfile.yamlio import FlowList

    out: dict[str, Any] = {}
    for spec in kf.kitfile_fields(type(obj)):
        v = getattr(obj, spec.attr)
        if spec.omitempty and kf.is_empty_value(spec, v):
            continue
        if spec.kind is Kind.TEXTS:
            v = FlowList(v)  # authors: [A, B], as the reference writes them
        elif spec.kind is Kind.VALUE:
            v = to_yaml_generic(v)
        elif spec.kind is Kind.SECTION:
            v = None if v is None else _yaml_value(v)
        elif spec.kind is Kind.ENTRIES:
            v = [_yaml_value(item) for item in v]
        out[spec.key] = v
    return out


def _put(d: dict[str, Any], key: str, value: str) -> None:
    if value:
        d[key] = value


def to_go_value(value: Any) -> Any:
    """Generic YAML value -> what Go's JSON encoder sees (maps sorted, dates as RFC 3339)."""
    if isinstance(value, dict):
        return gojson.GoMap({k: to_go_value(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_go_value(v) for v in value]
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.timezone.utc)
    return value


def to_yaml_generic(value: Any) -> Any:
    """Generic value -> what yaml.v3 encodes for ``interface{}``: maps sorted its way."""
    from kitops.kitfile.yamlio import SortedMap

    if isinstance(value, dict):
        return SortedMap({k: to_yaml_generic(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_yaml_generic(v) for v in value]
    return value
