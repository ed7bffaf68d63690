"""Finding a manifest's signatures and attestations in all three places, and checking them.

The places: cosign's tag scheme (``sha256-<hex>.sig`` / ``.att``), OCI 1.1 referrers in cosign's
``--registry-referrers-mode=oci-1-1`` form, and Sigstore bundles (cosign v3). Every candidate
is checked the same way: its blob is read through the store's verifying reader (so its bytes are
the ones its digest names), the signature is checked over exactly those stored bytes, then what
they claim (the payload's type and the digest it is for).

One valid signature is enough; the others are counted and logged at debug. When none verifies,
the error says why, choosing the most telling reason among the candidates: a signature made by
the key but for another manifest, then a payload that is not cosign's, then a blob that does not
match its digest (tampered), then a malformed signature (not base64, truncated DER), then a
signature the key does not verify.

Nothing unsigned is parsed by a plain recursive decoder: an envelope or bundle is checked for
size and nesting first (hostile JSON is a rejected candidate, not a crash).
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from kitops.errors import FormatError, IntegrityError
from kitops.oci.models import Descriptor, Manifest, load_json
from kitops.signing.bundle import (
    DSSE_ENVELOPE,
    MESSAGE_SIGNATURE,
    Bundle,
    parse_bundle,
    verify_message_signature,
)
from kitops.signing.cosign import (
    ATT_SUFFIX,
    SIG_SUFFIX,
    ReferrerStore,
    artifact_type_of,
    cosign_tag,
    read_manifest,
    tagged_manifest,
)
from kitops.signing.dsse import Statement, verify_envelope
from kitops.signing.errors import SignatureError
from kitops.signing.keys import VERIFY_FAILED, VerifyKey
from kitops.signing.payloads import (
    BUNDLE_CONTENT_ANNOTATION,
    BUNDLE_MEDIA_TYPE,
    BUNDLE_PREDICATE_TYPE_ANNOTATION,
    COSIGN_ATT_ARTIFACT_TYPE,
    COSIGN_SIG_ARTIFACT_TYPE,
    COSIGN_SIGN_PREDICATE_TYPE,
    DSSE_MEDIA_TYPE,
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA_TYPE,
    SimpleSigning,
    decode_signature,
    parse_simple_signing,
    simple_signing_payload,
)
from kitops.store.base import read_blob_bytes

log = logging.getLogger(__name__)

MAX_SIGNATURE_BLOB = 16 << 20  # an envelope holds a predicate of up to 8 MiB in base64; bigger is hostile

TAG, REFERRER, BUNDLE = "tag", "referrer", "bundle"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Found:
    """A signature or attestation candidate: the blob ``layer`` of the manifest ``manifest``,
    kept in ``place`` (``tag``, ``referrer`` or ``bundle``)."""

    place: str
    manifest: Descriptor
    layer: Descriptor


@dataclass(frozen=True)
class VerifiedSignature:
    """A signature the key verifies, for the subject's digest.

    ``payload`` is the simple-signing document: the stored bytes the signature covers; for a
    bundle (a message signature over the subject manifest's own bytes, or cosign v3's signed
    statement naming its digest) the document stating that same claim, as cosign prints for
    every verified signature."""

    place: str
    manifest: Descriptor
    payload: bytes
    claim: SimpleSigning

    def payload_json(self) -> Any:
        return json.loads(self.payload)


@dataclass(frozen=True)
class VerifiedAttestation:
    place: str
    manifest: Descriptor
    statement: Statement

    def statement_json(self) -> Any:
        return json.loads(self.statement.raw)


class _Reason(enum.IntEnum):
    """Why a candidate was rejected; a higher value says more about what went wrong."""

    KEY = 1
    MALFORMED = 2  # a signature that is no signature (bad base64, truncated DER)
    TAMPERED = 3
    PAYLOAD = 4
    OTHER_DIGEST = 5


class _Rejected(Exception):
    def __init__(self, reason: _Reason, message: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class _Words:
    """The wording of the errors for one kind of thing verified."""

    plural: str
    singular: str
    hint_none: str


_SIGNATURE = _Words(
    "signatures",
    "signature",
    "sign it with 'kit sign REF --key cosign.key'; a pulled or pushed ModelKit brings its signatures along",
)
_ATTESTATION = _Words(
    "attestations",
    "attestation",
    "attest it with 'kit attest REF --key cosign.key --predicate FILE --type TYPE'",
)


# ---------------------------------------------------------------------------------------------
# finding


def find_signatures(repo: ReferrerStore, subject: Descriptor) -> list[Found]:
    """Every simple-signing layer of the ``.sig`` tag and of cosign's signature referrers, and
    every bundle referring to ``subject`` that may be a signature: a message signature, or a DSSE
    envelope not announced as an attestation (cosign v3 signs an image with a statement)."""
    found: list[Found] = []
    tagged = tagged_manifest(repo, cosign_tag(subject.digest, SIG_SUFFIX))
    if tagged is not None:
        found += _layers(TAG, tagged[0], tagged[1], SIMPLESIGNING_MEDIA_TYPE)
    for desc, manifest, is_bundle in _referrers(repo, subject, {COSIGN_SIG_ARTIFACT_TYPE, BUNDLE_MEDIA_TYPE}):
        if not is_bundle:
            found += _layers(REFERRER, desc, manifest, SIMPLESIGNING_MEDIA_TYPE)
        elif _bundle_predicate(manifest) in (None, COSIGN_SIGN_PREDICATE_TYPE):
            found += _layers(BUNDLE, desc, manifest, BUNDLE_MEDIA_TYPE)
    return found


def find_attestations(repo: ReferrerStore, subject: Descriptor) -> list[Found]:
    """Every DSSE layer of the ``.att`` tag and of attestation referrers, and every DSSE bundle
    referring to ``subject`` except cosign v3's image signatures."""
    found: list[Found] = []
    tagged = tagged_manifest(repo, cosign_tag(subject.digest, ATT_SUFFIX))
    if tagged is not None:
        found += _layers(TAG, tagged[0], tagged[1], DSSE_MEDIA_TYPE)
    kinds = {COSIGN_ATT_ARTIFACT_TYPE, DSSE_MEDIA_TYPE, BUNDLE_MEDIA_TYPE}
    for desc, manifest, is_bundle in _referrers(repo, subject, kinds):
        if not is_bundle:
            found += _layers(REFERRER, desc, manifest, DSSE_MEDIA_TYPE)
        elif _bundle_predicate(manifest) != COSIGN_SIGN_PREDICATE_TYPE:
            found += _layers(BUNDLE, desc, manifest, BUNDLE_MEDIA_TYPE)
    return found


def _layers(place: str, desc: Descriptor, manifest: Manifest, media_type: str) -> list[Found]:
    return [Found(place, desc, layer) for layer in manifest.layers if layer.media_type == media_type]


def _bundle_predicate(manifest: Manifest) -> str | None:
    """What a bundle referrer announces it holds (annotations are hints, not signed): None for a
    message signature or an unannounced envelope, else the envelope's predicate type."""
    annotations = manifest.annotations or {}
    if annotations.get(BUNDLE_CONTENT_ANNOTATION) == MESSAGE_SIGNATURE:
        return None
    return annotations.get(BUNDLE_PREDICATE_TYPE_ANNOTATION)


def _referrers(
    repo: ReferrerStore, subject: Descriptor, kinds: set[str]
) -> list[tuple[Descriptor, Manifest, bool]]:
    """The referrers of ``subject`` of the artifact types ``kinds``, with their manifests and
    whether each is a Sigstore bundle. One listing serves every kind; a referrer that cannot be
    read is passed over (it may be anything)."""
    out = []
    for desc in repo.referrers(subject.digest):
        try:
            kind, manifest = artifact_type_of(desc, repo)
            if kind in kinds:
                manifest = manifest if manifest is not None else read_manifest(repo, desc)
                out.append((desc, manifest, kind == BUNDLE_MEDIA_TYPE))
        except (FormatError, IntegrityError) as exc:
            log.debug("referrer %s of %s cannot be read: %s", desc.digest, subject.digest, exc)
    return out


# ---------------------------------------------------------------------------------------------
# verifying


def verify_signatures(
    repo: ReferrerStore,
    subject: Descriptor,
    key: VerifyKey,
    *,
    name: str | None = None,
    docker_reference: str = "",
) -> list[VerifiedSignature]:
    """The signatures of ``subject`` that ``key`` verifies; :class:`SignatureError` when there is
    none, saying why. ``name`` is how errors call the subject (default: its digest);
    ``docker_reference`` goes into the claim stated for a bundle."""

    def check(found: Found) -> VerifiedSignature:
        if found.place == BUNDLE:
            return _check_bundle_signature(repo, subject, found, key, docker_reference)
        return _check_simple_signing(repo, subject, found, key)

    return _verify_all(find_signatures(repo, subject), check, name or subject.digest, _SIGNATURE)


def verify_attestations(
    repo: ReferrerStore,
    subject: Descriptor,
    key: VerifyKey,
    *,
    name: str | None = None,
    predicate_type: str | None = None,
) -> list[VerifiedAttestation]:
    """The attestations of ``subject`` that ``key`` verifies (of ``predicate_type`` only, a URI,
    when given); :class:`SignatureError` when there is none, saying why."""
    shown = name or subject.digest
    verified = _verify_all(
        find_attestations(repo, subject),
        lambda found: _check_attestation(repo, subject, found, key),
        shown,
        _ATTESTATION,
    )
    if predicate_type is None:
        return verified
    chosen = [v for v in verified if v.statement.predicate_type == predicate_type]
    if not chosen:
        kinds = ", ".join(sorted({v.statement.predicate_type for v in verified}))
        raise SignatureError(
            f"no attestation of type {predicate_type} found for {shown}",
            hint=f"the attestations the key verifies are of type {kinds}",
        )
    return chosen


def _verify_all(
    candidates: Sequence[Found], check: Callable[[Found], _T], name: str, words: _Words
) -> list[_T]:
    if not candidates:
        raise SignatureError(f"no {words.plural} found for {name}", hint=words.hint_none)
    verified: list[_T] = []
    worst: _Rejected | None = None
    for found in candidates:
        try:
            verified.append(check(found))
        except _Rejected as rejected:
            log.debug(
                "%s %s of %s rejected: %s", words.singular, found.layer.digest, name, rejected.reason.name
            )
            if worst is None or rejected.reason > worst.reason:
                worst = rejected
    rejected_count = len(candidates) - len(verified)
    if verified:
        if rejected_count:
            log.debug("%d of %d %s of %s rejected", rejected_count, len(candidates), words.plural, name)
        return verified
    assert worst is not None
    raise _error(worst, words)


def _error(rejected: _Rejected, words: _Words) -> SignatureError:
    if rejected.reason is _Reason.KEY:
        return SignatureError(
            f"no {words.singular} verifies with the given key",
            hint=f"check that the key is the public key of the key that made the {words.singular}",
        )
    if rejected.reason is _Reason.TAMPERED:
        return SignatureError(
            f"{words.singular} payload blob does not match its digest",
            hint=f"the stored {words.singular} was altered or is corrupt; do not trust this ModelKit",
        )
    if rejected.reason is _Reason.OTHER_DIGEST:
        return SignatureError(
            rejected.message,
            hint=f"the {words.singular} belongs to another manifest: the tag was moved or the {words.singular} copied",
        )
    if rejected.reason is _Reason.MALFORMED:
        return SignatureError(rejected.message, hint=f"the stored {words.singular} is damaged")
    return SignatureError(rejected.message, hint=f"the {words.singular} is not one cosign or kit writes")


def _read(repo: ReferrerStore, blob: Descriptor) -> bytes:
    """A candidate's blob, read through the verifying reader: bytes that do not match its digest
    (or size) reject it as tampered."""
    if blob.size > MAX_SIGNATURE_BLOB:
        raise _Rejected(_Reason.KEY)  # no signature blob is that big: not one we could have made
    try:
        return read_blob_bytes(repo, blob, limit=MAX_SIGNATURE_BLOB)
    except IntegrityError as exc:
        log.debug("blob %s: %s", blob.digest, exc)
        raise _Rejected(_Reason.TAMPERED) from None


def _verify_key(key: VerifyKey, signature: bytes, data: bytes) -> None:
    try:
        key.verify(signature, data)
    except SignatureError as exc:
        raise _rejection(exc) from None


def _rejection(exc: SignatureError) -> _Rejected:
    """The key not verifying a signature, or a signature that is malformed (its own message)."""
    if exc.message == VERIFY_FAILED:
        return _Rejected(_Reason.KEY)
    return _Rejected(_Reason.MALFORMED, exc.message)


def _check_simple_signing(
    repo: ReferrerStore, subject: Descriptor, found: Found, key: VerifyKey
) -> VerifiedSignature:
    payload = _read(repo, found.layer)
    try:
        signature = decode_signature((found.layer.annotations or {}).get(SIGNATURE_ANNOTATION, ""))
    except SignatureError as exc:
        raise _rejection(exc) from None
    _verify_key(key, signature, payload)
    try:
        claim = parse_simple_signing(payload)
    except SignatureError as exc:
        raise _Rejected(_Reason.PAYLOAD, exc.message) from None
    if claim.digest != subject.digest:
        raise _Rejected(_Reason.OTHER_DIGEST, f"signature is for {claim.digest}, not {subject.digest}")
    return VerifiedSignature(found.place, found.manifest, payload, claim)


def _check_bundle_signature(
    repo: ReferrerStore, subject: Descriptor, found: Found, key: VerifyKey, docker_reference: str
) -> VerifiedSignature:
    """A bundle signs the subject in one of two ways. A message signature covers an artifact's
    bytes, here the subject manifest's, whose SHA-256 the bundle names: that digest must be the
    subject's, and the signature is checked over the manifest bytes as stored (read through the
    verifying reader). A DSSE envelope (cosign v3) signs a statement whose subject is the digest."""
    bundle = _parse_bundle(_read(repo, found.layer))
    if bundle.content == DSSE_ENVELOPE:
        statement = _verify_statement(bundle, key, subject, "signature")
        if statement.predicate_type != COSIGN_SIGN_PREDICATE_TYPE:
            raise _Rejected(
                _Reason.PAYLOAD, f"bundle holds an attestation ({statement.predicate_type}), not a signature"
            )
    else:
        signed = "sha256:" + (bundle.message_digest or b"").hex()
        if signed != subject.digest:
            raise _Rejected(_Reason.OTHER_DIGEST, f"signature is for {signed}, not {subject.digest}")
        try:
            verify_message_signature(bundle, read_blob_bytes(repo, subject), key)
        except SignatureError as exc:
            raise _rejection(exc) from None
    payload = simple_signing_payload(docker_reference, subject.digest)
    return VerifiedSignature(found.place, found.manifest, payload, parse_simple_signing(payload))


def _parse_bundle(data: bytes) -> Bundle:
    _bounded_json(data, "signature bundle")
    try:
        return parse_bundle(data)
    except SignatureError as exc:
        raise _Rejected(_Reason.PAYLOAD, exc.message) from None


def _bounded_json(data: bytes, what: str) -> None:
    """Refuse JSON too big or too deeply nested before a recursive decoder reads it unverified."""
    try:
        load_json(data, what, limit=MAX_SIGNATURE_BLOB)
    except FormatError as exc:
        raise _Rejected(_Reason.PAYLOAD, exc.message) from None


def _verify_statement(envelope: Bundle | bytes, key: VerifyKey, subject: Descriptor, what: str) -> Statement:
    """The statement of a DSSE envelope (or of a bundle's) that ``key`` verifies, about ``subject``."""
    if isinstance(envelope, Bundle):
        if envelope.envelope is None:
            raise _Rejected(_Reason.PAYLOAD, f"{what} bundle holds no DSSE envelope")
        envelope = envelope.envelope
    _bounded_json(envelope, f"{what} envelope")
    try:
        statement = verify_envelope(envelope, key)
    except SignatureError as exc:
        if exc.message == VERIFY_FAILED:
            raise _Rejected(_Reason.KEY) from None
        raise _Rejected(_Reason.PAYLOAD, exc.message) from None
    algo, _, hexpart = subject.digest.partition(":")
    digests = [d.get(algo) for _name, d in statement.subjects]
    if hexpart not in digests:
        other = next((f"{algo}:{d}" for d in digests if d), "another subject")
        raise _Rejected(_Reason.OTHER_DIGEST, f"{what} is for {other}, not {subject.digest}")
    return statement


def _check_attestation(
    repo: ReferrerStore, subject: Descriptor, found: Found, key: VerifyKey
) -> VerifiedAttestation:
    data = _read(repo, found.layer)
    envelope: Bundle | bytes = _parse_bundle(data) if found.place == BUNDLE else data
    return VerifiedAttestation(
        found.place, found.manifest, _verify_statement(envelope, key, subject, "attestation")
    )
