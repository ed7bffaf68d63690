"""Plain one-pass stdlib baselines for bench/run.py: tarfile + sha256 + write, and the reverse."""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile

BUF = 1 << 20
LAYERS = ["model/weights.bin", "model/shards", "data/train.csv", "src", "README.md"]


class HashingWriter:
    def __init__(self, fh: object) -> None:
        self.fh = fh
        self.h = hashlib.sha256()

    def write(self, b: bytes) -> int:
        self.h.update(b)
        return self.fh.write(b)  # type: ignore[attr-defined, no-any-return]


def pack(project: str, outdir: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    tarfile.RECORDSIZE = BUF
    for i, layer in enumerate(LAYERS):
        with open(os.path.join(outdir, f"layer{i}.tar"), "wb") as fh:
            hw = HashingWriter(fh)
            with tarfile.open(fileobj=hw, mode="w|", bufsize=BUF) as tf:  # type: ignore[call-overload]
                tf.add(os.path.join(project, layer), arcname=layer)
        print(layer, "sha256:" + hw.h.hexdigest())


class HashingReader:
    def __init__(self, fh: object) -> None:
        self.fh = fh
        self.h = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        b: bytes = self.fh.read(n)  # type: ignore[attr-defined]
        self.h.update(b)
        return b


def unpack(outdir: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    for i in range(len(LAYERS)):
        with open(os.path.join(outdir, f"layer{i}.tar"), "rb") as fh:
            hr = HashingReader(fh)
            with tarfile.open(fileobj=hr, mode="r|", bufsize=BUF) as tf:  # type: ignore[call-overload]
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tf.extractall(target, **kwargs)
            while hr.read(BUF):
                pass
        print(i, "sha256:" + hr.h.hexdigest())


if __name__ == "__main__":
    {"pack": pack, "unpack": unpack}[sys.argv[1]](sys.argv[2], sys.argv[3])
