"""``kit pack --provenance``: a SLSA v1 provenance statement of the pack, stored unsigned as a
referrer of the packed manifest; git materials from a real work tree; reproducible with
SOURCE_DATE_EPOCH."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

import kitops
from kitops import api
from kitops.oci.models import Descriptor, Manifest
from kitops.signing.provenance import git_materials, kitfile_name, public_url
from kitops.store.layout import LocalStore
from tests.helpers import kit, write_tree
from tests.realregistry import Registry

IN_TOTO = "application/vnd.in-toto+json"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
KITFILE = "manifestVersion: 1.0.0\npackage: {name: prov}\nmodel: {path: model.bin}\n"
EPOCH = "1700000000"
EPOCH_TIME = "2023-11-14T22:13:20Z"


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True, text=True)
    return done.stdout.strip()


@pytest.fixture()
def no_outer_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git must not find a repository above tmp_path (a checkout the tests run from)."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def work_tree(root: Path) -> tuple[Path, str]:
    """A repository with an origin whose URL carries credentials, one commit, and the ModelKit's
    context in its ``models/prov`` directory; returns the context and the commit."""
    context = write_tree(root / "models" / "prov", {"Kitfile": KITFILE, "model.bin": b"weights"})
    write_tree(root, {"README.md": "readme"})
    git(root, "init", "-q", "-b", "main")
    git(root, "remote", "add", "origin", "https://builder:s3cret-token@git.example.com/org/models.git")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return context, git(root, "rev-parse", "HEAD")


def statement_of(home: Path, subject: Descriptor, repo_key: str) -> tuple[Descriptor, bytes]:
    store = LocalStore(home / "storage")
    found = store.repository(repo_key).referrers(subject.digest, artifact_type=IN_TOTO)
    assert len(found) == 1, found
    manifest = Manifest.from_bytes(store.blob_path(found[0].digest).read_bytes())
    assert manifest.subject is not None and manifest.subject.digest == subject.digest
    assert manifest.config.digest == EMPTY_DIGEST
    assert [layer.media_type for layer in manifest.layers] == [IN_TOTO]
    return found[0], store.blob_path(manifest.layers[0].digest).read_bytes()


# ---------------------------------------------------------------------------------------------
# git materials


@pytest.mark.usefixtures("no_outer_repo")
def test_git_materials_name_the_commit_the_remote_and_changes_under_the_context(tmp_path: Path) -> None:
    context, commit = work_tree(tmp_path / "repo")
    assert git_materials(context) == [
        {
            "uri": "git+https://git.example.com/org/models.git@refs/heads/main",
            "digest": {"gitCommit": commit},
            "annotations": {"dirty": False, "path": "models/prov"},
        }
    ]
    (tmp_path / "repo" / "README.md").write_text("changed outside the context")
    assert git_materials(context)[0]["annotations"]["dirty"] is False
    (context / "model.bin").write_bytes(b"retrained")
    assert git_materials(context)[0]["annotations"]["dirty"] is True
    assert "s3cret" not in json.dumps(git_materials(context))


@pytest.mark.usefixtures("no_outer_repo")
def test_no_git_no_materials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = write_tree(tmp_path / "plain", {"Kitfile": KITFILE, "model.bin": b"w"})
    assert git_materials(plain) == []  # no work tree
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    assert git_materials(empty) == []  # a repository without a commit
    context, _commit = work_tree(tmp_path / "repo")
    bare_path = tmp_path / "bin"
    bare_path.mkdir()
    monkeypatch.setenv("PATH", str(bare_path))
    assert git_materials(context) == []  # git is not installed


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:token@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("https://token@github.com/org/repo", "https://github.com/org/repo"),
        ("ssh://git:pw@example.com:2222/org/repo.git", "ssh://git@example.com:2222/org/repo.git"),
        ("git@github.com:org/repo.git", "ssh://git@github.com/org/repo.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
        ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
    ],
)
def test_public_url_keeps_no_secret(url: str, shown: str) -> None:
    assert public_url(url) == shown


def test_kitfile_name_is_relative_to_the_context(tmp_path: Path) -> None:
    assert kitfile_name(tmp_path, tmp_path / "sub" / "Kitfile") == "sub/Kitfile"
    assert kitfile_name(tmp_path / "ctx", tmp_path / "elsewhere" / "Kitfile.prod") == "Kitfile.prod"
    assert kitfile_name(tmp_path, None) == "-"


# ---------------------------------------------------------------------------------------------
# the statement


@pytest.mark.usefixtures("no_outer_repo")
def test_pack_provenance_describes_the_pack_and_refers_to_its_manifest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    context, commit = work_tree(tmp_path / "repo")
    result = api.pack(context, tag="team/prov:v1", home=home, compression="zstd", provenance=True)
    _entry, raw = statement_of(home, result.descriptor, "localhost/team/prov")
    statement: dict[str, Any] = json.loads(raw)
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"] == [
        {"name": "localhost/team/prov", "digest": {"sha256": result.descriptor.digest.partition(":")[2]}}
    ]
    predicate = statement["predicate"]
    definition = predicate["buildDefinition"]
    assert definition["buildType"] == "https://kitops.ml/pack/v1"
    assert definition["externalParameters"] == {
        "kitfile": "Kitfile",
        "tags": ["team/prov:v1"],
        "modelFormat": "kit",
        "layerFormat": "tar",
        "compression": "zstd",
    }
    assert definition["resolvedDependencies"] == [
        {"name": "Kitfile", "digest": {"sha256": hashlib.sha256(KITFILE.encode()).hexdigest()}},
        {
            "uri": "git+https://git.example.com/org/models.git@refs/heads/main",
            "digest": {"gitCommit": commit},
            "annotations": {"dirty": False, "path": "models/prov"},
        },
    ]
    assert predicate["runDetails"]["builder"] == {"id": f"https://kitops.ml/kit@{kitops.__version__}"}
    metadata = predicate["runDetails"]["metadata"]
    assert metadata["startedOn"] <= metadata["finishedOn"]
    # the statement is no ModelKit, and the ModelKit is whole
    assert [row.digest for row in api.list_modelkits(home=home)] == [result.descriptor.digest]
    api.unpack("team/prov:v1", target_dir=tmp_path / "out", home=home)
    assert (tmp_path / "out" / "model.bin").read_bytes() == b"weights"


@pytest.mark.usefixtures("no_outer_repo")
def test_provenance_is_reproducible_with_source_date_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    context = write_tree(tmp_path / "ctx", {"Kitfile": KITFILE, "model.bin": b"weights"})
    first = api.pack(context, tag="prov:v1", home=tmp_path / "a", provenance=True)
    second = api.pack(context, tag="prov:v1", home=tmp_path / "b", provenance=True)
    assert first.descriptor == second.descriptor
    entry_a, raw_a = statement_of(tmp_path / "a", first.descriptor, "localhost/prov")
    entry_b, raw_b = statement_of(tmp_path / "b", second.descriptor, "localhost/prov")
    assert raw_a == raw_b and entry_a.digest == entry_b.digest
    predicate = json.loads(raw_a)["predicate"]
    assert predicate["runDetails"]["metadata"] == {"startedOn": EPOCH_TIME, "finishedOn": EPOCH_TIME}
    assert predicate["buildDefinition"]["resolvedDependencies"][1:] == []  # no git work tree
    assert dict(entry_a.annotations or {}) == {
        "in-toto.io/predicate-type": "https://slsa.dev/provenance/v1",
        "org.opencontainers.image.created": EPOCH_TIME,
    }


def test_provenance_of_a_kitfile_read_from_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    home = tmp_path / "home"
    context = write_tree(tmp_path / "ctx", {"model.bin": b"weights"})
    result = api.pack(context, kitfile_text=KITFILE, tag="prov:v1", home=home, provenance=True)
    _entry, raw = statement_of(home, result.descriptor, "localhost/prov")
    kitfile = json.loads(raw)["predicate"]["buildDefinition"]["resolvedDependencies"][0]
    assert kitfile == {"name": "-", "digest": {"sha256": hashlib.sha256(KITFILE.encode()).hexdigest()}}


def test_without_the_flag_no_provenance_is_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    context = write_tree(tmp_path / "ctx", {"Kitfile": KITFILE, "model.bin": b"weights"})
    result = api.pack(context, tag="prov:v1", home=home)
    store = LocalStore(home / "storage")
    assert store.repository("localhost/prov").referrers(result.descriptor.digest) == []


# ---------------------------------------------------------------------------------------------
# it travels with the ModelKit


@pytest.mark.registry
def test_pack_provenance_then_push_carries_it_and_remove_drops_it(
    plain_registry: Registry, repo_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    home = tmp_path / "home"
    context = write_tree(tmp_path / "ctx", {"Kitfile": KITFILE, "model.bin": b"weights"})
    packed = kit(home, "pack", str(context), "-t", "prov:v1", "--provenance")
    assert packed.exit_code == 0, packed.output
    digest = packed.stdout.split("Model saved: ")[1].split()[0]
    pushed = kit(home, "push", "prov:v1", f"{plain_registry.host}/{repo_name}:v1")
    assert pushed.exit_code == 0, pushed.output

    index = httpx.get(
        f"{plain_registry.url}/v2/{repo_name}/manifests/sha256-{digest.partition(':')[2]}",
        headers={"Accept": "application/vnd.oci.image.index.v1+json"},
    ).json()
    assert [m["artifactType"] for m in index["manifests"]] == [IN_TOTO]
    statement = httpx.get(
        f"{plain_registry.url}/v2/{repo_name}/manifests/{index['manifests'][0]['digest']}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    ).json()
    layer = statement["layers"][0]
    body = httpx.get(f"{plain_registry.url}/v2/{repo_name}/blobs/{layer['digest']}").content
    assert json.loads(body)["subject"][0]["digest"] == {"sha256": digest.partition(":")[2]}

    assert kit(home, "remove", "prov:v1").exit_code == 0
    store = LocalStore(home / "storage")
    assert store.repository("localhost/prov").manifests() == []
    assert not store.blob_path(layer["digest"]).exists()


@pytest.mark.registry
def test_pack_push_with_provenance_puts_it_on_the_registry(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    context = write_tree(tmp_path / "ctx", {"Kitfile": KITFILE, "model.bin": b"weights"})
    ref = f"{plain_registry.host}/{repo_name}:v1"
    result = api.pack(context, tag=ref, home=home, push=True, provenance=True)
    hexpart = result.descriptor.digest.partition(":")[2]
    index = httpx.get(
        f"{plain_registry.url}/v2/{repo_name}/manifests/sha256-{hexpart}",
        headers={"Accept": "application/vnd.oci.image.index.v1+json"},
    ).json()
    assert [m["artifactType"] for m in index["manifests"]] == [IN_TOTO]
    fresh = tmp_path / "fresh"
    api.pull(ref, home=fresh)
    _entry, raw = statement_of(fresh, result.descriptor, f"{plain_registry.host}/{repo_name}")
    assert json.loads(raw)["subject"][0]["name"] == f"{plain_registry.host}/{repo_name}"
