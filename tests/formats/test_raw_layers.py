"""Raw layers (``--layer-format raw``, both formats) and ModelPack-native packing (one raw layer
per weights file): blob bytes, file metadata, refusals, the kernel copy path, the pack cache,
and registry dedupe of unchanged shards between versions."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import UsageError
from kitops.kitfile.config import kitfile_from_config
from kitops.modelkit import rawlayer
from kitops.modelkit.compression import open_decompressed
from kitops.oci import mediatypes as mt
from kitops.store.ingest import BlobWriter
from kitops.store.layout import LocalStore
from tests.helpers import kit, tree_files, write_tree
from tests.realregistry import Registry

MTIME = 1_600_000_000  # 2020-09-13T12:26:40Z
SHARD = 8 << 20


def store_of(home: Path) -> LocalStore:
    return LocalStore(home / "storage")


def blob(home: Path, digest: str) -> bytes:
    return store_of(home).blob_path(digest).read_bytes()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def files_project(root: Path) -> Path:
    ctx = write_tree(
        root,
        {
            "Kitfile": "manifestVersion: 1.0.0\npackage: {name: raw}\nmodel: {path: model/weights.bin}\n"
            "docs: [{path: README.md}]\nprompts: [{path: system.txt}]\n",
            "model/weights.bin": os.urandom(3 << 20),
            "README.md": "# raw & <fun>\n",
            "system.txt": "be brief\n",
        },
    )
    os.chmod(ctx / "model/weights.bin", 0o640)
    os.chmod(ctx / "README.md", 0o755)
    os.chmod(ctx / "system.txt", 0o644)
    for rel in ("model/weights.bin", "README.md", "system.txt"):
        os.utime(ctx / rel, (MTIME, MTIME))
    return ctx


def metadata(name: str, mode: int, size: int, mtime: str) -> str:
    return f'{{"name":"{name}","mode":{mode},"uid":0,"gid":0,"size":{size},"mtime":"{mtime}","typeflag":0}}'


# ---------------------------------------------------------------------------------------------
# --layer-format raw


@pytest.mark.parametrize("model_format", ["kit", "modelpack"])
def test_raw_layer_is_the_file_with_exact_metadata(tmp_path: Path, model_format: str) -> None:
    ctx = files_project(tmp_path / "ctx")
    home = tmp_path / "home"
    result = api.pack(ctx, home=home, layer_format="raw", model_format=model_format)
    weights = (ctx / "model/weights.bin").read_bytes()
    layers = result.manifest.layers
    assert [blob(home, d.digest) for d in layers] == [weights, b"# raw & <fun>\n", b"be brief\n"]
    assert [d.size for d in layers] == [len(weights), 14, 9]
    if model_format == "kit":
        types = ["model.v1.raw", "docs.v1.raw", "code.v1.raw"]
        prefix = "application/vnd.kitops.modelkit."
    else:
        types = ["weight.v1.raw", "doc.v1.raw", "code.v1.raw"]
        prefix = "application/vnd.cncf.model."
    assert [d.media_type for d in layers] == [prefix + t for t in types]
    assert [dict(d.annotations or {}) for d in layers] == [
        {
            mt.ANNOTATION_FILEPATH: "model/weights.bin",
            mt.ANNOTATION_FILE_METADATA: metadata("weights.bin", 0o640, len(weights), "2020-09-13T12:26:40Z"),
        },
        {
            mt.ANNOTATION_FILEPATH: "README.md",
            mt.ANNOTATION_FILE_METADATA: metadata("README.md", 0o755, 14, "2020-09-13T12:26:40Z"),
        },
        {
            mt.ANNOTATION_FILEPATH: "system.txt",
            mt.ANNOTATION_FILE_METADATA: metadata("system.txt", 0o644, 9, "2020-09-13T12:26:40Z"),
            mt.ANNOTATION_LAYER_SUBTYPE: "prompt",
        },
    ]
    # uncompressed raw: the DiffID is the digest, in the Kitfile (and the ModelPack config)
    kitfile = result.kitfile
    assert kitfile.model is not None and kitfile.model.layer is not None
    assert kitfile.model.layer.digest == kitfile.model.layer.diff_id == sha(weights)
    if model_format == "modelpack":
        config = json.loads(blob(home, result.manifest.config.digest))
        assert config["modelfs"]["diffIds"] == [d.digest for d in layers]


def test_raw_metadata_time_follows_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    ctx = files_project(tmp_path / "ctx")
    result = api.pack(ctx, home=tmp_path / "home", layer_format="raw", model_format="modelpack")
    meta = json.loads((result.manifest.layers[1].annotations or {})[mt.ANNOTATION_FILE_METADATA])
    assert meta["mtime"] == "2023-11-14T22:13:20Z"
    os.utime(ctx / "README.md", (MTIME + 3600, MTIME + 3600))  # touching a file changes nothing
    again = api.pack(ctx, home=tmp_path / "home2", layer_format="raw", model_format="modelpack")
    assert again.descriptor == result.descriptor


@pytest.mark.parametrize("model_format", ["kit", "modelpack"])
def test_raw_refuses_a_directory(tmp_path: Path, model_format: str) -> None:
    ctx = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": "manifestVersion: 1.0.0\nmodel: {path: m.bin}\ncode: [{path: src}]\n",
            "m.bin": b"m",
            "src/a.py": "a",
        },
    )
    home = tmp_path / "home"
    with pytest.raises(UsageError, match=r"^file src is not a regular file$"):
        api.pack(ctx, home=home, layer_format="raw", model_format=model_format)
    assert not (home / "storage" / "blobs").exists()  # refused before any layer was written
    res = kit(home, "pack", str(ctx), "--layer-format", "raw")
    assert (
        res.exit_code == 2 and "error: Failed to pack model kit: file src is not a regular file" in res.stderr
    )


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_kit_raw_layers_may_be_compressed_as_the_go_kit_writes_them(tmp_path: Path, compression: str) -> None:
    """The Go kit's raw writer compresses Kit-format raw layers (``…raw+gzip``); ModelPack forbids it."""
    ctx = files_project(tmp_path / "ctx")
    home = tmp_path / "home"
    result = api.pack(ctx, home=home, layer_format="raw", compression=compression)
    desc = result.manifest.layers[0]
    weights = (ctx / "model/weights.bin").read_bytes()
    assert desc.media_type == f"application/vnd.kitops.modelkit.model.v1.raw+{compression}"
    with open(store_of(home).blob_path(desc.digest), "rb") as raw:
        assert open_decompressed(raw, compression).read() == weights
    assert result.kitfile.model is not None and result.kitfile.model.layer is not None
    assert result.kitfile.model.layer.diff_id == sha(weights) != desc.digest
    meta = json.loads((desc.annotations or {})[mt.ANNOTATION_FILE_METADATA])
    assert meta["size"] == len(weights)  # the file's size, not the blob's
    with pytest.raises(UsageError, match="compression for raw layers is not supported for ModelPack"):
        api.pack(ctx, home=home, layer_format="raw", compression=compression, model_format="modelpack")


def test_large_raw_file_moves_in_the_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[int] = []
    original = BlobWriter.receive_from

    def counting(self: BlobWriter, in_fd: int, count: int) -> int:
        n = original(self, in_fd, count)
        sent.append(n)
        return n

    monkeypatch.setattr(BlobWriter, "receive_from", counting)
    data = os.urandom(1 << 20) * 24
    ctx = write_tree(
        tmp_path / "ctx", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: big.bin}\n", "big.bin": data}
    )
    result = api.pack(ctx, home=tmp_path / "home", layer_format="raw")
    assert blob(tmp_path / "home", result.manifest.layers[0].digest) == data
    assert result.manifest.layers[0].digest == sha(data)
    if rawlayer.KERNEL_COPY:
        assert sum(sent) == len(data)


def test_pack_cache_serves_raw_layers_and_keeps_them_apart_from_tar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = files_project(tmp_path / "ctx")
    home = tmp_path / "home"
    tar = api.pack(ctx, home=home)  # the cache now knows the tar layers of these very files
    first = api.pack(ctx, home=home, layer_format="raw")
    assert blob(home, first.manifest.layers[0].digest) == (ctx / "model/weights.bin").read_bytes()
    assert first.manifest.layers[0].digest != tar.manifest.layers[0].digest
    copies: list[str] = []
    original = rawlayer._copy_file

    def counting(*args: object) -> None:
        copies.append(str(args[3]))
        original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rawlayer, "_copy_file", counting)
    again = api.pack(ctx, home=home, layer_format="raw")
    assert copies == []  # nothing read again
    assert again.descriptor == first.descriptor
    (ctx / "README.md").write_text("# changed\n")
    changed = api.pack(ctx, home=home, layer_format="raw")
    assert copies == ["README.md"]
    assert blob(home, changed.manifest.layers[1].digest) == b"# changed\n"


# ---------------------------------------------------------------------------------------------
# ModelPack-native: one raw layer per weights file


NATIVE_KITFILE = """\
manifestVersion: 1.0.0
package: {name: sharded}
model:
  name: sharded
  path: weights
  parts:
    - name: tok
      path: tokenizer
docs:
  - path: README.md
"""


def native_project(root: Path, shards: list[bytes]) -> Path:
    files: dict[str, str | bytes] = {
        "Kitfile": NATIVE_KITFILE,
        "README.md": "# sharded\n",
        "tokenizer/tokenizer.json": "{}",
        "tokenizer/special_tokens_map.json": "{}",
    }
    for i, data in enumerate(shards, 1):
        files[f"weights/model-{i:05d}-of-{len(shards):05d}.safetensors"] = data
    return write_tree(root, files)


def test_native_mode_gives_one_raw_layer_per_shard(tmp_path: Path) -> None:
    shards = [os.urandom(1000 + i) for i in range(3)]
    ctx = native_project(tmp_path / "ctx", shards)
    home = tmp_path / "home"
    result = api.pack(ctx, home=home, model_format="modelpack", layer_format="native")
    layers = result.manifest.layers
    shown = [
        (
            d.media_type.removeprefix("application/vnd.cncf.model."),
            (d.annotations or {})[mt.ANNOTATION_FILEPATH],
        )
        for d in layers
    ]
    assert shown == [
        ("weight.v1.raw", "weights/model-00001-of-00003.safetensors"),
        ("weight.v1.raw", "weights/model-00002-of-00003.safetensors"),
        ("weight.v1.raw", "weights/model-00003-of-00003.safetensors"),
        ("weight.config.v1.raw", "tokenizer/special_tokens_map.json"),
        ("weight.config.v1.raw", "tokenizer/tokenizer.json"),
        ("doc.v1.raw", "README.md"),
    ]
    assert [blob(home, d.digest) for d in layers[:3]] == shards
    assert all((d.annotations or {}).get(mt.ANNOTATION_MEDIATYPE_UNTESTED) == "true" for d in layers[:5])
    assert mt.ANNOTATION_MEDIATYPE_UNTESTED not in (layers[5].annotations or {})
    # the Kitfile round-trips: expanded entries carry no layer, the others keep theirs
    ann = (result.manifest.annotations or {})[mt.ANNOTATION_KITFILE]
    back = kitfile_from_config(ann.encode())
    assert back == result.kitfile
    assert back.model is not None and back.model.layer is None and back.model.parts[0].layer is None
    assert back.docs[0].layer is not None and back.docs[0].layer.digest == layers[5].digest
    assert '"path":"weights"}' in ann or '"path":"weights",' in ann
    config = json.loads(blob(home, result.manifest.config.digest))
    assert config["modelfs"]["diffIds"] == [d.digest for d in layers]


def test_native_layers_are_sorted_by_full_path_and_classified_per_file(tmp_path: Path) -> None:
    ctx = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": "manifestVersion: 1.0.0\nmodel: {path: m}\n",
            "m/a-b.bin": b"1",  # '-' sorts before '/', so this comes before m/a/...
            "m/a/b.bin": b"2",
            "m/LICENSE": "MIT",
            "m/chat_template.jinja": "{{ x }}",
            "m/opaque.data": b"3",  # unknown in the model directory: a weight
            "m/empty/": "",
            ".kitignore": "m/skip.bin\n",
            "m/skip.bin": b"ignored",
        },
    )
    result = api.pack(ctx, home=tmp_path / "home", model_format="modelpack", layer_format="native")
    got = [
        (
            (d.annotations or {})[mt.ANNOTATION_FILEPATH],
            d.media_type.removeprefix("application/vnd.cncf.model."),
        )
        for d in result.manifest.layers
    ]
    assert got == [
        ("m/LICENSE", "doc.v1.raw"),
        ("m/a-b.bin", "weight.v1.raw"),
        ("m/a/b.bin", "weight.v1.raw"),
        ("m/chat_template.jinja", "weight.config.v1.raw"),
        ("m/opaque.data", "weight.v1.raw"),
    ]


def _hex(digest: str) -> str:
    return digest.partition(":")[2]  # upload URLs carry the digest URL-encoded (sha256%3A...)


def _uploads(stderr: str) -> str:
    """The upload requests a ``kit -v`` run logged (the CLI's own handler: its logger does not
    propagate to pytest's capture)."""
    return "\n".join(
        line
        for line in stderr.splitlines()
        if "/blobs/uploads/" in line and ("PUT" in line or "PATCH" in line)
    )


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """v1 and v2 of a three-shard model: shards 1 and 2 shared, shard 3 retrained."""
    shared = [os.urandom(SHARD), os.urandom(SHARD)]
    base = tmp_path_factory.mktemp("native")
    v1 = native_project(base / "v1", [*shared, os.urandom(SHARD)])
    v2 = native_project(base / "v2", [*shared, os.urandom(SHARD)])
    return v1, v2


@pytest.mark.registry
def test_second_version_uploads_only_the_changed_shard(
    two_versions: tuple[Path, Path],
    plain_registry: Registry,
    repo_name: str,
    home: Path,
) -> None:
    v1, v2 = two_versions
    first = api.pack(v1, tag="sharded:v1", home=home, model_format="modelpack", layer_format="native")
    second = api.pack(v2, tag="sharded:v2", home=home, model_format="modelpack", layer_format="native")
    shards1 = [d.digest for d in first.manifest.layers[:3]]
    shards2 = [d.digest for d in second.manifest.layers[:3]]
    assert shards1[:2] == shards2[:2] and shards1[2] != shards2[2]
    repo = f"{plain_registry.host}/{repo_name}"
    res = kit(home, "push", "sharded:v1", f"{repo}:v1", "-v")
    assert res.exit_code == 0, res.output
    pushed = _uploads(res.stderr)
    assert all(_hex(d) in pushed for d in shards1)  # the first push uploads: the check below is not vacuous
    res = kit(home, "push", "sharded:v2", f"{repo}:v2", "-v")
    assert res.exit_code == 0, res.output
    uploads = _uploads(res.stderr)
    layer_uploads = {d.digest for d in second.manifest.layers if _hex(d.digest) in uploads}
    assert layer_uploads == {shards2[2]}  # the two shared 8 MiB shards stay where they are
    for digest in shards2:
        assert plain_registry.blob_path(digest).read_bytes() == blob(home, digest)


@pytest.mark.registry
def test_native_modelpack_unpacks_from_the_registry(
    two_versions: tuple[Path, Path], plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path
) -> None:
    """Needs the ModelPack reader: per-file raw layers bound to their Kitfile entry by path."""
    _v1, v2 = two_versions
    api.pack(v2, tag="sharded:v2", home=home, model_format="modelpack", layer_format="native")
    ref = f"{plain_registry.host}/{repo_name}:v2"
    assert kit(home, "push", "sharded:v2", ref).exit_code == 0
    other = tmp_path / "other-home"
    out = tmp_path / "out"
    res = kit(other, "unpack", ref, "-d", str(out))
    assert res.exit_code == 0, res.output
    expected = tree_files(v2)
    got = tree_files(out)
    assert {k: v for k, v in got.items() if k != "Kitfile"} == {
        k: v for k, v in expected.items() if k != "Kitfile"
    }
    assert api.load_kitfile(out / "Kitfile").to_config_dict(with_layers=False) == api.load_kitfile(
        v2 / "Kitfile"
    ).to_config_dict(with_layers=False)


@pytest.mark.parametrize(
    ("model_format", "compression"),
    [("kit", "none"), ("modelpack", "none"), ("kit", "gzip"), ("kit", "zstd")],
)
def test_raw_layers_unpack_to_the_same_files(tmp_path: Path, model_format: str, compression: str) -> None:
    """Needs the reader to take raw layers (and, for the Kit format, compressed raw layers)."""
    ctx = files_project(tmp_path / "ctx")
    home = tmp_path / "home"
    api.pack(
        ctx, tag="raw:v1", home=home, layer_format="raw", model_format=model_format, compression=compression
    )
    out = tmp_path / "out"
    res = kit(home, "unpack", "raw:v1", "-d", str(out))
    assert res.exit_code == 0, res.output
    assert {k: v for k, v in tree_files(out).items() if k != "Kitfile"} == {
        k: v for k, v in tree_files(ctx).items() if k != "Kitfile"
    }
    for rel in ("model/weights.bin", "README.md"):
        assert os.stat(out / rel).st_mode & 0o777 == os.stat(ctx / rel).st_mode & 0o777
