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

COMPRESSIONS = ("none", "gzip", "gzip-fastest", "zstd")

_LAYER_RE = re.compile(r"application/vnd\.kitops\.modelkit\.([a-z]+)\.v1\.(tar|raw)(?:\+([a-z]+))?", re.ASCII)


def layer_media_type(base_type: str, compression: str = "none", layer_format: str = "tar") -> str:
    """``application/vnd.kitops.modelkit.<type>.v1.<tar|raw>[+gzip|+zstd]``."""
    suffix = {"none": "", "gzip": "+gzip", "gzip-fastest": "+gzip", "zstd": "+zstd"}[compression]
    return f"application/vnd.kitops.modelkit.{base_type}.v1.{layer_format}{suffix}"


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
