"""A ModelKit whose ``model.path`` names other local ModelKits, pushed to and pulled from a real registry.

``api.push`` sends every local ancestor first, to the destination registry, in the
repository its reference names (a reference without a registry gets the
destination's); ``api.pull`` brings each back into its own repository (the reference
put them in the child's, where a parent's tag could replace a child's); ``api.unpack`` then lays the ancestors' model files under the child's.
"""

from __future__ import annotations

import filecmp
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitops import api
from kitops.modelkit.pack import PackResult
from kitops.store.layout import LocalStore
from tests.helpers import tree_files, write_tree
from tests.realregistry import Registry

pytestmark = pytest.mark.registry

BASE_FILES: dict[str, str | bytes] = {
    "weights/base.bin": bytes(range(256)) * 512,
    "weights/tokenizer.json": '{"vocab": 3}',
    "data/train.csv": "x,y\n1,2\n",  # a dataset: never unpacked from a parent
}


@dataclass
class Family:
    base: PackResult
    mid: PackResult
    child: PackResult
    base_ref: str  # model.path of mid, as written
    mid_ref: str  # model.path of child, as written


def pack_family(home: Path, tmp: Path, prefix: str) -> Family:
    """base <- mid <- child: each names its parent in ``model.path`` with ``prefix`` + repository."""
    base_ref, mid_ref = f"{prefix}-base:v1", f"{prefix}-mid:v1"
    base_ctx = write_tree(
        tmp / "base",
        {
            "Kitfile": "manifestVersion: 1.0.0\npackage: {name: base}\n"
            "model:\n  path: weights\ndatasets:\n  - {name: train, path: data/train.csv}\n",
            **BASE_FILES,
        },
    )
    base = api.pack(base_ctx, tag=base_ref, home=home)
    mid_ctx = write_tree(
        tmp / "mid",
        {
            "Kitfile": f"manifestVersion: 1.0.0\nmodel:\n  path: {base_ref}\n  parts: [{{path: mid.bin}}]\n",
            "mid.bin": b"mid-adapter",
        },
    )
    mid = api.pack(mid_ctx, tag=mid_ref, home=home)
    child_ctx = write_tree(
        tmp / "child",
        {
            "Kitfile": f"manifestVersion: 1.0.0\nmodel:\n  path: {mid_ref}\n  parts: [{{path: lora.bin}}]\n",
            "lora.bin": b"lora-adapter",
        },
    )
    child = api.pack(child_ctx, tag="tuned:v1", home=home)
    return Family(base, mid, child, base_ref, mid_ref)


def repo_of(ref: str, registry: str) -> str:
    """The repository on ``registry`` a model.path reference names (its own registry dropped)."""
    name = ref.rsplit(":", 1)[0]
    return name[len(registry) + 1 :] if name.startswith(registry + "/") else name


def assert_on_registry(registry: Registry, repo: str, res: PackResult, home: Path) -> None:
    remote = api.remote_modelkit(f"{registry.host}/{repo}:v1", home=home)
    assert remote.descriptor.digest == res.descriptor.digest
    store = LocalStore(home / "storage")
    for blob in (res.manifest.config, *res.manifest.layers):
        assert filecmp.cmp(registry.blob_path(blob.digest), store.blob_path(blob.digest), shallow=False), (
            blob.digest
        )


def expected_unpack() -> dict[str, bytes]:
    """The child's files plus every ancestor's model files (not the base's dataset, not their Kitfiles)."""
    files = {
        k: (v.encode() if isinstance(v, str) else v)
        for k, v in BASE_FILES.items()
        if k.startswith("weights/")
    }
    files["mid.bin"] = b"mid-adapter"
    files["lora.bin"] = b"lora-adapter"
    return files


@pytest.mark.parametrize("qualified", [False, True], ids=["bare-refs", "registry-refs"])
def test_push_sends_local_parents_to_the_destination_registry(
    plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path, qualified: bool
) -> None:
    prefix = f"{plain_registry.host}/{repo_name}" if qualified else repo_name
    fam = pack_family(home, tmp_path, prefix)
    dest = f"{plain_registry.host}/{repo_name}:v1"
    pushed = api.push("tuned:v1", dest, home=home)
    assert pushed.descriptor.digest == fam.child.descriptor.digest
    assert_on_registry(plain_registry, repo_name, fam.child, home)
    assert_on_registry(plain_registry, repo_of(fam.mid_ref, plain_registry.host), fam.mid, home)
    assert_on_registry(plain_registry, repo_of(fam.base_ref, plain_registry.host), fam.base, home)
    # The references travel as written, and the parents went to their own repositories only.
    assert api.remote_modelkit(dest, home=home).kitfile.model.path == fam.mid_ref  # type: ignore[union-attr]
    assert [r.tags for r in api.list_remote(f"{plain_registry.host}/{repo_name}", home=home)] == [("v1",)]


def _pull_fresh(
    plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path, qualified: bool
) -> tuple[Family, Path]:
    prefix = f"{plain_registry.host}/{repo_name}" if qualified else repo_name
    fam = pack_family(home, tmp_path, prefix)
    api.push("tuned:v1", f"{plain_registry.host}/{repo_name}:v1", home=home)
    fresh = tmp_path / "fresh"
    pulled = api.pull(f"{plain_registry.host}/{repo_name}:v1", home=fresh)
    assert pulled.descriptor.digest == fam.child.descriptor.digest
    return fam, fresh


@pytest.mark.parametrize("qualified", [False, True], ids=["bare-refs", "registry-refs"])
def test_pull_brings_every_ancestor_back_into_its_own_repository(
    plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path, qualified: bool
) -> None:
    fam, fresh = _pull_fresh(plain_registry, repo_name, home, tmp_path, qualified)
    store = LocalStore(fresh / "storage")
    host = plain_registry.host
    expected = {
        f"{host}/{repo_name}": fam.child,
        f"{host}/{repo_name}-mid": fam.mid,
        f"{host}/{repo_name}-base": fam.base,
    }
    assert store.repo_keys() == sorted(expected)
    for key, res in expected.items():
        assert store.repository(key).tag_map() == {"v1": res.descriptor.plain()}
        assert all(store.has_blob(b.digest) for b in (res.manifest.config, *res.manifest.layers))


@pytest.mark.parametrize(
    "qualified",
    [
        pytest.param(False, id="bare-refs"),
        pytest.param(True, id="registry-refs"),
    ],
)
def test_unpack_of_the_pulled_child_yields_the_parents_model_files(
    plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path, qualified: bool
) -> None:
    fam, fresh = _pull_fresh(plain_registry, repo_name, home, tmp_path, qualified)
    out = tmp_path / "out"
    api.unpack(f"{plain_registry.host}/{repo_name}:v1", target_dir=out, home=fresh)
    files = tree_files(out)
    kitfile = api.load_kitfile(text=files.pop("Kitfile").decode())  # the child's own, re-serialised
    assert kitfile.model is not None and kitfile.model.path == fam.mid_ref
    assert files == expected_unpack()
