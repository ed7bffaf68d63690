"""Mistyped unpack filters are errors that list what the ModelKit has; ``kit info``/``kit inspect``
of a registry reference that is not stored locally read it from the registry, as unpack does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kitops import api
from tests.helpers import kit, write_tree
from tests.realregistry import Registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"


@pytest.fixture()
def iris(home: Path) -> str:
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    return "iris:v1"


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("datasets:nonexistent", "--filter datasets:nonexistent matches nothing in this ModelKit"),
        ("model:*.bin", "--filter model:*.bin matches nothing in this ModelKit"),
        ("code:srcx", "--filter code:srcx matches nothing in this ModelKit"),
    ],
)
def test_filter_names_matching_nothing_are_errors(
    iris: str, home: Path, tmp_path: Path, flt: str, expected: str
) -> None:
    out = tmp_path / "out"
    result = kit(home, "unpack", iris, "-d", str(out), "--filter", flt)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    # what exists is listed, so the user can fix the typo
    assert "it has: model 'iris-classifier' (path model/iris-classifier.joblib)" in result.output
    assert "datasets 'iris' (path data/iris.csv)" in result.output
    assert "code (path src)" in result.output and "docs (path README.md)" in result.output
    assert "hint: names are matched exactly (no wildcards)" in result.output
    assert not out.exists()  # refused before anything was written


def test_filters_that_match_still_unpack(iris: str, home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = kit(
        home,
        "unpack",
        iris,
        "-d",
        str(out),
        "--filter",
        "datasets:iris",
        "--filter",
        "model:model/iris-classifier.joblib",
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "data/iris.csv",
        "model/iris-classifier.joblib",
    ]


def test_a_type_without_layers_is_a_warning(home: Path, tmp_path: Path) -> None:
    project = write_tree(
        tmp_path / "p",
        {
            "Kitfile": "manifestVersion: 1.0.0\nmodel:\n  path: m.bin\n",
            "m.bin": b"weights",
        },
    )
    api.pack(project, tag="nodocs:v1", home=home)
    out = tmp_path / "out"
    result = kit(home, "unpack", "nodocs:v1", "-d", str(out), "--filter", "docs")
    assert result.exit_code == 0, result.output
    assert "No docs layers in this ModelKit" in result.output
    assert not (out / "m.bin").exists()


@pytest.mark.registry
def test_info_and_inspect_fall_back_to_the_registry(
    iris: str, plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path
) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v1"
    api.push(iris, ref, home=home)
    other_home = tmp_path / "fresh-home"  # nothing stored locally
    info = kit(other_home, "info", ref)
    assert info.exit_code == 0, info.output
    assert "name: iris-classifier" in info.stdout
    inspected = kit(other_home, "inspect", ref)
    assert inspected.exit_code == 0, inspected.output
    assert json.loads(inspected.stdout)["kitfile"]["package"]["name"] == "iris-classifier"
    assert api.list_modelkits(home=other_home) == []  # read, not pulled

    missing = kit(other_home, "info", f"{plain_registry.host}/{repo_name}:nope")
    assert missing.exit_code == 1
    assert "is not present in local storage and could not be found in remote" in missing.output


def test_info_of_a_local_name_not_stored_says_not_found(home: Path) -> None:
    result = kit(home, "info", "never-packed:v1")
    assert result.exit_code == 1
    assert "not found" in result.output.lower()


def test_pack_with_one_bad_tag_stores_nothing(home: Path) -> None:
    result = kit(home, "pack", str(EXAMPLE), "-t", "a:v1,Y!")
    assert result.exit_code == 2
    assert "invalid tag 'Y!'" in result.output
    assert api.list_modelkits(home=home) == []
    assert not (home / "storage" / "blobs").exists() or not any((home / "storage" / "blobs").rglob("*"))
