"""The pieces of an image build that need no registry: command lines, environment merging, the
config update, platforms."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from kitops.errors import UsageError
from kitops.imagebuild.base import Platform
from kitops.imagebuild.config import RunSettings, check_workdir, image_config, merge_env, parse_command
from kitops.imagebuild.layers import ImageLayer, plan_layer
from kitops.modelkit.read import LayerBinding
from kitops.oci.digest import sha256_digest
from kitops.oci.models import Descriptor
from kitops.store.memory import MemoryStore

BASE = {
    "architecture": "amd64",
    "os": "linux",
    "config": {"Env": ["PATH=/bin", "LANG=C"], "Cmd": ["sh"], "Labels": {"a": "1"}},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64]},
    "history": [{"created_by": "base"}],
}
LAYER = ImageLayer(Descriptor("x", "sha256:" + "b" * 64, 1), "sha256:" + "c" * 64, "model", "model/m.bin")


def test_commands_are_json_arrays_or_shell_words() -> None:
    assert parse_command('["python", "serve.py", "--port", "8080"]', "--cmd") == (
        "python",
        "serve.py",
        "--port",
        "8080",
    )
    assert parse_command("python 'my server.py' --flag=\"a b\"", "--cmd") == (
        "python",
        "my server.py",
        "--flag=a b",
    )
    assert parse_command("echo $HOME; rm -rf /", "--cmd") == ("echo", "$HOME;", "rm", "-rf", "/")  # no shell
    with pytest.raises(UsageError, match="JSON array of strings"):
        parse_command("[1, 2]", "--entrypoint")
    with pytest.raises(UsageError, match="cannot be split"):
        parse_command("'unterminated", "--entrypoint")


def test_env_updates_replace_in_place_or_append() -> None:
    assert merge_env(["PATH=/bin", "LANG=C"], [("LANG", "C.UTF-8"), ("NEW", "x=y")]) == [
        "PATH=/bin",
        "LANG=C.UTF-8",
        "NEW=x=y",
    ]


def test_workdir_must_be_absolute_and_stay_put() -> None:
    assert check_workdir("/app//models/.") == "/app/models"
    assert check_workdir("/") == "/"
    for bad in ("app", "/app/../etc"):
        with pytest.raises(UsageError):
            check_workdir(bad)


def test_config_appends_layers_and_keeps_the_base() -> None:
    settings = RunSettings(
        workdir="/srv", entrypoint=("serve",), env=(("LANG", "C.UTF-8"),), labels=(("b", "2"),)
    )
    config = json.loads(
        image_config(BASE, [LAYER], settings, {"ml.kitops.modelkit.ref": "r"}, "2024-01-01T00:00:00Z")
    )
    assert config["rootfs"]["diff_ids"] == ["sha256:" + "a" * 64, "sha256:" + "c" * 64]
    assert config["history"][-1] == {
        "created": "2024-01-01T00:00:00Z",
        "created_by": "kit image build: model model/m.bin",
    }
    run = config["config"]
    assert run == {
        "Env": ["PATH=/bin", "LANG=C.UTF-8"],
        "Labels": {"a": "1", "ml.kitops.modelkit.ref": "r", "b": "2"},
        "WorkingDir": "/srv",
        "Entrypoint": ["serve"],
    }
    assert config["architecture"] == "amd64" and BASE["config"]["Cmd"] == ["sh"]  # type: ignore[index]
    kept = json.loads(image_config(BASE, [], RunSettings(cmd=("x",)), {}, "t"))
    assert kept["config"]["Cmd"] == ["x"] and "Entrypoint" not in kept["config"]


def test_platforms() -> None:
    assert str(Platform.parse("linux/arm64/v8")) == "linux/arm64/v8"
    assert Platform.parse("linux/arm64").matches(Platform("linux", "arm64", "v8"))
    assert not Platform.parse("linux/arm/v7").matches(Platform("linux", "arm", "v6"))
    with pytest.raises(UsageError, match="invalid platform"):
        Platform.parse("amd64")


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _stored(store: MemoryStore, data: bytes) -> Descriptor:
    desc = Descriptor("application/vnd.kitops.modelkit.model.v1.tar+gzip", sha256_digest(data), len(data))
    store.push(desc, io.BytesIO(data))
    return desc


def test_a_compressed_layer_without_a_recorded_diff_id_gets_one_computed(tmp_path: Path) -> None:
    store = MemoryStore()
    plain = _tar({"model/x.bin": b"w" * 5000})
    desc = _stored(store, gzip.compress(plain))
    binding = LayerBinding(desc, "model", "gzip", None, "model/x.bin", "", legacy_paths=False)
    layer = plan_layer(binding, store, workdir="/", docker=False, scratch=tmp_path)
    assert layer.source == desc and layer.descriptor.digest == desc.digest  # the blob as it is
    assert layer.diff_id == sha256_digest(plain)
    assert layer.descriptor.media_type == "application/vnd.oci.image.layer.v1.tar+gzip"
    recorded = dataclasses.replace(binding, diff_ids=("sha256:" + "d" * 64,))
    assert (
        plan_layer(recorded, store, workdir="/", docker=True, scratch=tmp_path).diff_id
        == "sha256:" + "d" * 64
    )


def test_a_legacy_layer_is_placed_under_its_entry_directory(tmp_path: Path) -> None:
    """Layers written before configs held digests hold paths relative to the entry's directory."""
    store = MemoryStore()
    desc = _stored(store, gzip.compress(_tar({"x.bin": b"legacy"})))
    binding = LayerBinding(desc, "model", "gzip", None, "models/x.bin", "", legacy_paths=True)
    layer = plan_layer(binding, store, workdir="/", docker=False, scratch=tmp_path)
    assert layer.file is not None and layer.source is None
    data = layer.file.read_bytes()
    assert layer.descriptor.digest == sha256_digest(data) == layer.diff_id
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["models", "models/x.bin"]
        member = tar.extractfile("models/x.bin")
        assert member is not None and member.read() == b"legacy"
