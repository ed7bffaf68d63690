"""Media types, artifact types and annotation keys of the KitOps and OCI formats."""

from __future__ import annotations

import re

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
