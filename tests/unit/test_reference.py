"""Reference parsing and display exactly as the Go CLI."""

from __future__ import annotations

import pytest

from kitops.errors import UsageError
from kitops.oci.reference import display_form, is_modelkit_reference, parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "extra"),
    [
        ("mymodel", "localhost", "mymodel", "latest", None, []),
        ("mymodel:v1", "localhost", "mymodel", "v1", None, []),
        ("org/mymodel:v1", "localhost", "org/mymodel", "v1", None, []),
        ("ghcr.io/org/model:v2", "ghcr.io", "org/model", "v2", None, []),
        ("localhost:5000/a/b/c", "localhost:5000", "a/b/c", "latest", None, []),
        ("localhost/foo", "localhost", "localhost/foo", "latest", None, []),  # the reference's quirk, kept
        (f"reg.io/m:v1@{DIGEST}", "reg.io", "m", None, DIGEST, []),
        (DIGEST, "localhost", "_", None, DIGEST, []),
        ("repo:t1,t2,t3", "localhost", "repo", "t1", None, ["t2", "t3"]),
    ],
)
def test_parse(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None, extra: list[str]
) -> None:
    ref, extras = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest, extras) == (
        registry,
        repository,
        tag,
        digest,
        extra,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("MyModel:v1", "name must be lowercase"),
        ("repo:-bad", "invalid tag"),
        ("a//b", "invalid repository"),
        ("reg.io/m@sha256:xyz", "invalid digest"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_reference(text)


def test_display_form() -> None:
    assert display_form(f"localhost/_@{DIGEST}") == DIGEST
    assert display_form("localhost/test:v1") == "test:v1"
    assert display_form("localhost/_") == ""
    assert display_form("ghcr.io/a/b:v1") == "ghcr.io/a/b:v1"


def test_modelkit_reference_detection() -> None:
    assert is_modelkit_reference("test-ref:model-1")
    assert is_modelkit_reference("./models/x:tag")  # registry '.', as the reference
    assert not is_modelkit_reference("models/model.bin")
    assert not is_modelkit_reference("C:weird path")
