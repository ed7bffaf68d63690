"""The typed Kitfile: every field of the reference schema plus the newer ``prompts``.

Field order is the Go struct order, which fixes key order in both the YAML the CLI
writes and the config JSON that is hashed into the ModelKit (spec §1.1, §1.3).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from kitops.oci import gojson


@dataclass
class LayerInfo:
    """Digest and diffId of the layer built from an entry; only ever in the config JSON."""

    digest: str = ""
    diff_id: str = ""


@dataclass
class Package:
    name: str = ""
    version: str = ""
    description: str = ""
    license: str = ""
    authors: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.name or self.version or self.description or self.license or self.authors)


@dataclass
class ModelPart:
    name: str = ""
    path: str = ""
    license: str = ""
    type: str = ""
    layer: LayerInfo | None = None


@dataclass
class Model:
    name: str = ""
    path: str = ""
    license: str = ""
    framework: str = ""
    format: str = ""
    version: str = ""
    description: str = ""
    parts: list[ModelPart] = field(default_factory=list)
    parameters: Any = None
    has_parameters: bool = False  # distinguishes "parameters: null" (absent in Go too) from a value
    layer: LayerInfo | None = None


@dataclass
class CodeEntry:
    path: str = ""
    description: str = ""
    license: str = ""
    layer: LayerInfo | None = None


@dataclass
class DatasetEntry:
    name: str = ""
    path: str = ""
    description: str = ""
    license: str = ""
    parameters: Any = None
    has_parameters: bool = False
    layer: LayerInfo | None = None


@dataclass
class DocsEntry:
    path: str = ""
    description: str = ""
    layer: LayerInfo | None = None


@dataclass
class PromptEntry:
    path: str = ""
    description: str = ""
    layer: LayerInfo | None = None


@dataclass
class Kitfile:
    manifest_version: str = ""
    package: Package = field(default_factory=Package)
    model: Model | None = None
    code: list[CodeEntry] = field(default_factory=list)
    datasets: list[DatasetEntry] = field(default_factory=list)
    docs: list[DocsEntry] = field(default_factory=list)
    prompts: list[PromptEntry] = field(default_factory=list)

    # ---- serialisation ------------------------------------------------------------------
    def to_config_dict(self, *, with_layers: bool = True) -> dict[str, Any]:
        """The config blob's structure (Go struct order); dump with ``gojson``."""
        out: dict[str, Any] = {"manifestVersion": self.manifest_version}
        pkg: dict[str, Any] = {}
        _put(pkg, "name", self.package.name)
        _put(pkg, "version", self.package.version)
        _put(pkg, "description", self.package.description)
        _put(pkg, "license", self.package.license)
        if self.package.authors:
            pkg["authors"] = list(self.package.authors)
        out["package"] = pkg
        if self.model is not None:
            m = self.model
            md: dict[str, Any] = {}
            for key in ("name", "path", "license", "framework", "format", "version", "description"):
                _put(md, key, getattr(m, key))
            if m.parts:
                parts = []
                for p in m.parts:
                    pd: dict[str, Any] = {}
                    for key in ("name", "path", "license", "type"):
                        _put(pd, key, getattr(p, key))
                    _put_layer(pd, p.layer, with_layers)
                    parts.append(pd)
                md["parts"] = parts
            if m.parameters is not None:
                md["parameters"] = to_go_value(m.parameters)
            _put_layer(md, m.layer, with_layers)
            out["model"] = md
        if self.code:
            out["code"] = [_entry(c, ("path", "description", "license"), with_layers) for c in self.code]
        if self.datasets:
            items = []
            for d in self.datasets:
                dd: dict[str, Any] = {}
                for key in ("name", "path", "description", "license"):
                    _put(dd, key, getattr(d, key))
                if d.parameters is not None:
                    dd["parameters"] = to_go_value(d.parameters)
                _put_layer(dd, d.layer, with_layers)
                items.append(dd)
            out["datasets"] = items
        if self.docs:
            docs = []
            for doc in self.docs:
                entry: dict[str, Any] = {"path": doc.path}  # no omitempty on docs.path
                _put(entry, "description", doc.description)
                _put_layer(entry, doc.layer, with_layers)
                docs.append(entry)
            out["docs"] = docs
        if self.prompts:
            out["prompts"] = [_entry(p, ("path", "description"), with_layers) for p in self.prompts]
        return out

    def to_config_bytes(self) -> bytes:
        return gojson.dump_bytes(self.to_config_dict())

    def to_yaml(self) -> str:
        from kitops.kitfile.yamlio import dump_yaml

        return dump_yaml(self.to_yaml_value())

    def to_yaml_value(self) -> dict[str, Any]:
        """The structure yaml.v3 would encode (omitempty as in the Go tags, no layer info)."""
        from kitops.kitfile.yamlio import FlowList

        doc: dict[str, Any] = {"manifestVersion": self.manifest_version}
        if not self.package.is_empty():
            pkg: dict[str, Any] = {}
            for key in ("name", "version", "description", "license"):
                _put(pkg, key, getattr(self.package, key))
            if self.package.authors:
                pkg["authors"] = FlowList(self.package.authors)
            doc["package"] = pkg
        if self.model is not None:
            m = self.model
            md: dict[str, Any] = {}
            for key in ("name", "path", "license", "framework", "format", "version", "description"):
                _put(md, key, getattr(m, key))
            if m.parts:
                md["parts"] = [
                    {k: v for k in ("name", "path", "license", "type") if (v := getattr(p, k))} for p in m.parts
                ]
            if m.parameters is not None:
                md["parameters"] = to_yaml_generic(m.parameters)
            doc["model"] = md
        if self.code:
            doc["code"] = [{k: v for k in ("path", "description", "license") if (v := getattr(c, k))} for c in self.code]
        if self.datasets:
            items = []
            for d in self.datasets:
                dd: dict[str, Any] = {k: v for k in ("name", "path", "description", "license") if (v := getattr(d, k))}
                if d.parameters is not None:
                    dd["parameters"] = to_yaml_generic(d.parameters)
                items.append(dd)
            doc["datasets"] = items
        if self.docs:
            doc["docs"] = [{"path": d.path, **({"description": d.description} if d.description else {})} for d in self.docs]
        if self.prompts:
            doc["prompts"] = [{k: v for k in ("path", "description") if (v := getattr(p, k))} for p in self.prompts]
        return doc

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
            LayerEntry("code", p.path, f"prompt layer {i}", p, subtype="prompt") for i, p in enumerate(self.prompts)
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


def _put(d: dict[str, Any], key: str, value: str) -> None:
    if value:
        d[key] = value


def _put_layer(d: dict[str, Any], layer: LayerInfo | None, with_layers: bool) -> None:
    if with_layers and layer is not None:
        _put(d, "digest", layer.digest)
        _put(d, "diffId", layer.diff_id)


def _entry(obj: Any, keys: tuple[str, ...], with_layers: bool) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for key in keys:
        _put(d, key, getattr(obj, key))
    _put_layer(d, obj.layer, with_layers)
    return d


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
