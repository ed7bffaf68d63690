"""Layer codecs: incompressible data must not grow, output must round-trip and be deterministic."""

from __future__ import annotations

import io
import os
import random

import pytest

from kitops.modelkit import compression as codec
from kitops.modelkit.compression import CompressingSink, open_decompressed

MODES = ["gzip", "gzip-fastest", "zstd"]
RANDOM_8M = random.Random(1).randbytes(8 << 20)


def _compress(mode: str, data: bytes, chunk: int = 1 << 20) -> bytes:
    out = io.BytesIO()
    sink = CompressingSink(mode, out)
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        sink.write(view[start : start + chunk])
    sink.close()
    return out.getvalue()


def _decompress(mode: str, blob: bytes) -> bytes:
    media_suffix = "gzip" if mode.startswith("gzip") else mode  # gzip-fastest is written as +gzip
    return open_decompressed(io.BytesIO(blob), media_suffix).read()


@pytest.mark.parametrize("mode", MODES)
def test_random_data_grows_by_at_most_a_tenth_of_a_percent(mode: str) -> None:
    blob = _compress(mode, RANDOM_8M)
    growth = len(blob) / len(RANDOM_8M) - 1
    assert growth <= 0.001, f"{mode}: {len(RANDOM_8M)} -> {len(blob)} bytes ({growth:+.3%})"
    assert _decompress(mode, blob) == RANDOM_8M


@pytest.mark.parametrize("mode", MODES)
def test_compressible_data_shrinks_and_round_trips(mode: str) -> None:
    rng = random.Random(2)
    data = "".join(f"{i},{rng.random():.6f},label_{rng.randint(0, 9)}\n" for i in range(120_000)).encode()
    blob = _compress(mode, data)
    assert len(blob) < len(data) // 2
    assert _decompress(mode, blob) == data


@pytest.mark.parametrize("mode", MODES)
def test_output_is_deterministic_whatever_the_thread_count(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = RANDOM_8M[: 3 << 20] + b"abc" * 500_000  # incompressible then compressible blocks
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    single = _compress(mode, data)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert _compress(mode, data) == single
    assert _compress(mode, data) == single


@pytest.mark.parametrize("cpus", [1, 4])
def test_zstd_is_deterministic_when_the_data_fills_the_last_job_exactly(
    cpus: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of zstd's worker pool at the end of a frame: an exactly full last job used to be
    the last block or be followed by an empty one, depending on thread timing (a 3-byte flip)."""
    data = RANDOM_8M + random.Random(3).randbytes(8 << 20)  # 16 full 1 MiB jobs
    assert len(data) % codec.ZSTD_JOB_SIZE == 0
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    blobs = {_compress("zstd", data) for _ in range(12)}
    assert len(blobs) == 1
    (blob,) = blobs
    assert blob.endswith(b"\x01\x00\x00")  # the frame always ends with an empty last raw block
    assert _decompress("zstd", blob) == data
