"""Writing the CNCF ModelPack format: layer kinds, native per-file layers, and the config blob.

A Kitfile maps onto ModelPack as the Go kit maps it (model -> ``weight``, code, datasets,
docs, prompts as code with a subtype), with three improvements:

* model parts are classified by their file names (weights, weight configuration such as
  tokenizers and ``config.json``, documents) instead of all being called weight config, and
  every guessed kind is marked ``org.cncf.model.file.mediatype.untested: "true"``;
* ``native`` packing expands each weights directory (the model path and directory parts)
  into one raw layer per file, so a registry stores each shard once across versions and
  runtimes that mount single files (Docker Model Runner) can use them;
* the config carries what ``model.parameters`` says about the model (architecture, size,
  precision, quantization, capabilities, family, vendor, URLs...) where the Go kit writes
  only the format, and its ``createdAt`` honours ``SOURCE_DATE_EPOCH`` so packs reproduce.
"""

from __future__ import annotations

import datetime as _dt
import logging
import posixpath
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kitops.errors import UsageError
from kitops.kitfile.ignore import LayerIgnore
from kitops.kitfile.model import Kitfile
from kitops.modelkit.layers import LayerSpec, layer_files, plan_layers
from kitops.oci import gojson
from kitops.oci import mediatypes as mt

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Layer kinds

WEIGHT_SUFFIXES = frozenset(
    {
        ".safetensors", ".gguf", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".pb", ".tflite",
        ".mlmodel", ".msgpack", ".npz", ".pkl", ".joblib", ".ggml", ".llamafile", ".mar", ".keras",
    }
)  # fmt: skip
_DOC_PREFIXES = ("readme", "license", "licence", "copying", "notice")
_CONFIG_PREFIXES = ("tokenizer", "vocab", "merges", "generation_config", "special_tokens_map")
_CONFIG_SUFFIXES = (".json", ".jinja", ".model")  # .model: a sentencepiece tokenizer


def classify_file(rel: str) -> str | None:
    """The ModelPack kind a file's name suggests (``weight``, ``weight.config``, ``doc``), else None."""
    base = posixpath.basename(rel).lower()
    suffix = posixpath.splitext(base)[1]
    if base.startswith(_DOC_PREFIXES):
        return "doc"
    if suffix in WEIGHT_SUFFIXES:
        return "weight"
    if base.startswith(_CONFIG_PREFIXES) or suffix in _CONFIG_SUFFIXES:
        return "weight.config"
    if suffix == ".md":
        return "doc"
    return None


def _part_kind(context: Path, spec: LayerSpec, ignore: LayerIgnore) -> str:
    """A model part's kind: its file's, or for a directory ``weight`` only when every file in it
    is a weight (a checkpoint folder), else weight config (the Go kit's kind for every part)."""
    if (context / spec.clean).is_dir():
        kinds = {classify_file(e.name) for e in layer_files(context, spec.path, ignore)}
        return "weight" if kinds == {"weight"} else "weight.config"
    return classify_file(spec.clean) or "weight.config"


def _expand(context: Path, spec: LayerSpec, ignore: LayerIgnore, fallback: str) -> list[LayerSpec]:
    """One raw layer per file of the directory ``spec`` names, sorted by path, kinds guessed per file."""
    files = layer_files(context, spec.path, ignore)
    if not files:
        log.warning("No files detected in layer with path %s", spec.path)
    return [
        LayerSpec(
            spec.base_type,
            spec.path,
            spec.holder,
            spec.subtype,
            layer_format="raw",
            file=e.name,
            kind=classify_file(e.name) or fallback,
            guessed=True,
        )
        for e in files
    ]


def plan_modelpack_layers(
    kitfile: Kitfile, context: Path, ignore: LayerIgnore, layer_format: str
) -> list[LayerSpec]:
    """The layers of a ModelPack, in Kitfile order (model, parts, code, datasets, docs, prompts).

    ``tar`` and ``raw`` give one layer per Kitfile entry. ``native`` gives one raw layer per
    file for the model path and each model part that is a directory, a raw layer for every
    other entry that is a file, and a tar layer for the other directories (code, datasets and
    docs folders hold many small files, which gain nothing from being layers of their own).
    """
    out: list[LayerSpec] = []
    for spec in plan_layers(kitfile):
        is_dir = (context / spec.clean).is_dir()
        spec.kind = mt.KIT_TO_MODELPACK_KIND[spec.base_type]
        if spec.base_type == "modelpart":
            spec.kind = _part_kind(context, spec, ignore)
            spec.guessed = True
        if layer_format == "native" and is_dir and spec.base_type in ("model", "modelpart"):
            fallback = "weight" if spec.base_type == "model" else "weight.config"
            out.extend(_expand(context, spec, ignore, fallback))
            continue
        if layer_format == "raw" or (layer_format == "native" and not is_dir):
            spec.layer_format = "raw"
        out.append(spec)
    return out


# ---------------------------------------------------------------------------------------------
# The config blob

_MODALITIES = ("text", "image", "audio", "video", "embedding", "other")
_LANGUAGE_RE = re.compile(r"[a-z]{2}")
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# Key order of the Go structs (modelspecv1.ModelDescriptor, ModelConfig, ModelCapabilities),
# which ``json.Marshal`` follows: the config's bytes match what Go would write for the same values.
DESCRIPTOR_KEYS = (
    "createdAt", "authors", "family", "name", "docURL", "sourceURL", "datasetsURL", "version",
    "revision", "vendor", "licenses", "title", "description",
)  # fmt: skip
CONFIG_KEYS = ("architecture", "format", "paramSize", "precision", "quantization", "capabilities")
CAPABILITY_KEYS = (
    "inputTypes",
    "outputTypes",
    "knowledgeCutoff",
    "reasoning",
    "toolUsage",
    "reward",
    "languages",
)
_LIST_KEYS = frozenset({"authors", "datasetsURL", "licenses", "inputTypes", "outputTypes", "languages"})
_BOOL_KEYS = frozenset({"reasoning", "toolUsage", "reward"})
# model.parameters keys read into the config: each schema key, and the spellings people use
_PARAMETER_KEYS: dict[str, tuple[str, ...]] = {
    "architecture": ("architecture",),
    "format": ("format",),
    "paramSize": ("paramSize", "param_size", "parameterSize", "parameter_size"),
    "precision": ("precision",),
    "quantization": ("quantization",),
}
_DESCRIPTOR_PARAMETER_KEYS: dict[str, tuple[str, ...]] = {
    "family": ("family",),
    "vendor": ("vendor",),
    "docURL": ("docURL", "docUrl", "doc_url"),
    "sourceURL": ("sourceURL", "sourceUrl", "source_url"),
    "revision": ("revision",),
    "datasetsURL": ("datasetsURL", "datasetsUrl", "datasets_url"),
}
_CAPABILITY_PARAMETER_KEYS: dict[str, tuple[str, ...]] = {
    "inputTypes": ("inputTypes", "input_types"),
    "outputTypes": ("outputTypes", "output_types"),
    "knowledgeCutoff": ("knowledgeCutoff", "knowledge_cutoff"),
    "reasoning": ("reasoning",),
    "toolUsage": ("toolUsage", "tool_usage"),
    "reward": ("reward",),
    "languages": ("languages",),
}


class _Invalid(ValueError):
    """A value of the wrong shape for its config key (the message says what is expected)."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("a string")
    return value


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid("a list of strings")
    return list(value)


def _modalities(value: Any) -> list[str]:
    items = _texts(value)
    bad = [v for v in items if v not in _MODALITIES]
    if bad:
        raise _Invalid(f"a list of {', '.join(_MODALITIES)} (got {', '.join(bad)})")
    return items


def _languages(value: Any) -> list[str]:
    items = _texts(value)
    bad = [v for v in items if not _LANGUAGE_RE.fullmatch(v)]
    if bad:
        raise _Invalid(f"two-letter ISO 639-1 codes such as en, fr (got {', '.join(bad)})")
    return items


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def _date_time(value: Any) -> str:
    """An RFC 3339 date-time; a date alone (YAML ``2024-06-01``) means midnight UTC."""
    if isinstance(value, _dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
        return gojson.format_go_time(when)
    if isinstance(value, _dt.date):
        return f"{value.isoformat()}T00:00:00Z"
    if isinstance(value, str) and _DATE_RE.fullmatch(value):
        return _date_time(_parse(_dt.date.fromisoformat, value))
    if isinstance(value, str) and _RFC3339_RE.fullmatch(value):
        _parse(_dt.datetime.fromisoformat, value[:19])  # the fields are in range (no 2024-13-40)
        return value
    raise _Invalid("an RFC 3339 date-time such as 2024-06-01T00:00:00Z, or a date 2024-06-01")


def _parse(parse: Callable[[str], Any], text: str) -> Any:
    try:
        return parse(text)
    except ValueError:
        raise _Invalid("an RFC 3339 date-time such as 2024-06-01T00:00:00Z, or a date 2024-06-01") from None


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "inputTypes": _modalities,
    "outputTypes": _modalities,
    "knowledgeCutoff": _date_time,
    "languages": _languages,
    "reasoning": _flag,
    "toolUsage": _flag,
    "reward": _flag,
    "authors": _texts,
    "datasetsURL": _texts,
    "licenses": _texts,
}


def _checked(key: str, value: Any) -> Any:
    """``value`` checked (and normalised) for the config key ``key``; other keys take a string."""
    check: Callable[[Any], Any] = _CHECKS.get(key) or _text
    return check(value)


def _from_parameters(params: Any, keys: Mapping[str, tuple[str, ...]], where: str) -> dict[str, Any]:
    """The values ``params`` gives for ``keys`` (first spelling found); wrong shapes are skipped
    with a warning, since parameters are free-form and serve other tools too."""
    out: dict[str, Any] = {}
    if not isinstance(params, Mapping):
        return out
    for key, spellings in keys.items():
        found = next((s for s in spellings if s in params), None)
        if found is None or params[found] is None:
            continue
        try:
            out[key] = _checked(key, params[found])
        except _Invalid as exc:
            log.warning(
                "model.parameters %s%s is not %s: left out of the ModelPack config", where, found, exc
            )
    return out


def _licenses(kitfile: Kitfile) -> list[str]:
    """Licences of the package, model, parts, datasets and code (as the Go kit collects them)."""
    found = [kitfile.package.license]
    if kitfile.model is not None:
        found.append(kitfile.model.license)
        found.extend(p.license for p in kitfile.model.parts)
    found.extend(d.license for d in kitfile.datasets)
    found.extend(c.license for c in kitfile.code)
    return sorted({lic for lic in found if lic})


def _ordered(values: Mapping[str, Any], keys: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``values`` in Go struct order, empty strings and lists left out (Go's ``omitempty``)."""
    return {k: values[k] for k in keys if k in values and values[k] not in ("", [], None)}


def modelpack_config(
    kitfile: Kitfile,
    diff_ids: list[str],
    *,
    created: str,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ModelPack config of ``kitfile``: descriptor, modelfs, config (the Go struct's order).

    Explicit ``overrides`` (``descriptor.family=llama``...; see :func:`check_overrides`) win
    over ``model.parameters``, which win over nothing: the Kitfile's own fields (package name,
    version, licences, model format) are never replaced by parameters.
    """
    pkg = kitfile.package
    model = kitfile.model
    params = model.parameters if model is not None else None
    descriptor: dict[str, Any] = {
        "createdAt": created,
        "authors": list(pkg.authors),
        "name": pkg.name,
        "version": pkg.version,
        "licenses": _licenses(kitfile),
        "title": pkg.name,
        "description": pkg.description,
    }
    descriptor.update(_from_parameters(params, _DESCRIPTOR_PARAMETER_KEYS, ""))
    config = _from_parameters(params, _PARAMETER_KEYS, "")
    if model is not None and model.format:
        config["format"] = model.format
    caps_params = params.get("capabilities") if isinstance(params, Mapping) else None
    capabilities = _from_parameters(caps_params, _CAPABILITY_PARAMETER_KEYS, "capabilities.")
    for key, value in check_overrides(overrides or {}).items():
        section, _, name = key.partition(".")
        if section == "descriptor":
            descriptor[name] = value
        elif name.startswith("capabilities."):
            capabilities[name.partition(".")[2]] = value
        else:
            config[name] = value
    caps = _ordered(capabilities, CAPABILITY_KEYS)
    if caps:
        config["capabilities"] = caps
    return {
        "descriptor": _ordered(descriptor, DESCRIPTOR_KEYS),
        "modelfs": {"type": "layers", "diffIds": list(diff_ids)},
        "config": _ordered(config, CONFIG_KEYS),
    }


def config_bytes(config: Mapping[str, Any]) -> bytes:
    """Compact JSON, keys in the order given (deterministic: the same Kitfile gives the same digest)."""
    return gojson.dump_bytes(config)


OVERRIDE_KEYS = (
    *(f"descriptor.{k}" for k in DESCRIPTOR_KEYS if k != "createdAt"),
    *(f"config.{k}" for k in CONFIG_KEYS if k != "capabilities"),
    *(f"config.capabilities.{k}" for k in CAPABILITY_KEYS),
)


def check_overrides(overrides: Mapping[str, str]) -> dict[str, Any]:
    """Explicit config values by dotted key, typed: lists are comma-separated, flags true/false,
    an empty value leaves the key out. Raises UsageError naming the key and what it takes."""
    out: dict[str, Any] = {}
    for key, text in overrides.items():
        if key not in OVERRIDE_KEYS:
            raise UsageError(
                f"unknown ModelPack config key {key!r}",
                hint="keys: " + ", ".join(OVERRIDE_KEYS) + " (createdAt follows SOURCE_DATE_EPOCH)",
            )
        if not isinstance(text, str):
            raise UsageError(f"ModelPack config value for {key} must be a string, got {text!r}")
        name = key.rpartition(".")[2]
        value: Any = text
        if name in _LIST_KEYS:
            value = [item.strip() for item in text.split(",") if item.strip()]
        elif name in _BOOL_KEYS and text.strip():
            value = {"true": True, "false": False}.get(text.strip().lower(), text)
        if value in ("", []):
            out[key] = value  # set empty: the key is left out of the config
            continue
        try:
            out[key] = _checked(name, value)
        except _Invalid as exc:
            raise UsageError(
                f"invalid ModelPack config value for {key}: {text!r} is not {exc}",
                hint=f"pass --modelpack-config {key}=VALUE with a valid value",
            ) from None
    return out


def refuse_mcp_servers(kitfile: Kitfile) -> None:
    """MCP server bundles have no ModelPack layer type: refuse them, as the Go kit does."""
    if getattr(kitfile, "mcp_servers", None):
        raise UsageError(
            "mcpServers are not supported when packing in modelpack format",
            hint="pack without --use-model-pack (the Kit format keeps MCP servers), or remove mcpServers",
        )
