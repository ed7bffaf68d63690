"""Base images the image-build tests make themselves: Debian's static busybox in a one-layer
image (``bin/busybox`` and the ``sh``, ``cat``, ``sha256sum`` links to it), pushed to a real
registry as an OCI image, a Docker v2s2 image, or a two-platform index."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitops.oci import mediatypes as mt
from kitops.oci.digest import sha256_digest
from kitops.oci.models import Descriptor, Index, Manifest
from kitops.oci.reference import parse_single
from kitops.registry.remote import NetworkOptions, Remotes

BUSYBOX = Path("/bin/busybox")
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"


def require_tool(name: str, package: str) -> str:
    """The tool's path; a missing one skips, except in CI, where it is a broken set-up."""
    found = shutil.which(name) or (
        str(Path("/usr/sbin", name)) if Path("/usr/sbin", name).is_file() else None
    )
    if found:
        return found
    message = f"{name} is not installed (scripts/setup-test-extras.sh installs {package})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_busybox() -> Path:
    if BUSYBOX.is_file() and _is_static(BUSYBOX):
        return BUSYBOX
    message = "a static /bin/busybox is missing (scripts/setup-test-extras.sh installs busybox-static)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _is_static(path: Path) -> bool:
    out = subprocess.run(["file", "-L", str(path)], capture_output=True, text=True, check=False).stdout
    return "statically linked" in out or not out  # no `file`: trust the package


def busybox_layer(busybox: Path, origin: str = "") -> bytes:
    """One uncompressed layer: ``bin/busybox`` and symlinks to it, fixed times and owners; with
    ``origin``, also ``etc/origin`` holding it (a layer no other base image has)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if origin:
            note = tarfile.TarInfo("etc/origin")
            note.size, note.mode = len(origin), 0o644
            tar.addfile(note, io.BytesIO(origin.encode()))
        info = tarfile.TarInfo("bin")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        data = busybox.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        for name in ("sh", "cat", "sha256sum", "ls"):
            link = tarfile.TarInfo(f"bin/{name}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
    return out.getvalue()


def image_config(layer: bytes, *, arch: str = "amd64") -> bytes:
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Entrypoint": ["/bin/sh"], "Env": ["PATH=/bin", "LANG=C"], "Labels": {"base": "busybox"}},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer)]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "tests: busybox"}],
    }
    return json.dumps(config).encode()


@dataclass(frozen=True)
class PushedImage:
    reference: str
    descriptor: Descriptor
    layers: tuple[Descriptor, ...]


class Pusher:
    """Pushes blobs and manifests to registries through kit's own client."""

    def __init__(self, home: Path) -> None:
        self._remotes = Remotes(home, NetworkOptions(plain_http=True))

    def close(self) -> None:
        self._remotes.close()

    def blob(self, ref: str, data: bytes, media_type: str) -> Descriptor:
        repo = self._remotes.repository(parse_single(ref))
        desc = Descriptor(media_type, sha256_digest(data), len(data))
        if not repo.exists(desc):
            repo.push(desc, io.BytesIO(data))
        return desc

    def manifest(self, ref: str, data: bytes, media_type: str) -> Descriptor:
        parsed = parse_single(ref)
        repo = self._remotes.repository(parsed)
        desc = Descriptor(media_type, sha256_digest(data), len(data))
        repo.put_manifest(desc, data, parsed.tag or desc.digest)
        return desc

    def image(
        self, ref: str, layer: bytes, *, docker: bool = False, arch: str = "amd64", tag: bool = True
    ) -> PushedImage:
        """A one-layer image: OCI (uncompressed layer) or Docker v2s2 (gzip layer)."""
        config = image_config(layer, arch=arch)
        blob = gzip.compress(layer, mtime=0) if docker else layer
        layer_desc = self.blob(ref, blob, DOCKER_LAYER_GZIP if docker else OCI_LAYER)
        config_desc = self.blob(ref, config, DOCKER_CONFIG if docker else OCI_CONFIG)
        media_type = mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST
        data = Manifest(config_desc, (layer_desc,), media_type=media_type).to_bytes()
        name = ref if tag else ref.rsplit(":", 1)[0] + "@" + sha256_digest(data)
        desc = self.manifest(name, data, media_type)
        return PushedImage(ref, desc, (layer_desc,))

    def index(self, ref: str, entries: list[tuple[PushedImage, str]]) -> Descriptor:
        """An OCI index of ``(image, architecture)`` entries, all linux."""
        manifests = [(image.descriptor, arch) for image, arch in entries]
        raw = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [
                {**desc.to_go(), "platform": {"architecture": arch, "os": "linux"}}
                for desc, arch in manifests
            ],
        }
        data = json.dumps(raw).encode()
        Index.from_bytes(data)  # valid
        return self.manifest(ref, data, mt.OCI_INDEX)
