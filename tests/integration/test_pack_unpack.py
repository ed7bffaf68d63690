"""pack -> store -> unpack round trips, layer contents, determinism and byte compatibility."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import AlreadyExistsError, IntegrityError, KitfileError
from kitops.oci import mediatypes as mt
from kitops.store.layout import LocalStore
from tests.helpers import layer_names, tree_files, write_tree

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
EXAMPLE = ROOT / "examples" / "iris"


def store_of(home: Path) -> LocalStore:
    return LocalStore(home / "storage")


def test_example_round_trip_is_byte_identical(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = api.pack(EXAMPLE, tag="iris:v1", home=home)
    assert result.tags == ("v1",)
    out = tmp_path / "out"
    api.unpack("iris:v1", target_dir=out, home=home)
    original = {k: v for k, v in tree_files(EXAMPLE).items() if k != "Kitfile"}
    unpacked = tree_files(out)
    assert {k: v for k, v in unpacked.items() if k != "Kitfile"} == original
    assert (
        api.load_kitfile(out / "Kitfile").to_config_dict()
        == api.load_kitfile(EXAMPLE / "Kitfile").to_config_dict()
    )
    # modes survive
    for rel in original:
        assert os.stat(out / rel).st_mode & 0o777 == os.stat(EXAMPLE / rel).st_mode & 0o777


def test_manifest_shape_newer_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    result = api.pack(EXAMPLE, tag="iris:v1", home=tmp_path)
    m = result.manifest
    assert m.media_type == mt.OCI_MANIFEST and m.artifact_type == mt.KIT_MANIFEST_ARTIFACT
    assert m.annotations is not None and m.annotations[mt.ANNOTATION_CREATED] == "2023-11-14T22:13:20Z"
    assert [mt.parse_layer_media_type(d.media_type)[0] for d in m.layers] == [
        "model",
        "code",
        "dataset",
        "docs",
    ]  # type: ignore[index]
    assert [d.annotations[mt.ANNOTATION_FILEPATH] for d in m.layers] == [  # type: ignore[index]
        "model/iris-classifier.joblib",
        "src",
        "data/iris.csv",
        "README.md",
    ]
    config = json.loads(store_of(tmp_path).blob_path(m.config.digest).read_bytes())
    assert config["model"]["digest"] == m.layers[0].digest == config["model"]["diffId"]
    assert list(config)[:3] == ["manifestVersion", "package", "model"]


def test_v17_byte_compatibility_case(tmp_path: Path) -> None:
    """Byte compatibility with kit v1.7: layer = Go archive/tar bytes; config and manifest bytes in the reference's exact shape."""
    ctx = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": "manifestVersion: 1.0.0\npackage: {name: demo}\nmodel: {name: m, path: model.bin}\n",
            "model.bin": "hello\n",
        },
    )
    os.chmod(ctx / "model.bin", 0o644)
    result = api.pack(ctx, home=tmp_path / "home", legacy_manifest=True)
    store = store_of(tmp_path / "home")
    golden_layer = (GOLDEN / "model-bin.tar").read_bytes()
    layer_digest = "sha256:" + hashlib.sha256(golden_layer).hexdigest()
    assert result.manifest.layers[0].digest == layer_digest
    assert store.blob_path(layer_digest).read_bytes() == golden_layer
    config = (
        '{"manifestVersion":"1.0.0","package":{"name":"demo"},"model":{"name":"m","path":"model.bin",'
        f'"digest":"{layer_digest}","diffId":"{layer_digest}"}}}}'
    ).encode()
    assert store.blob_path(result.manifest.config.digest).read_bytes() == config
    manifest = (
        '{"schemaVersion":2,"config":{"mediaType":"application/vnd.kitops.modelkit.config.v1+json",'
        f'"digest":"sha256:{hashlib.sha256(config).hexdigest()}","size":{len(config)}}},'
        '"layers":[{"mediaType":"application/vnd.kitops.modelkit.model.v1.tar",'
        f'"digest":"{layer_digest}","size":{len(golden_layer)}}}],'
        '"annotations":{"ml.kitops.modelkit.cli-version":"1.7.0"}}'
    ).encode()
    assert store.blob_path(result.descriptor.digest).read_bytes() == manifest
    assert result.descriptor.digest == "sha256:" + hashlib.sha256(manifest).hexdigest()


def test_repack_with_other_mtimes_gives_same_digests(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    shutil.copytree(EXAMPLE, proj)
    first = api.pack(proj, tag="iris:v1", home=tmp_path / "h")
    for dirpath, _d, files in os.walk(proj):
        for f in files:
            os.utime(Path(dirpath) / f, (1_000_000, 1_000_000))
    second = api.pack(proj, tag="iris:v2", home=tmp_path / "h")
    assert second.descriptor.digest == first.descriptor.digest
    assert len(store_of(tmp_path / "h").repository("localhost/iris").manifests()) == 1


def test_reproducible_across_stores_with_source_date_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = api.pack(EXAMPLE, tag="iris:v1", home=tmp_path / "a")
    b = api.pack(EXAMPLE, tag="iris:v1", home=tmp_path / "b")
    assert a.descriptor.digest == b.descriptor.digest


def test_worked_case_nested_layers(tmp_path: Path) -> None:
    """The reference's worked case of nested layers: model main-dir, dataset main-dir/subdir, code '.'."""
    ctx = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": "manifestVersion: 1.0.0\nmodel: {path: main-dir}\ndatasets: [{name: d, path: main-dir/subdir}]\ncode: [{path: .}]\n",
            "main-dir/file-main1.txt": "m1",
            "main-dir/subdir/data.txt": "d",
            "other-dir/o.txt": "o",
            "root.txt": "r",
            "main-dir2/keep.txt": "sibling with a shared prefix",
        },
    )
    res = api.pack(ctx, home=tmp_path / "h")
    store = store_of(tmp_path / "h")
    model, code, dataset = (layer_names(store, d.digest) for d in res.manifest.layers)
    assert model == ["main-dir", "main-dir/file-main1.txt"]
    assert dataset == ["main-dir", "main-dir/subdir", "main-dir/subdir/data.txt"]
    # the reference drops main-dir2/ (it tests containment by string prefix); we keep it
    assert code == ["main-dir2", "main-dir2/keep.txt", "other-dir", "other-dir/o.txt", "root.txt"]


def test_parts_excluded_from_model_and_paths_normalised(tmp_path: Path) -> None:
    ctx = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": (
                "manifestVersion: 1.0.0\nmodel:\n  path: ./model/\n  parts:\n    - {name: p1, path: ./model/part1}\n"
                "    - {name: p2, path: model/part2, type: lora-adapter}\n    - {name: p3, path: ./part3}\n"
            ),
            "model/weights.bin": "w",
            "model/part1": "1",
            "model/part2": "2",
            "part3": "3",
        },
    )
    res = api.pack(ctx, home=tmp_path / "h")
    store = store_of(tmp_path / "h")
    names = [layer_names(store, d.digest) for d in res.manifest.layers]
    assert names == [
        ["model", "model/weights.bin"],
        ["model", "model/part1"],
        ["model", "model/part2"],
        ["part3"],
    ]


def test_kitignore_reinclude_unpacks_with_parent_dirs(tmp_path: Path) -> None:
    ctx = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": "manifestVersion: 1.0.0\ncode: [{path: .}]\n",
            ".kitignore": "dir\n!dir/keep.txt\n*.log\n",
            "dir/drop.txt": "x",
            "dir/keep.txt": "kept",
            "a.log": "log",
            "sub/Kitfile": "nested Kitfiles are packed",
        },
    )
    res = api.pack(ctx, tag="ign:v1", home=tmp_path / "h")
    names = layer_names(store_of(tmp_path / "h"), res.manifest.layers[0].digest)
    assert names == ["dir", "dir/keep.txt", "sub", "sub/Kitfile"]
    api.unpack("ign:v1", target_dir=tmp_path / "out", home=tmp_path / "h")
    assert (tmp_path / "out" / "dir" / "keep.txt").read_text() == "kept"


def test_symlinks_are_followed_and_loops_detected(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    outside = write_tree(tmp_path / "outside", {"shared.bin": "shared weights"})
    ctx = write_tree(
        tmp_path / "ctx", {"Kitfile": "manifestVersion: 1.0.0\ncode: [{path: src}]\n", "src/real.py": "x=1"}
    )
    (ctx / "src" / "link.py").symlink_to("real.py")
    (ctx / "src" / "weights.bin").symlink_to(outside / "shared.bin")
    (ctx / "src" / "loop").symlink_to(".")
    res = api.pack(ctx, tag="sym:v1", home=tmp_path / "h")
    names = layer_names(store_of(tmp_path / "h"), res.manifest.layers[0].digest)
    assert names == ["src", "src/link.py", "src/real.py", "src/weights.bin"]
    assert "points outside the context" in caplog.text
    assert "symlink loop" in caplog.text
    api.unpack("sym:v1", target_dir=tmp_path / "out", home=tmp_path / "h")
    assert (tmp_path / "out" / "src" / "weights.bin").read_text() == "shared weights"
    assert not (tmp_path / "out" / "src" / "weights.bin").is_symlink()


@pytest.mark.parametrize("compression", ["gzip", "gzip-fastest", "zstd"])
def test_compressed_round_trip(tmp_path: Path, compression: str) -> None:
    res = api.pack(EXAMPLE, tag="iris:c", compression=compression, home=tmp_path / "h")
    suffix = "+zstd" if compression == "zstd" else "+gzip"
    assert all(d.media_type.endswith(suffix) for d in res.manifest.layers)
    kf = res.kitfile
    assert kf.model is not None and kf.model.layer is not None
    assert kf.model.layer.digest != kf.model.layer.diff_id
    api.unpack("iris:c", target_dir=tmp_path / "out", home=tmp_path / "h")
    assert (tmp_path / "out" / "data" / "iris.csv").read_bytes() == (
        EXAMPLE / "data" / "iris.csv"
    ).read_bytes()


def test_validation_reports_every_problem_before_writing(tmp_path: Path) -> None:
    ctx = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": (
                "manifestVersion: 1.0.0\nmodel:\n  path: /abs/model.bin\n  parts: [{name: p, path: x, type: 'bad type!'}]\n"
                "datasets:\n  - {name: a, path: ./data}\n  - {name: b, path: data}\ncode: [{path: ../escape}]\n"
                "docs: [{path: missing.md}]\n"
            ),
            "x": "part",
            "data/f.csv": "1",
        },
    )
    with pytest.raises(KitfileError) as err:
        api.pack(ctx, home=tmp_path / "h")
    text = str(err.value)
    assert "absolute paths are not supported in a Kitfile (path /abs/model.bin in model)" in text
    assert "dataset a and dataset b use the same path data" in text
    assert "path ../escape in code layer 0 is outside the context directory" in text
    assert "path missing.md in docs layer 0 does not exist" in text
    assert "modelpart p has invalid type" in text
    assert not (tmp_path / "h" / "storage" / "blobs").exists()


def test_unknown_key_is_an_error_with_suggestion_and_line(tmp_path: Path) -> None:
    ctx = write_tree(
        tmp_path / "ctx", {"Kitfile": "manifestVersion: 1.0.0\nmodle:\n  path: m.bin\n", "m.bin": "m"}
    )
    with pytest.raises(
        KitfileError, match=r"line 2: unknown field 'modle' in Kitfile \(did you mean 'model'\?\)"
    ):
        api.pack(ctx, home=tmp_path / "h")


def test_unpack_detects_tampered_blob_and_leaves_no_files(tmp_path: Path) -> None:
    res = api.pack(EXAMPLE, tag="iris:v1", home=tmp_path / "h")
    store = store_of(tmp_path / "h")
    dataset = res.manifest.layers[2]
    path = store.blob_path(dataset.digest)
    data = bytearray(path.read_bytes())
    data[600] ^= 1  # flip one bit of the CSV content
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(IntegrityError, match="does not match its digest"):
        api.unpack("iris:v1", target_dir=out, filters=["datasets"], home=tmp_path / "h")
    assert not (out / "data" / "iris.csv").exists()
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_unpack_filters_and_existing_files(tmp_path: Path) -> None:
    api.pack(EXAMPLE, tag="iris:v1", home=tmp_path / "h")
    out = tmp_path / "out"
    api.unpack("iris:v1", target_dir=out, filters=["model"], home=tmp_path / "h")
    assert sorted(tree_files(out)) == ["model/iris-classifier.joblib"]
    api.unpack("iris:v1", target_dir=out, filters=["datasets:iris", "docs:README.md"], home=tmp_path / "h")
    assert sorted(tree_files(out)) == ["README.md", "data/iris.csv", "model/iris-classifier.joblib"]
    with pytest.raises(AlreadyExistsError, match="already exists"):
        api.unpack("iris:v1", target_dir=out, home=tmp_path / "h")
    (out / "README.md").write_text("local edit")
    api.unpack("iris:v1", target_dir=out, ignore_existing=True, home=tmp_path / "h")
    assert (out / "README.md").read_text() == "local edit"
    api.unpack("iris:v1", target_dir=out, overwrite=True, home=tmp_path / "h")
    assert (out / "README.md").read_bytes() == (EXAMPLE / "README.md").read_bytes()


def test_model_reference_in_model_path(tmp_path: Path) -> None:
    home = tmp_path / "h"
    api.pack(EXAMPLE, tag="base:v1", home=home)
    child = write_tree(
        tmp_path / "child",
        {
            "Kitfile": "manifestVersion: 1.0.0\npackage: {name: tuned}\nmodel:\n  path: base:v1\n  parts: [{name: lora, path: lora.bin}]\n",
            "lora.bin": "adapter",
        },
    )
    res = api.pack(child, tag="tuned:v1", home=home)
    assert [mt.parse_layer_media_type(d.media_type)[0] for d in res.manifest.layers] == ["modelpart"]  # type: ignore[index]
    out = tmp_path / "out"
    api.unpack("tuned:v1", target_dir=out, home=home)
    assert (out / "lora.bin").read_text() == "adapter"
    assert (out / "model" / "iris-classifier.joblib").exists()  # parent's model came first
    assert not (out / "data").exists()  # only the parent's model layers


def test_model_reference_cycle_and_missing(tmp_path: Path) -> None:
    child = write_tree(
        tmp_path / "child", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: 'nothere:v1'}\n"}
    )
    with pytest.raises(KitfileError, match=r"pull it first|not found"):
        api.pack(child, tag="c:v1", home=tmp_path / "h")
