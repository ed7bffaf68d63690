"""Sigstore bundles (v0.3 JSON), the signature container cosign v3 writes by default.

A bundle holds either a *message signature* (a signature over some artifact's bytes plus that
artifact's SHA-256) or a DSSE envelope, and the material to verify it; for a key file that is just a
hint naming the public key (base64 of the SHA-256 of its SubjectPublicKeyInfo DER, as sigstore-go
computes it), with no transparency-log entries.

cosign v3 signs an image by putting :func:`kitops.signing.dsse.cosign_sign_statement` in a DSSE
bundle (:func:`make_dsse_bundle`): the statement names the manifest digest, so the bundle stands on
its own. A message-signature bundle (:func:`make_message_signature_bundle`) is ``cosign sign-blob``'s
form; used for a manifest, the artifact is the manifest bytes themselves (so the message digest is
the manifest digest) and the verifier checks the signature over the manifest it fetched
(:func:`verify_message_signature`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from kitops.errors import UsageError
from kitops.oci import gojson
from kitops.signing.errors import SignatureError
from kitops.signing.keys import VerifyKey
from kitops.signing.payloads import BUNDLE_MEDIA_TYPE

MESSAGE_SIGNATURE = "message-signature"
DSSE_ENVELOPE = "dsse-envelope"

# Older spellings of the bundle media type, still read by sigstore clients.
_MEDIA_TYPES = (
    BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
)


@dataclass(frozen=True)
class Bundle:
    """A parsed bundle. ``content`` is :data:`MESSAGE_SIGNATURE` (``message_digest`` and
    ``signature`` are set) or :data:`DSSE_ENVELOPE` (``envelope`` is DSSE JSON for
    :func:`kitops.signing.dsse.verify_envelope`)."""

    media_type: str
    content: str
    key_hint: str | None = None
    message_digest: bytes | None = None
    signature: bytes | None = None
    envelope: bytes | None = None


def key_hint(key: VerifyKey) -> str:
    """The public-key hint sigstore-go writes: standard base64 of SHA-256(SubjectPublicKeyInfo DER)."""
    return base64.b64encode(hashlib.sha256(key.der()).digest()).decode("ascii")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _bundle(key: VerifyKey, content_field: str, content: dict[str, Any]) -> bytes:
    # Field order of the protobuf messages, as protojson writes them; no tlog entries (none were made).
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key_hint(key)}},
        content_field: content,
    }
    return gojson.dump_bytes(bundle)


def make_message_signature_bundle(payload_digest_sha256: bytes, signature: bytes, key: VerifyKey) -> bytes:
    """A bundle for ``signature`` over an artifact whose SHA-256 is ``payload_digest_sha256`` (32 raw
    bytes). For a manifest, sign the manifest bytes and pass their digest (the manifest digest)."""
    if len(payload_digest_sha256) != 32:
        raise ValueError("payload_digest_sha256 must be the 32 raw bytes of a SHA-256 digest")
    message = {
        "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(payload_digest_sha256)},
        "signature": _b64(signature),
    }
    return _bundle(key, "messageSignature", message)


def make_dsse_bundle(envelope: bytes, key: VerifyKey) -> bytes:
    """A bundle carrying a DSSE envelope (from :func:`kitops.signing.dsse.sign_envelope`)."""
    try:
        doc = json.loads(envelope)
        signatures = [
            {"sig": s["sig"], **({"keyid": s["keyid"]} if s.get("keyid") else {})} for s in doc["signatures"]
        ]
        content = {"payload": doc["payload"], "payloadType": doc["payloadType"], "signatures": signatures}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError("not a DSSE envelope") from None
    return _bundle(key, "dsseEnvelope", content)


def _decode(text: object, what: str) -> bytes:
    if isinstance(text, str):
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise SignatureError(f"bundle {what} is not valid base64")


def parse_bundle(data: bytes) -> Bundle:
    """Read a bundle; refuse unknown media types and bundles that carry no signature."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        raise SignatureError("bundle is not valid JSON")
    media_type = doc.get("mediaType")
    if media_type not in _MEDIA_TYPES:
        raise SignatureError(f"unsupported bundle media type {media_type!r}")
    material = doc.get("verificationMaterial")
    public_key = material.get("publicKey") if isinstance(material, dict) else None
    hint = public_key.get("hint") if isinstance(public_key, dict) else None
    hint = hint if isinstance(hint, str) else None
    message, envelope = doc.get("messageSignature"), doc.get("dsseEnvelope")
    if isinstance(message, dict):
        digest = message.get("messageDigest")
        if not isinstance(digest, dict) or digest.get("algorithm") != "SHA2_256":
            raise SignatureError("bundle message digest is not a SHA-256 digest")
        return Bundle(
            media_type,
            MESSAGE_SIGNATURE,
            key_hint=hint,
            message_digest=_decode(digest.get("digest"), "message digest"),
            signature=_decode(message.get("signature"), "signature"),
        )
    if isinstance(envelope, dict):
        signatures = envelope.get("signatures")
        dsse = {
            "payloadType": envelope.get("payloadType"),
            "payload": envelope.get("payload"),
            "signatures": [
                {"keyid": s.get("keyid", ""), "sig": s.get("sig")} for s in signatures if isinstance(s, dict)
            ]
            if isinstance(signatures, list)
            else [],
        }
        return Bundle(media_type, DSSE_ENVELOPE, key_hint=hint, envelope=gojson.dump_bytes(dsse))
    raise SignatureError("bundle holds neither a message signature nor a DSSE envelope")


def verify_message_signature(bundle: Bundle, artifact: bytes, key: VerifyKey) -> None:
    """Check a message-signature bundle against the artifact bytes (for an image: the manifest)."""
    if bundle.content != MESSAGE_SIGNATURE or bundle.message_digest is None or bundle.signature is None:
        raise SignatureError("bundle holds no message signature")
    if hashlib.sha256(artifact).digest() != bundle.message_digest:
        raise SignatureError("bundle message digest does not match the signed artifact")
    key.verify(bundle.signature, artifact)
