"""The base image an image build starts from: its manifest (one platform's, when the reference
names a multi-platform index or Docker manifest list) and its config JSON."""

from __future__ import annotations

import platform as host
from dataclasses import dataclass
from typing import Any

from kitops.errors import FormatError, NotFoundError, UsageError
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Index, Manifest, load_json
from kitops.store.base import ReadableStore, read_blob_bytes

OCI_LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
)
DOCKER_LAYER_TYPES = (
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
)
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_IMAGE_CONFIG = "application/vnd.docker.container.image.v1+json"
IMAGE_CONFIGS = (OCI_IMAGE_CONFIG, DOCKER_IMAGE_CONFIG)
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm"}


@dataclass(frozen=True)
class Platform:
    """``os/architecture[/variant]``, as ``--platform`` and an index entry spell it."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(
                f"invalid platform {text!r}", hint="write it as os/architecture[/variant], e.g. linux/amd64"
            )
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    @classmethod
    def host(cls) -> Platform:
        """Linux on this machine's architecture: what a runtime here would pull."""
        machine = host.machine().lower()
        return cls("linux", _ARCHES.get(machine, machine))

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Platform | None:
        """The ``platform`` of an index entry as decoded JSON, or None when it has none."""
        found = raw.get("platform")
        if not isinstance(found, dict):
            return None
        return cls(
            str(found.get("os", "")), str(found.get("architecture", "")), str(found.get("variant", ""))
        )

    def matches(self, other: Platform) -> bool:
        """Same os and architecture; a variant is compared only when this one names it."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        return not self.variant or self.variant == other.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class BaseImage:
    """One platform's image: its manifest descriptor and bytes, decoded manifest and config."""

    descriptor: Descriptor
    manifest: Manifest
    config: dict[str, Any]
    platform: Platform | None

    @property
    def docker(self) -> bool:
        """A Docker v2s2 image (its layers and config use the Docker media types)."""
        return self.descriptor.media_type == mt.DOCKER_MANIFEST


def resolve_base(
    store: ReadableStore, ref: str, want: Platform, *, name: str, what: str = "base image"
) -> BaseImage:
    """The image ``ref`` names in ``store``; an index is narrowed to the entry for ``want``.
    ``what`` names the image in errors (the base of a build, or an image inspected)."""
    try:
        desc = store.resolve(ref)
    except NotFoundError:
        raise NotFoundError(
            f"{what} {name} not found", hint="check the name and tag (and the registry flags)"
        ) from None
    chosen: Platform | None = None
    data = read_blob_bytes(store, desc)
    if desc.media_type in (mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST) or _lists_manifests(data):
        desc, chosen = _pick(Index.from_bytes(data), data, want, f"{what} {name}")
        data = read_blob_bytes(store, desc)
    manifest = Manifest.from_bytes(data)
    if desc.media_type not in (mt.OCI_MANIFEST, mt.DOCKER_MANIFEST) or manifest.config.media_type not in (
        IMAGE_CONFIGS
    ):
        raise FormatError(
            f"{what} {name} is not a container image (config {manifest.config.media_type or 'none'})",
            hint="name an OCI or Docker image, not a ModelKit or other artifact",
        )
    config = load_json(read_blob_bytes(store, manifest.config), f"the config of {what} {name}")
    if not isinstance(config, dict):
        raise FormatError(f"the config of {what} {name} is not a JSON object")
    found = chosen or _config_platform(config)
    if chosen is None and found is not None and not want.matches(found):
        raise UsageError(
            f"{what} {name} is for {found}, not {want}",
            hint=f"pass --platform {found}, or name an image for {want}",
        )
    return BaseImage(desc, manifest, config, found)


def _lists_manifests(data: bytes) -> bool:
    try:
        obj = load_json(data, "manifest")
    except FormatError:
        return False
    return isinstance(obj, dict) and isinstance(obj.get("manifests"), list)


def _config_platform(config: dict[str, Any]) -> Platform | None:
    os_name, arch = config.get("os"), config.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str) or not os_name or not arch:
        return None
    variant = config.get("variant")
    return Platform(os_name, arch, variant if isinstance(variant, str) else "")


def _pick(index: Index, data: bytes, want: Platform, name: str) -> tuple[Descriptor, Platform]:
    """The index entry for ``want``: the first image manifest whose platform matches."""
    raw_entries = load_json(data, "index").get("manifests") or []
    available: list[str] = []
    for entry, raw in zip(index.manifests, raw_entries, strict=False):
        found = Platform.of(raw) if isinstance(raw, dict) else None
        if found is None or entry.media_type not in (mt.OCI_MANIFEST, mt.DOCKER_MANIFEST):
            continue  # attestation manifests (platform unknown/unknown) and nested indexes
        if found.os == "unknown":
            continue
        if want.matches(found):
            return entry, found
        available.append(str(found))
    raise UsageError(
        f"{name} has no image for platform {want}",
        hint="available: " + (", ".join(available) if available else "none") + " (choose with --platform)",
    )
