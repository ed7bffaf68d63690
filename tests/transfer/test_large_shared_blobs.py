"""Blobs of realistic size that the registry already holds: a 48 MiB weights layer shared between
versions, repositories and tags, through the real registry.

A HEAD for such a blob answers with ``Content-Length: 50331648`` and no body; treating that length
as a body to be bounded made every second push of a real model fail. These tests use a layer well
over the 16 MiB bound for metadata so that the regression cannot hide behind tiny blobs.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kitops import api
from kitops.modelkit.manager import ModelKitManager
from kitops.registry.remote import NetworkOptions
from tests.helpers import kit, tree_files
from tests.realregistry import Registry

pytestmark = pytest.mark.registry

WEIGHTS_SIZE = 48 << 20


def _project(root: Path, weights: bytes, version: str) -> Path:
    root.mkdir(parents=True)
    (root / "Kitfile").write_text(
        "manifestVersion: 1.0.0\n"
        f"package:\n  name: churn\n  version: {version}\n"
        "model:\n  path: weights.bin\n"
        "code:\n  - path: serve.py\n"
    )
    (root / "weights.bin").write_bytes(weights)
    (root / "serve.py").write_text(f"VERSION = {version!r}\n")
    return root


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two versions sharing one 48 MiB weights file; only the code layer differs."""
    weights = random.Random(7).randbytes(WEIGHTS_SIZE)
    base = tmp_path_factory.mktemp("shared")
    return _project(base / "v1", weights, "1.0.0"), _project(base / "v2", weights, "2.0.0")


def _hex(digest: str) -> str:
    return digest.partition(":")[2]  # upload URLs carry the digest URL-encoded (sha256%3A...)


def _uploads(stderr: str) -> str:
    """The blob upload requests a ``kit -v`` run logged, one a line.

    Read from the command's stderr, not with caplog: the CLI gives the ``kitops`` logger its own
    handler and stops it propagating, so once a test has run ``kit`` in process pytest's capture
    no longer sees its records and an "uploaded nothing" check would hold whatever happened."""
    return "\n".join(
        line
        for line in stderr.splitlines()
        if "/blobs/uploads/" in line and ("PUT" in line or "PATCH" in line)
    )


def test_cli_repush_v2_remote_tag_and_cross_repo(
    projects: tuple[Path, Path],
    plain_registry: Registry,
    repo_name: str,
    home: Path,
    tmp_path: Path,
) -> None:
    v1, v2 = projects
    repo = f"{plain_registry.host}/{repo_name}"
    assert kit(home, "pack", str(v1), "-t", "churn:v1").exit_code == 0
    assert kit(home, "pack", str(v2), "-t", "churn:v2").exit_code == 0
    weights_digest = api.inspect("churn:v2", home=home).manifest.layers[0].digest
    assert api.inspect("churn:v1", home=home).manifest.layers[0].digest == weights_digest

    # the first push uploads the weights: the log lines read below do show uploads
    first = kit(home, "push", "churn:v1", f"{repo}:v1", "-v")
    assert first.exit_code == 0, first.output
    assert _hex(weights_digest) in _uploads(first.stderr)

    # the same tag again: every blob is found by HEAD, nothing is uploaded
    again = kit(home, "push", "churn:v1", f"{repo}:v1", "-v")
    assert again.exit_code == 0, again.output
    assert "HEAD" in again.stderr and _uploads(again.stderr) == ""

    # v2 shares the weights layer: only its code layer and config go up
    second = kit(home, "push", "churn:v2", f"{repo}:v2", "-v")
    assert second.exit_code == 0, second.output
    uploaded = _uploads(second.stderr)
    v2_manifest = api.inspect("churn:v2", home=home).manifest
    assert _hex(v2_manifest.layers[1].digest) in uploaded and _hex(v2_manifest.config.digest) in uploaded
    assert _hex(weights_digest) not in uploaded

    # promote by tag on the registry: one manifest PUT, the 48 MiB blob is only HEADed
    promoted = kit(home, "tag", f"{repo}:v2", f"{repo}:prod", "-v")
    assert promoted.exit_code == 0, promoted.output
    assert _uploads(promoted.stderr) == ""
    assert any("PUT" in line and "/manifests/prod" in line for line in promoted.stderr.splitlines())

    # another repository of the same registry: mounted, not uploaded
    copied = kit(home, "push", "churn:v2", f"{repo}-copy:v2", "-v")
    assert copied.exit_code == 0, copied.output
    assert _hex(weights_digest) not in _uploads(copied.stderr)
    assert any("mount=" in line and _hex(weights_digest) in line for line in copied.stderr.splitlines())

    # and what went up comes back whole
    api.remove("churn:v2", home=home, force=True)
    out = tmp_path / "out"
    assert kit(home, "unpack", f"{repo}:prod", "-d", str(out)).exit_code == 0
    assert tree_files(out)["weights.bin"] == (v2 / "weights.bin").read_bytes()


def test_copy_to_a_registry_that_already_holds_the_blob(
    projects: tuple[Path, Path],
    plain_registry: Registry,
    tls_registry: Registry,
    repo_name: str,
    home: Path,
) -> None:
    """Registry-to-registry copy where the target has the shared layer from an earlier version."""
    v1, v2 = projects
    api.pack(v1, tag="churn:v1", home=home)
    api.pack(v2, tag="churn:v2", home=home)
    src = f"{plain_registry.host}/{repo_name}"
    api.push("churn:v2", f"{src}:v2", home=home)
    tls_net = NetworkOptions(ca_file=tls_registry.ca_file)
    api.login(
        tls_registry.host,
        username=tls_registry.username or "",
        password=tls_registry.password or "",
        home=home,
        network=tls_net,
    )
    dst = f"{tls_registry.host}/{repo_name}"
    api.push("churn:v1", f"{dst}:v1", home=home, network=tls_net)
    # now the TLS registry has the weights; a copy of v2 from the other registry must only HEAD them
    api.tag(f"{src}:v2", f"{dst}:v2", home=home, network=tls_net)
    rows = api.list_remote(dst, home=home, network=tls_net)
    assert {t for r in rows for t in r.tags} == {"v1", "v2"}


def test_sdk_pack_and_push_second_version(
    projects: tuple[Path, Path],
    basic_registry: Registry,
    repo_name: str,
    home: Path,
    tmp_path: Path,
) -> None:
    from kitops.modelkit.user import UserCredentials

    v1, v2 = projects
    creds = UserCredentials(
        username=basic_registry.username, password=basic_registry.password, registry=basic_registry.host
    )
    for project, tag in ((v1, "v1"), (v2, "v2")):
        manager = ModelKitManager(
            working_directory=str(project),
            user_credentials=creds,
            modelkit_tag=f"{basic_registry.host}/{repo_name}:{tag}",
            home=home,
        )
        manager.pack_and_push_modelkit()  # logs in, packs, pushes, logs out
    api.login(
        basic_registry.host,
        username=basic_registry.username or "",
        password=basic_registry.password or "",
        home=home,
    )
    rows = api.list_remote(f"{basic_registry.host}/{repo_name}", home=home)
    assert {t for r in rows for t in r.tags} == {"v1", "v2"}
