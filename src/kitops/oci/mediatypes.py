"""Media types, artifact types and annotation keys of the KitOps and OCI formats."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kitops.errors import FormatError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json"

MANIFEST_ACCEPT = ", ".join(
    [DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX, OCI_ARTIFACT_MANIFEST]
)

KIT_CONFIG = "application/vnd.kitops.modelkit.config.v1+json"
KIT_MANIFEST_ARTIFACT = "application/vnd.kitops.modelkit.manifest.v1+json"
MODELPACK_CONFIG = "application/vnd.cncf.model.config.v1+json"
MODELPACK_MANIFEST_ARTIFACT = "application/vnd.cncf.model.manifest.v1+json"

ANNOTATION_CLI_VERSION = "ml.kitops.modelkit.cli-version"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_FILEPATH = "org.cncf.model.filepath"
ANNOTATION_LAYER_SUBTYPE = "ml.kitops.modelkit.layer-subtype"
ANNOTATION_KITFILE = "ml.kitops.modelkit.kitfile"  # the Kitfile as JSON, on a ModelPack manifest
ANNOTATION_FILE_METADATA = "org.cncf.model.file.metadata+json"
ANNOTATION_MEDIATYPE_UNTESTED = "org.cncf.model.file.mediatype.untested"
ANNOTATION_TITLE = "org.opencontainers.image.title"

# ModelPack before the 2025 prefix rename (read only), and Docker Model Runner's own format.
LEGACY_MODELPACK_CONFIG = "application/vnd.cnai.model.config.v1+json"
LEGACY_MODELPACK_MANIFEST_ARTIFACT = "application/vnd.cnai.model.manifest.v1+json"
LEGACY_ANNOTATION_FILEPATH = "org.cnai.model.filepath"
LEGACY_ANNOTATION_FILE_METADATA = "org.cnai.model.file.metadata+json"
DOCKER_MODEL_CONFIGS = (
    "application/vnd.docker.ai.model.config.v0.1+json",
    "application/vnd.docker.ai.model.config.v0.2+json",
)

# ModelPack layer kinds and the Kit layer type each corresponds to (model parts are written as
# weight config by the Go kit; see modelpack-signing-kubeflow.md §2.1).
MODELPACK_KINDS = ("weight", "weight.config", "doc", "code", "dataset")
KIT_TO_MODELPACK_KIND = {
    "model": "weight",
    "modelpart": "weight.config",
    "code": "code",
    "dataset": "dataset",
    "docs": "doc",
}
MODELPACK_KIND_TO_KIT = {
    "weight": "model",
    "weight.config": "modelpart",
    "code": "code",
    "dataset": "dataset",
    "doc": "docs",
}

COMPRESSIONS = ("none", "gzip", "gzip-fastest", "zstd")

_LAYER_RE = re.compile(r"application/vnd\.kitops\.modelkit\.([a-z]+)\.v1\.(tar|raw)(?:\+([a-z]+))?", re.ASCII)


def layer_media_type(base_type: str, compression: str = "none", layer_format: str = "tar") -> str:
    """``application/vnd.kitops.modelkit.<type>.v1.<tar|raw>[+gzip|+zstd]``."""
    suffix = {"none": "", "gzip": "+gzip", "gzip-fastest": "+gzip", "zstd": "+zstd"}[compression]
    return f"application/vnd.kitops.modelkit.{base_type}.v1.{layer_format}{suffix}"


def modelpack_layer_media_type(kind: str, compression: str = "none", layer_format: str = "tar") -> str:
    """``application/vnd.cncf.model.<kind>.v1.<raw|tar>[+gzip|+zstd]`` (no compression on raw)."""
    if kind not in MODELPACK_KINDS:
        raise ValueError(f"unknown ModelPack layer kind {kind!r}")
    if layer_format == "raw" and compression != "none":
        raise ValueError("ModelPack raw layers cannot be compressed")
    suffix = {"none": "", "gzip": "+gzip", "gzip-fastest": "+gzip", "zstd": "+zstd"}[compression]
    return f"application/vnd.cncf.model.{kind}.v1.{layer_format}{suffix}"


def parse_layer_media_type(media_type: str) -> tuple[str, str, str] | None:
    """Return (base type, format, compression) for a Kit layer media type, else None.

    Compression is ``none``, ``gzip`` or ``zstd`` (or the raw unknown suffix, which
    readers must reject rather than guess).
    """
    m = _LAYER_RE.fullmatch(media_type)
    if not m:
        return None
    return m.group(1), m.group(2), m.group(3) or "none"


def is_manifest_type(media_type: str) -> bool:
    return media_type in (
        OCI_MANIFEST,
        DOCKER_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
        OCI_ARTIFACT_MANIFEST,
    )


# ---- reading every model format's layers ---------------------------------------------------

# Docker Model Runner's own layer types: each stands for one ModelPack kind and layer format.
DOCKER_GGUF = "application/vnd.docker.ai.gguf.v3"
DOCKER_SAFETENSORS = "application/vnd.docker.ai.safetensors"
DOCKER_DDUF = "application/vnd.docker.ai.dduf"
DOCKER_MMPROJ = "application/vnd.docker.ai.mmproj"
DOCKER_CHAT_TEMPLATE = "application/vnd.docker.ai.chat.template.jinja"
DOCKER_VLLM_CONFIG_TAR = "application/vnd.docker.ai.vllm.config.tar"
DOCKER_DIR_TAR = "application/vnd.docker.ai.dir.tar"
DOCKER_MODEL_FILE = "application/vnd.docker.ai.model.file"
DOCKER_LICENSE = "application/vnd.docker.ai.license"
DOCKER_LAYER_TYPES = {  # media type -> (ModelPack kind, layer format)
    DOCKER_GGUF: ("weight", "raw"),
    DOCKER_SAFETENSORS: ("weight", "raw"),
    DOCKER_DDUF: ("weight", "raw"),
    DOCKER_MMPROJ: ("weight", "raw"),
    DOCKER_CHAT_TEMPLATE: ("weight.config", "raw"),
    DOCKER_VLLM_CONFIG_TAR: ("weight.config", "tar"),
    DOCKER_DIR_TAR: ("weight.config", "tar"),
    DOCKER_MODEL_FILE: ("weight.config", "raw"),  # a Markdown file is a doc: see parse_layer_type
    DOCKER_LICENSE: ("doc", "raw"),
}

# Every model artifact format kit reads (``Manifest.format``).
MODEL_FORMATS = ("kit", "modelpack", "docker-model")
MODELPACK_CONFIGS = (MODELPACK_CONFIG, LEGACY_MODELPACK_CONFIG)
MODELPACK_MANIFEST_ARTIFACTS = (MODELPACK_MANIFEST_ARTIFACT, LEGACY_MODELPACK_MANIFEST_ARTIFACT)

_ANY_MODELPACK_LAYER_RE = re.compile(
    r"application/vnd\.(cncf|cnai)\.model\.([a-z]+(?:\.[a-z]+)?)\.v1\.([a-z0-9]+)(?:\+([a-z0-9]+))?", re.ASCII
)


@dataclass(frozen=True)
class LayerType:
    """What a layer media type of any model format says about the layer.

    ``kind`` is the Kit name (``model``, ``modelpart``, ``code``, ``dataset``, ``docs``: what the
    Kitfile and ``--filter`` call it), ``modelpack_kind`` the ModelPack one (``weight``,
    ``weight.config``, ``code``, ``dataset``, ``doc``; empty for a Kit type ModelPack lacks).
    ``compression`` is ``none``, ``gzip``, ``zstd``, or an unknown suffix kept verbatim so that
    the reader that must decompress it refuses it by name. ``family``: ``kit``, ``modelpack``
    (either prefix) or ``docker``.
    """

    kind: str
    modelpack_kind: str
    layer_format: str
    compression: str
    family: str


def parse_layer_type(media_type: str, filepath: str = "") -> LayerType | None:
    """The layer type of a Kit, ModelPack (``vnd.cncf`` or the legacy ``vnd.cnai``) or Docker Model
    Runner layer media type; None when it is none of them.

    Docker Model Runner's ``weight.v1.gguf``/``.safetensors`` (and any ``weight.v1.<x>`` that is not
    tar) are raw weights. ``filepath`` decides the kind of Docker's generic ``model.file`` (a
    Markdown file is a doc). The Kit format allows a compressed raw layer (the file, compressed);
    ModelPack does not, and such a ModelPack type raises FormatError rather than be guessed at.
    """
    kit = parse_layer_media_type(media_type)
    if kit is not None:
        base, layer_format, compression = kit
        return LayerType(base, KIT_TO_MODELPACK_KIND.get(base, ""), layer_format, compression, "kit")
    m = _ANY_MODELPACK_LAYER_RE.fullmatch(media_type)
    if m is not None:
        kind, layer_format, compression = m.group(2), m.group(3), m.group(4) or "none"
        if kind not in MODELPACK_KINDS:
            return None
        if layer_format not in ("tar", "raw"):
            if kind != "weight":
                return None
            layer_format = "raw"  # Docker Model Runner's weight.v1.gguf / .safetensors: one file
        _check_raw(media_type, layer_format, compression)
        return LayerType(MODELPACK_KIND_TO_KIT[kind], kind, layer_format, compression, "modelpack")
    docker = DOCKER_LAYER_TYPES.get(media_type)
    if docker is None:
        return None
    kind, layer_format = docker
    if media_type == DOCKER_MODEL_FILE and filepath.lower().endswith(".md"):
        kind = "doc"
    return LayerType(MODELPACK_KIND_TO_KIT[kind], kind, layer_format, "none", "docker")


def _check_raw(media_type: str, layer_format: str, compression: str) -> None:
    if layer_format == "raw" and compression != "none":
        raise FormatError(
            f"layer media type {media_type} is invalid: ModelPack raw layers cannot be compressed",
            hint="the artifact was not written by a conforming tool",
        )
