"""DSSE envelopes of in-toto statements, and Sigstore bundles: PAE bytes, statement bytes, envelope
layout checked with ``cryptography`` directly, round trips, and every refusal with its message."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kitops.errors import UsageError
from kitops.signing import bundle as bundles
from kitops.signing.dsse import (
    PREDICATE_TYPES,
    Statement,
    cosign_sign_statement,
    in_toto_statement,
    pae,
    predicate_from_bytes,
    resolve_predicate_type,
    sign_envelope,
    verify_envelope,
)
from kitops.signing.errors import SignatureError
from kitops.signing.keys import SigningKey

HEX = "cd" * 32
DIGEST = "sha256:" + HEX
REPO = "registry.example.com/team/model"


@pytest.fixture(scope="module")
def private() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def key(private: ec.EllipticCurvePrivateKey) -> SigningKey:
    return SigningKey(private)


def _statement(predicate: object | None = None) -> bytes:
    return in_toto_statement(REPO, DIGEST, "https://example.com/p/v1", predicate or {"a": 1})


def _envelope_with(envelope: bytes, **changes: object) -> bytes:
    doc = json.loads(envelope)
    doc.update(changes)
    return json.dumps(doc).encode()


# --- bytes ----------------------------------------------------------------------------------------


def test_pae_bytes() -> None:
    body = b'{"_type":"https://in-toto.io/Statement/v0.1"}'
    assert len(body) == 45
    assert pae("application/vnd.in-toto+json", body) == b"DSSEv1 28 application/vnd.in-toto+json 45 " + body
    # lengths count bytes, not characters
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"
    assert pae("", b"") == b"DSSEv1 0  0 "


def test_statement_bytes() -> None:
    assert _statement({"b": 2, "a": [1, "x"]}) == (
        b'{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://example.com/p/v1",'
        b'"subject":[{"name":"registry.example.com/team/model","digest":{"sha256":"' + HEX.encode() + b'"}}],'
        b'"predicate":{"b":2,"a":[1,"x"]}}'
    )


def test_cosign_v3_sign_statement_bytes() -> None:
    assert cosign_sign_statement(DIGEST) == (
        b'{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"' + HEX.encode() + b'"},'
        b'"annotations":{}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}'
    )
    assert b'"annotations":{"a":"1","b":"2"}' in cosign_sign_statement(DIGEST, {"b": "2", "a": "1"})


def test_statement_refuses_a_tag() -> None:
    with pytest.raises(UsageError, match=r"^not a digest: 'v1'$"):
        in_toto_statement(REPO, "v1", "https://example.com/p", {})


# --- predicate types --------------------------------------------------------------------------------


def test_predicate_type_names() -> None:
    assert resolve_predicate_type("custom") == "https://cosign.sigstore.dev/attestation/v1"
    assert resolve_predicate_type("slsaprovenance") == "https://slsa.dev/provenance/v0.2"
    assert resolve_predicate_type("slsaprovenance1") == "https://slsa.dev/provenance/v1"
    assert resolve_predicate_type("spdxjson") == resolve_predicate_type("spdx") == "https://spdx.dev/Document"
    assert resolve_predicate_type("cyclonedx") == "https://cyclonedx.org/bom"
    assert resolve_predicate_type("vuln") == "https://cosign.sigstore.dev/attestation/vuln/v1"
    assert resolve_predicate_type("https://example.com/eval/v1") == "https://example.com/eval/v1"
    assert set(PREDICATE_TYPES) >= {
        "custom",
        "slsaprovenance",
        "spdx",
        "spdxjson",
        "cyclonedx",
        "link",
        "openvex",
    }
    with pytest.raises(UsageError, match=r"^invalid predicate type: sbom$"):
        resolve_predicate_type("sbom")


def test_predicates_from_files() -> None:
    moment = dt.datetime(2025, 1, 2, 3, 4, 5, 600000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    custom = predicate_from_bytes("custom", b"free text\n", now=moment)
    assert custom == {"Data": "free text\n", "Timestamp": "2025-01-02T01:04:05Z"}
    assert isinstance(custom, dict) and list(custom) == ["Data", "Timestamp"]
    statement = in_toto_statement(REPO, DIGEST, resolve_predicate_type("custom"), custom)
    assert statement.endswith(b'"predicate":{"Data":"free text\\n","Timestamp":"2025-01-02T01:04:05Z"}}')
    # JSON objects come out as Go maps: keys sorted
    slsa = predicate_from_bytes("https://slsa.dev/provenance/v0.2", b'{"z": 1, "a": {"y": 2, "b": 3}}')
    assert in_toto_statement(REPO, DIGEST, "u:x", slsa).endswith(b'"predicate":{"a":{"b":3,"y":2},"z":1}}')
    assert predicate_from_bytes("spdx", b"SPDXVersion: SPDX-2.3\n") == "SPDXVersion: SPDX-2.3\n"
    with pytest.raises(
        UsageError, match=r"^the predicate for https://cyclonedx.org/bom must be a JSON object$"
    ):
        predicate_from_bytes("https://cyclonedx.org/bom", b"[1, 2]")
    with pytest.raises(UsageError, match=r"must be a JSON object$"):
        predicate_from_bytes("https://example.com/x", b'{"a": NaN}')


# --- envelopes --------------------------------------------------------------------------------------


def test_envelope_layout_checked_with_cryptography(
    key: SigningKey, private: ec.EllipticCurvePrivateKey
) -> None:
    statement = _statement()
    envelope = sign_envelope(statement, key)
    doc = json.loads(envelope)
    assert list(doc) == ["payloadType", "payload", "signatures"]
    assert doc["payloadType"] == "application/vnd.in-toto+json"
    assert base64.b64decode(doc["payload"], validate=True) == statement
    assert [list(s) for s in doc["signatures"]] == [["keyid", "sig"]]
    assert doc["signatures"][0]["keyid"] == ""
    signed = b"DSSEv1 28 application/vnd.in-toto+json %d " % len(statement) + statement
    der = base64.b64decode(doc["signatures"][0]["sig"], validate=True)
    private.public_key().verify(der, signed, ec.ECDSA(hashes.SHA256()))


def test_envelope_round_trip(key: SigningKey) -> None:
    statement = _statement({"k": "v"})
    verified = verify_envelope(sign_envelope(statement, key), key.public_key)
    assert verified == Statement(
        predicate_type="https://example.com/p/v1",
        subjects=[(REPO, {"sha256": HEX})],
        predicate={"k": "v"},
        raw=statement,
    )
    assert verified.names_digest(DIGEST) and not verified.names_digest("sha256:" + "00" * 32)


def test_envelope_round_trip_ed25519_and_v1_statement() -> None:
    key = SigningKey(ed25519.Ed25519PrivateKey.generate())
    verified = verify_envelope(sign_envelope(cosign_sign_statement(DIGEST), key), key.public_key)
    assert verified.statement_type == "https://in-toto.io/Statement/v1"
    assert verified.subjects == [("", {"sha256": HEX})]


def test_tampered_payload(key: SigningKey) -> None:
    envelope = sign_envelope(_statement(), key)
    other = base64.b64encode(
        in_toto_statement(REPO, "sha256:" + "00" * 32, "https://example.com/p/v1", {"a": 1})
    )
    with pytest.raises(SignatureError) as err:
        verify_envelope(_envelope_with(envelope, payload=other.decode()), key.public_key)
    assert err.value.message == "signature does not verify with the given key"


def test_other_key(key: SigningKey) -> None:
    other = SigningKey(ec.generate_private_key(ec.SECP256R1())).public_key
    with pytest.raises(SignatureError) as err:
        verify_envelope(sign_envelope(_statement(), key), other)
    assert err.value.message == "signature does not verify with the given key"


def test_truncated_der(key: SigningKey) -> None:
    envelope = json.loads(sign_envelope(_statement(), key))
    der = base64.b64decode(envelope["signatures"][0]["sig"])
    envelope["signatures"][0]["sig"] = base64.b64encode(der[:-3]).decode()
    with pytest.raises(SignatureError) as err:
        verify_envelope(json.dumps(envelope).encode(), key.public_key)
    assert err.value.message == "signature is not a DER-encoded ECDSA signature"


def test_one_good_signature_among_bad_ones(key: SigningKey) -> None:
    envelope = json.loads(sign_envelope(_statement(), key))
    good = envelope["signatures"][0]
    envelope["signatures"] = [{"keyid": "", "sig": "AAAA"}, {"keyid": "x", "sig": "***"}, good]
    assert verify_envelope(json.dumps(envelope).encode(), key.public_key).subjects[0][0] == REPO
    envelope["signatures"] = [{"keyid": "", "sig": "AAAA"}, {"keyid": "", "sig": "AAAA"}]
    with pytest.raises(SignatureError, match=r"^signature does not verify with the given key$"):
        verify_envelope(json.dumps(envelope).encode(), key.public_key)


def test_bad_base64(key: SigningKey) -> None:
    envelope = sign_envelope(_statement(), key)
    with pytest.raises(SignatureError) as err:
        verify_envelope(_envelope_with(envelope, payload="not*base64"), key.public_key)
    assert err.value.message == "attestation payload is not valid base64"
    doc = json.loads(envelope)
    doc["signatures"][0]["sig"] = "%%%"
    with pytest.raises(SignatureError) as err:
        verify_envelope(json.dumps(doc).encode(), key.public_key)
    assert err.value.message == "attestation signature is not valid base64"


def test_url_safe_base64_is_read(key: SigningKey) -> None:
    doc = json.loads(sign_envelope(_statement({"q": "??>>"}), key))
    doc["payload"] = doc["payload"].replace("+", "-").replace("/", "_").rstrip("=")
    doc["signatures"][0]["sig"] = doc["signatures"][0]["sig"].replace("+", "-").replace("/", "_").rstrip("=")
    assert verify_envelope(json.dumps(doc).encode(), key.public_key).predicate == {"q": "??>>"}


def test_statement_with_no_subject(key: SigningKey) -> None:
    statement = json.loads(_statement())
    statement["subject"] = []
    envelope = sign_envelope(json.dumps(statement).encode(), key)
    with pytest.raises(SignatureError) as err:
        verify_envelope(envelope, key.public_key)
    assert err.value.message == "in-toto statement has no subject"


def test_other_envelope_refusals(key: SigningKey) -> None:
    envelope = sign_envelope(_statement(), key)
    cases = {
        b"{": "attestation envelope is not valid JSON",
        _envelope_with(envelope, payloadType="text/plain"): (
            "attestation payload type is 'text/plain', not 'application/vnd.in-toto+json'"
        ),
        _envelope_with(envelope, signatures=[]): "attestation envelope has no signatures",
        sign_envelope(b"[1]", key): "attestation payload is not an in-toto statement",
        sign_envelope(b"not json", key): "attestation payload is not valid JSON",
    }
    for data, message in cases.items():
        with pytest.raises(SignatureError) as err:
            verify_envelope(data, key.public_key)
        assert err.value.message == message


# --- bundles ----------------------------------------------------------------------------------------


def test_message_signature_bundle(key: SigningKey, private: ec.EllipticCurvePrivateKey) -> None:
    manifest = b'{"schemaVersion":2}'
    digest = hashlib.sha256(manifest).digest()
    data = bundles.make_message_signature_bundle(digest, key.sign(manifest), key.public_key)
    doc = json.loads(data)
    assert list(doc) == ["mediaType", "verificationMaterial", "messageSignature"]
    assert doc["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    spki_hash = hashlib.sha256(key.public_key.der()).digest()
    assert doc["verificationMaterial"] == {"publicKey": {"hint": base64.b64encode(spki_hash).decode()}}
    message = doc["messageSignature"]
    assert message["messageDigest"] == {"algorithm": "SHA2_256", "digest": base64.b64encode(digest).decode()}
    private.public_key().verify(base64.b64decode(message["signature"]), manifest, ec.ECDSA(hashes.SHA256()))

    parsed = bundles.parse_bundle(data)
    assert parsed.content == bundles.MESSAGE_SIGNATURE and parsed.message_digest == digest
    bundles.verify_message_signature(parsed, manifest, key.public_key)
    with pytest.raises(SignatureError, match=r"^bundle message digest does not match the signed artifact$"):
        bundles.verify_message_signature(parsed, manifest + b" ", key.public_key)
    other = SigningKey(ec.generate_private_key(ec.SECP256R1())).public_key
    with pytest.raises(SignatureError, match=r"^signature does not verify with the given key$"):
        bundles.verify_message_signature(parsed, manifest, other)


def test_dsse_bundle_round_trip(key: SigningKey) -> None:
    envelope = sign_envelope(cosign_sign_statement(DIGEST, {"creator": "me"}), key)
    data = bundles.make_dsse_bundle(envelope, key.public_key)
    doc = json.loads(data)
    assert list(doc) == ["mediaType", "verificationMaterial", "dsseEnvelope"]
    assert list(doc["dsseEnvelope"]) == ["payload", "payloadType", "signatures"]
    assert list(doc["dsseEnvelope"]["signatures"][0]) == ["sig"]  # protojson leaves out the empty keyid
    parsed = bundles.parse_bundle(data)
    assert parsed.content == bundles.DSSE_ENVELOPE and parsed.envelope is not None
    statement = verify_envelope(parsed.envelope, key.public_key)
    assert statement.predicate_type == "https://sigstore.dev/cosign/sign/v1" and statement.names_digest(
        DIGEST
    )


def test_bundle_refusals() -> None:
    cases = {
        b"nope": "bundle is not valid JSON",
        b'{"mediaType":"application/json"}': "unsupported bundle media type 'application/json'",
        b'{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}': (
            "bundle holds neither a message signature nor a DSSE envelope"
        ),
        b'{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":'
        b'{"messageDigest":{"algorithm":"SHA2_256","digest":"***"},"signature":"AAAA"}}': (
            "bundle message digest is not valid base64"
        ),
        b'{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.2","messageSignature":'
        b'{"messageDigest":{"algorithm":"SHA2_512","digest":"AAAA"},"signature":"AAAA"}}': (
            "bundle message digest is not a SHA-256 digest"
        ),
    }
    for data, message in cases.items():
        with pytest.raises(SignatureError) as err:
            bundles.parse_bundle(data)
        assert err.value.message == message
