"""Reading a ModelKit config blob (the Kitfile as JSON, with layer digests) back into a Kitfile.

Lenient like the reference: unknown keys are ignored, because configs written by
newer tools must stay readable.
"""

from __future__ import annotations

import json
from typing import Any

from kitops.errors import FormatError
from kitops.kitfile.model import (
    CodeEntry,
    DatasetEntry,
    DocsEntry,
    Kitfile,
    LayerInfo,
    Model,
    ModelPart,
    Package,
    PromptEntry,
)


def _s(obj: dict[str, Any], key: str) -> str:
    v = obj.get(key)
    return v if isinstance(v, str) else ("" if v is None else str(v))


def _layer(obj: dict[str, Any]) -> LayerInfo | None:
    if "digest" in obj or "diffId" in obj:
        return LayerInfo(_s(obj, "digest"), _s(obj, "diffId"))
    return None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def kitfile_from_config(data: bytes | dict[str, Any]) -> Kitfile:
    if isinstance(data, (bytes, bytearray)):
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise FormatError(f"config is not valid JSON: {exc}") from None
    else:
        obj = data
    if not isinstance(obj, dict):
        raise FormatError("config is not a JSON object")
    pkg = obj.get("package") if isinstance(obj.get("package"), dict) else {}
    assert isinstance(pkg, dict)
    authors = pkg.get("authors")
    kf = Kitfile(
        manifest_version=_s(obj, "manifestVersion"),
        package=Package(
            name=_s(pkg, "name"),
            version=_s(pkg, "version"),
            description=_s(pkg, "description"),
            license=_s(pkg, "license"),
            authors=[str(a) for a in authors] if isinstance(authors, list) else [],
        ),
    )
    m = obj.get("model")
    if isinstance(m, dict):
        kf.model = Model(
            name=_s(m, "name"),
            path=_s(m, "path"),
            license=_s(m, "license"),
            framework=_s(m, "framework"),
            format=_s(m, "format"),
            version=_s(m, "version"),
            description=_s(m, "description"),
            parts=[
                ModelPart(_s(p, "name"), _s(p, "path"), _s(p, "license"), _s(p, "type"), _layer(p))
                for p in _dicts(m.get("parts"))
            ],
            parameters=m.get("parameters"),
            has_parameters="parameters" in m,
            layer=_layer(m),
        )
    kf.code = [CodeEntry(_s(c, "path"), _s(c, "description"), _s(c, "license"), _layer(c)) for c in _dicts(obj.get("code"))]
    kf.datasets = [
        DatasetEntry(
            _s(d, "name"), _s(d, "path"), _s(d, "description"), _s(d, "license"),
            d.get("parameters"), "parameters" in d, _layer(d),
        )
        for d in _dicts(obj.get("datasets"))
    ]
    kf.docs = [DocsEntry(_s(d, "path"), _s(d, "description"), _layer(d)) for d in _dicts(obj.get("docs"))]
    kf.prompts = [PromptEntry(_s(p, "path"), _s(p, "description"), _layer(p)) for p in _dicts(obj.get("prompts"))]
    return kf
