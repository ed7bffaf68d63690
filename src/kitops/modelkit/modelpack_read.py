"""Reading ModelPack and Docker Model Runner artifacts: their config, layer paths, and a Kitfile.

Every command works on a Kitfile. A ModelPack written by kit carries its Kitfile as a manifest
annotation; one written by another tool (modctl, Docker Model Runner, modelpack-client) does not,
so a Kitfile is generated from its layers and config as the Go kit does: each layer's file path
annotation becomes an entry path, the first weight the model, later weights and weight configs
model parts, and the config's descriptor (name, authors, version...) the package, so that
``kit list`` and ``kit info`` show them. Reading is tolerant (legacy ``vnd.cnai`` names, the
snake_case keys of old configs, Docker's own config shape); paths are not: a layer path that could
leave the output directory, or two layers claiming one path, is refused here, before any command
acts on the artifact.
"""

from __future__ import annotations

import bisect
import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kitops.errors import FormatError, IntegrityError
from kitops.kitfile.config import kitfile_from_config
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
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest, load_json
from kitops.oci.reference import is_modelkit_reference

_UNTRUSTED_HINT = "the artifact was not written by a conforming tool; do not trust it"

# Docker Model Runner's first format names no files: a layer's media type says what it holds.
# (stem, extension); several layers of one type are numbered as sharded files are named.
_DOCKER_FILE_NAMES = {
    mt.DOCKER_GGUF: ("model", ".gguf"),
    "application/vnd.cncf.model.weight.v1.gguf": ("model", ".gguf"),
    mt.DOCKER_SAFETENSORS: ("model", ".safetensors"),
    "application/vnd.cncf.model.weight.v1.safetensors": ("model", ".safetensors"),
    mt.DOCKER_DDUF: ("model", ".dduf"),
    mt.DOCKER_MMPROJ: ("mmproj", ".gguf"),
    mt.DOCKER_CHAT_TEMPLATE: ("template", ".jinja"),
    mt.DOCKER_LICENSE: ("LICENSE", ""),
    mt.DOCKER_MODEL_FILE: ("model-file", ""),
}

# Docker's config archives without a path hold files named relative to the model root.
_DOCKER_ROOT_TARS = (mt.DOCKER_VLLM_CONFIG_TAR, mt.DOCKER_DIR_TAR)

# Legacy (<= v0.0.6) capability keys and their current names.
_CAPABILITY_KEYS = {
    "input_types": "inputTypes",
    "output_types": "outputTypes",
    "knowledge_cutoff": "knowledgeCutoff",
    "tool_usage": "toolUsage",
}
# Config fields shown in the generated Kitfile's model.parameters, in this order.
_MODELPACK_PARAMETERS = ("architecture", "paramSize", "precision", "quantization", "capabilities")
_DOCKER_PARAMETERS = {  # Docker config key -> the name shown
    "architecture": "architecture",
    "parameters": "paramSize",
    "quantization": "quantization",
    "size": "size",
    "context_size": "contextSize",
}


@dataclass(frozen=True)
class ModelConfig:
    """The config blob of a ModelPack (current or legacy keys) or Docker Model Runner artifact.

    ``diff_ids`` is None when the config lists none (nothing to check them against then);
    ``parameters`` holds the technical fields (architecture, paramSize, precision, quantization,
    capabilities...) under their current ModelPack names.
    """

    flavour: str  # "modelpack" or "docker-model"
    name: str = ""
    authors: tuple[str, ...] = ()
    version: str = ""
    description: str = ""
    licenses: tuple[str, ...] = ()
    created: str = ""
    format: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    diff_ids: tuple[str, ...] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)  # the whole config, as decoded


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _texts(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    return tuple(v for v in value if isinstance(v, str) and v) if isinstance(value, list) else ()


def _diff_ids(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FormatError(f"invalid model config: {where} is not a list of digests", hint=_UNTRUSTED_HINT)
    return tuple(value)


def parse_model_config(data: bytes, flavour: str) -> ModelConfig:
    """Read a config blob of format ``flavour`` (``modelpack`` or ``docker-model``)."""
    obj = load_json(data, "model config")
    if not isinstance(obj, dict):
        raise FormatError("invalid model config: not a JSON object", hint=_UNTRUSTED_HINT)
    if flavour == "docker-model":
        return _docker_config(obj)
    descriptor, config, modelfs = (
        _obj(obj.get("descriptor")),
        _obj(obj.get("config")),
        _obj(obj.get("modelfs")),
    )
    parameters: dict[str, Any] = {}
    for key in _MODELPACK_PARAMETERS:
        value = config.get(key)
        if key == "quantization" and value is None:
            value = config.get("puantization")  # the key's name in tags up to v0.0.3
        if key == "capabilities" and isinstance(value, dict):
            value = {_CAPABILITY_KEYS.get(k, k): v for k, v in value.items()}
        if value not in (None, "", {}, []):
            parameters[key] = value
    diff_ids = modelfs.get("diffIds", modelfs.get("diff_ids"))  # diff_ids: tags up to v0.0.6
    return ModelConfig(
        flavour="modelpack",
        name=_text(descriptor, "name") or _text(descriptor, "title"),
        authors=_texts(descriptor, "authors"),
        version=_text(descriptor, "version"),
        description=_text(descriptor, "description"),
        licenses=_texts(descriptor, "licenses"),
        created=_text(descriptor, "createdAt"),
        format=_text(config, "format"),
        parameters=parameters,
        diff_ids=_diff_ids(diff_ids, "modelfs.diffIds"),
        raw=obj,
    )


def _docker_config(obj: dict[str, Any]) -> ModelConfig:
    """``{"config":{format,quantization,parameters,architecture,size,...},"descriptor":{"created"},
    "rootfs":{"type":"rootfs","diff_ids":[...]}}``."""
    config, descriptor, rootfs = _obj(obj.get("config")), _obj(obj.get("descriptor")), _obj(obj.get("rootfs"))
    parameters = {
        shown: config[key] for key, shown in _DOCKER_PARAMETERS.items() if config.get(key) not in (None, "")
    }
    return ModelConfig(
        flavour="docker-model",
        created=_text(descriptor, "created"),
        format=_text(config, "format"),
        parameters=parameters,
        diff_ids=_diff_ids(rootfs.get("diff_ids"), "rootfs.diff_ids"),
        raw=obj,
    )


# ---------------------------------------------------------------------------------------------
# layer paths


def annotated_filepath(desc: Descriptor) -> str:
    """The path a layer's annotations give it: ``org.cncf.model.filepath``, the legacy
    ``org.cnai.model.filepath``, else ``org.opencontainers.image.title`` (modelpack-client); or ''."""
    notes = desc.annotations or {}
    for key in (mt.ANNOTATION_FILEPATH, mt.LEGACY_ANNOTATION_FILEPATH, mt.ANNOTATION_TITLE):
        if notes.get(key):
            return notes[key]
    return ""


def check_filepath(path: str, digest: str) -> str:
    """``path`` cleaned, or IntegrityError when it could lead outside the output directory:
    absolute, with a ``..`` or an empty segment (a trailing ``/`` aside), or a NUL."""
    where = f"layer {digest} has an invalid file path {path!r}"
    if not path or "\0" in path:
        raise IntegrityError(f"{where}: empty, or a NUL in it", hint=_UNTRUSTED_HINT)
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        raise IntegrityError(f"{where}: absolute paths are not allowed", hint=_UNTRUSTED_HINT)
    segments = path.removesuffix("/").split("/")
    if ".." in segments:
        raise IntegrityError(f"{where}: '..' would lead outside the output directory", hint=_UNTRUSTED_HINT)
    if "" in segments:
        raise IntegrityError(f"{where}: empty path segment", hint=_UNTRUSTED_HINT)
    return posixpath.normpath(path)


def layer_filepaths(manifest: Manifest, *, strict: bool) -> list[str]:
    """Each layer's file path: its annotation, else (Docker Model Runner types only) a name made
    from its media type (``model.gguf``; ``model-00001-of-00002.gguf`` when there are several;
    ``.``, the model root, for an archive).

    ``strict`` (a Kitfile is generated from these): every layer of a known type needs a path
    (FormatError ``unknown file path for layer``), paths are checked and cleaned, and two layers
    may not claim one path, nor a raw layer's file be another layer's directory. Otherwise the
    annotations are returned as written ('' when there is none).
    """
    paths = [annotated_filepath(d) for d in manifest.layers]
    unnamed: dict[str, list[int]] = {}
    for i, d in enumerate(manifest.layers):
        if not paths[i] and d.media_type in _DOCKER_FILE_NAMES:
            unnamed.setdefault(d.media_type, []).append(i)
    for i, d in enumerate(manifest.layers):
        if not paths[i] and d.media_type in _DOCKER_ROOT_TARS:
            paths[i] = "."
    for media_type, indexes in unnamed.items():
        stem, ext = _DOCKER_FILE_NAMES[media_type]
        for n, i in enumerate(indexes, 1):
            paths[i] = f"{stem}{ext}" if len(indexes) == 1 else f"{stem}-{n:05d}-of-{len(indexes):05d}{ext}"
    if not strict:
        return paths
    owners: dict[str, str] = {}
    raw_files: list[tuple[str, str]] = []
    for i, d in enumerate(manifest.layers):
        layer_type = mt.parse_layer_type(d.media_type, paths[i])
        if not paths[i]:
            if layer_type is None:
                continue  # unknown to kit: it is refused by name if it is ever unpacked
            raise FormatError(
                f"unknown file path for layer {d.digest}: no {mt.ANNOTATION_FILEPATH} annotation",
                hint="without a path kit cannot tell where the layer's content belongs",
            )
        paths[i] = check_filepath(paths[i], d.digest)
        if paths[i] == "." and layer_type is not None and layer_type.layer_format == "tar":
            continue  # archives of the model root: their entries are checked one by one on unpack
        if paths[i] in owners:
            raise IntegrityError(
                f"layers {owners[paths[i]]} and {d.digest} both have the file path {paths[i]}",
                hint=_UNTRUSTED_HINT,
            )
        owners[paths[i]] = d.digest
        if layer_type is not None and layer_type.layer_format == "raw":
            raw_files.append((paths[i], d.digest))
    ordered = sorted(owners)
    for path, digest in raw_files:
        if path == ".":
            raise IntegrityError(
                f"layer {digest} is a file, but its path names a directory", hint=_UNTRUSTED_HINT
            )
        # the first path after "<path>/" in sorted order is inside it, if any is
        after = ordered[bisect.bisect_left(ordered, path + "/") :][:1]
        if after and after[0].startswith(path + "/"):
            raise IntegrityError(
                f"layer {digest} is the file {path}, but layer {owners[after[0]]} puts {after[0]} inside it",
                hint=_UNTRUSTED_HINT,
            )
    return paths


@dataclass(frozen=True)
class FileMetadata:
    """The ``file.metadata+json`` annotation of a raw layer: permission bits and size, if given."""

    mode: int | None = None
    size: int | None = None


def file_metadata(desc: Descriptor) -> FileMetadata:
    """Mode (permission bits only) and size from a layer's file metadata annotation (current or
    legacy key); a field that is absent is None, one of the wrong type a FormatError."""
    notes = desc.annotations or {}
    text = notes.get(mt.ANNOTATION_FILE_METADATA) or notes.get(mt.LEGACY_ANNOTATION_FILE_METADATA)
    if not text:
        return FileMetadata()
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        raise FormatError(f"layer {desc.digest}: its file metadata annotation is not a JSON object")
    out: dict[str, int] = {}
    for key in ("mode", "size"):
        value = obj.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FormatError(f"layer {desc.digest}: file metadata {key} is not a non-negative integer")
        out[key] = value
    mode = out.get("mode")
    return FileMetadata(mode & 0o777 if mode is not None else None, out.get("size"))


# ---------------------------------------------------------------------------------------------
# the Kitfile


def annotated_kitfile(manifest: Manifest) -> Kitfile | None:
    """The Kitfile kit stores on a ModelPack manifest (as the JSON of a Kit config), or None."""
    text = (manifest.annotations or {}).get(mt.ANNOTATION_KITFILE)
    if not text:
        return None
    obj = load_json(text.encode("utf-8"), f"the {mt.ANNOTATION_KITFILE} annotation")
    if not isinstance(obj, dict):
        raise FormatError(
            f"the {mt.ANNOTATION_KITFILE} annotation is not a JSON object", hint=_UNTRUSTED_HINT
        )
    return kitfile_from_config(obj)


def generate_kitfile(manifest: Manifest, config: ModelConfig | None) -> Kitfile:
    """A Kitfile for a ModelPack or Docker model that carries none, as the Go kit makes it (plus
    the package and the model's technical fields from the config).

    Every layer of a known type must have a file path; LayerInfo is each layer's digest and its
    config diffId (the counts must match). Layers of a type kit does not know get no entry.
    """
    diff_ids = config_diff_ids(config, manifest.layers)
    paths = layer_filepaths(manifest, strict=True)
    kitfile = Kitfile(manifest_version="1.0.0")
    model = Model()
    if config is not None:
        kitfile.package = Package(
            name=config.name,
            version=config.version,
            description=config.description,
            license=config.licenses[0] if config.licenses else "",
            authors=list(config.authors),
        )
        model.format = config.format
        if config.parameters:
            model.parameters, model.has_parameters = dict(config.parameters), True
    for i, desc in enumerate(manifest.layers):
        layer_type = mt.parse_layer_type(desc.media_type, paths[i])
        if layer_type is None:
            continue
        info = LayerInfo(desc.digest, diff_ids[i] if diff_ids is not None else "")
        _add_entry(kitfile, model, layer_type.kind, paths[i], info, desc)
    if model.path or model.parts or model.format or model.has_parameters:
        kitfile.model = model
    return kitfile


def _add_entry(
    kitfile: Kitfile, model: Model, kind: str, path: str, info: LayerInfo, desc: Descriptor
) -> None:
    if kind == "model" and not model.path and not is_modelkit_reference(path):
        # (a path that reads as a ModelKit reference would be taken for one: it stays a part)
        model.path, model.layer = path, info
    elif kind in ("model", "modelpart"):
        model.parts.append(ModelPart(path=path, layer=info))
    elif kind == "code":
        if (desc.annotations or {}).get(mt.ANNOTATION_LAYER_SUBTYPE) == "prompt":
            kitfile.prompts.append(PromptEntry(path=path, layer=info))
        else:
            kitfile.code.append(CodeEntry(path=path, layer=info))
    elif kind == "dataset":
        kitfile.datasets.append(DatasetEntry(path=path, layer=info))
    elif kind == "docs":
        kitfile.docs.append(DocsEntry(path=path, layer=info))


def model_kitfile(manifest: Manifest, config: ModelConfig | None) -> tuple[Kitfile, bool]:
    """The Kitfile of a ModelPack or Docker model: the annotated one, else a generated one
    (then the second value is True)."""
    kitfile = annotated_kitfile(manifest)
    if kitfile is not None:
        return kitfile, False
    return generate_kitfile(manifest, config), True


def config_diff_ids(config: ModelConfig | None, layers: Sequence[Descriptor]) -> tuple[str, ...] | None:
    """The config's diffIds, one per layer; FormatError when the counts differ."""
    if config is None or config.diff_ids is None:
        return None
    if len(config.diff_ids) != len(layers):
        raise FormatError(
            f"invalid model config: number of layers ({len(layers)}) does not match DiffIDs "
            f"({len(config.diff_ids)})",
            hint=_UNTRUSTED_HINT,
        )
    return config.diff_ids
