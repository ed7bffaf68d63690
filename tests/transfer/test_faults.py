"""The real registry behind a fault-injecting relay (tests/faultproxy.py): transient failures are
retried or resumed, hostile answers are refused with bounded cost, nothing wrong is stored."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import FormatError, IntegrityError, RegistryError, TransferError
from kitops.store.layout import LocalStore
from tests.faultproxy import Fault, FaultProxy, matching
from tests.realregistry import Registry

pytestmark = pytest.mark.registry
MiB = 1 << 20


@pytest.fixture()
def pushed(plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path) -> tuple[str, str, int]:
    """A ModelKit with an 8 MiB model layer on the registry: (repo, layer digest, layer size)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "w.bin").write_bytes(random.Random(3).randbytes(8 * MiB))
    (ctx / "Kitfile").write_text("manifestVersion: 1.0.0\nmodel:\n  path: w.bin\n")
    res = api.pack(ctx, tag="f:v1", home=home)
    api.push("f:v1", f"{plain_registry.host}/{repo_name}:v1", home=home)
    layer = res.manifest.layers[0]
    return repo_name, layer.digest, layer.size


def _pull(proxy: FaultProxy, repo: str, home: Path) -> str:
    return api.pull(f"{proxy.host}/{repo}:v1", home=home).descriptor.digest


def _blob_gets(proxy: FaultProxy, digest: str) -> list[dict[str, str]]:
    return [s.headers for s in proxy.seen if s.method == "GET" and s.path.endswith(f"/blobs/{digest}")]


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_errors_on_a_blob_are_retried(
    fault_proxy: FaultProxy, pushed: tuple[str, str, int], tmp_path: Path, status: int
) -> None:
    repo, digest, _size = pushed
    fault_proxy.set(
        (matching("GET", f"/blobs/{digest}"), Fault(status=status, times=2, headers={"Retry-After": "0"}))
    )
    home = tmp_path / "h"
    assert _pull(fault_proxy, repo, home)
    assert len(_blob_gets(fault_proxy, digest)) == 3
    assert LocalStore(home / "storage").has_blob(digest)


def test_a_drop_mid_blob_is_resumed_with_a_range(
    fault_proxy: FaultProxy, pushed: tuple[str, str, int], tmp_path: Path
) -> None:
    repo, digest, size = pushed
    fault_proxy.set((matching("GET", f"/blobs/{digest}"), Fault(drop_after=3 * MiB, times=1)))
    home = tmp_path / "h"
    assert _pull(fault_proxy, repo, home)
    gets = _blob_gets(fault_proxy, digest)
    assert len(gets) == 2 and "range" not in gets[0]
    assert gets[1]["range"].startswith("bytes=") and int(gets[1]["range"][6:].split("-")[0]) > 0
    blob = LocalStore(home / "storage").blob_path(digest)
    assert (
        hashlib.sha256(blob.read_bytes()).hexdigest() == digest.split(":")[1] and blob.stat().st_size == size
    )


def test_a_drop_mid_manifest_is_retried(
    fault_proxy: FaultProxy, pushed: tuple[str, str, int], tmp_path: Path
) -> None:
    repo, _digest, _size = pushed
    fault_proxy.set((matching("GET", "/manifests/"), Fault(drop_after=200, times=1)))
    assert _pull(fault_proxy, repo, tmp_path / "h")
    assert len([s for s in fault_proxy.seen if s.method == "GET" and "/manifests/" in s.path]) >= 2


def test_a_huge_error_body_is_not_read(
    fault_proxy: FaultProxy, pushed: tuple[str, str, int], tmp_path: Path
) -> None:
    """1 GiB of error body on every try: the pull fails with the registry's status, quickly."""
    repo, digest, _size = pushed
    fault_proxy.set((matching("GET", f"/blobs/{digest}"), Fault(status=500, body_size=1 << 30)))
    with pytest.raises(RegistryError, match="500"):
        _pull(fault_proxy, repo, tmp_path / "h")


def test_a_short_body_with_a_lying_length_is_never_stored(
    fault_proxy: FaultProxy, pushed: tuple[str, str, int], tmp_path: Path
) -> None:
    """The relay claims a bigger Content-Length than the blob and then closes: the client resumes,
    gets nothing more, and refuses the blob rather than storing something unverified."""
    repo, digest, size = pushed
    fault_proxy.set((matching("GET", f"/blobs/{digest}"), Fault(content_length=size + 1000)))
    home = tmp_path / "h"
    with pytest.raises((IntegrityError, TransferError)):
        _pull(fault_proxy, repo, home)
    store = LocalStore(home / "storage")
    assert not store.has_blob(digest)
    assert [k for k in store.repo_keys() if store.repository(k).tags()] == []  # no tag for a failed pull


def test_a_slow_body_completes(fault_proxy: FaultProxy, pushed: tuple[str, str, int], tmp_path: Path) -> None:
    repo, digest, _size = pushed
    fault_proxy.set((matching("GET", f"/blobs/{digest}"), Fault(rate=16 * MiB)))
    assert _pull(fault_proxy, repo, tmp_path / "h")


def test_a_non_model_reference_leaves_no_tag(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    """A pull refused because the artifact is not a ModelKit stores no tag and no manifest."""
    import httpx

    config = b"{}"
    cdigest = "sha256:" + hashlib.sha256(config).hexdigest()
    base = f"{plain_registry.url}/v2/{repo_name}"
    up = httpx.post(f"{base}/blobs/uploads/")
    location = httpx.URL(plain_registry.url).join(up.headers["location"])
    httpx.put(location.copy_merge_params({"digest": cdigest}), content=config).raise_for_status()
    manifest = (
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":'
        f'{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cdigest}","size":2}},"layers":[]}}'
    )
    httpx.put(
        f"{base}/manifests/v1",
        content=manifest,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    ).raise_for_status()
    home = tmp_path / "h"
    with pytest.raises(FormatError, match=r"does not refer to a model|is not a modelkit"):
        api.pull(f"{plain_registry.host}/{repo_name}:v1", home=home)
    store = LocalStore(home / "storage")
    assert [
        (k, store.repository(k).tags(), store.repository(k).manifests())
        for k in store.repo_keys()
        if store.repository(k).tags() or store.repository(k).manifests()
    ] == []
