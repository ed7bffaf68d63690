"""Re-packing unchanged files reuses the layer without reading it; any change to a file (even one
that keeps its size and mtime) packs it again."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from kitops import api
from tests.helpers import write_tree

UNCHANGED = "not read again"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return write_tree(
        tmp_path / "p",
        {
            "Kitfile": "manifestVersion: 1.0.0\nmodel:\n  path: w.bin\ncode:\n  - path: src\n",
            "w.bin": b"weights-v1" * 100_000,
            "src/a.py": "print(1)\n",
        },
    )


def _reused(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if UNCHANGED in r.getMessage()]


def test_repack_of_unchanged_files_reuses_every_layer(
    project: Path, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = api.pack(project, tag="m:v1", home=home)
    caplog.set_level(logging.INFO, logger="kitops")
    second = api.pack(project, tag="m:v2", home=home)
    assert len(_reused(caplog)) == 2
    assert second.manifest.layers == first.manifest.layers
    assert second.kitfile.to_config_bytes() == first.kitfile.to_config_bytes()


def test_a_change_that_keeps_size_and_mtime_is_still_packed(
    project: Path, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = api.pack(project, tag="m:v1", home=home)
    weights = project / "w.bin"
    st = weights.stat()
    weights.write_bytes(b"weights-v2" * 100_000)  # same size
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime: only ctime tells
    caplog.set_level(logging.INFO, logger="kitops")
    second = api.pack(project, tag="m:v2", home=home)
    assert len(_reused(caplog)) == 1  # the code layer only
    assert second.manifest.layers[0].digest != first.manifest.layers[0].digest
    out = project.parent / "out"
    api.unpack("m:v2", target_dir=out, home=home, filters=["model"])
    assert (out / "w.bin").read_bytes() == b"weights-v2" * 100_000


def test_a_collected_blob_is_packed_again(
    project: Path, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api.pack(project, tag="m:v1", home=home)
    api.remove("m:v1", home=home)  # garbage-collects the layers the cache remembers
    caplog.set_level(logging.INFO, logger="kitops")
    again = api.pack(project, tag="m:v1", home=home)
    assert _reused(caplog) == []
    out = project.parent / "out"
    api.unpack("m:v1", target_dir=out, home=home)
    assert (out / "w.bin").read_bytes() == (project / "w.bin").read_bytes()
    assert again.manifest.layers


def test_a_corrupt_cache_file_is_ignored(project: Path, home: Path, caplog: pytest.LogCaptureFixture) -> None:
    api.pack(project, tag="m:v1", home=home)
    cache = home / "cache" / "pack-digests.json"
    assert cache.is_file()
    cache.write_text('{"layers": {"x": 1}, ' + "[" * 10_000)
    caplog.set_level(logging.INFO, logger="kitops")
    api.pack(project, tag="m:v2", home=home)
    assert _reused(caplog) == []
    caplog.clear()
    api.pack(project, tag="m:v3", home=home)  # the cache was rewritten whole
    assert len(_reused(caplog)) == 2


def test_compression_is_part_of_the_key(project: Path, home: Path, caplog: pytest.LogCaptureFixture) -> None:
    api.pack(project, tag="m:v1", home=home)
    caplog.set_level(logging.INFO, logger="kitops")
    zstd = api.pack(project, tag="m:z", home=home, compression="zstd")
    assert _reused(caplog) == []
    assert all(layer.media_type.endswith("+zstd") for layer in zstd.manifest.layers)
