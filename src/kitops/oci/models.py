"""Typed OCI values: Descriptor, Manifest, Index, with Go-identical JSON encoding.

Key order follows the Go structs of ``opencontainers/image-spec`` so that a
manifest serialised here hashes to the same digest as one serialised by Go.
"""

from __future__ import annotations

import array
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kitops.errors import FormatError
from kitops.oci import gojson
from kitops.oci import mediatypes as mt
from kitops.oci.digest import is_digest, sha256_digest

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # distribution's own limit; bigger is hostile
# A manifest nests 5 deep (manifest > layers > descriptor > annotations > value), an index with
# platforms 6. Python's json recurses once per level and dies with RecursionError near 1000.
MAX_JSON_DEPTH = 64
# How many indexes may lead to a manifest (index > index > ... > manifest). Real graphs use one
# or two; a registry can serve a chain thousands deep, which recursion cannot survive.
MAX_INDEX_DEPTH = 8
_GO_INT_MIN, _GO_INT_MAX = -(2**63), 2**63 - 1

_HINT = (
    "the registry or store holds something that is not a valid OCI manifest; re-push it, or check the source"
)


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
    def from_json(cls, obj: Any, *, what: str = "descriptor") -> Descriptor:
        """A descriptor decoded as Go's ``json.Unmarshal`` into ``ocispec.Descriptor`` would: a
        field of the wrong JSON type is an error (never coerced), null is the zero value."""
        if not isinstance(obj, dict):
            raise FormatError(f"{what} is not a JSON object", hint=_HINT)
        digest = obj.get("digest")
        if not isinstance(digest, str) or not is_digest(digest):
            raise FormatError(f"{what} has an invalid digest {_shown(digest)}", hint=_HINT)
        size = obj.get("size")
        if size is None:
            raise FormatError(f"{what} {digest} has no size", hint=_HINT)
        size = _int(size, f"{what} {digest} size")
        if size < 0:
            raise FormatError(f"{what} {digest} has a negative size", hint=_HINT)
        return cls(
            media_type=_opt_str(obj, "mediaType", what) or "",
            digest=digest,
            size=size,
            annotations=_annotations(obj, what),
            artifact_type=_opt_str(obj, "artifactType", what) or None,
            urls=_urls(obj, what),
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
        """Decode a manifest; anything Go would refuse (or that is not a manifest) is a FormatError."""
        obj = load_json(data, "manifest")
        if not isinstance(obj, dict):
            raise FormatError(f"manifest is a JSON {_json_type(obj)}, not an object", hint=_HINT)
        if obj.get("config") is None:
            if obj.get("manifests") is not None:
                raise FormatError(
                    "manifest is an OCI index (it lists manifests), not an image manifest",
                    hint="name one of the manifests it lists instead, by its digest",
                )
            raise FormatError("manifest has no config", hint=_HINT)
        layers_raw = obj.get("layers")
        if layers_raw is not None and not isinstance(layers_raw, list):
            raise FormatError(f"manifest layers is a JSON {_json_type(layers_raw)}, not a list", hint=_HINT)
        subject = obj.get("subject")
        return cls(
            config=Descriptor.from_json(obj["config"], what="manifest config"),
            layers=tuple(
                Descriptor.from_json(d, what=f"manifest layer {i}") for i, d in enumerate(layers_raw or [])
            ),
            annotations=_annotations(obj, "manifest"),
            media_type=_opt_str(obj, "mediaType", "manifest") or None,
            artifact_type=_opt_str(obj, "artifactType", "manifest") or None,
            subject=Descriptor.from_json(subject, what="manifest subject") if subject is not None else None,
            schema_version=_schema_version(obj, "manifest"),
            layers_null=layers_raw is None,
        )

    @property
    def format(self) -> str | None:
        """The model format: ``"kit"``, ``"modelpack"`` (the ``vnd.cncf`` names or the legacy
        ``vnd.cnai`` ones), ``"docker-model"`` (Docker Model Runner's own config), or None for an
        artifact that is no model. The Kit rules are those of both the v1.7 and the newer form."""
        if self.artifact_type == mt.KIT_MANIFEST_ARTIFACT or self.config.media_type == mt.KIT_CONFIG:
            return "kit"
        if (
            self.artifact_type in mt.MODELPACK_MANIFEST_ARTIFACTS
            or self.config.media_type in mt.MODELPACK_CONFIGS
        ):
            return "modelpack"
        if self.config.media_type in mt.DOCKER_MODEL_CONFIGS:
            return "docker-model"
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
        """Decode an image index; anything Go would refuse is a FormatError."""
        obj = load_json(data, "index")
        if not isinstance(obj, dict):
            raise FormatError(f"index is a JSON {_json_type(obj)}, not an object", hint=_HINT)
        mans = obj.get("manifests")
        if mans is not None and not isinstance(mans, list):
            raise FormatError(f"index manifests is a JSON {_json_type(mans)}, not a list", hint=_HINT)
        return cls(
            manifests=tuple(
                Descriptor.from_json(d, what=f"index entry {i}") for i, d in enumerate(mans or [])
            ),
            media_type=_opt_str(obj, "mediaType", "index") or None,
            artifact_type=_opt_str(obj, "artifactType", "index") or None,
            annotations=_annotations(obj, "index"),
            schema_version=_schema_version(obj, "index"),
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python reads them, Go does not


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OTHER_BYTES = bytes(b for b in range(256) if b not in b"[]{}")
_NESTING_STEP = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")  # +1 / -1 as signed bytes


def _check_depth(data: bytes, what: str, limit: int) -> None:
    """Refuse JSON nested deeper than ``limit`` before the recursive decoder sees it.

    Strings are cut out (brackets inside them do not nest), then only brackets are kept, and
    the deepest running sum of +1/-1 is the nesting depth. All at C speed: a hostile 4 MiB of
    brackets takes a fraction of a second.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return  # the common case, every real manifest: cannot be that deep
    brackets = _JSON_STRING.sub(b"", data).translate(_NESTING_STEP, _OTHER_BYTES)
    if brackets and max(itertools.accumulate(array.array("b", brackets))) > limit:
        raise FormatError(f"{what} is JSON nested more than {limit} levels deep", hint=_HINT)


def load_json(
    data: bytes, what: str, *, limit: int = MAX_MANIFEST_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Decode a small JSON document from an untrusted source (manifest, index, tag list).

    Bounded in size and in nesting, strict like Go's decoder (no NaN/Infinity, valid UTF-8):
    every failure is a :class:`FormatError`, never a ``RecursionError`` or ``ValueError``.
    """
    if len(data) > limit:
        raise FormatError(f"{what} is larger than {limit} bytes", hint=_HINT)
    _check_depth(data, what, max_depth)
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise FormatError(f"{what} is JSON nested too deeply", hint=_HINT) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{what} is not valid JSON: {_short(str(exc))}", hint=_HINT) from None


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, as error messages say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _shown(value: Any) -> str:
    """A hostile value, quoted and bounded, for an error message."""
    if isinstance(value, str):
        return _short(repr(value), 100)
    return f"(a JSON {_json_type(value)})"


_SURROGATES = re.compile("[\ud800-\udfff]")


def _go_string(value: str) -> str:
    """Go's decoder turns an unpaired ``\\udXXX`` escape into U+FFFD; Python's keeps the surrogate
    (which cannot be encoded as UTF-8). Do as Go, so what we read re-encodes and sorts alike."""
    return _SURROGATES.sub("\ufffd", value) if _SURROGATES.search(value) else value


def _int(value: Any, what: str) -> int:
    """A Go ``int``/``int64`` field: a JSON integer in range (``"2"``, ``2.5``, ``true`` are not)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(
            f"{what} is {_shown(value) if isinstance(value, str) else _describe(value)}, not an integer",
            hint=_HINT,
        )
    if not _GO_INT_MIN <= value <= _GO_INT_MAX:
        raise FormatError(f"{what} is out of the 64-bit integer range", hint=_HINT)
    return value


def _describe(value: Any) -> str:
    if isinstance(value, float):
        return f"the number {value!r}"
    return f"a JSON {_json_type(value)}"


def _schema_version(obj: dict[str, Any], what: str) -> int:
    """``schemaVersion``: absent means 2 (v1.7 writes it, but be lenient); null or a non-integer is
    refused (Go would read null as 0, which no OCI reader accepts either)."""
    if "schemaVersion" not in obj:
        return 2
    value = obj["schemaVersion"]
    if value is None:
        raise FormatError(f"{what} schemaVersion is null, not an integer", hint=_HINT)
    return _int(value, f"{what} schemaVersion")


def _opt_str(obj: dict[str, Any], key: str, what: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FormatError(f"{what} {key} is a JSON {_json_type(value)}, not a string", hint=_HINT)
    return _go_string(value)


def _annotations(obj: dict[str, Any], what: str) -> dict[str, str] | None:
    """A Go ``map[string]string``: an object of strings, or null."""
    value = obj.get("annotations")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FormatError(f"{what} annotations is a JSON {_json_type(value)}, not an object", hint=_HINT)
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str):
            raise FormatError(
                f"{what} annotation {_shown(key)} is a JSON {_json_type(item)}, not a string", hint=_HINT
            )
        out[_go_string(key)] = _go_string(item)
    return out


def _urls(obj: dict[str, Any], what: str) -> tuple[str, ...] | None:
    value = obj.get("urls")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise FormatError(f"{what} urls is not a list of strings", hint=_HINT)
    return tuple(_go_string(u) for u in value)
