"""Building a runnable image from a ModelKit: the base image's layers, then one layer per
selected ModelKit layer, a new config and manifest, all written into one destination store.

Every blob goes through the copy engine: base layers stream from the base image's store (another
registry, even) into the destination, verified and never held whole; ModelKit layers the
destination has already are skipped, and a registry that holds them in another repository
mounts them. Manifests go last, so the destination never names an image whose blobs are missing.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kitops import transfer
from kitops.imagebuild.base import OCI_IMAGE_CONFIG, BaseImage, Platform, resolve_base
from kitops.imagebuild.config import (
    LABEL_MODELKIT_DIGEST,
    LABEL_MODELKIT_REF,
    LABEL_SOURCE,
    RunSettings,
    image_config,
)
from kitops.imagebuild.layers import ImageLayer, ScratchBlobs, needs_oci, plan_layer
from kitops.modelkit.read import ModelKit, bind_layers
from kitops.modelkit.unpack import UnpackFilter, check_filters, select_layers
from kitops.oci import mediatypes as mt
from kitops.oci.digest import sha256_digest
from kitops.oci.models import Descriptor, Manifest
from kitops.progress import Cancel, Progress
from kitops.store.base import ReadableStore, Store

log = logging.getLogger(__name__)
# A Docker v2s2 base whose layers move into an OCI manifest (a zstd ModelKit layer needs one).
_DOCKER_TO_OCI = {
    "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    ),
}
_FOREIGN = ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "nondistributable")


@dataclass(frozen=True)
class BuildInputs:
    """What an image is built from: the ModelKit (and the store its blobs are read from), the
    base image (a reference in its store), and the settings of the new image."""

    kit: ModelKit
    kit_store: ReadableStore
    kit_name: str
    base_store: ReadableStore
    base_ref: str
    base_name: str
    platform: Platform
    settings: RunSettings
    created: str
    filters: Sequence[UnpackFilter] = ()


@dataclass(frozen=True)
class BuiltImage:
    """The image written: its manifest (descriptor and bytes), config, base, and added layers.
    ``converted``: the Docker v2s2 base was listed in an OCI manifest (zstd layers need one)."""

    descriptor: Descriptor
    manifest: Manifest
    config: bytes
    base: BaseImage
    layers: tuple[ImageLayer, ...]
    converted: bool = False


def build_image(
    inputs: BuildInputs,
    dst: Store,
    scratch: Path,
    *,
    tag: str | None = None,
    concurrency: int = transfer.DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> BuiltImage:
    """Build the image into ``dst`` (a registry repository or an OCI layout) and tag it ``tag``.
    Rewritten layers (a workdir other than ``/``, raw layers) are written into ``scratch``."""
    base = resolve_base(inputs.base_store, inputs.base_ref, inputs.platform, name=inputs.base_name)
    check_filters(inputs.kit, inputs.filters)
    bindings = select_layers(bind_layers(inputs.kit), inputs.filters)
    workdir = inputs.settings.workdir
    converted = base.docker and needs_oci(bindings, workdir)
    if converted:
        log.warning(
            "the base image %s is a Docker v2s2 image, which cannot list zstd layers: "
            "the new image is written as an OCI image",
            inputs.base_name,
        )
    docker = base.docker and not converted
    layers = tuple(
        plan_layer(
            b,
            inputs.kit_store,
            workdir=workdir,
            docker=docker,
            scratch=scratch,
            progress=progress,
            cancel=cancel,
        )
        for b in bindings
    )
    config = image_config(base.config, layers, inputs.settings, _labels(inputs), inputs.created)
    config_desc = Descriptor(
        base.manifest.config.media_type if docker else OCI_IMAGE_CONFIG, sha256_digest(config), len(config)
    )
    base_layers = base.manifest.layers if not converted else tuple(_to_oci(d) for d in base.manifest.layers)
    manifest = Manifest(
        config=config_desc,
        layers=(*base_layers, *(x.descriptor for x in layers)),
        media_type=mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
    )
    sources: list[tuple[ReadableStore, list[Descriptor]]] = [
        (inputs.base_store, _distributable(base.manifest.layers)),
        (inputs.kit_store, [x.source for x in layers if x.source is not None]),
        (ScratchBlobs(layers), [x.descriptor for x in layers if x.file is not None]),
    ]
    for src, blobs in sources:
        transfer.copy_blobs(src, dst, blobs, concurrency=concurrency, progress=progress, cancel=cancel)
    if not dst.exists(config_desc):
        dst.push(config_desc, io.BytesIO(config))
    data = manifest.to_bytes()
    desc = Descriptor(manifest.media_type or mt.OCI_MANIFEST, sha256_digest(data), len(data))
    dst.push(desc, io.BytesIO(data))
    if tag:
        dst.tag(desc, tag)
    return BuiltImage(desc, manifest, config, base, layers, converted)


def _labels(inputs: BuildInputs) -> Mapping[str, str]:
    """Which ModelKit the image carries, and where it comes from when the ModelKit says so."""
    labels = {LABEL_MODELKIT_REF: inputs.kit_name, LABEL_MODELKIT_DIGEST: inputs.kit.descriptor.digest}
    source = (inputs.kit.manifest.annotations or {}).get(LABEL_SOURCE)
    if source:
        labels[LABEL_SOURCE] = source
    return labels


def _distributable(layers: Sequence[Descriptor]) -> list[Descriptor]:
    """The base layers a registry serves (foreign layers are fetched from their URLs by runtimes)."""
    return [d for d in layers if not any(f in d.media_type for f in _FOREIGN)]


def _to_oci(desc: Descriptor) -> Descriptor:
    return dataclasses.replace(desc, media_type=_DOCKER_TO_OCI.get(desc.media_type, desc.media_type))
