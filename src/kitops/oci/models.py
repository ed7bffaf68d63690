"""Typed OCI values: Descriptor, Manifest, Index, with Go-identical JSON encoding.

Key order follows the Go structs of ``opencontainers/image-spec`` so that a
manifest serialised here hashes to the same digest as one serialised by Go.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kitops.errors import FormatError
from kitops.oci import gojson
from kitops.oci import mediatypes as mt
from kitops.oci.digest import is_digest, sha256_digest

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # distribution's own limit; bigger is hostile


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] | None = None
    artifact_type: str | None = None
    urls: tuple[str, ...] | None = None

    def to_go(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = gojson.GoMap(self.annotations)
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    @classmethod
    def from_json(cls, obj: Any) -> Descriptor:
        if not isinstance(obj, dict):
            raise FormatError("descriptor is not a JSON object")
        try:
            media_type = str(obj.get("mediaType", ""))
            digest = str(obj["digest"])
            size = int(obj["size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"malformed descriptor: {exc}") from None
        if not is_digest(digest):
            raise FormatError(f"descriptor has an invalid digest {digest!r}")
        if size < 0:
            raise FormatError("descriptor has a negative size")
        ann = obj.get("annotations")
        urls = obj.get("urls")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            annotations=dict(ann) if isinstance(ann, dict) else None,
            artifact_type=obj.get("artifactType") or None,
            urls=tuple(urls) if isinstance(urls, list) else None,
        )

    def plain(self) -> Descriptor:
        """Only mediaType/digest/size: the shape the Go store writes into its index files."""
        return replace(self, annotations=None, artifact_type=None, urls=None)

    @property
    def is_manifest(self) -> bool:
        return mt.is_manifest_type(self.media_type)


@dataclass(frozen=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] | None = None
    media_type: str | None = None  # newer Kit form writes it; v1.7 does not
    artifact_type: str | None = None
    subject: Descriptor | None = None
    schema_version: int = 2
    layers_null: bool = field(default=False, compare=False)  # v1.7 writes "layers":null when empty

    def to_go(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["config"] = self.config.to_go()
        out["layers"] = None if (not self.layers and self.layers_null) else [d.to_go() for d in self.layers]
        if self.subject is not None:
            out["subject"] = self.subject.to_go()
        if self.annotations:
            out["annotations"] = gojson.GoMap(self.annotations)
        return out

    def to_bytes(self) -> bytes:
        return gojson.dump_bytes(self.to_go())

    def descriptor(self, data: bytes | None = None) -> Descriptor:
        data = self.to_bytes() if data is None else data
        return Descriptor(mt.OCI_MANIFEST, sha256_digest(data), len(data), artifact_type=self.artifact_type)

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        obj = _load_json(data, "manifest")
        if not isinstance(obj, dict) or "config" not in obj:
            raise FormatError("manifest has no config")
        layers_raw = obj.get("layers")
        if layers_raw is not None and not isinstance(layers_raw, list):
            raise FormatError("manifest layers is not a list")
        ann = obj.get("annotations")
        subject = obj.get("subject")
        return cls(
            config=Descriptor.from_json(obj["config"]),
            layers=tuple(Descriptor.from_json(d) for d in (layers_raw or [])),
            annotations=dict(ann) if isinstance(ann, dict) else None,
            media_type=obj.get("mediaType") or None,
            artifact_type=obj.get("artifactType") or None,
            subject=Descriptor.from_json(subject) if isinstance(subject, dict) else None,
            schema_version=int(obj.get("schemaVersion", 2)),
            layers_null=layers_raw is None,
        )

    @property
    def format(self) -> str | None:
        """``"kit"``, ``"modelpack"`` or None, by the rules of both the v1.7 and the newer form."""
        if self.artifact_type == mt.KIT_MANIFEST_ARTIFACT or self.config.media_type == mt.KIT_CONFIG:
            return "kit"
        if self.artifact_type == mt.MODELPACK_MANIFEST_ARTIFACT or self.config.media_type == mt.MODELPACK_CONFIG:
            return "modelpack"
        return None


@dataclass(frozen=True)
class Index:
    manifests: tuple[Descriptor, ...]
    media_type: str | None = mt.OCI_INDEX
    artifact_type: str | None = None
    annotations: Mapping[str, str] | None = None
    schema_version: int = 2

    def to_go(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["manifests"] = [d.to_go() for d in self.manifests]
        if self.annotations:
            out["annotations"] = gojson.GoMap(self.annotations)
        return out

    def to_bytes(self) -> bytes:
        return gojson.dump_bytes(self.to_go())

    @classmethod
    def from_bytes(cls, data: bytes) -> Index:
        obj = _load_json(data, "index")
        if not isinstance(obj, dict):
            raise FormatError("index is not a JSON object")
        mans = obj.get("manifests") or []
        if not isinstance(mans, list):
            raise FormatError("index manifests is not a list")
        ann = obj.get("annotations")
        return cls(
            manifests=tuple(Descriptor.from_json(d) for d in mans),
            media_type=obj.get("mediaType") or None,
            artifact_type=obj.get("artifactType") or None,
            annotations=dict(ann) if isinstance(ann, dict) else None,
            schema_version=int(obj.get("schemaVersion", 2)),
        )


def _load_json(data: bytes, what: str) -> Any:
    if len(data) > MAX_MANIFEST_BYTES:
        raise FormatError(f"{what} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{what} is not valid JSON: {exc}") from None
