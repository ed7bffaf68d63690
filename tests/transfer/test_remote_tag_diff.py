"""`kit tag` on registries (promotion without a download) and `kit diff` with local:// / remote://."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.store.layout import LocalStore
from tests.helpers import kit
from tests.realregistry import Registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"
pytestmark = pytest.mark.registry


def _remote_digest(reg: Registry, repo: str, tag: str, auth: tuple[str, str] | None = None) -> str:
    resp = httpx.head(
        f"{reg.url}/v2/{repo}/manifests/{tag}",
        auth=auth,
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert resp.status_code == 200, resp.status_code
    return resp.headers["docker-content-digest"]


def _blob_requests(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("kitops.registry")
        and ("/blobs/uploads/" in r.getMessage() or "PATCH" in r.getMessage())
    ]


@pytest.fixture()
def pushed(plain_registry: Registry, repo_name: str, home: Path) -> tuple[str, str]:
    """iris pushed as <host>/<repo>:dev and then removed locally: (reference, digest)."""
    ref = f"{plain_registry.host}/{repo_name}:dev"
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    digest = api.push("iris:v1", ref, home=home).descriptor.digest
    api.remove("iris:v1", home=home)
    return ref, digest


def test_promote_within_a_repository_is_one_manifest_put(
    plain_registry: Registry,
    repo_name: str,
    home: Path,
    pushed: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ref, digest = pushed
    caplog.set_level(logging.DEBUG, logger="kitops")
    prod = f"{plain_registry.host}/{repo_name}:prod"
    api.tag(ref, prod, home=home)  # the API, not the CLI: the CLI installs its own log handlers
    assert _remote_digest(plain_registry, repo_name, "prod") == digest
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("kitops.registry")]
    assert any("HEAD" in m and "/blobs/" in m for m in messages)  # the log is captured: blobs were checked
    assert _blob_requests(caplog) == []  # and none moved
    puts = [m for m in messages if m.startswith("PUT") and "/manifests/prod" in m]
    assert len(puts) == 1
    assert LocalStore(home / "storage").repo_keys() == []  # nothing was downloaded into local storage


def test_tag_into_another_repository_mounts_every_blob(
    plain_registry: Registry,
    repo_name: str,
    home: Path,
    pushed: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ref, digest = pushed
    caplog.set_level(logging.DEBUG, logger="kitops")
    api.tag(ref, f"{plain_registry.host}/{repo_name}-prod:v1", home=home)
    logs = [r.getMessage() for r in caplog.records if r.name.startswith("kitops.registry")]
    assert sum("mount=" in m for m in logs) == 5  # config + 4 layers
    assert not [m for m in logs if m.startswith("PUT") and "/blobs/uploads/" in m]  # nothing uploaded
    assert _remote_digest(plain_registry, f"{repo_name}-prod", "v1") == digest


def test_tag_across_registries_streams_verified_and_stores_nothing(
    plain_registry: Registry, basic_registry: Registry, repo_name: str, home: Path, pushed: tuple[str, str]
) -> None:
    ref, digest = pushed
    assert basic_registry.username and basic_registry.password
    api.login(
        basic_registry.host, username=basic_registry.username, password=basic_registry.password, home=home
    )
    target = f"{basic_registry.host}/{repo_name}:v1"
    api.tag(ref, target, home=home)
    auth = (basic_registry.username, basic_registry.password)
    assert _remote_digest(basic_registry, repo_name, "v1", auth) == digest
    # the blobs are byte-identical on both registries
    manifest = api.remote_modelkit(target, home=home).manifest
    for blob in (manifest.config, *manifest.layers):
        assert (
            basic_registry.blob_path(blob.digest).read_bytes()
            == plain_registry.blob_path(blob.digest).read_bytes()
        )
    assert LocalStore(home / "storage").repo_keys() == []
    # and pulling from the second registry gives back the same ModelKit
    assert api.pull(target, home=home).descriptor.digest == digest


def test_remote_flag_tags_on_the_registry_even_when_the_source_is_local(
    plain_registry: Registry, repo_name: str, home: Path
) -> None:
    ref = f"{plain_registry.host}/{repo_name}:dev"
    api.pack(EXAMPLE, tag=ref, home=home)
    digest = api.push(ref, home=home).descriptor.digest
    prod = f"{plain_registry.host}/{repo_name}:prod"
    result = kit(home, "tag", "--remote", ref, prod)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Modelkit {ref} tagged as {prod}"
    assert _remote_digest(plain_registry, repo_name, "prod") == digest
    local = LocalStore(home / "storage").repository(f"{plain_registry.host}/{repo_name}")
    assert sorted(local.tags()) == ["dev"]  # the local store was left alone


def test_tag_on_a_registry_needs_a_registry_in_the_target(home: Path, pushed: tuple[str, str]) -> None:
    ref, _digest = pushed
    result = kit(home, "tag", ref, "plain-name:v1")
    assert result.exit_code == 2  # a bad command line (UsageError)
    assert "error: tagging on a registry needs both references to name one" in result.output
    assert "hint: kit tag registry.example.com/team/model:dev" in result.output


def test_tag_of_a_missing_local_source_without_registry_keeps_the_reference_error(home: Path) -> None:
    result = kit(home, "tag", "nothing:v1", "other:v1")
    assert result.exit_code == 1
    assert "Failed to tag modelkit: model nothing:v1 not found" in result.output


def test_diff_local_against_remote(
    plain_registry: Registry, repo_name: str, home: Path, pushed: tuple[str, str], tmp_path: Path
) -> None:
    ref, _digest = pushed
    api.pull(ref, home=home)
    same = kit(home, "diff", f"local://{ref}", f"remote://{ref}")
    assert same.exit_code == 0, same.output
    assert same.output == "ModelKits are identical\n"
    changed = tmp_path / "iris2"
    shutil.copytree(EXAMPLE, changed)
    (changed / "data" / "iris.csv").write_text("a,b\n1,2\n")
    api.pack(changed, tag="iris:v2", home=home)
    api.remove(ref, home=home)
    result = kit(home, "diff", "iris:v2", ref)  # no prefix: local first, then the registry it names
    assert result.exit_code == 0, result.output
    assert "Unique Layers to ModelKit1 (localhost/iris:v2)" in result.output
    assert f"Unique Layers to ModelKit2 ({ref})" in result.output
    assert "dataset" in result.output.split("Unique Layers to ModelKit1")[1]


def test_diff_reports_which_side_is_missing(plain_registry: Registry, repo_name: str, home: Path) -> None:
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    result = kit(home, "diff", "iris:v1", f"remote://{plain_registry.host}/{repo_name}:nope")
    assert result.exit_code == 1
    assert "error: Failed to get manifest for ModelKit2:" in result.output
    result = kit(home, "diff", "local://gone:v1", "iris:v1")
    assert result.exit_code == 1
    assert "error: Failed to get manifest for ModelKit1: model gone:v1 not found" in result.output
