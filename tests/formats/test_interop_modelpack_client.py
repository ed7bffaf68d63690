"""Interop with an independent ModelPack implementation: the PyPI ``modelpack-client``.

It validates every config it reads against the ModelPack JSON schema, checks the DiffIDs and
file paths, and writes its own layer layout (one file per layer, a directory as a tar), so
it is a strict reader of what ``kit pack --use-model-pack`` writes and a writer whose output
``kit`` must read. Both directions go through the real registry.
"""

from __future__ import annotations

import os
from pathlib import Path

import modelpack_client  # in the dev extra: a missing partner is a failure, not a skip
import pytest

from tests.helpers import kit, tree_files, write_tree
from tests.realregistry import Registry

SHARD = 9 << 20  # two shards of realistic size for a unit of a model, a few MiB each

KITFILE = """\
manifestVersion: 1.0.0
package:
  name: interop-demo
  version: 1.2.0
  authors: [ml-team]
  license: Apache-2.0
model:
  name: demo
  path: weights
  format: safetensors
  parameters:
    architecture: transformer
    paramSize: 1B
    precision: bfloat16
code:
  - path: src
docs:
  - path: README.md
"""


def _project(root: Path) -> Path:
    block = os.urandom(1 << 20)
    write_tree(
        root,
        {
            "Kitfile": KITFILE,
            "weights/model-00001-of-00002.safetensors": block * (SHARD >> 20),
            "weights/model-00002-of-00002.safetensors": block[::-1] * (SHARD >> 20),
            "weights/config.json": '{"hidden_size": 8}\n',
            "src/serve.py": "print('serving')\n",
            "README.md": "# Interop demo\n",
        },
    )
    return root


@pytest.mark.parametrize(
    "pack_args",
    [
        ["--layer-format", "tar"],
        ["--layer-format", "tar", "--compression", "zstd"],
        ["--layer-format", "native"],
    ],
    ids=["tar", "tar-zstd", "native"],
)
def test_modelpack_client_pulls_what_kit_packs(
    tmp_path: Path, home: Path, plain_registry: Registry, repo_name: str, pack_args: list[str]
) -> None:
    project = _project(tmp_path / "project")
    ref = f"{plain_registry.host}/{repo_name}:v1"
    packed = kit(home, "pack", str(project), "-t", ref, "--use-model-pack", *pack_args)
    assert packed.exit_code == 0, packed.output
    pushed = kit(home, "push", ref)
    assert pushed.exit_code == 0, pushed.output

    client = modelpack_client.ModelPackClient(plain_registry.host, insecure=True)
    result = client.pull(ref, tmp_path / "pulled")

    assert result.config["descriptor"]["name"] == "interop-demo"
    assert result.config["config"]["paramSize"] == "1B"
    expected = {k: v for k, v in tree_files(project).items() if k != "Kitfile"}
    assert tree_files(tmp_path / "pulled") == expected


def test_kit_reads_what_modelpack_client_pushes(
    tmp_path: Path, home: Path, plain_registry: Registry, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "project")
    ref = f"{plain_registry.host}/{repo_name}:v1"
    mp = modelpack_client
    client = mp.ModelPackClient(plain_registry.host, insecure=True)
    monkeypatch.chdir(project)  # modelpack-client names layers by the paths it is given
    client.push(
        ref,
        [
            mp.ModelLayer("weights/model-00001-of-00002.safetensors"),
            mp.ModelLayer("weights/model-00002-of-00002.safetensors"),
            mp.ModelLayer(
                "weights/config.json", media_type="application/vnd.cncf.model.weight.config.v1.raw"
            ),
            mp.ModelLayer("src", media_type="application/vnd.cncf.model.code.v1.tar+zstd"),
            mp.ModelLayer("README.md", media_type="application/vnd.cncf.model.doc.v1.raw"),
        ],
        {
            "descriptor": {"name": "from-client", "authors": ["alice"], "version": "3.0"},
            "config": {"format": "safetensors", "paramSize": "1B"},
        },
    )

    listed = kit(home, "list", f"{plain_registry.host}/{repo_name}")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if line.startswith(plain_registry.host))
    assert row.split()[1:4] == ["v1", "alice", "from-client"]

    info = kit(home, "info", ref)
    assert info.exit_code == 0, info.output
    assert "name: from-client" in info.output and "paramSize: 1B" in info.output

    unpacked = kit(home, "unpack", ref, "-d", str(tmp_path / "out"))
    assert unpacked.exit_code == 0, unpacked.output
    got = tree_files(tmp_path / "out")
    for rel, data in tree_files(project).items():
        if rel == "Kitfile":
            continue
        where = [k for k in got if k.endswith(Path(rel).name)]
        assert where, f"{rel} missing from {sorted(got)}"
        assert got[where[0]] == data, rel

    only_model = kit(home, "unpack", ref, "-d", str(tmp_path / "model-only"), "--filter", "model")
    assert only_model.exit_code == 0, only_model.output
    names = sorted(Path(k).name for k in tree_files(tmp_path / "model-only"))
    assert names == ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
