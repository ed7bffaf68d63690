"""`kit diff`: the reference's blocks byte for byte, plus the annotation details and the
Kitfile block; manifests alone are enough when a config blob is missing (locally or on a registry)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kitops import api
from kitops.modelkit.diff import compare_layers, layer_type
from kitops.oci.models import Descriptor, Manifest
from kitops.store.layout import LocalStore
from tests.helpers import kit, write_tree
from tests.realregistry import Registry

DASHES = "-" * 39
EPOCH = "1700000000"  # 2023-11-14T22:13:20Z

KITFILE_V1 = """\
    manifestVersion: v1.0.0
    package:
      name: demo
      version: 1.0.0
    model:
      name: net
      path: model.bin
    datasets:
      - name: train
        path: data/train.csv
    """

# version 2.0.0 and one more layer (a model part)
KITFILE_V2 = KITFILE_V1.replace("version: 1.0.0", "version: 2.0.0").replace(
    "  path: model.bin\n",
    "  path: model.bin\n      parts:\n        - name: tokenizer\n          path: tok.json\n",
)


@pytest.fixture(autouse=True)
def reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def _pack(tmp_path: Path, home: Path, tag: str, kitfile: str, **extra: str) -> Manifest:
    files: dict[str, str | bytes] = {
        "Kitfile": kitfile,
        "model.bin": "weights\n",
        "data/train.csv": "x,y\n1,2\n",
        "tok.json": "{}\n",
        "README.md": "# demo\n",
        "src/train.py": "print()\n",
        **extra,
    }
    ctx = write_tree(tmp_path / tag.replace(":", "_").replace("/", "_"), files)
    return api.pack(ctx, tag=tag, home=home).manifest


def _short(desc: Descriptor) -> str:
    return desc.digest[:17]


def _size(desc: Descriptor) -> str:
    assert desc.size % 512 == 0 and 1024 <= desc.size < 1024 * 1024  # tar blocks: one decimal is exact
    return f"{desc.size / 1024:.1f} KiB"


def _layer(man: Manifest, base: str) -> Descriptor:
    (only,) = [d for d in man.layers if f".{base}.v1." in d.media_type]
    return only


def _go_blocks(ref_a: str, man_a: Manifest, ref_b: str, man_b: Manifest) -> str:
    """The reference's blocks for KITFILE_V1 (ModelKit1) against KITFILE_V2 (ModelKit2): the type column
    is widened to fit "modelpart" in every table, so that the rows stay under their header."""
    model, dataset, part = _layer(man_b, "model"), _layer(man_b, "dataset"), _layer(man_b, "modelpart")
    return textwrap.dedent(f"""\
        Comparing:
          ModelKit1: {ref_a}
          ModelKit2: {ref_b}

        Configurations:
        {DASHES}
        Configs differ:
          ModelKit1 Config Digest: {_short(man_a.config)}
          ModelKit2 Config Digest: {_short(man_b.config)}

        Annotations:
        {DASHES}
          Annotations are identical

        Shared Layers
        {DASHES}
        Type      | Digest             | Size
        dataset   | {_short(dataset)}  | {_size(dataset)}
        model     | {_short(model)}  | {_size(model)}

        Unique Layers to ModelKit1 ({ref_a})
        {DASHES}
        <none>

        Unique Layers to ModelKit2 ({ref_b})
        {DASHES}
        Type      | Digest             | Size
        modelpart | {_short(part)}  | {_size(part)}

        """)


def _kitfile_block_v1_v2(man_b: Manifest) -> str:
    part = _layer(man_b, "modelpart")
    return textwrap.dedent(f"""\
        Kitfile Differences:
        {DASHES}
          ~ package.version: 1.0.0 → 2.0.0
          + model.parts[tok.json]: {{"name": "tokenizer", "path": "tok.json", "digest": "{_short(part)}"}}
        """)


def test_identical_modelkits_need_only_their_manifests(tmp_path: Path, home: Path) -> None:
    man = _pack(tmp_path, home, "demo:1", KITFILE_V1)
    api.tag("demo:1", "other/demo:same", home=home)
    LocalStore(home / "storage").blob_path(
        man.config.digest
    ).unlink()  # equal manifests: the config is not read
    result = kit(home, "diff", "demo:1", "local://other/demo:same")
    assert result.exit_code == 0, result.output
    assert result.stdout == "ModelKits are identical\n"
    assert result.stderr == ""


def test_two_local_modelkits_full_output(tmp_path: Path, home: Path) -> None:
    man_a = _pack(tmp_path, home, "demo:1", KITFILE_V1)
    man_b = _pack(tmp_path, home, "demo:2", KITFILE_V2)
    result = kit(home, "diff", "demo:1", "local://demo:2")
    assert result.exit_code == 0, result.output  # different ModelKits still exit 0, as the Go kit
    expected = _go_blocks("localhost/demo:1", man_a, "localhost/demo:2", man_b) + _kitfile_block_v1_v2(man_b)
    assert result.stdout == expected
    assert result.stderr == ""


def test_kitfile_block_lists_each_difference(tmp_path: Path, home: Path) -> None:
    kitfile_a = """\
        manifestVersion: v1.0.0
        package:
          name: demo
          version: 1.0.0
          description: first try
          authors: [ann]
        model:
          name: net
          path: model.bin
          parts:
            - name: tokenizer
              path: tok.json
        code:
          - path: src
            description: training code
        datasets:
          - name: train
            path: data/train.csv
        """
    kitfile_b = """\
        manifestVersion: v1.0.0
        package:
          name: demo
          version: 1.0.0
          description: |
            second try
            with notes
          authors: [ann, bob]
        model:
          name: net
          path: model.bin
          license: MIT
        code:
          - path: src
            description: training and eval code
        datasets:
          - name: train
            path: data/train.csv
        docs:
          - path: README.md
        """
    man_a = _pack(tmp_path, home, "demo:a", kitfile_a)
    man_b = _pack(tmp_path, home, "demo:b", kitfile_b, **{"data/train.csv": "x,y\n3,4\n"})
    result = kit(home, "diff", "demo:a", "demo:b")
    assert result.exit_code == 0, result.output
    block = result.stdout.split("Kitfile Differences:\n", 1)[1]
    dataset_a, part_a = _short(_layer(man_a, "dataset")), _short(_layer(man_a, "modelpart"))
    assert block == textwrap.dedent(f"""\
        {DASHES}
          ~ package.description: first try → "second try\\nwith notes\\n"
          ~ package.authors: ["ann"] → ["ann", "bob"]
          - model.parts[tok.json]: {{"name": "tokenizer", "path": "tok.json", "digest": "{part_a}"}}
          + model.license: MIT
          ~ code[src].description: training code → training and eval code
          ~ datasets[data/train.csv].digest: {dataset_a} → {_short(_layer(man_b, "dataset"))}
          + docs[README.md]: {{"path": "README.md", "digest": "{_short(_layer(man_b, "docs"))}"}}
        """)


def test_annotation_differences_are_listed(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = write_tree(tmp_path / "ctx", {"Kitfile": KITFILE_V1, "model.bin": "w\n", "data/train.csv": "x\n"})
    man_a = api.pack(
        ctx, tag="demo:1", home=home, annotations={"com.example.team": "red", "com.example.gone": "x"}
    ).manifest
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700003600")
    api.pack(ctx, tag="demo:2", home=home, annotations={"com.example.team": "blue", "com.example.new": "y"})
    result = kit(home, "diff", "demo:1", "demo:2")
    assert result.exit_code == 0, result.output
    block = result.stdout.split("Annotations:\n", 1)[1].split("\n\n", 1)[0]
    assert block == "\n".join(
        [
            DASHES,
            "  Annotations does not match",
            "    - com.example.gone: x",
            "    + com.example.new: y",
            "    ~ com.example.team: red → blue",
            "    ~ org.opencontainers.image.created: 2023-11-14T22:13:20Z → 2023-11-14T23:13:20Z",
        ]
    )
    # the same config and layers: the reference's short config digest, and no Kitfile difference
    assert f"  Configs are identical (Digest: {_short(man_a.config)})\n" in result.stdout
    assert result.stdout.endswith(f"Kitfile Differences:\n{DASHES}\n  Kitfiles are identical\n")


@pytest.mark.registry
def test_local_against_remote(tmp_path: Path, home: Path, plain_registry: Registry, repo_name: str) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v2"
    man_b = _pack(tmp_path, home, "demo:2", KITFILE_V2)
    api.push("demo:2", ref, home=home)
    api.remove("demo:2", home=home)
    man_a = _pack(tmp_path, home, "demo:1", KITFILE_V1)
    result = kit(home, "diff", "local://demo:1", f"remote://{ref}")
    assert result.exit_code == 0, result.output
    assert result.stdout == _go_blocks("localhost/demo:1", man_a, ref, man_b) + _kitfile_block_v1_v2(man_b)
    assert LocalStore(home / "storage").repo_keys() == ["localhost/demo"]  # nothing was pulled


def test_missing_local_config_still_prints_the_manifest_blocks(tmp_path: Path, home: Path) -> None:
    man_a = _pack(tmp_path, home, "demo:1", KITFILE_V1)
    man_b = _pack(tmp_path, home, "demo:2", KITFILE_V2)
    LocalStore(home / "storage").blob_path(man_b.config.digest).unlink()
    result = kit(home, "diff", "demo:1", "demo:2")
    assert result.exit_code == 0, result.output
    go_blocks = _go_blocks("localhost/demo:1", man_a, "localhost/demo:2", man_b)
    assert result.stdout.startswith(go_blocks)
    assert result.stdout[len(go_blocks) :] == (
        f"Kitfile Differences:\n{DASHES}\n"
        f"  Not compared: the config of ModelKit2 ({man_b.config.digest[:17]}) could not be read: "
        f"blob {man_b.config.digest} not found in local storage\n"
    )
    assert result.stderr == (
        "[WARN ] Kitfiles not compared: the config of ModelKit2 (localhost/demo:2) could not be read: "
        f"blob {man_b.config.digest} not found in local storage\n"
    )


@pytest.mark.registry
def test_missing_remote_config_still_prints_the_manifest_blocks(
    tmp_path: Path, home: Path, plain_registry: Registry, repo_name: str
) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v2"
    # a Kitfile of its own, so that no other test's ModelKit shares the config blob deleted below
    man_b = _pack(tmp_path, home, "demo:2", KITFILE_V2.replace("name: demo", f"name: {repo_name}"))
    api.push("demo:2", ref, home=home)
    api.remove("demo:2", home=home)
    plain_registry.blob_path(man_b.config.digest).unlink()
    man_a = _pack(tmp_path, home, "demo:1", KITFILE_V1)
    result = kit(home, "diff", "demo:1", ref)  # no prefix: not in local storage, so from the registry
    assert result.exit_code == 0, result.output
    go_blocks = _go_blocks("localhost/demo:1", man_a, ref, man_b)
    assert result.stdout.startswith(go_blocks)
    rest = result.stdout[len(go_blocks) :]
    assert rest.startswith(
        f"Kitfile Differences:\n{DASHES}\n"
        f"  Not compared: the config of ModelKit2 ({man_b.config.digest[:17]}) could not be read: "
    )
    assert result.stderr.startswith(
        f"[WARN ] Kitfiles not compared: the config of ModelKit2 ({ref}) could not be read: "
    )
    assert result.stderr.count("\n") == 1


def _desc(media: str, digest_char: str, path: str | None = None) -> Descriptor:
    kit_type = f"application/vnd.kitops.modelkit.{media}.v1.tar"
    return Descriptor(
        kit_type,
        "sha256:" + digest_char * 64,
        2048,
        {"org.cncf.model.filepath": path} if path is not None else None,
    )


def test_layers_matched_once_each_and_by_file_path() -> None:
    config = Descriptor("application/vnd.kitops.modelkit.config.v1+json", "sha256:" + "c" * 64, 10)
    # the same content twice in A, once in B; a raw file moved to another path; an old layer without paths
    a = Manifest(
        config,
        (
            _desc("model", "1", "m.bin"),
            _desc("code", "2", "x.py"),
            _desc("code", "2", "y.py"),
            _desc("docs", "3", "old.md"),
            _desc("dataset", "4"),
        ),
    )
    b = Manifest(
        config,
        (
            _desc("dataset", "4", "d.csv"),
            _desc("docs", "3", "new.md"),
            _desc("code", "2", "y.py"),
            _desc("model", "1", "./m.bin"),
        ),
    )
    result = compare_layers(a, b)
    assert [(layer_type(d.media_type), d.digest[7]) for d in result.shared] == [
        ("code", "2"),
        ("dataset", "4"),
        ("model", "1"),
    ]
    assert [(d.annotations or {}).get("org.cncf.model.filepath") for d in result.only_a] == ["x.py", "old.md"]
    assert [(d.annotations or {}).get("org.cncf.model.filepath") for d in result.only_b] == ["new.md"]


def test_layer_type_names() -> None:
    assert layer_type("application/vnd.kitops.modelkit.modelpart.v1.tar+zstd") == "modelpart"
    assert layer_type("application/vnd.kitops.modelkit.docs.v1.raw") == "docs"
    assert layer_type("application/vnd.cncf.model.weight.config.v1.raw") == "weight.config"
    assert layer_type("application/vnd.cncf.model.doc.v1.tar+gzip") == "doc"
    assert layer_type("application/octet-stream") == "(invalid media type)"
