"""Attestations as cosign makes them: an in-toto statement in a DSSE envelope.

The statement names the manifest digest as its subject and carries a predicate (provenance, an
SBOM, free text...). DSSE signs the statement through its pre-authentication encoding (PAE), which
binds the payload type to the bytes, and stores the statement base64-encoded in a small JSON
envelope; that envelope is the blob of a cosign ``.att`` layer.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kitops.errors import UsageError
from kitops.oci import gojson
from kitops.oci.digest import is_digest
from kitops.signing.errors import SignatureError
from kitops.signing.keys import VERIFY_FAILED, SigningKey, VerifyKey
from kitops.signing.payloads import COSIGN_SIGN_PREDICATE_TYPE, IN_TOTO_MEDIA_TYPE

IN_TOTO_STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
IN_TOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1"
CUSTOM_PREDICATE_TYPE = "https://cosign.sigstore.dev/attestation/v1"
SPDX_PREDICATE_TYPE = "https://spdx.dev/Document"

# cosign's --type names and the predicate type URI each stands for.
PREDICATE_TYPES: dict[str, str] = {
    "custom": CUSTOM_PREDICATE_TYPE,
    "slsaprovenance": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
    "spdx": SPDX_PREDICATE_TYPE,
    "spdxjson": SPDX_PREDICATE_TYPE,
    "cyclonedx": "https://cyclonedx.org/bom",
    "link": "https://in-toto.io/Link/v1",
    "vuln": "https://cosign.sigstore.dev/attestation/vuln/v1",
    "openvex": "https://openvex.dev/ns",
}


@dataclass(frozen=True)
class Statement:
    """A verified in-toto statement. ``subjects`` is [(name, {algorithm: hex})]; ``raw`` the signed bytes."""

    predicate_type: str
    subjects: list[tuple[str, dict[str, str]]]
    predicate: Any
    raw: bytes
    statement_type: str = IN_TOTO_STATEMENT_V01

    def names_digest(self, digest: str) -> bool:
        """Whether some subject carries ``digest`` (``sha256:<hex>``)."""
        algorithm, _, value = digest.partition(":")
        return any(digests.get(algorithm) == value for _, digests in self.subjects)


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is actually signed. Lengths are decimal byte counts."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def resolve_predicate_type(type_or_uri: str) -> str:
    """The predicate type URI for a cosign ``--type`` name, or the URI itself."""
    known = PREDICATE_TYPES.get(type_or_uri)
    if known is not None:
        return known
    parts = urlsplit(type_or_uri)
    if not parts.scheme or not (parts.netloc or parts.path):
        raise UsageError(
            f"invalid predicate type: {type_or_uri}",
            hint="use one of " + ", ".join(PREDICATE_TYPES) + ", or a URI",
        )
    return type_or_uri


def _go_json(value: Any) -> Any:
    """Parsed JSON with objects as Go maps (sorted keys on output), as cosign re-marshals predicates."""
    if isinstance(value, dict):
        return gojson.GoMap({k: _go_json(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_go_json(v) for v in value]
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON, and Go cannot write them back


def predicate_from_bytes(type_uri: str, data: bytes, *, now: _dt.datetime | None = None) -> object:
    """The predicate cosign builds from a predicate file. ``custom`` wraps the raw text as
    ``{"Data", "Timestamp"}`` (``now``, default the current time, in RFC 3339 UTC seconds); SPDX may
    be tag-value text (kept as a string) or JSON; every other type must be a JSON object."""
    uri = PREDICATE_TYPES.get(type_uri, type_uri)
    if uri == CUSTOM_PREDICATE_TYPE:
        moment = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
        return {"Data": data.decode("utf-8", "replace"), "Timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
    try:
        parsed = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if isinstance(parsed, dict):
        return _go_json(parsed)
    if uri == SPDX_PREDICATE_TYPE:
        return data.decode("utf-8", "replace")
    raise UsageError(f"the predicate for {uri} must be a JSON object")


def _split_digest(digest: str) -> tuple[str, str]:
    if not is_digest(digest):
        raise UsageError(f"not a digest: {digest!r}")
    algorithm, _, value = digest.partition(":")
    return algorithm, value


def in_toto_statement(subject_name: str, digest: str, predicate_type: str, predicate: object) -> bytes:
    """An in-toto v0.1 statement as cosign writes it (Go field order, compact). Dicts in ``predicate``
    keep their order; predicates from :func:`predicate_from_bytes` come out with sorted keys."""
    algorithm, value = _split_digest(digest)
    statement = {
        "_type": IN_TOTO_STATEMENT_V01,
        "predicateType": predicate_type,
        "subject": [{"name": subject_name, "digest": gojson.GoMap({algorithm: value})}],
        "predicate": predicate,
    }
    return gojson.dump_bytes(statement)


def cosign_sign_statement(digest: str, annotations: Mapping[str, str] | None = None) -> bytes:
    """The in-toto v1 statement cosign v3 signs for an image in a Sigstore bundle: the manifest digest
    as the only subject (with the signer's annotations), predicate type
    :data:`~kitops.signing.payloads.COSIGN_SIGN_PREDICATE_TYPE` and an empty predicate. Field order
    follows the protobuf message, as cosign's ``protojson`` output does."""
    algorithm, value = _split_digest(digest)
    subject = {"digest": gojson.GoMap({algorithm: value}), "annotations": gojson.GoMap(annotations or {})}
    statement = {
        "_type": IN_TOTO_STATEMENT_V1,
        "subject": [subject],
        "predicateType": COSIGN_SIGN_PREDICATE_TYPE,
        "predicate": {},
    }
    return gojson.dump_bytes(statement)


def sign_envelope(statement: bytes, key: SigningKey) -> bytes:
    """A DSSE envelope (JSON) holding ``statement``, signed over its PAE. ``keyid`` is empty, as cosign
    leaves it for key files."""
    signature = key.sign(pae(IN_TOTO_MEDIA_TYPE, statement))
    envelope = {
        "payloadType": IN_TOTO_MEDIA_TYPE,
        "payload": base64.b64encode(statement).decode("ascii"),
        "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode("ascii")}],
    }
    return gojson.dump_bytes(envelope)


def _b64decode(text: object, what: str) -> bytes:
    """DSSE allows standard or URL-safe base64, padded or not (as go-securesystemslib reads it)."""
    if isinstance(text, str):
        padded = text + "=" * (-len(text) % 4)
        for alphabet in (None, b"-_"):
            try:
                return base64.b64decode(padded, altchars=alphabet, validate=True)
            except (binascii.Error, ValueError):
                continue
    raise SignatureError(f"attestation {what} is not valid base64")


def _check_signatures(envelope: dict[str, Any], signed: bytes, key: VerifyKey) -> None:
    """Pass if any signature verifies. A lone signature reports its own failure (e.g. malformed DER)."""
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise SignatureError("attestation envelope has no signatures")
    failures: list[SignatureError] = []
    for entry in signatures:
        try:
            key.verify(_b64decode(entry.get("sig") if isinstance(entry, dict) else None, "signature"), signed)
            return
        except SignatureError as exc:
            failures.append(exc)
    raise failures[0] if len(failures) == 1 else SignatureError(VERIFY_FAILED)


def _parse_statement(raw: bytes) -> Statement:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("attestation payload is not valid JSON") from None
    kind = doc.get("_type") if isinstance(doc, dict) else None
    if kind not in (IN_TOTO_STATEMENT_V01, IN_TOTO_STATEMENT_V1):
        raise SignatureError("attestation payload is not an in-toto statement")
    predicate_type, entries = doc.get("predicateType"), doc.get("subject")
    if not isinstance(predicate_type, str) or not isinstance(entries, list | None):
        raise SignatureError("attestation payload is not an in-toto statement")
    if not entries:
        raise SignatureError("in-toto statement has no subject")
    subjects: list[tuple[str, dict[str, str]]] = []
    for entry in entries:
        name = entry.get("name", "") if isinstance(entry, dict) else None
        digests = entry.get("digest") if isinstance(entry, dict) else None
        if (
            not isinstance(name, str)
            or not isinstance(digests, dict)
            or not all(isinstance(v, str) for v in digests.values())
        ):
            raise SignatureError("in-toto statement has a malformed subject")
        subjects.append((name, dict(digests)))
    return Statement(predicate_type, subjects, doc.get("predicate"), raw, kind)


def verify_envelope(envelope: bytes, key: VerifyKey) -> Statement:
    """Check a DSSE envelope against ``key`` and return the statement it signs. The signature is
    checked before the statement is read; each way of failing has its own message."""
    try:
        doc = json.loads(envelope)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        raise SignatureError("attestation envelope is not valid JSON")
    payload_type = doc.get("payloadType")
    if payload_type != IN_TOTO_MEDIA_TYPE:
        raise SignatureError(f"attestation payload type is {payload_type!r}, not {IN_TOTO_MEDIA_TYPE!r}")
    body = _b64decode(doc.get("payload"), "payload")
    _check_signatures(doc, pae(IN_TOTO_MEDIA_TYPE, body), key)
    return _parse_statement(body)
