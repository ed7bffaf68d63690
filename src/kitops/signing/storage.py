"""Storing signatures and attestations of a manifest where cosign keeps them.

Three forms of signature, chosen by ``mode``:

- ``tag`` (cosign's default): the simple-signing payload is a layer of the image manifest tagged
  ``sha256-<hex>.sig``, its signature in the layer's ``dev.cosignproject.cosign/signature``
  annotation; a new signature is appended to the layers already there.
- ``referrers``: the same layer in a manifest of its own whose ``subject`` is the signed manifest
  (cosign's ``--registry-referrers-mode=oci-1-1``), indexed by the registry's referrers API or
  its tag-schema fallback.
- ``bundle`` (cosign v3): a Sigstore bundle referrer. Its message signature covers the signed
  manifest's own bytes, so the digest in the bundle is the manifest's digest and nothing else
  needs storing; the bundle names the key by its fingerprint and holds no transparency-log entry.

A signature already there, made by the same key over the same payload, is not added twice.
Attestations (DSSE envelopes of in-toto statements) go to the ``.att`` tag or into a referrer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kitops.errors import FormatError, IntegrityError, UsageError
from kitops.oci.digest import sha256_digest
from kitops.oci.models import Descriptor
from kitops.signing.bundle import MESSAGE_SIGNATURE, make_message_signature_bundle
from kitops.signing.cosign import (
    ATT_SUFFIX,
    SIG_SUFFIX,
    ReferrerStore,
    append_to_tag,
    cosign_tag,
    push_blob,
    push_referrer,
    tagged_manifest,
)
from kitops.signing.dsse import in_toto_statement, sign_envelope
from kitops.signing.errors import SignatureError
from kitops.signing.keys import SigningKey, VerifyKey
from kitops.signing.payloads import (
    BUNDLE_CONTENT_ANNOTATION,
    BUNDLE_MEDIA_TYPE,
    COSIGN_ATT_ARTIFACT_TYPE,
    COSIGN_SIG_ARTIFACT_TYPE,
    DSSE_MEDIA_TYPE,
    PREDICATE_TYPE_ANNOTATION,
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA_TYPE,
    decode_signature,
    encode_signature,
    simple_signing_payload,
)
from kitops.signing.verify import (
    VerifiedSignature,
    find_signatures,
    verify_signatures,
)
from kitops.store.base import read_blob_bytes

log = logging.getLogger(__name__)

SIGN_MODES: tuple[str, ...] = ("tag", "referrers", "bundle")
ATTEST_MODES: tuple[str, ...] = ("tag", "referrers")


def sign_manifest(
    repo: ReferrerStore,
    subject: Descriptor,
    key: SigningKey,
    *,
    mode: str = "tag",
    docker_reference: str,
    annotations: Mapping[str, str] | None = None,
) -> Descriptor:
    """Sign the manifest ``subject`` of ``repo`` with ``key`` and store the signature there.

    Returns the descriptor of the manifest that holds the signature (the ``.sig`` manifest or
    the referrer). ``annotations`` go into the signed payload's ``optional`` map, as cosign's
    ``-a k=v``; a bundle signs the manifest bytes themselves and has no place for them.
    """
    if mode not in SIGN_MODES:
        raise UsageError(f"unknown signature storage {mode!r}", hint=f"use one of: {', '.join(SIGN_MODES)}")
    if mode == "bundle":
        if annotations:
            raise UsageError(
                "annotations cannot go into a bundle signature: it signs the manifest itself, not a payload",
                hint="drop -a, or store the signature in the tag scheme or as a referrer",
            )
        return _sign_bundle(repo, subject, key)
    payload = simple_signing_payload(
        docker_reference, subject.digest, dict(annotations) if annotations else None
    )
    if mode == "tag":
        tag = cosign_tag(subject.digest, SIG_SUFFIX)
        existing = tagged_manifest(repo, tag)
        if existing is not None and _holds(existing[1].layers, payload, key.public_key):
            log.info("already signed with this key, nothing added: %s", subject.digest)
            return existing[0]
        layer = _signature_layer(repo, payload, key)
        return append_to_tag(repo, tag, existing[1].layers if existing else (), layer)
    for found in find_signatures(repo, subject):
        if found.place == "referrer" and _holds((found.layer,), payload, key.public_key):
            log.info("already signed with this key, nothing added: %s", subject.digest)
            return found.manifest
    layer = _signature_layer(repo, payload, key)
    return push_referrer(repo, subject, COSIGN_SIG_ARTIFACT_TYPE, (layer,))


def _signature_layer(repo: ReferrerStore, payload: bytes, key: SigningKey) -> Descriptor:
    signature = encode_signature(key.sign(payload))
    return push_blob(repo, SIMPLESIGNING_MEDIA_TYPE, payload, annotations={SIGNATURE_ANNOTATION: signature})


def _holds(layers: tuple[Descriptor, ...], payload: bytes, key: VerifyKey) -> bool:
    """Whether one of ``layers`` is ``payload`` with a signature ``key`` verifies (cosign's
    duplicate check: signing twice with one key adds nothing). The payload's bytes are ours, so
    a layer of the same digest holds these very bytes."""
    digest = sha256_digest(payload)
    for layer in layers:
        if layer.media_type != SIMPLESIGNING_MEDIA_TYPE or layer.digest != digest:
            continue
        try:
            key.verify(decode_signature((layer.annotations or {}).get(SIGNATURE_ANNOTATION, "")), payload)
        except SignatureError:
            continue
        return True
    return False


def _sign_bundle(repo: ReferrerStore, subject: Descriptor, key: SigningKey) -> Descriptor:
    already = _bundles(repo, subject, key.public_key)
    if already:
        log.info("already signed with this key, nothing added: %s", subject.digest)
        return already[0].manifest
    manifest_bytes = read_blob_bytes(repo, subject)  # verified: these bytes are the subject digest's
    signature = key.sign(manifest_bytes)
    bundle = make_message_signature_bundle(
        bytes.fromhex(subject.digest.partition(":")[2]), signature, key.public_key
    )
    layer = push_blob(repo, BUNDLE_MEDIA_TYPE, bundle)
    return push_referrer(
        repo, subject, BUNDLE_MEDIA_TYPE, (layer,), annotations={BUNDLE_CONTENT_ANNOTATION: MESSAGE_SIGNATURE}
    )


def _bundles(repo: ReferrerStore, subject: Descriptor, key: VerifyKey) -> list[VerifiedSignature]:
    """The bundle signatures of ``subject`` that ``key`` verifies already."""
    try:
        return [v for v in verify_signatures(repo, subject, key) if v.place == "bundle"]
    except (SignatureError, FormatError, IntegrityError):
        return []


def attest_manifest(
    repo: ReferrerStore,
    subject: Descriptor,
    key: SigningKey,
    *,
    predicate_type: str,
    predicate: object,
    docker_reference: str,
    mode: str = "tag",
) -> Descriptor:
    """Sign an in-toto statement about ``subject`` (``predicate`` of ``predicate_type``, a URI)
    in a DSSE envelope and store it: a layer of the ``.att`` tag manifest, or a referrer.
    Returns the descriptor of the manifest that holds it."""
    if mode not in ATTEST_MODES:
        raise UsageError(
            f"unknown attestation storage {mode!r}", hint=f"use one of: {', '.join(ATTEST_MODES)}"
        )
    statement = in_toto_statement(docker_reference, subject.digest, predicate_type, predicate)
    envelope = sign_envelope(statement, key)
    layer = push_blob(
        repo,
        DSSE_MEDIA_TYPE,
        envelope,
        annotations={SIGNATURE_ANNOTATION: "", PREDICATE_TYPE_ANNOTATION: predicate_type},
    )
    if mode == "referrers":
        return push_referrer(repo, subject, COSIGN_ATT_ARTIFACT_TYPE, (layer,))
    tag = cosign_tag(subject.digest, ATT_SUFFIX)
    existing = tagged_manifest(repo, tag)
    return append_to_tag(repo, tag, existing[1].layers if existing else (), layer)
