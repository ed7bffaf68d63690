"""Property tests: the parsers of untrusted text and bytes either succeed or raise their one typed error.

References parse or raise ``UsageError``; manifests, indexes and tag lists parse or raise
``FormatError``. Never anything else (``RecursionError``, ``OverflowError``, ``TypeError``...),
and what parses survives a round trip unchanged.
"""

from __future__ import annotations

import json
import string
from typing import Any

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kitops.errors import FormatError, UsageError
from kitops.oci import mediatypes as mt
from kitops.oci.digest import is_digest
from kitops.oci.models import Descriptor, Index, Manifest
from kitops.oci.reference import Reference, is_modelkit_reference, parse_reference
from kitops.registry.client import RegistryClient
from kitops.registry.repository import RemoteRepository

FUZZ = settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

DIGEST = "sha256:" + "a" * 64

# -- references -------------------------------------------------------------------------------

_alnum = string.ascii_lowercase + string.digits
_component = st.from_regex(r"\A[a-z0-9]{1,8}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,8}){0,3}\Z", fullmatch=True)
_repository = st.lists(_component, min_size=1, max_size=4).map("/".join)
_label = st.text(alphabet=_alnum + "-_", min_size=1, max_size=10).filter(
    lambda s: s[0].isalnum() and s[-1].isalnum()
)
_host = st.one_of(
    st.just("localhost"),
    st.lists(_label, min_size=2, max_size=4).map(".".join),
    st.sampled_from(["[::1]", "127.0.0.1", "[fe80::1]", "....."]),
)
_port = st.one_of(st.just(""), st.integers(0, 70000).map(lambda p: f":{p}"), st.just(":"), st.just(":x"))
_tag = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z", fullmatch=True)
_hex = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_suffix = st.one_of(
    st.just(""),
    _tag.map(lambda t: ":" + t),
    _hex.map(lambda h: "@sha256:" + h),
    st.tuples(_tag, _hex).map(lambda th: f":{th[0]}@sha256:{th[1]}"),
)
# Mostly well-formed references with one random edit: where the interesting edges are.
_structured = st.tuples(
    st.one_of(st.just(""), st.tuples(_host, _port).map(lambda hp: hp[0] + hp[1] + "/")),
    _repository,
    _suffix,
    st.lists(_tag, max_size=2).map(lambda ts: "".join("," + t for t in ts)),
).map("".join)


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(_structured)
    pos = draw(st.integers(0, len(text)))
    action = draw(st.sampled_from(["insert", "delete", "replace", "none"]))
    char = draw(st.one_of(st.characters(), st.sampled_from(list("\n\r\t :/@,.-_A\x00\u2028"))))
    if action == "insert":
        return text[:pos] + char + text[pos:]
    if action == "delete":
        return text[:pos] + text[pos + 1 :]
    if action == "replace":
        return text[:pos] + char + text[pos + 1 :]
    return text


_reference_text = st.one_of(st.text(max_size=80), _structured, _mutated())


def _canonical(ref: Reference) -> str:
    """Text that names ``ref`` again: its display form (``localhost/`` dropped, since kit reads
    ``localhost/x`` as the repository ``localhost/x``)."""
    return ref.display()


@FUZZ
@given(_reference_text)
@example("demo:v1\n")
@example("127.0.0.1:99999/repo:v1")
@example("...../repo:v1")
@example("a" * 5000)
@example("a" * 40 + "!")
@example("localhost/localhost/x")
@example(DIGEST)
def test_reference_parses_or_raises_usage_error(text: str) -> None:
    try:
        ref, extra = parse_reference(text)
    except UsageError as exc:
        assert exc.message and exc.hint
        return
    assert not any(c.isspace() or not c.isprintable() for c in str(ref))
    again, more = parse_reference(_canonical(ref))
    assert again == ref
    assert more == []
    assert str(ref) == str(again) and ref.display() == again.display()
    assert extra == ([] if is_digest(text) else text.split(",")[1:])
    assert is_modelkit_reference(text) or ("@" not in text and ":" not in text)


@FUZZ
@given(_reference_text)
def test_modelkit_reference_detection_never_raises(text: str) -> None:
    assert is_modelkit_reference(text) in (True, False)


@FUZZ
@given(_structured)
def test_well_formed_references_round_trip(text: str) -> None:
    try:
        ref, _ = parse_reference(text)
    except UsageError:
        return  # ports past 65535, dot-only hosts, names over the length limit
    assert parse_reference(_canonical(ref))[0] == ref


# -- manifests and indexes --------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=25,
)


def _field(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right type, sometimes any JSON value at all."""
    return st.one_of(good, good, good, _json)


_annotations = st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=3)
_descriptor = st.fixed_dictionaries(
    {
        "mediaType": _field(
            st.sampled_from([mt.KIT_CONFIG, mt.OCI_MANIFEST, mt.layer_media_type("model"), ""])
        ),
        "digest": _field(st.one_of(st.just(DIGEST), _hex.map(lambda h: "sha256:" + h), st.text(max_size=10))),
        "size": _field(st.integers(min_value=-2, max_value=2**64)),
    },
    optional={
        "annotations": _field(_annotations),
        "artifactType": _field(st.text(max_size=10)),
        "urls": _field(st.lists(st.text(max_size=10), max_size=2)),
        "data": _json,
        "platform": _json,
    },
)
_manifest_obj = st.fixed_dictionaries(
    {"config": _field(_descriptor)},
    optional={
        "schemaVersion": _field(st.sampled_from([2, 1, 3])),
        "mediaType": _field(st.just(mt.OCI_MANIFEST)),
        "artifactType": _field(st.just(mt.KIT_MANIFEST_ARTIFACT)),
        "layers": _field(st.one_of(st.none(), st.lists(_field(_descriptor), max_size=3))),
        "subject": _field(st.one_of(st.none(), _descriptor)),
        "annotations": _field(_annotations),
        "manifests": _json,
    },
)
_index_obj = st.fixed_dictionaries(
    {"manifests": _field(st.one_of(st.none(), st.lists(_field(_descriptor), max_size=3)))},
    optional={
        "schemaVersion": _field(st.just(2)),
        "mediaType": _field(st.just(mt.OCI_INDEX)),
        "artifactType": _field(st.text(max_size=10)),
        "annotations": _field(_annotations),
    },
)


def _encode(obj: Any) -> bytes:
    return json.dumps(obj).encode()  # floats past 1e308 never occur: allow_infinity=False


def _check_manifest(data: bytes) -> None:
    try:
        m = Manifest.from_bytes(data)
    except FormatError as exc:
        assert exc.hint
        return
    out = m.to_bytes()
    assert Manifest.from_bytes(out).to_bytes() == out  # what we write reads back identically
    assert isinstance(m.descriptor(out), Descriptor)


def _check_index(data: bytes) -> None:
    try:
        idx = Index.from_bytes(data)
    except FormatError as exc:
        assert exc.hint
        return
    out = idx.to_bytes()
    assert Index.from_bytes(out).to_bytes() == out


@FUZZ
@given(st.one_of(_manifest_obj, _json))
def test_manifest_from_json_values(obj: Any) -> None:
    _check_manifest(_encode(obj))


@FUZZ
@given(st.one_of(_index_obj, _json))
def test_index_from_json_values(obj: Any) -> None:
    _check_index(_encode(obj))


_json_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(alphabet='{}[]":,0123456789.eE+-\\ntrufalsu\ud800', max_size=200).map(
        lambda s: s.encode("utf-8", "surrogatepass")
    ),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 5000).map(lambda n: b'{"a":' * n + b"0" + b"}" * n),
)


@FUZZ
@given(_json_bytes)
@example(b"[" * 100_000 + b"]" * 100_000)
@example(b'{"schemaVersion":1e400,"config":{}}')
@example(b'{"config":{"digest":"' + DIGEST.encode() + b'","size":1e999}}')
@example(b'{"config":{"digest":"' + DIGEST.encode() + b'","size":' + b"9" * 5000 + b"}}")
@example(b'{"config":{"digest":"' + DIGEST.encode() + b'","size":1,"annotations":{"\\ud800":"\\udfff"}}}')
def test_manifest_and_index_from_random_bytes(data: bytes) -> None:
    _check_manifest(data)
    _check_index(data)


# -- tag lists --------------------------------------------------------------------------------

_tag_body = st.one_of(
    _json,
    st.fixed_dictionaries({"name": _field(st.just("r")), "tags": _field(st.lists(_field(_tag), max_size=4))}),
)


@FUZZ
@given(body=st.one_of(_tag_body.map(_encode), st.binary(max_size=100)))
def test_tag_list_parses_or_raises_format_error(body: bytes) -> None:
    client = RegistryClient(
        "registry.example.com",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body)),
        max_retries=0,
    )
    try:
        tags = RemoteRepository(client, "r").tags()
    except FormatError as exc:
        assert exc.hint
        return
    finally:
        client.close()
    assert all(isinstance(t, str) for t in tags)
