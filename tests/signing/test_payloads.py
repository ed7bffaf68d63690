"""The simple-signing payload: byte-exact as Go's ``json.Marshal`` writes cosign's struct."""

from __future__ import annotations

import json

import pytest

from kitops.errors import UsageError
from kitops.signing.errors import SignatureError
from kitops.signing.payloads import (
    SIMPLESIGNING_TYPE,
    SimpleSigning,
    parse_simple_signing,
    simple_signing_payload,
)

DIGEST = "sha256:" + "ab" * 32
REPO = "registry.example.com/team/model"


def test_payload_bytes_without_annotations() -> None:
    assert simple_signing_payload(REPO, DIGEST) == (
        b'{"critical":{"identity":{"docker-reference":"registry.example.com/team/model"},'
        b'"image":{"docker-manifest-digest":"sha256:' + b"ab" * 32 + b'"},'
        b'"type":"cosign container image signature"},"optional":null}'
    )
    assert simple_signing_payload(REPO, DIGEST, {}) == simple_signing_payload(REPO, DIGEST)


def test_payload_bytes_with_annotations() -> None:
    # a Go map: keys sorted; Go escapes <, > and & for HTML safety and keeps other UTF-8 as is
    payload = simple_signing_payload(REPO, DIGEST, {"k": "v", "creator": "me", "note": "a<b&c>d é"})
    assert payload == (
        b'{"critical":{"identity":{"docker-reference":"registry.example.com/team/model"},'
        b'"image":{"docker-manifest-digest":"sha256:' + b"ab" * 32 + b'"},'
        b'"type":"cosign container image signature"},'
        b'"optional":{"creator":"me","k":"v","note":"a\\u003cb\\u0026c\\u003ed \xc3\xa9"}}'
    )


def test_payload_refuses_a_tag_as_digest() -> None:
    with pytest.raises(UsageError, match=r"^not a digest: 'latest'$"):
        simple_signing_payload(REPO, "latest")


def test_parse_round_trip() -> None:
    parsed = parse_simple_signing(simple_signing_payload(REPO, DIGEST, {"creator": "me"}))
    assert parsed == SimpleSigning(REPO, DIGEST, SIMPLESIGNING_TYPE, {"creator": "me"})
    assert parse_simple_signing(simple_signing_payload(REPO, DIGEST)).optional is None


def test_parse_negative_cases() -> None:
    with pytest.raises(SignatureError) as err:
        parse_simple_signing(b"{not json")
    assert err.value.message == "signature payload is not valid JSON"
    with pytest.raises(SignatureError) as err:
        parse_simple_signing(b'{"critical":{"type":"cosign container image signature"}}')
    assert err.value.message == "signature payload is not a simple-signing document"
    with pytest.raises(SignatureError) as err:
        parse_simple_signing(b"[]")
    assert err.value.message == "signature payload is not a simple-signing document"
    doc = json.loads(simple_signing_payload(REPO, DIGEST))
    doc["critical"]["type"] = "atomic container signature"
    with pytest.raises(SignatureError) as err:
        parse_simple_signing(json.dumps(doc).encode())
    assert err.value.message == (
        "signature payload has type 'atomic container signature', not 'cosign container image signature'"
    )
