"""Hostile input to the parsers: references, manifests, indexes, tag lists and their pagination.

Every case must end in a typed kitops error with a hint (never ``unexpected error: <Type>(...)``),
and quickly: nothing here may recurse without bound, backtrack exponentially or loop forever.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kitops.errors import FormatError, KitError, RegistryError, UsageError
from kitops.oci import mediatypes as mt
from kitops.oci.digest import is_digest, sha256_digest
from kitops.oci.models import MAX_INDEX_DEPTH, MAX_JSON_DEPTH, Descriptor, Index, Manifest
from kitops.oci.reference import (
    MAX_NAME_LENGTH,
    MAX_REFERENCE_LENGTH,
    is_modelkit_reference,
    parse_reference,
    validate_tag,
)
from kitops.registry.client import RegistryClient
from kitops.registry.repository import MAX_TAG_PAGES, RemoteRepository
from kitops.store.layout import LocalStore
from kitops.store.memory import MemoryStore

DIGEST = "sha256:" + "a" * 64
CONFIG = {"mediaType": mt.KIT_CONFIG, "digest": DIGEST, "size": 10}
LAYER = {"mediaType": mt.layer_media_type("model"), "digest": "sha256:" + "b" * 64, "size": 3}


def _typed(exc: KitError) -> None:
    """The error the CLI shows as ``error: ...`` plus ``hint: ...``."""
    assert isinstance(exc, KitError)
    assert exc.hint, f"no hint on {exc!r}"


# -- references -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "demo:v1\n",  # Python's `$` matches before a final newline: it was stored as a tag
        "demo:v1\n,v2",
        "demo\n:v1",
        "demo:v1\r\n",
        "reg.io/demo:v1\n",
        f"demo@{DIGEST}\n",
        f"{DIGEST}\n",
        " demo:v1",
        "demo:v1 ",
        "demo:v1,v2\n",
    ],
)
def test_reference_with_trailing_newline_or_whitespace_is_rejected(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_reference(text)
    _typed(info.value)


def test_tag_and_digest_regexes_are_anchored_at_the_very_end() -> None:
    for bad in ("v1\n", "v1\r", "v1\x00", "v\u00e91"):
        with pytest.raises(UsageError):
            validate_tag(bad)
    assert not is_digest(DIGEST + "\n")
    validate_tag("v1")
    validate_tag("a" * 128)
    with pytest.raises(UsageError):
        validate_tag("a" * 129)


def test_local_store_refuses_a_tag_with_a_newline(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "storage")
    cfg = store.put_bytes(mt.KIT_CONFIG, b'{"manifestVersion":"1.0.0","package":{}}')
    man = store.put_bytes(mt.OCI_MANIFEST, Manifest(cfg, ()).to_bytes())
    repo = store.repository("localhost/demo")
    with pytest.raises(UsageError):
        repo.tag(man, "v1\n")
    assert repo.tags() == []


@pytest.mark.parametrize(
    ("text", "hint_word"),
    [
        ("127.0.0.1:99999/repo:v1", "port"),
        ("localhost:65536/repo:v1", "port"),
        ("reg.io:123456789012345678901234567890/repo", "port"),
        ("...../repo:v1", "registry"),
        ("a..b/repo:v1", "registry"),
        ("x" * 64 + ".io/repo:v1", "registry"),
        ("[:::::]:5000/repo:v1", "registry"),
        ("[1.2.3.4]/repo:v1", "registry"),
    ],
)
def test_unusable_registry_is_a_usage_error_with_a_hint(text: str, hint_word: str) -> None:
    with pytest.raises(UsageError, match="invalid registry") as info:
        parse_reference(text)
    _typed(info.value)
    assert info.value.hint is not None and hint_word in info.value.hint


@pytest.mark.parametrize(
    "text",
    [
        "localhost:65535/r",
        "127.0.0.1:5000/r:v1",
        "[::1]:5000/r",
        "localhost:/r",
        "a-b_c.d-e/r",
        "x" * 63 + ".io/r",
    ],
)
def test_usable_registries_still_parse(text: str) -> None:
    ref, _ = parse_reference(text)
    assert ref.repository == "r"


def test_dot_registry_quirk_is_kept_for_kitfile_model_paths() -> None:
    assert is_modelkit_reference("./models/x:tag")  # the Go CLI takes it for a reference
    with pytest.raises(UsageError, match="invalid registry"):
        parse_reference("./models/x:tag")  # ...that no command can use


@pytest.mark.parametrize(
    "text",
    [
        "a\x01b:v1",
        "demo:v1\x00",
        "reg.io/a\x7fb:v1",
        "demo:v\u200b1",
        "demo:v1\u2028",
        "de\tmo:v1",
        "\x1b[31mred",
    ],
)
def test_control_characters_are_named_not_echoed(text: str) -> None:
    with pytest.raises(UsageError, match="control character or whitespace") as info:
        parse_reference(text)
    _typed(info.value)
    assert all(c.isprintable() for c in info.value.message)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    [
        "a" * 5000,
        "reg.io/" + "a" * 5000 + ":v1",
        "demo:v1," + ",".join(["t"] * 3000),
        "a" * (MAX_NAME_LENGTH + 1),
        "reg.io/" + "a/" * 200 + "b",
    ],
)
def test_overlong_references_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="too long") as info:
        parse_reference(text)
    _typed(info.value)
    assert len(info.value.message) < 300  # the message does not echo the whole input


def test_length_limits_are_generous_for_real_names() -> None:
    name = "reg.io/" + "a" * (MAX_NAME_LENGTH - len("reg.io/"))
    ref, _ = parse_reference(name + ":" + "t" * 128)
    assert ref.repo_key == name
    assert MAX_REFERENCE_LENGTH >= MAX_NAME_LENGTH + 1 + 128


@pytest.mark.timeout(5)
def test_repository_regex_does_not_backtrack_exponentially() -> None:
    # `[-]*` may be empty, so the Go pattern nests `[a-z0-9]+` inside a `*`: exponential in re
    for text in ("a" * 40 + "!:v1", "a" * 200 + "-:v1", "reg.io/" + "a1" * 100 + "_/x"):
        with pytest.raises(UsageError):
            parse_reference(text)


# -- manifests and indexes --------------------------------------------------------------------


class _Raw(str):
    """JSON text put into a document as is (``1e400``: Python reads it as inf, json.dumps cannot write it)."""


def _dumps(obj: Any) -> bytes:
    raws: dict[str, str] = {}

    def default(value: Any) -> Any:
        raise TypeError(value)

    def mark(value: Any) -> Any:
        if isinstance(value, _Raw):
            key = f"@raw{len(raws)}@"
            raws[key] = str(value)
            return key
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items() if v is not _DROP}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(obj), default=default)
    for key, raw in raws.items():
        text = text.replace(f'"{key}"', raw)
    return text.encode()


def _manifest(**fields: Any) -> bytes:
    obj: dict[str, Any] = {"schemaVersion": 2, "config": CONFIG, "layers": [LAYER]}
    obj.update(fields)
    return _dumps(obj)


_DROP = object()


@pytest.mark.parametrize(
    "value", ["2", 2.5, None, True, 2.0, _Raw("1e400"), _Raw("2e0"), 2**63, -(2**63) - 1, [2], {"v": 2}]
)
def test_non_integer_schema_version_is_a_format_error(value: object) -> None:
    with pytest.raises(FormatError, match="schemaVersion") as info:
        Manifest.from_bytes(_manifest(schemaVersion=value))
    _typed(info.value)
    index = _dumps({"schemaVersion": value, "manifests": []})
    with pytest.raises(FormatError, match="schemaVersion"):
        Index.from_bytes(index)


def test_schema_version_may_be_absent() -> None:
    assert Manifest.from_bytes(_manifest(schemaVersion=_DROP)).schema_version == 2


_NEST = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
_DEEP_ANNOTATION = (
    f'{{"schemaVersion":2,"config":{json.dumps(CONFIG)},"annotations":{{"x":{_NEST}}}}}'.encode()
)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b"[" * 100_000,  # not even closed
        _DEEP_ANNOTATION,
    ],
)
def test_deeply_nested_json_is_a_format_error(data: bytes) -> None:
    for parse in (Manifest.from_bytes, Index.from_bytes):
        with pytest.raises(FormatError) as info:
            parse(data)
        _typed(info.value)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    values = {"a": "[" * 1000, "b": '"{' * 500, "c": '\\"[' * 500, "d": "\\" * 99 + "[[["}
    assert Manifest.from_bytes(_manifest(annotations=values)).annotations == values


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"layers": {"a": LAYER}}, "layers"),
        ({"layers": "x"}, "layers"),
        ({"layers": [LAYER, 5]}, "layer 1 is not a JSON object"),
        ({"layers": [{**LAYER, "size": "3"}]}, "size"),
        ({"layers": [{**LAYER, "size": -1}]}, "size"),
        ({"layers": [{**LAYER, "size": 1.5}]}, "size"),
        ({"layers": [{**LAYER, "size": True}]}, "size"),
        ({"layers": [{**LAYER, "size": _Raw("1e400")}]}, "size"),
        ({"layers": [{**LAYER, "size": _Raw("3.0")}]}, "size"),
        ({"layers": [{**LAYER, "size": 2**64}]}, "size"),
        ({"layers": [{**LAYER, "size": None}]}, "size"),
        ({"layers": [{**LAYER, "digest": "sha256:xyz"}]}, "digest"),
        ({"layers": [{**LAYER, "digest": 5}]}, "digest"),
        ({"layers": [{**LAYER, "digest": DIGEST + "\n"}]}, "digest"),
        ({"layers": [{**LAYER, "mediaType": 5}]}, "mediaType"),
        ({"layers": [{**LAYER, "annotations": {"a": 1}}]}, "annotation 'a' is a JSON number"),
        ({"layers": [{**LAYER, "annotations": [1]}]}, "annotations"),
        ({"layers": [{**LAYER, "urls": "http://x"}]}, "urls"),
        ({"layers": [{**LAYER, "urls": [1]}]}, "urls"),
        ({"layers": [{**LAYER, "artifactType": ["x"]}]}, "artifactType"),
        ({"config": None}, "config"),
        ({"config": "x"}, "config"),
        ({"config": _DROP}, "config"),
        ({"annotations": {"a": 1}}, "annotation 'a' is a JSON number"),
        ({"annotations": {"a": None}}, "annotation 'a' is a JSON null"),
        ({"annotations": {"a": {"b": "c"}}}, "annotation 'a' is a JSON object"),
        ({"annotations": ["a"]}, "annotations"),
        ({"annotations": "a"}, "annotations"),
        ({"mediaType": 5}, "mediaType"),
        ({"artifactType": {"x": 1}}, "artifactType"),
        ({"subject": 5}, "subject"),
        ({"subject": {"digest": DIGEST}}, "size"),
    ],
)
def test_wrong_field_types_are_format_errors(fields: dict[str, Any], word: str) -> None:
    with pytest.raises(FormatError, match=word) as info:
        Manifest.from_bytes(_manifest(**fields))
    _typed(info.value)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"null",
        b"[]",
        b'"x"',
        b"3",
        b"{",
        b'{"config":NaN}',
        b'{"schemaVersion":Infinity}',
        b"1" * 5000,
    ],
)
def test_not_a_manifest_at_all(data: bytes) -> None:
    with pytest.raises(FormatError) as info:
        Manifest.from_bytes(data)
    _typed(info.value)


@pytest.mark.parametrize("manifests", [{}, 0, "x", {"a": LAYER}, [LAYER, None]])
def test_index_manifests_must_be_a_list_of_descriptors(manifests: object) -> None:
    with pytest.raises(FormatError) as info:
        Index.from_bytes(json.dumps({"schemaVersion": 2, "manifests": manifests}).encode())
    _typed(info.value)


def test_null_fields_read_like_go() -> None:
    m = Manifest.from_bytes(_manifest(layers=None, annotations=None, subject=None, mediaType=None))
    assert m.layers == () and m.layers_null and m.annotations is None and m.subject is None
    assert Index.from_bytes(b'{"schemaVersion":2,"manifests":null}').manifests == ()


def test_lone_surrogates_become_replacement_characters_as_in_go() -> None:
    m = Manifest.from_bytes(_manifest(annotations={"\ud800k": "v\udfff"}))
    assert m.annotations == {"\ufffdk": "v\ufffd"}
    assert Manifest.from_bytes(m.to_bytes()).to_bytes() == m.to_bytes()


# -- index chains -----------------------------------------------------------------------------


def _put(store: MemoryStore, media_type: str, data: bytes) -> Descriptor:
    desc = Descriptor(media_type, sha256_digest(data), len(data))
    store.push(desc, io.BytesIO(data))
    return desc


def _index_chain(depth: int) -> tuple[MemoryStore, Descriptor]:
    """``depth`` indexes, each naming the next; the last names an image manifest."""
    src = MemoryStore()
    cfg = _put(src, mt.KIT_CONFIG, b'{"manifestVersion":"1.0.0","package":{}}')
    node = _put(src, mt.OCI_MANIFEST, Manifest(cfg, ()).to_bytes())
    for _ in range(depth):
        node = _put(src, mt.OCI_INDEX, Index((node,)).to_bytes())
    src.tag(node, "v1")
    return src, node


@pytest.mark.timeout(20)
def test_index_chain_3000_deep_is_refused_quickly() -> None:
    from kitops.transfer import copy

    src, _root = _index_chain(3000)
    dst = MemoryStore()
    with pytest.raises(FormatError, match="nested deeper than") as info:
        copy(src, "v1", dst)
    _typed(info.value)


def test_index_chain_within_the_limit_is_copied() -> None:
    from kitops.transfer import copy

    src, root = _index_chain(MAX_INDEX_DEPTH)
    dst = MemoryStore()
    assert copy(src, "v1", dst) == root
    assert dst.resolve("v1") == root
    with pytest.raises(FormatError, match="nested deeper than"):
        copy(_index_chain(MAX_INDEX_DEPTH + 1)[0], "v1", MemoryStore())


@pytest.mark.timeout(20)
def test_index_fan_out_of_one_child_is_visited_once() -> None:
    """An index listing the same child index many times, many levels down: linear, not exponential."""
    from kitops.transfer import copy

    src = MemoryStore()
    cfg = _put(src, mt.KIT_CONFIG, b"{}")
    node = _put(src, mt.OCI_MANIFEST, Manifest(cfg, ()).to_bytes())
    reads: list[str] = []
    for _ in range(MAX_INDEX_DEPTH):
        node = _put(src, mt.OCI_INDEX, Index((node,) * 50).to_bytes())
    src.tag(node, "v1")
    fetch = src.fetch

    def counting_fetch(desc: Descriptor) -> Any:
        reads.append(desc.digest)
        return fetch(desc)

    src.fetch = counting_fetch  # type: ignore[method-assign]
    copy(src, "v1", MemoryStore())
    assert len(reads) <= 3 * (MAX_INDEX_DEPTH + 2)


def test_loading_an_index_as_a_modelkit_says_so() -> None:
    from kitops.modelkit.read import load_modelkit

    src, _root = _index_chain(1)
    with pytest.raises(FormatError, match="index") as info:
        load_modelkit(src, "v1")
    _typed(info.value)


# -- tag lists --------------------------------------------------------------------------------


def _repo(handler: Callable[[httpx.Request], httpx.Response]) -> RemoteRepository:
    client = RegistryClient(
        "registry.example.com", transport=httpx.MockTransport(handler), backoff_base=0.001
    )
    return RemoteRepository(client, "r")


def _guarded(handler: Callable[[httpx.Request], httpx.Response]) -> Callable[[httpx.Request], httpx.Response]:
    """Stop a test whose client would loop forever (the bug) instead of hanging."""
    calls = {"n": 0}

    def wrapper(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] > MAX_TAG_PAGES + 50:
            raise AssertionError("tag pagination never ended")
        return handler(request)

    return wrapper


@pytest.mark.parametrize(
    "body",
    [
        ["v1", "v2"],  # a JSON array instead of {"name":..., "tags":[...]}
        "v1",
        {"name": "r", "tags": "v1"},  # iterated as ['v', '1'] before
        {"name": "r", "tags": ["v1", 2]},
        {"name": "r", "tags": [["v1"]]},
        {"name": "r", "tags": {"v1": "x"}},
        {"name": "r", "tags": [None]},
    ],
)
def test_malformed_tag_lists_are_format_errors(body: object) -> None:
    repo = _repo(lambda request: httpx.Response(200, json=body))
    with pytest.raises(FormatError) as info:
        repo.tags()
    _typed(info.value)


@pytest.mark.timeout(10)
def test_deeply_nested_tag_list_is_a_format_error() -> None:
    repo = _repo(lambda request: httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000))
    with pytest.raises(FormatError):
        repo.tags()


def test_tags_no_registry_could_hold_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    body = {"name": "r", "tags": ["v1", "v1\n", "\x1b[2J", "-x", "a" * 129, "v2"]}
    assert _repo(lambda request: httpx.Response(200, json=body)).tags() == ["v1", "v2"]
    assert "ignoring invalid tag" in caplog.text


def test_tag_list_without_tags_is_empty() -> None:
    assert _repo(lambda request: httpx.Response(200, json={"name": "r", "tags": None})).tags() == []
    assert _repo(lambda request: httpx.Response(200, json={"name": "r"})).tags() == []


def _paged(pages: dict[str, tuple[list[str], str | None]]) -> Callable[[httpx.Request], httpx.Response]:
    """Pages keyed by their ``last`` query parameter ('' for the first); each with its Link target."""

    def handler(request: httpx.Request) -> httpx.Response:
        tags, nxt = pages[request.url.params.get("last", "")]
        headers = {"Link": f'<{nxt}>; rel="next"'} if nxt else {}
        return httpx.Response(200, json={"name": "r", "tags": tags}, headers=headers)

    return handler


def test_pagination_follows_relative_and_absolute_same_host_links() -> None:
    handler = _paged(
        {
            "": (["a"], "/v2/r/tags/list?n=1000&last=a"),
            "a": (["b"], "https://registry.example.com/v2/r/tags/list?n=1000&last=b"),
            "b": (["c"], None),
        }
    )
    assert _repo(handler).tags() == ["a", "b", "c"]


@pytest.mark.timeout(20)
def test_link_to_itself_ends_with_an_error() -> None:
    handler = _paged({"": (["a"], "/v2/r/tags/list?n=1000")})
    with pytest.raises(RegistryError, match="repeats") as info:
        _repo(_guarded(handler)).tags()
    _typed(info.value)


@pytest.mark.timeout(20)
def test_links_cycling_between_pages_end_with_an_error() -> None:
    handler = _paged(
        {
            "": (["a"], "/v2/r/tags/list?n=1000&last=a"),
            "a": (["b"], "/v2/r/tags/list?n=1000&last=b"),
            "b": (["c"], "/v2/r/tags/list?n=1000&last=a"),
        }
    )
    with pytest.raises(RegistryError, match="repeats"):
        _repo(_guarded(handler)).tags()


@pytest.mark.timeout(20)
def test_endless_distinct_pages_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kitops.registry.repository.MAX_TAG_PAGES", 5)
    served: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        last = request.url.params.get("last", "0")
        served.append(last)
        if len(served) > 100:
            raise AssertionError("tag pagination never ended")
        nxt = str(int(last) + 1)
        return httpx.Response(
            200,
            json={"name": "r", "tags": [f"t{nxt}"]},
            headers={"Link": f'</v2/r/tags/list?n=1000&last={nxt}>; rel="next"'},
        )

    with pytest.raises(RegistryError, match="more than 5 pages") as info:
        _repo(handler).tags()
    _typed(info.value)
    assert len(served) == 5


def test_link_to_another_host_is_refused() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if request.url.host != "registry.example.com":
            return httpx.Response(200, json={"name": "r", "tags": ["evil"]})
        return httpx.Response(
            200,
            json={"name": "r", "tags": ["a"]},
            headers={"Link": '<https://evil.example.net/v2/r/tags/list?last=a>; rel="next"'},
        )

    with pytest.raises(RegistryError, match="another host") as info:
        _repo(handler).tags()
    _typed(info.value)
    assert hosts == ["registry.example.com"]


def test_link_with_another_scheme_is_refused() -> None:
    handler = _paged({"": (["a"], "file:///etc/passwd")})
    with pytest.raises(RegistryError):
        _repo(_guarded(handler)).tags()


def test_referrers_with_a_bogus_content_length_is_still_read_bounded() -> None:
    index = Index((Descriptor(mt.OCI_MANIFEST, DIGEST, 2, artifact_type="x"),)).to_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Type": mt.OCI_INDEX, "Content-Length": "lots"}, content=index
        )

    assert [d.digest for d in _repo(handler).referrers(DIGEST)] == [DIGEST]


@pytest.mark.timeout(10)
def test_referrers_index_nested_too_deep_is_a_format_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": mt.OCI_INDEX}, content=b"[" * 100_000)

    with pytest.raises(FormatError, match="referrers"):
        _repo(handler).referrers(DIGEST)


def test_referrers_index_sent_gzip_encoded_is_decoded() -> None:
    import gzip

    index = Index((Descriptor(mt.OCI_MANIFEST, DIGEST, 2, artifact_type="x"),)).to_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"Content-Type": mt.OCI_INDEX, "Content-Encoding": "gzip"},
            stream=httpx.ByteStream(gzip.compress(index)),
        )  # streamed, as from a socket

    assert [d.digest for d in _repo(handler).referrers(DIGEST)] == [DIGEST]


def test_referrers_body_that_does_not_decode_is_a_format_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"Content-Type": mt.OCI_INDEX, "Content-Encoding": "gzip"},
            stream=httpx.ByteStream(b"not gzip at all"),
        )

    with pytest.raises(FormatError) as info:
        _repo(handler).referrers(DIGEST)
    _typed(info.value)
