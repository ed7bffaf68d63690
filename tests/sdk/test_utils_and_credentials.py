"""kitops.modelkit.utils, UserCredentials and ModelKitReference."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from kitops.modelkit.reference import ModelKitReference
from kitops.modelkit.user import UserCredentials
from kitops.modelkit.utils import (
    clean_empty_items,
    get_or_create_directory,
    load_environment_variables,
    local_path,
    parse_dotenv,
    parse_modelkit_tag,
    read_dotenv,
    validate_dict,
)
from kitops.oci.reference import DEFAULT_REGISTRY, parse_single

ALL_FOUR = {
    "JOZU_USERNAME": "bob",
    "JOZU_PASSWORD": "pw",
    "JOZU_REGISTRY": "jozu.ml",
    "JOZU_NAMESPACE": "team",
}


# ---- load_environment_variables (pinned by the reference's tests) ---------------------------------


def test_all_four_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ALL_FOUR.items():
        monkeypatch.setenv(k, v)
    assert load_environment_variables() == {
        "username": "bob",
        "password": "pw",
        "registry": "jozu.ml",
        "namespace": "team",
    }


def test_only_user_and_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOZU_USERNAME", "bob")
    monkeypatch.setenv("JOZU_PASSWORD", "pw")
    assert load_environment_variables() == {
        "username": "bob",
        "password": "pw",
        "registry": None,
        "namespace": None,
    }


@pytest.mark.parametrize("present", ["JOZU_USERNAME", "JOZU_PASSWORD"])
def test_missing_user_or_password(monkeypatch: pytest.MonkeyPatch, present: str) -> None:
    monkeypatch.setenv(present, "x")
    with pytest.raises(ValueError, match="Missing JOZU_USERNAME or JOZU_PASSWORD"):
        load_environment_variables()


# ---- .env -----------------------------------------------------------------------------------------


def test_dotenv_in_the_current_directory_is_read_without_touching_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path(".env").write_text(
        "# credentials\nexport JOZU_USERNAME=dot-user\nJOZU_PASSWORD='dot pass'  \n"
        'JOZU_REGISTRY="reg.example.com"\nJOZU_NAMESPACE=ns # comment\n'
    )
    monkeypatch.setenv("JOZU_USERNAME", "real-user")
    values = load_environment_variables()
    assert values == {
        "username": "real-user",
        "password": "dot pass",
        "registry": "reg.example.com",
        "namespace": "ns",
    }
    assert os.environ["JOZU_USERNAME"] == "real-user"  # the real environment wins ...
    assert "JOZU_PASSWORD" not in os.environ  # ... and is never written to


def test_dotenv_elsewhere_is_not_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("JOZU_USERNAME=u\nJOZU_PASSWORD=p\n")  # the parent of the cwd
    with pytest.raises(ValueError):
        load_environment_variables()


def test_dotenv_escaped_quote_does_not_end_the_value() -> None:
    """``value.index(quote, 1)`` stopped at ``\\"``: the password was read as ``p\\``."""
    Path(".env").write_text('JOZU_USERNAME=bob\nJOZU_PASSWORD="p\\"w#1"\n')
    assert load_environment_variables()["password"] == 'p"w#1'


# Each text is compared with python-dotenv's reading of it (without variable expansion).
DOTENV_CASES = [
    'A="p\\"w#1"\n',  # escaped double quote, '#' inside quotes
    'A="back\\\\"\nB=2\n',  # an escaped backslash before the closing quote
    'A="a\\\\\\"b"\n',  # \\ then \"
    'A="tab\\there\\nnew\\q\\u0041"\n',  # decoded escapes; unknown ones kept
    "A='it\\'s'\n",  # single quotes: \' ...
    "A='c:\\\\dir\\n'\n",  # ... and \\ decoded, \n kept
    'A="multi\nline"\nB=3\n',  # quoted values may span lines
    'A="unterminated\nB=2\n',  # an unterminated quote sets nothing
    'A="v" junk\nB=1\n',  # text after the closing quote: the line is skipped
    "A=\"v\" # comment\nB='w'#c\n",
    "A= # comment\nB=#not-a-comment\nC=a #c\nD=a#b\n",
    "export A=1\nexportB=2\nexport  C = spaced  value \n",
    "'quoted key'=v\n=x\nY=1\n",
    "A=1\nA\n",  # a later bare key cancels the value
    "A=1\r\nB='2'\r\nC=\"3\"\r\n",
    "# only comments\n#A=1\n\n",
    "A=\nB=''\nC=\"\"\n",
    "A=${B}\nB=1\n",  # no expansion
]


@pytest.mark.parametrize("text", DOTENV_CASES)
def test_dotenv_is_read_as_python_dotenv_reads_it(text: str) -> None:
    dotenv = pytest.importorskip("dotenv")
    expected = {
        k: v
        for k, v in dotenv.dotenv_values(stream=io.StringIO(text), interpolate=False).items()
        if v is not None
    }
    assert parse_dotenv(text) == expected
    Path(".env").write_text(text, newline="")
    assert read_dotenv(".env") == expected


def test_unreadable_dotenv_counts_as_none(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An unreadable ./.env crashed even ``UserCredentials("bob", "pw")``; it is logged (no content) and ignored."""
    Path(".env").write_bytes(b"JOZU_USERNAME=dot-user\nJOZU_PASSWORD=s3cr3t\xff\xfe\n")  # not UTF-8
    caplog.set_level(logging.DEBUG, logger="kitops.modelkit.utils")
    creds = UserCredentials("bob", "pw")
    assert (creds.username, creds.password, creds.registry, creds.namespace) == ("bob", "pw", None, None)
    with pytest.raises(ValueError, match="Missing JOZU_USERNAME or JOZU_PASSWORD"):
        load_environment_variables()
    assert any(".env" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)
    assert "s3cr3t" not in caplog.text and "dot-user" not in caplog.text

    real_read_text = Path.read_text

    def denied(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name == ".env":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    Path(".env").write_text("JOZU_USERNAME=dot-user\nJOZU_PASSWORD=dot-pw\n")
    monkeypatch.setattr(Path, "read_text", denied)  # tests run as root, where chmod 000 does not stop reads
    assert UserCredentials("bob", "pw").password == "pw"
    assert read_dotenv(".env") == {}


# ---- validate_dict / clean_empty_items / get_or_create_directory ---------------------------------


def test_validate_dict() -> None:
    validate_dict({"a": 1, "b": 2}, {"a", "b", "c"})
    with pytest.raises(ValueError, match="Found unallowed key"):
        validate_dict({"a": 1, "d": 2}, {"a", "b"})
    with pytest.raises(ValueError, match="Expected a dictionary but got list"):
        validate_dict([1], {"a"})  # type: ignore[arg-type]


def test_clean_empty_items() -> None:
    assert clean_empty_items({"a": "", "b": "c", "d": None, "e": {"f": "", "g": [None, "", "h", {}]}}) == {
        "b": "c",
        "e": {"g": ["h"]},
    }
    assert clean_empty_items(["", "a", None, [""]]) == ["a"]
    assert clean_empty_items({"n": 0, "f": False}) == {"n": 0, "f": False}


def test_get_or_create_directory(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert get_or_create_directory(target.as_uri()) == target.as_posix()
    assert target.is_dir()


def test_local_path() -> None:
    assert local_path("file:///tmp/a%20b") == "/tmp/a b"
    assert local_path("rel/dir") == "rel/dir"
    with pytest.raises(ValueError):
        local_path("s3://bucket/x")


# ---- UserCredentials ------------------------------------------------------------------------------


def test_nothing_set_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Username and password must be provided"):
        UserCredentials()


def test_arguments_only() -> None:
    creds = UserCredentials("bob", "pw")
    assert (creds.username, creds.password, creds.registry, creds.namespace) == ("bob", "pw", None, None)
    assert "pw" not in repr(creds)


def test_mlflow_docs_pattern_needs_only_the_password_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOZU_PASSWORD", "secret")  # the reference raised here
    creds = UserCredentials(username="bob", registry="jozu.ml")
    assert (creds.username, creds.password, creds.registry, creds.namespace) == (
        "bob",
        "secret",
        "jozu.ml",
        None,
    )


def test_environment_fills_every_missing_part(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ALL_FOUR.items():
        monkeypatch.setenv(k, v)
    creds = UserCredentials(username="alice")
    assert (creds.username, creds.password, creds.registry, creds.namespace) == (
        "alice",
        "pw",
        "jozu.ml",
        "team",
    )


def test_wrong_types_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ALL_FOUR.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(
        ValueError, match="Username must be a string or None"
    ):  # the cause, not the reference's "must be provided"
        UserCredentials(username=5)  # type: ignore[arg-type]
    creds = UserCredentials()
    with pytest.raises(ValueError, match="Registry must be a string or None"):
        creds.registry = 1  # type: ignore[assignment]


def test_empty_password_is_not_replaced_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ALL_FOUR.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match="JOZU_PASSWORD"):
        UserCredentials(password="")


# ---- parse_modelkit_tag / ModelKitReference ----------------------------------------------------

PARSE_TABLE = [
    # text -> registry, namespace, repository, tag, digest
    ("jozu.ml/ns/repo:tag", ("jozu.ml", "ns", "repo", "tag", None)),
    ("localhost:5000/ns/repo:tag", ("localhost:5000", "ns", "repo", "tag", None)),
    ("127.0.0.1:5000/ns/repo:v1", ("127.0.0.1:5000", "ns", "repo", "v1", None)),
    ("jozu.ml/ns/repo", ("jozu.ml", "ns", "repo", "latest", None)),
    ("jozu.ml/a/b/c:t", ("jozu.ml", "a/b", "c", "t", None)),
    ("ghcr.io/repo:v1", ("ghcr.io", None, "repo", "v1", None)),
    ("ns/repo:latest", (None, "ns", "repo", "latest", None)),
    ("repo:tag", (None, None, "repo", "tag", None)),
    ("v1", (None, None, None, "v1", None)),
    ("jozu.ml/ns/repo@sha256:" + "a" * 64, ("jozu.ml", "ns", "repo", None, "sha256:" + "a" * 64)),
    ("sha256:" + "b" * 64, (None, None, None, None, "sha256:" + "b" * 64)),
]


@pytest.mark.parametrize(("text", "parts"), PARSE_TABLE)
def test_reference_parsing(text: str, parts: tuple[str | None, ...]) -> None:
    ref = ModelKitReference(text)
    assert (ref.registry, ref.namespace, ref.repository, ref.tag, ref.digest) == parts
    p = parse_modelkit_tag(text)
    assert (p["registry"], p["namespace"], p["model"], p["tag"], p["digest"]) == parts


# Parsed both by ModelKitReference and by kit's parser (kitops.oci.reference.parse_single): the parts
# must be kit's registry, repository path (namespace/repository) and tag or digest.
DIGEST = "sha256:" + "d" * 64
AGREEMENT = [
    "jozu.ml/ns/repo:v1",
    "jozu.ml/ns/repo",
    "jozu.ml/a/b/c:t",
    "jozu.ml/re.po_x-y__z:v1.0-rc_1",
    "docker.io/library/ubuntu:22.04",
    "docker.io/ubuntu",
    "index.docker.io/library/python:3.12",
    "registry-1.docker.io/org/model:latest",
    "localhost:5000/ns/repo:tag",
    "127.0.0.1:5000/a/b/c:t",
    "[::1]:5000/ns/repo:v1",
    "reg.example.com:443/repo:v2",
    "my.registry/deep/ly/nested/ns/repo:v2",
    "ghcr.io/repo:v1",
    "localhost/ns/repo:v1",
    "localhost/repo",
    "localhost/localhost/x:y",
    "ns/repo:v1",
    "ns/repo",
    "a/b/c/d:e",
    "repo:tag",
    "repo.v2/x:t",
    f"jozu.ml/ns/repo@{DIGEST}",
    f"jozu.ml/ns/repo:v1@{DIGEST}",
    f"localhost:5000/r@{DIGEST}",
    f"ns/repo@{DIGEST}",
    f"localhost/ns/repo@{DIGEST}",
    f"repo@{DIGEST}",
]


@pytest.mark.parametrize("text", AGREEMENT)
def test_reference_parts_agree_with_kits_parser(text: str) -> None:
    expected = parse_single(text)
    ref = ModelKitReference(text)
    assert (ref.registry or DEFAULT_REGISTRY) == expected.registry
    assert "/".join(p for p in (ref.namespace, ref.repository) if p) == expected.repository
    assert (ref.tag, ref.digest) == (expected.tag, expected.digest)
    assert ref.registry is None or text.startswith(f"{ref.registry}/")  # None: the text names no registry
    p = parse_modelkit_tag(text)
    assert (p["registry"], p["namespace"], p["model"], p["tag"], p["digest"]) == (
        ref.registry,
        ref.namespace,
        ref.repository,
        ref.tag,
        ref.digest,
    )
    # the tag built from the parts is the same ModelKit for kit
    assert parse_single(ref.with_defaults(registry=DEFAULT_REGISTRY).modelkit_tag) == expected
    if ref.is_complete:
        assert parse_single(ref.modelkit_tag) == expected


def test_localhost_references_round_trip_as_kit_reads_them() -> None:
    ref = ModelKitReference("localhost/ns/repo:v1")  # kit: registry localhost, repository localhost/ns/repo
    assert (ref.registry, ref.namespace, ref.repository, ref.tag) == (
        "localhost",
        "localhost/ns",
        "repo",
        "v1",
    )
    assert ref.modelkit_tag == "localhost/ns/repo:v1"
    assert parse_single(ref.modelkit_tag).repository == "localhost/ns/repo"
    built = ModelKitReference()
    built.registry, built.namespace, built.repository, built.tag = "localhost", "ns", "repo", "v1"
    assert built.modelkit_tag == "ns/repo:v1"  # kit's local registry is the one it defaults to
    assert (parse_single(built.modelkit_tag).registry, parse_single(built.modelkit_tag).repository) == (
        "localhost",
        "ns/repo",
    )


def test_references_are_hashable() -> None:
    """Setting ``__eq__`` without ``__hash__`` made references unhashable (the reference's hashed by identity)."""
    a, b, c = (
        ModelKitReference("a.io/n/r:t"),
        ModelKitReference("a.io/n/r:t"),
        ModelKitReference("a.io/n/r:u"),
    )
    assert a == b and a is not b and hash(a) == hash(b)
    assert {a} == {b}
    assert len({a, b, c}) == 2
    by_ref = {a: "first", c: "other"}
    assert by_ref[b] == "first" and ModelKitReference("a.io/n/r:x") not in by_ref
    assert {ModelKitReference(): 1}[ModelKitReference()] == 1
    d = ModelKitReference(f"a.io/n/r@{DIGEST}")
    assert d != a and d in {d: 0}


@pytest.mark.parametrize(
    "text",
    [
        "jozu.ml/ns/repo:tag:extra",
        "jozu.ml/ns/Repo:tag",
        "jozu.ml//repo:t",
        "repo@sha256:abc",
        "jozu.ml/ns/repo:",
        "has space:v1",
        "repo:-bad",
        "a.io/x:t,t2",
        "jozu.ml/ns/repo:v1@sha256:abc",
    ],
)
def test_invalid_references(text: str) -> None:
    with pytest.raises(ValueError, match="Error parsing modelkit tag"):
        ModelKitReference(text)
    with pytest.raises(ValueError, match="Invalid tag format"):
        parse_modelkit_tag(text)


def test_modelkit_tag_property_and_defaults() -> None:
    assert ModelKitReference("jozu.ml/ns/repo:tag").modelkit_tag == "jozu.ml/ns/repo:tag"
    digest = "sha256:" + "c" * 64
    assert ModelKitReference(f"reg.io/ns/repo@{digest}").modelkit_tag == f"reg.io/ns/repo@{digest}"
    empty = ModelKitReference()
    assert (empty.registry, empty.namespace, empty.repository, empty.tag) == (None, None, None, None)
    with pytest.raises(ValueError, match="Registry must be set"):
        _ = empty.modelkit_tag
    empty.registry = "reg.io"
    with pytest.raises(ValueError, match="Repository must be set"):
        _ = empty.modelkit_tag
    full = ModelKitReference("v1").with_defaults(registry="reg.io", namespace="me", repository="model")
    assert full.modelkit_tag == "reg.io/me/model:v1"
    assert ModelKitReference("model:v2").with_defaults(registry="reg.io", namespace="me").modelkit_tag == (
        "reg.io/me/model:v2"
    )
    # a reference that names its registry is taken as written: no namespace is added
    assert (
        ModelKitReference("ghcr.io/model:v1").with_defaults(namespace="me").modelkit_tag == "ghcr.io/model:v1"
    )
    assert ModelKitReference("a.io/n/r:t") == ModelKitReference("a.io/n/r:t")
    assert str(ModelKitReference("a.io/n/r:t")) == "a.io/n/r:t"


def test_reference_setters_validate() -> None:
    ref = ModelKitReference()
    with pytest.raises(ValueError, match="Registry must be a string or None"):
        ref.registry = 1  # type: ignore[assignment]
    with pytest.raises(ValueError, match=r"Namespace must be a string or None\."):
        ref.namespace = 1  # type: ignore[assignment]
    with pytest.raises(ValueError, match=r"Model name must be a string\."):
        ref.repository = 1  # type: ignore[assignment]
    with pytest.raises(ValueError, match=r"Tag must be a string or None\."):
        ref.tag = 1  # type: ignore[assignment]
