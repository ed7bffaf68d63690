"""What cosign signs for an image, and the media types and annotation keys it stores signatures under.

A signature on a manifest signs a "simple signing" payload naming the manifest digest; the payload
bytes are the layer blob, and the base64 DER signature rides in the layer annotation
:data:`SIGNATURE_ANNOTATION`. The payload is written as Go's ``json.Marshal`` writes it (compact,
struct field order, annotation keys sorted, HTML-safe escapes) so that ours is byte-identical to
cosign's; a verifier never rebuilds it, it checks the stored bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kitops.errors import UsageError
from kitops.oci import gojson
from kitops.oci.digest import is_digest
from kitops.signing.errors import SignatureError

SIMPLESIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
COSIGN_SIG_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_ATT_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.attestation.v1+json"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO_MEDIA_TYPE = "application/vnd.in-toto+json"

SIMPLESIGNING_TYPE = "cosign container image signature"
# The predicate type of the in-toto statement cosign v3 signs for an image in a Sigstore bundle.
COSIGN_SIGN_PREDICATE_TYPE = "https://sigstore.dev/cosign/sign/v1"
# Layer annotation of a cosign attestation: the statement's predicate type (a hint; not signed).
PREDICATE_TYPE_ANNOTATION = "predicateType"
# Manifest annotations of a cosign v3 bundle referrer.
BUNDLE_CONTENT_ANNOTATION = "dev.sigstore.bundle.content"
BUNDLE_PREDICATE_TYPE_ANNOTATION = "dev.sigstore.bundle.predicateType"


@dataclass(frozen=True)
class SimpleSigning:
    """A parsed simple-signing payload. ``optional`` holds the signer's annotations (or None)."""

    docker_reference: str
    digest: str
    type: str
    optional: dict[str, Any] | None


def simple_signing_payload(
    docker_reference: str, digest: str, annotations: Mapping[str, str] | None = None
) -> bytes:
    """The payload bytes cosign signs for the manifest ``digest`` in repository ``docker_reference``
    (registry and repository, no tag). No annotations gives ``"optional":null``, as ``cosign sign``
    without ``-a`` writes."""
    if not is_digest(digest):
        raise UsageError(f"not a digest: {digest!r}")
    payload = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIMPLESIGNING_TYPE,
        },
        "optional": gojson.GoMap(annotations) if annotations else None,
    }
    return gojson.dump_bytes(payload)


def parse_simple_signing(data: bytes) -> SimpleSigning:
    """Read a simple-signing payload; refuse anything that is not a cosign image signature."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("signature payload is not valid JSON") from None
    try:
        critical = doc["critical"]
        kind = critical["type"]
        reference = critical["identity"]["docker-reference"]
        digest = critical["image"]["docker-manifest-digest"]
        optional = doc.get("optional")
    except (KeyError, TypeError, AttributeError):
        raise SignatureError("signature payload is not a simple-signing document") from None
    if kind != SIMPLESIGNING_TYPE:
        raise SignatureError(f"signature payload has type {kind!r}, not {SIMPLESIGNING_TYPE!r}")
    if not isinstance(reference, str) or not isinstance(digest, str) or not isinstance(optional, dict | None):
        raise SignatureError("signature payload is not a simple-signing document")
    return SimpleSigning(docker_reference=reference, digest=digest, type=kind, optional=optional)


def encode_signature(signature: bytes) -> str:
    """The annotation form of a signature: standard base64 with padding."""
    return base64.b64encode(signature).decode("ascii")


def decode_signature(text: str) -> bytes:
    """The signature bytes of an annotation value; strict standard base64, as cosign decodes it."""
    try:
        signature = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not valid base64") from None
    if not signature:
        raise SignatureError("signature is empty")
    return signature
