"""Reading a ModelKit config blob (the Kitfile as JSON, with layer digests) back into a Kitfile.

Lenient like the reference: unknown keys are ignored, because configs written by
newer tools must stay readable; a value of the wrong shape reads as empty.
"""

from __future__ import annotations

import json
from typing import Any

from kitops.errors import FormatError
from kitops.kitfile import fields as kf
from kitops.kitfile.fields import Kind
from kitops.kitfile.model import Kitfile, LayerInfo


def _s(obj: dict[str, Any], key: str) -> str:
    v = obj.get(key)
    return v if isinstance(v, str) else ("" if v is None else str(v))


def _layer(obj: dict[str, Any]) -> LayerInfo | None:
    if "digest" in obj or "diffId" in obj:
        return LayerInfo(_s(obj, "digest"), _s(obj, "diffId"))
    return None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _section(cls: type, obj: dict[str, Any]) -> Any:
    """An instance of section class ``cls`` from its JSON object, field by declared field."""
    kwargs: dict[str, Any] = {}
    for spec in kf.kitfile_fields(cls):
        raw = obj.get(spec.key)
        if spec.kind is Kind.TEXT:
            kwargs[spec.attr] = _s(obj, spec.key)
        elif spec.kind is Kind.TEXTS:
            kwargs[spec.attr] = [str(a) for a in raw] if isinstance(raw, list) else []
        elif spec.kind is Kind.VALUE:
            kwargs[spec.attr] = raw
            if spec.presence:
                kwargs[spec.presence] = spec.key in obj
        elif spec.kind is Kind.SECTION:
            if isinstance(raw, dict) or not spec.optional:
                kwargs[spec.attr] = _section(spec.nested, raw if isinstance(raw, dict) else {})
        else:
            kwargs[spec.attr] = [_section(spec.nested, d) for d in _dicts(raw)]
    if kf.carries_layer(cls):
        kwargs["layer"] = _layer(obj)
    return cls(**kwargs)


def kitfile_from_config(data: bytes | dict[str, Any], *, into: type[Kitfile] = Kitfile) -> Kitfile:
    """The Kitfile a config blob holds; ``into`` is the class built (a subclass may declare more fields)."""
    if isinstance(data, (bytes, bytearray)):
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise FormatError(f"config is not valid JSON: {exc}") from None
    else:
        obj = data
    if not isinstance(obj, dict):
        raise FormatError("config is not a JSON object")
    kitfile = _section(into, obj)
    assert isinstance(kitfile, Kitfile)
    return kitfile
