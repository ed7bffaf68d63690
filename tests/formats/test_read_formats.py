"""Reading every model format: ModelPack as modctl writes it (current and legacy names), Docker
Model Runner artifacts, compressed and raw layers with their DiffIDs checked, hostile layer paths,
ModelPacks whose Kitfile names a directory of per-file layers, and Kit ModelKits with raw layers.

Artifacts are built by hand (tests/formats/fixtures) into a local store; where a command talks to
a registry, they go through the real one (``kit push``, then ``kit list/info/inspect/unpack/pull``
against it from another home).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest
import yaml
import zstandard

from kitops import api
from kitops.errors import AlreadyExistsError, FormatError, IntegrityError
from kitops.kitfile.model import DocsEntry, Kitfile, LayerInfo, Model, Package
from kitops.modelkit.diff import layer_type
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest
from tests.formats.fixtures import (
    CNAI,
    CNCF,
    Layer,
    file_metadata,
    modelpack_config,
    raw_file,
    sha,
    store_artifact,
    tar_layer,
)
from tests.helpers import kit, tree_files
from tests.realregistry import Registry

AUTHOR = "Ada Lovelace <ada@example.com>"
DESCRIPTOR = {
    "createdAt": "2025-07-01T12:00:00Z",
    "family": "tiny",
    "name": "tiny-llm",
    "authors": [AUTHOR],
    "version": "1.2",
    "description": "A tiny model",
    "licenses": ["Apache-2.0"],
}
CONFIG = {
    "architecture": "transformer",
    "format": "safetensors",
    "paramSize": "8b",
    "precision": "bfloat16",
    "quantization": "awq",
    "capabilities": {"inputTypes": ["text"], "toolUsage": True},
}
# The same, as configs written by model-spec tags up to v0.0.6 (and the v0.0.3 typo) spell it.
LEGACY_CONFIG = {
    "architecture": "transformer",
    "format": "safetensors",
    "paramSize": "8b",
    "precision": "bfloat16",
    "puantization": "awq",
    "capabilities": {"input_types": ["text"], "tool_usage": True},
}
SHARD_1 = "model-00001-of-00002.safetensors"
SHARD_2 = "model-00002-of-00002.safetensors"
EXPECTED_KITFILE = {
    "manifestVersion": "1.0.0",
    "package": {
        "name": "tiny-llm",
        "version": "1.2",
        "description": "A tiny model",
        "license": "Apache-2.0",
        "authors": [AUTHOR],
    },
    "model": {
        "path": SHARD_1,
        "format": "safetensors",
        "parts": [{"path": "config.json"}, {"path": SHARD_2}],
        "parameters": {
            "architecture": "transformer",
            "capabilities": {"inputTypes": ["text"], "toolUsage": True},
            "paramSize": "8b",
            "precision": "bfloat16",
            "quantization": "awq",
        },
    },
    "docs": [{"path": "README.md"}],
}


@pytest.fixture(scope="module")
def big() -> bytes:
    """A 40 MiB weights shard: over every inline-hash and buffer size, so large-file paths run."""
    return os.urandom(1 << 20) * 40


def modctl_files(big: bytes) -> dict[str, tuple[str, bytes, int]]:
    """path -> (ModelPack kind, bytes, mode), in the order modctl writes layers (config, weights, docs)."""
    return {
        "config.json": ("weight.config", b'{"hidden_size": 8}\n', 0o600),
        SHARD_1: ("weight", big, 0o644),
        SHARD_2: ("weight", os.urandom(4096), 0o755),
        "README.md": ("doc", b"# tiny-llm\n", 0o640),
    }


def modctl_layers(files: dict[str, tuple[str, bytes, int]], *, legacy: bool = False) -> list[Layer]:
    prefix = CNAI if legacy else CNCF
    return [
        raw_file(f"{prefix}{kind}.v1.raw", path, data, mode, legacy=legacy)
        for path, (kind, data, mode) in files.items()
    ]


def store_modctl(
    home: Path,
    files: dict[str, tuple[str, bytes, int]],
    *,
    legacy: bool = False,
    tag: str = "v1",
    name: str = "tiny-llm",
) -> Descriptor:
    layers = modctl_layers(files, legacy=legacy)
    config = modelpack_config(
        layers,
        descriptor={**DESCRIPTOR, "name": name},
        config=LEGACY_CONFIG if legacy else CONFIG,
        legacy=legacy,
    )
    return store_artifact(
        home,
        "tiny",
        tag,
        layers=layers,
        config=config,
        config_type=mt.LEGACY_MODELPACK_CONFIG if legacy else mt.MODELPACK_CONFIG,
        artifact_type=mt.LEGACY_MODELPACK_MANIFEST_ARTIFACT if legacy else mt.MODELPACK_MANIFEST_ARTIFACT,
        annotations={"org.cncf.modctl.modelfile": "NAME tiny-llm\nMODEL *.safetensors\n"},
    )


def assert_files(root: Path, files: dict[str, tuple[str, bytes, int]]) -> None:
    """Exactly these files (no Kitfile, nothing else), byte for byte, with their modes."""
    assert tree_files(root) == {path: data for path, (_kind, data, _mode) in files.items()}
    for path, (_kind, _data, mode) in files.items():
        assert stat.S_IMODE(os.stat(root / path).st_mode) == mode, path


def partials(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if ".kit-partial" in p.name]


# ---------------------------------------------------------------------------------------------
# ModelPack as modctl writes it


@pytest.mark.registry
def test_modctl_modelpack_through_the_registry(
    big: bytes, plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    src_home, home = tmp_path / "src", tmp_path / "home"
    files = modctl_files(big)
    store_modctl(src_home, files)
    remote = f"{plain_registry.host}/{repo_name}"
    pushed = kit(src_home, "push", "tiny:v1", f"{remote}:v1")
    assert pushed.exit_code == 0, pushed.output

    listed = json.loads(kit(home, "list", remote, "--format", "json").stdout)
    assert [(e["modelName"], e["author"], e["tags"]) for e in listed] == [("tiny-llm", AUTHOR, ["v1"])]
    info = kit(home, "info", f"{remote}:v1")
    assert info.exit_code == 0, info.output
    assert yaml.safe_load(info.stdout) == EXPECTED_KITFILE
    inspected = json.loads(kit(home, "inspect", f"{remote}:v1").stdout)
    assert list(inspected) == ["digest", "cliVersion", "manifest"]  # no Kitfile of its own: none shown
    assert inspected["cliVersion"] == "unknown"
    assert inspected["manifest"]["artifactType"] == mt.MODELPACK_MANIFEST_ARTIFACT

    out = tmp_path / "out"
    unpacked = kit(home, "unpack", f"{remote}:v1", "-d", str(out))
    assert unpacked.exit_code == 0, unpacked.output
    assert_files(out, files)

    pulled = kit(home, "pull", f"{remote}:v1")
    assert pulled.exit_code == 0, pulled.output
    local = json.loads(kit(home, "list", "--format", "json").stdout)
    assert [(e["modelName"], e["author"]) for e in local] == [("tiny-llm", AUTHOR)]
    models = tmp_path / "models"
    only = kit(home, "unpack", f"{remote}:v1", "--filter", "model", "-d", str(models))
    assert only.exit_code == 0, only.output
    assert_files(models, {p: v for p, v in files.items() if v[0] != "doc"})
    docs = tmp_path / "docs"
    assert kit(home, "unpack", f"{remote}:v1", "--filter", "docs:README.md", "-d", str(docs)).exit_code == 0
    assert_files(docs, {"README.md": files["README.md"]})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="file-to-file sendfile is Linux only")
def test_a_large_raw_layer_moves_in_the_kernel(
    big: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored raw blob is copied to its file by sendfile, not through a buffer, and still verified."""
    home, out = tmp_path / "home", tmp_path / "out"
    files = modctl_files(big)
    store_modctl(home, files)
    sent = []
    real = os.sendfile

    def spy(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        n = real(out_fd, in_fd, offset, count)
        sent.append(n)
        return n

    monkeypatch.setattr(os, "sendfile", spy)
    api.unpack("tiny:v1", target_dir=out, filters=[f"model:{SHARD_1}"], home=home)
    assert sum(sent) == len(big)
    assert_files(out, {SHARD_1: files[SHARD_1]})


def test_legacy_cnai_modelpack_with_legacy_config_keys(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = modctl_files(os.urandom(8192))
    store_modctl(home, files, legacy=True)
    listed = json.loads(kit(home, "list", "--format", "json").stdout)
    assert [(e["modelName"], e["author"]) for e in listed] == [("tiny-llm", AUTHOR)]
    info = kit(home, "info", "tiny:v1")
    assert info.exit_code == 0, info.output
    assert yaml.safe_load(info.stdout) == EXPECTED_KITFILE  # quantization and camelCase capabilities
    out = tmp_path / "out"
    result = api.unpack("tiny:v1", target_dir=out, home=home)
    assert_files(out, files)
    assert [b.filepath for b in result.layers] == list(files)


def test_generated_kitfile_is_written_only_when_asked(tmp_path: Path) -> None:
    """As the Go kit: no Kitfile of its own, none in the output; ``--filter kitfile`` writes the one
    kit made, which a ``kit pack`` of the output would use."""
    home = tmp_path / "home"
    store_modctl(home, modctl_files(b"w" * 100))
    out = tmp_path / "out"
    assert not api.unpack("tiny:v1", target_dir=out, home=home).kitfile_written
    assert not (out / "Kitfile").exists()
    with_kitfile = tmp_path / "with"
    res = api.unpack("tiny:v1", target_dir=with_kitfile, filters=["kitfile"], home=home)
    assert res.kitfile_written and res.layers == []
    assert yaml.safe_load((with_kitfile / "Kitfile").read_text()) == EXPECTED_KITFILE


def test_modelpack_without_file_paths_or_with_wrong_diffid_count(tmp_path: Path) -> None:
    home = tmp_path / "home"
    layer = Layer(f"{CNCF}weight.v1.raw", b"weights")
    store_artifact(
        home,
        "nopath",
        "v1",
        layers=[layer],
        config=modelpack_config([layer]),
        config_type=mt.MODELPACK_CONFIG,
        artifact_type=mt.MODELPACK_MANIFEST_ARTIFACT,
    )
    with pytest.raises(FormatError, match=f"unknown file path for layer {sha(b'weights')}"):
        api.info("nopath:v1", home=home)
    named = raw_file(f"{CNCF}weight.v1.raw", "w.bin", b"weights")
    store_artifact(
        home,
        "count",
        "v1",
        layers=[named],
        config=modelpack_config([named], diff_ids=[]),
        config_type=mt.MODELPACK_CONFIG,
    )
    with pytest.raises(FormatError, match=r"number of layers \(1\) does not match DiffIDs \(0\)"):
        api.info("count:v1", home=home)


# ---------------------------------------------------------------------------------------------
# Docker Model Runner


@pytest.mark.registry
def test_docker_model_runner_v01_through_the_registry(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    """v0.1 layers carry no file path: the files are named from their media types."""
    src_home, home = tmp_path / "src", tmp_path / "home"
    gguf, license_text = b"GGUF" + os.urandom(5000), b"MIT License\n"
    layers = [Layer(mt.DOCKER_GGUF, gguf), Layer(mt.DOCKER_LICENSE, license_text)]
    config = {
        "config": {
            "format": "gguf",
            "quantization": "Q4_K_M",
            "parameters": "361.82 M",
            "architecture": "llama",
            "size": "256.35 MiB",
            "gguf": {"llama.context_length": "2048"},
        },
        "descriptor": {"created": "2025-03-01T10:00:00Z"},
        "rootfs": {"type": "rootfs", "diff_ids": [sha(gguf), sha(license_text)]},
    }
    store_artifact(
        src_home,
        "smollm",
        "v1",
        layers=layers,
        config=json.dumps(config).encode(),
        config_type=mt.DOCKER_MODEL_CONFIGS[0],
    )
    remote = f"{plain_registry.host}/{repo_name}"
    assert kit(src_home, "push", "smollm:v1", f"{remote}:v1").exit_code == 0
    info = kit(home, "info", f"{remote}:v1")
    assert info.exit_code == 0, info.output
    assert yaml.safe_load(info.stdout) == {
        "manifestVersion": "1.0.0",
        "model": {
            "path": "model.gguf",
            "format": "gguf",
            "parameters": {
                "architecture": "llama",
                "paramSize": "361.82 M",
                "quantization": "Q4_K_M",
                "size": "256.35 MiB",
            },
        },
        "docs": [{"path": "LICENSE"}],
    }
    out = tmp_path / "out"
    unpacked = kit(home, "unpack", f"{remote}:v1", "-d", str(out))
    assert unpacked.exit_code == 0, unpacked.output
    assert tree_files(out) == {"model.gguf": gguf, "LICENSE": license_text}
    assert stat.S_IMODE(os.stat(out / "model.gguf").st_mode) == 0o644


def test_docker_model_runner_v02_kinds_by_type_and_path(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = {
        "model.safetensors": (mt.DOCKER_SAFETENSORS, os.urandom(3000)),
        "tokenizer.json": (mt.DOCKER_MODEL_FILE, b"{}"),
        "README.md": (mt.DOCKER_MODEL_FILE, b"# smol\n"),
        "template.jinja": (mt.DOCKER_CHAT_TEMPLATE, b"{{ messages }}"),
        "LICENSE": (mt.DOCKER_LICENSE, b"Apache-2.0\n"),
    }
    layers = [raw_file(media_type, path, data) for path, (media_type, data) in files.items()]
    config = {
        "config": {"format": "safetensors", "parameters": "135M"},
        "descriptor": {"created": "2025-06-01T00:00:00Z"},
        "rootfs": {"type": "rootfs", "diff_ids": [layer.diff_id for layer in layers]},
    }
    store_artifact(
        home,
        "smol",
        "v2",
        layers=layers,
        config=json.dumps(config).encode(),
        config_type=mt.DOCKER_MODEL_CONFIGS[1],
    )
    kitfile = api.info("smol:v2", home=home)
    assert kitfile.model is not None and kitfile.model.path == "model.safetensors"
    assert [p.path for p in kitfile.model.parts] == ["tokenizer.json", "template.jinja"]
    assert [d.path for d in kitfile.docs] == ["README.md", "LICENSE"]
    out = tmp_path / "docs"
    api.unpack("smol:v2", target_dir=out, filters=["docs"], home=home)
    assert tree_files(out) == {"README.md": b"# smol\n", "LICENSE": b"Apache-2.0\n"}


def test_docker_shards_without_paths_are_named_as_shards(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shards = [b"GGUF-a", b"GGUF-b", b"GGUF-c"]
    layers = [Layer(mt.DOCKER_GGUF, s) for s in shards]
    config = {
        "config": {"format": "gguf"},
        "rootfs": {"type": "rootfs", "diff_ids": [sha(s) for s in shards]},
    }
    store_artifact(
        home,
        "sharded",
        "v1",
        layers=layers,
        config=json.dumps(config).encode(),
        config_type=mt.DOCKER_MODEL_CONFIGS[0],
    )
    out = tmp_path / "out"
    api.unpack("sharded:v1", target_dir=out, home=home)
    assert tree_files(out) == {f"model-{i:05d}-of-00003.gguf": s for i, s in enumerate(shards, 1)}


def test_docker_config_archive_without_a_path_unpacks_at_the_root(tmp_path: Path) -> None:
    home = tmp_path / "home"
    weights, configs = os.urandom(2048), {"config.json": b'{"a": 1}', "tokenizer.json": b"{}"}
    archive = Layer(mt.DOCKER_VLLM_CONFIG_TAR, tar_layer("", "", configs).data)
    layers = [Layer(mt.DOCKER_SAFETENSORS, weights), archive]
    config = {
        "config": {"format": "safetensors"},
        "rootfs": {"type": "rootfs", "diff_ids": [sha(weights), archive.diff_id]},
    }
    store_artifact(
        home,
        "st",
        "v1",
        layers=layers,
        config=json.dumps(config).encode(),
        config_type=mt.DOCKER_MODEL_CONFIGS[0],
    )
    kitfile = api.info("st:v1", home=home)
    assert kitfile.model is not None and kitfile.model.path == "model.safetensors"
    assert [p.path for p in kitfile.model.parts] == ["."]
    out = tmp_path / "out"
    api.unpack("st:v1", target_dir=out, home=home)
    assert tree_files(out) == {"model.safetensors": weights, **configs}


# ---------------------------------------------------------------------------------------------
# compressed layers and DiffIDs


def compressed_layers() -> tuple[list[Layer], dict[str, bytes]]:
    code = {"src/train.py": b"print('train')\n", "src/util/io.py": b"X = 1\n"}
    data = {"data/train.csv": b"a,b\n" + b"1,2\n" * 5000}
    weights = os.urandom(10000)
    layers = [
        raw_file(f"{CNCF}weight.v1.raw", "model.bin", weights),
        tar_layer(f"{CNCF}code.v1.tar+zstd", "src", code, "zstd"),
        tar_layer(f"{CNCF}dataset.v1.tar+gzip", "data/train.csv", data, "gzip"),
    ]
    return layers, {"model.bin": weights, **code, **data}


@pytest.mark.registry
def test_zstd_and_gzip_layers_through_the_registry(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    src_home, home = tmp_path / "src", tmp_path / "home"
    layers, files = compressed_layers()
    assert layers[1].diff_id != sha(layers[1].data)  # the config lists the uncompressed digest
    store_artifact(
        src_home,
        "packed",
        "v1",
        layers=layers,
        config=modelpack_config(layers, descriptor={"name": "packed"}),
        config_type=mt.MODELPACK_CONFIG,
        artifact_type=mt.MODELPACK_MANIFEST_ARTIFACT,
    )
    remote = f"{plain_registry.host}/{repo_name}"
    assert kit(src_home, "push", "packed:v1", f"{remote}:v1").exit_code == 0
    out = tmp_path / "out"
    unpacked = kit(home, "unpack", f"{remote}:v1", "-d", str(out))
    assert unpacked.exit_code == 0, unpacked.output
    assert tree_files(out) == files
    code_only = tmp_path / "code"
    assert kit(home, "unpack", f"{remote}:v1", "--filter", "code", "-d", str(code_only)).exit_code == 0
    assert tree_files(code_only) == {k: v for k, v in files.items() if k.startswith("src/")}


@pytest.mark.parametrize("wrong", [1, 0], ids=["zstd-tar", "raw"])
def test_a_wrong_diffid_fails_the_unpack_and_writes_nothing_of_the_layer(tmp_path: Path, wrong: int) -> None:
    home = tmp_path / "home"
    layers, _files = compressed_layers()
    ids = [layer.diff_id for layer in layers]
    ids[wrong] = sha(b"something else")
    store_artifact(
        home,
        "bad",
        "v1",
        layers=layers,
        config=modelpack_config(layers, diff_ids=ids),
        config_type=mt.MODELPACK_CONFIG,
        artifact_type=mt.MODELPACK_MANIFEST_ARTIFACT,
    )
    out = tmp_path / "out"
    message = f"layer {sha(layers[wrong].data)}: uncompressed content does not match diffId {ids[wrong]}"
    with pytest.raises(IntegrityError, match=re.escape(message)):
        api.unpack("bad:v1", target_dir=out, home=home)
    written = tree_files(out)
    assert not any(k.startswith("src/") for k in written) if wrong == 1 else "model.bin" not in written
    assert partials(out) == []


# ---------------------------------------------------------------------------------------------
# hostile artifacts


def store_raw_modelpack(home: Path, name: str, layers: list[Layer]) -> None:
    store_artifact(
        home,
        name,
        "v1",
        layers=layers,
        config=modelpack_config(layers),
        config_type=mt.MODELPACK_CONFIG,
        artifact_type=mt.MODELPACK_MANIFEST_ARTIFACT,
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../x", "'..' would lead outside the output directory"),
        ("/etc/x", "absolute paths are not allowed"),
        ("a//b", "empty path segment"),
        ("a/../../x", "'..' would lead outside the output directory"),
    ],
)
def test_hostile_file_paths_are_refused(tmp_path: Path, path: str, message: str) -> None:
    home, out = tmp_path / "home", tmp_path / "deep" / "out"
    store_raw_modelpack(home, "evil", [raw_file(f"{CNCF}weight.v1.raw", path, b"pwned")])
    with pytest.raises(IntegrityError, match=re.escape(f"invalid file path {path!r}: {message}")):
        api.unpack("evil:v1", target_dir=out, home=home)
    assert not out.exists()
    assert not (tmp_path / "deep" / "x").exists() and not (tmp_path / "x").exists()


def test_two_layers_for_one_path_are_refused(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    layers = [
        raw_file(f"{CNCF}weight.v1.raw", "w.bin", b"one"),
        raw_file(f"{CNCF}doc.v1.raw", "./w.bin", b"two"),
    ]
    store_raw_modelpack(home, "twice", layers)
    with pytest.raises(
        IntegrityError,
        match=re.escape(f"layers {sha(b'one')} and {sha(b'two')} both have the file path w.bin"),
    ):
        api.unpack("twice:v1", target_dir=out, home=home)
    nested = [
        raw_file(f"{CNCF}weight.v1.raw", "w", b"file"),
        raw_file(f"{CNCF}doc.v1.raw", "w/README.md", b"doc"),
    ]
    store_raw_modelpack(home, "nested", nested)
    with pytest.raises(IntegrityError, match=r"is the file w, but layer .* puts w/README\.md inside it"):
        api.unpack("nested:v1", target_dir=out, home=home)
    assert not out.exists()


def test_a_raw_layer_whose_size_differs_from_its_metadata_is_refused(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    store_raw_modelpack(home, "size", [raw_file(f"{CNCF}weight.v1.raw", "w.bin", b"12345", metadata_size=4)])
    with pytest.raises(IntegrityError, match="its file metadata says 4 bytes, the layer has 5"):
        api.unpack("size:v1", target_dir=out, home=home)
    assert tree_files(out) == {}


def test_raw_layers_never_write_through_symlinks(tmp_path: Path) -> None:
    home, out, elsewhere = tmp_path / "home", tmp_path / "out", tmp_path / "elsewhere"
    store_raw_modelpack(home, "link", [raw_file(f"{CNCF}weight.v1.raw", "weights/w.bin", b"data")])
    elsewhere.mkdir()
    out.mkdir()
    (out / "weights").symlink_to(elsewhere)
    with pytest.raises(IntegrityError, match="symlink"):
        api.unpack("link:v1", target_dir=out, home=home)
    assert list(elsewhere.iterdir()) == []


def test_raw_layers_follow_overwrite_and_ignore_existing(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    store_raw_modelpack(home, "raw", [raw_file(f"{CNCF}weight.v1.raw", "w.bin", b"new", 0o600)])
    out.mkdir()
    (out / "w.bin").write_bytes(b"old")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        api.unpack("raw:v1", target_dir=out, home=home)
    assert api.unpack("raw:v1", target_dir=out, home=home, ignore_existing=True).skipped == 1
    assert (out / "w.bin").read_bytes() == b"old"
    api.unpack("raw:v1", target_dir=out, home=home, overwrite=True)
    assert (out / "w.bin").read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(out / "w.bin").st_mode) == 0o600


# ---------------------------------------------------------------------------------------------
# ModelPacks with a Kitfile: one raw layer per file of a directory entry


def store_native(home: Path, weight_path: str = "weights/b.safetensors") -> tuple[Kitfile, dict[str, bytes]]:
    """What kit writes in ModelPack-native mode: a Kitfile naming the weights directory (no layer
    digest for it) and one raw layer per file under it, each with its own path."""
    files = {
        "weights/a.safetensors": os.urandom(2000),
        weight_path: os.urandom(2000),
        "weights/config.json": b"{}",
        "README.md": b"# native\n",
    }
    readme = raw_file(f"{CNCF}doc.v1.raw", "README.md", files["README.md"])
    kinds = {"weights/config.json": "weight.config"}
    layers = [
        raw_file(f"{CNCF}{kinds.get(p, 'weight')}.v1.raw", p, files[p]) for p in files if p != "README.md"
    ] + [readme]
    digest = sha(files["README.md"])
    kitfile = Kitfile(
        manifest_version="1.0.0",
        package=Package(name="native", authors=["Kit Writer"]),
        model=Model(name="native-model", path="weights"),
        docs=[DocsEntry(path="README.md", layer=LayerInfo(digest, digest))],
    )
    store_artifact(
        home,
        "native",
        "v1",
        layers=layers,
        config=modelpack_config(layers, descriptor={"name": "native"}),
        config_type=mt.MODELPACK_CONFIG,
        artifact_type=mt.MODELPACK_MANIFEST_ARTIFACT,
        annotations={mt.ANNOTATION_KITFILE: kitfile.to_config_bytes().decode()},
    )
    return kitfile, files


def test_native_layers_bind_to_the_directory_entry_by_path(tmp_path: Path) -> None:
    home = tmp_path / "home"
    kitfile, files = store_native(home)
    assert api.info("native:v1", home=home).to_yaml() == kitfile.to_yaml()
    assert "kitfile" in json.loads(kit(home, "inspect", "native:v1").stdout)
    out = tmp_path / "all"
    api.unpack("native:v1", target_dir=out, home=home)
    assert tree_files(out) == {**files, "Kitfile": kitfile.to_yaml().encode()}
    model = tmp_path / "model"
    result = api.unpack("native:v1", target_dir=model, filters=["model"], home=home)
    assert {b.filepath for b in result.layers} == {p for p in files if p.startswith("weights/")}
    assert tree_files(model) == {p: d for p, d in files.items() if p.startswith("weights/")}
    one = tmp_path / "one"
    api.unpack("native:v1", target_dir=one, filters=["model:weights/a.safetensors"], home=home)
    assert tree_files(one) == {"weights/a.safetensors": files["weights/a.safetensors"]}
    by_name = tmp_path / "by-name"
    api.unpack("native:v1", target_dir=by_name, filters=["model:native-model"], home=home)
    assert set(tree_files(by_name)) == {p for p in files if p.startswith("weights/")}


def test_native_layer_paths_are_checked_too(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    store_native(home, weight_path="weights/../../escape.bin")
    with pytest.raises(IntegrityError, match=re.escape("'..' would lead outside the output directory")):
        api.unpack("native:v1", target_dir=out, home=home)
    assert not (tmp_path / "escape.bin").exists()


def test_a_layer_of_unknown_type_is_refused_by_name_unless_filtered_out(tmp_path: Path) -> None:
    home = tmp_path / "home"
    mystery = Layer("application/vnd.example.mystery.v1", b"?", {mt.ANNOTATION_FILEPATH: "mystery.bin"})
    layers = [raw_file(f"{CNCF}weight.v1.raw", "w.bin", b"weights"), mystery]
    store_raw_modelpack(home, "mystery", layers)
    assert api.info("mystery:v1", home=home).model.path == "w.bin"  # type: ignore[union-attr]
    with pytest.raises(
        FormatError,
        match=re.escape("has media type application/vnd.example.mystery.v1, which kit cannot unpack"),
    ):
        api.unpack("mystery:v1", target_dir=tmp_path / "all", home=home)
    out = tmp_path / "model"
    api.unpack("mystery:v1", target_dir=out, filters=["model"], home=home)
    assert tree_files(out) == {"w.bin": b"weights"}


# ---------------------------------------------------------------------------------------------
# Kit format with a raw layer


@pytest.mark.registry
def test_kit_modelkit_with_a_raw_layer(plain_registry: Registry, repo_name: str, tmp_path: Path) -> None:
    home, other = tmp_path / "home", tmp_path / "other"
    weights = os.urandom(6000)
    raw = raw_file(mt.layer_media_type("model", "none", "raw"), "weights/model.bin", weights, 0o600)
    docs = tar_layer(mt.layer_media_type("docs"), "README.md", {"README.md": b"# kit\n"})
    kitfile = Kitfile(
        manifest_version="1.0.0",
        package=Package(name="rawkit"),
        model=Model(path="weights/model.bin", layer=LayerInfo(sha(weights), sha(weights))),
        docs=[DocsEntry(path="README.md", layer=LayerInfo(sha(docs.data), sha(docs.data)))],
    )
    store_artifact(
        home,
        "rawkit",
        "v1",
        layers=[raw, docs],
        config=kitfile.to_config_bytes(),
        config_type=mt.KIT_CONFIG,
        artifact_type=mt.KIT_MANIFEST_ARTIFACT,
    )
    expected = {"weights/model.bin": weights, "README.md": b"# kit\n", "Kitfile": kitfile.to_yaml().encode()}
    out = tmp_path / "out"
    api.unpack("rawkit:v1", target_dir=out, home=home)
    assert tree_files(out) == expected
    assert stat.S_IMODE(os.stat(out / "weights/model.bin").st_mode) == 0o600
    remote = f"{plain_registry.host}/{repo_name}"
    assert kit(home, "push", "rawkit:v1", f"{remote}:v1").exit_code == 0
    far = tmp_path / "far"
    assert kit(other, "unpack", f"{remote}:v1", "-d", str(far)).exit_code == 0
    assert tree_files(far) == expected


def store_compressed_raw_kit(
    home: Path, content: bytes, compression: str, *, diff_id: str = "", size: int | None = None
) -> None:
    """A Kit ModelKit whose model is one file in a compressed raw layer, as the Go kit writes it."""
    blob = (
        gzip.compress(content, mtime=0)
        if compression == "gzip"
        else zstandard.ZstdCompressor().compress(content)
    )
    notes = {
        mt.ANNOTATION_FILEPATH: "m.bin",
        mt.ANNOTATION_FILE_METADATA: file_metadata("m.bin", 0o640, len(content) if size is None else size),
    }
    layer = Layer(mt.layer_media_type("model", compression, "raw"), blob, notes, uncompressed=content)
    kitfile = Kitfile(
        manifest_version="1.0.0",
        model=Model(path="m.bin", layer=LayerInfo(sha(blob), diff_id or layer.diff_id)),
    )
    store_artifact(
        home, "zraw", "v1", layers=[layer], config=kitfile.to_config_bytes(), config_type=mt.KIT_CONFIG
    )


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_kit_compressed_raw_layer(tmp_path: Path, compression: str) -> None:
    content = os.urandom(3000) + b"a" * 50000
    home = tmp_path / "home"
    store_compressed_raw_kit(home, content, compression)
    out = tmp_path / "out"
    api.unpack("zraw:v1", target_dir=out, filters=["model"], home=home)
    assert tree_files(out) == {"m.bin": content}
    assert stat.S_IMODE(os.stat(out / "m.bin").st_mode) == 0o640
    for name, kwargs, message in [
        ("diff", {"diff_id": sha(b"other")}, "uncompressed content does not match diffId"),
        ("size", {"size": len(content) + 1}, f"says {len(content) + 1} bytes, the file has {len(content)}"),
    ]:
        bad_home, bad_out = tmp_path / f"home-{name}", tmp_path / f"out-{name}"
        store_compressed_raw_kit(bad_home, content, compression, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(IntegrityError, match=message):
            api.unpack("zraw:v1", target_dir=bad_out, filters=["model"], home=bad_home)
        assert tree_files(bad_out) == {} and partials(bad_out) == []


# ---------------------------------------------------------------------------------------------
# format detection, media types, diff


@pytest.mark.parametrize(
    ("artifact_type", "config_type", "fmt"),
    [
        (mt.KIT_MANIFEST_ARTIFACT, "application/vnd.oci.empty.v1+json", "kit"),
        (None, mt.KIT_CONFIG, "kit"),
        (mt.MODELPACK_MANIFEST_ARTIFACT, "application/octet-stream", "modelpack"),
        (None, mt.MODELPACK_CONFIG, "modelpack"),
        (mt.LEGACY_MODELPACK_MANIFEST_ARTIFACT, "application/octet-stream", "modelpack"),
        (None, mt.LEGACY_MODELPACK_CONFIG, "modelpack"),
        (None, mt.DOCKER_MODEL_CONFIGS[0], "docker-model"),
        (None, mt.DOCKER_MODEL_CONFIGS[1], "docker-model"),
        (None, "application/vnd.oci.image.config.v1+json", None),
    ],
)
def test_manifest_format(artifact_type: str | None, config_type: str, fmt: str | None) -> None:
    config = Descriptor(config_type, sha(b"{}"), 2)
    assert Manifest(config, (), artifact_type=artifact_type).format == fmt


@pytest.mark.parametrize(
    ("media_type", "filepath", "expected"),
    [
        ("application/vnd.kitops.modelkit.model.v1.raw", "", ("model", "weight", "raw", "none", "kit")),
        ("application/vnd.kitops.modelkit.docs.v1.tar+zstd", "", ("docs", "doc", "tar", "zstd", "kit")),
        (f"{CNCF}weight.config.v1.tar+gzip", "", ("modelpart", "weight.config", "tar", "gzip", "modelpack")),
        (f"{CNAI}dataset.v1.raw", "", ("dataset", "dataset", "raw", "none", "modelpack")),
        (f"{CNCF}weight.v1.gguf", "", ("model", "weight", "raw", "none", "modelpack")),
        (f"{CNCF}weight.v1.safetensors", "", ("model", "weight", "raw", "none", "modelpack")),
        (mt.DOCKER_MMPROJ, "", ("model", "weight", "raw", "none", "docker")),
        (mt.DOCKER_CHAT_TEMPLATE, "", ("modelpart", "weight.config", "raw", "none", "docker")),
        (mt.DOCKER_DIR_TAR, "", ("modelpart", "weight.config", "tar", "none", "docker")),
        (mt.DOCKER_MODEL_FILE, "docs/GUIDE.MD", ("docs", "doc", "raw", "none", "docker")),
        (
            mt.DOCKER_MODEL_FILE,
            "generation_config.json",
            ("modelpart", "weight.config", "raw", "none", "docker"),
        ),
        (mt.DOCKER_LICENSE, "", ("docs", "doc", "raw", "none", "docker")),
        (f"{CNCF}doc.v1.gguf", "", None),
        (f"{CNCF}model.v1.tar", "", None),
        ("application/vnd.oci.image.layer.v1.tar", "", None),
    ],
)
def test_parse_layer_type(media_type: str, filepath: str, expected: tuple[str, ...] | None) -> None:
    parsed = mt.parse_layer_type(media_type, filepath)
    got = (
        None
        if parsed is None
        else (parsed.kind, parsed.modelpack_kind, parsed.layer_format, parsed.compression, parsed.family)
    )
    assert got == expected


@pytest.mark.parametrize("media_type", [f"{CNCF}weight.v1.raw+gzip", f"{CNAI}doc.v1.raw+zstd"])
def test_compressed_modelpack_raw_types_are_refused(media_type: str) -> None:
    with pytest.raises(FormatError, match="ModelPack raw layers cannot be compressed"):
        mt.parse_layer_type(media_type)
    kit_type = mt.parse_layer_type("application/vnd.kitops.modelkit.model.v1.raw+gzip")  # allowed there
    assert kit_type is not None and (kit_type.layer_format, kit_type.compression) == ("raw", "gzip")


def test_diff_names_every_format_and_compares_kitfiles_across_formats(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = modctl_files(os.urandom(1000))
    store_modctl(home, files)
    store_modctl(home, files, legacy=True, tag="legacy", name="tiny-old")  # the legacy names
    result = api.diff("tiny:v1", "tiny:legacy", home=home)
    assert result.kitfile is not None
    changes = {(c.kind, c.key) for c in result.kitfile}
    assert ("changed", "package.name") in changes
    assert not any(c.key.startswith("model.parts") for c in result.kitfile)  # same layers, same digests
    assert {layer_type(d.media_type) for d in result.b.manifest.layers} == {"weight", "weight.config", "doc"}
    assert layer_type(mt.DOCKER_GGUF) == "weight" and layer_type(mt.DOCKER_MODEL_CONFIGS[0]) == "config"
    assert layer_type(mt.LEGACY_MODELPACK_CONFIG) == "config"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Kitfile").write_text(
        "manifestVersion: 1.0.0\npackage:\n  name: tiny-llm\nmodel:\n  path: m.bin\n"
    )
    (ctx / "m.bin").write_bytes(b"m")
    api.pack(ctx, tag="kitform:v1", home=home)
    across = api.diff("kitform:v1", "tiny:v1", home=home)
    assert across.kitfile is not None
    assert ("changed", "model.path") in {(c.kind, c.key) for c in across.kitfile}
