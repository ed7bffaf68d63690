"""One contract suite for every Store implementation, plus the copy engine over them."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from kitops import transfer
from kitops.errors import IntegrityError, NotFoundError
from kitops.oci import mediatypes as mt
from kitops.oci.digest import sha256_digest
from kitops.oci.models import Descriptor, Manifest
from kitops.store.base import Store, read_blob_bytes
from kitops.store.layout import LocalStore
from kitops.store.memory import MemoryStore


def blob(data: bytes, media_type: str = "application/octet-stream") -> tuple[Descriptor, bytes]:
    return Descriptor(media_type, sha256_digest(data), len(data)), data


def make_local(tmp_path: Path) -> Store:
    return LocalStore(tmp_path / "storage").repository("localhost/test")


def make_memory(tmp_path: Path) -> Store:
    return MemoryStore()  # type: ignore[return-value]


STORES = [pytest.param(make_local, id="local"), pytest.param(make_memory, id="memory")]


@pytest.mark.parametrize("factory", STORES)
def test_push_fetch_round_trip(factory: Callable[[Path], Store], tmp_path: Path) -> None:
    store = factory(tmp_path)
    desc, data = blob(b"hello world" * 1000)
    assert not store.exists(desc)
    store.push(desc, io.BytesIO(data))
    assert store.exists(desc)
    assert read_blob_bytes(store, desc, limit=1 << 30) == data


@pytest.mark.parametrize("factory", STORES)
def test_push_refuses_wrong_digest_or_size(factory: Callable[[Path], Store], tmp_path: Path) -> None:
    store = factory(tmp_path)
    desc, _ = blob(b"expected")
    with pytest.raises(IntegrityError):
        store.push(desc, io.BytesIO(b"tampered"))
    assert not store.exists(desc)
    with pytest.raises(IntegrityError):
        store.push(Descriptor(desc.media_type, desc.digest, desc.size + 1), io.BytesIO(b"expected"))
    assert not store.exists(desc)


@pytest.mark.parametrize("factory", STORES)
def test_tag_resolve_and_missing(factory: Callable[[Path], Store], tmp_path: Path) -> None:
    store = factory(tmp_path)
    cfg, cfg_data = blob(b"{}", mt.KIT_CONFIG)
    store.push(cfg, io.BytesIO(cfg_data))
    man_bytes = Manifest(cfg, ()).to_bytes()
    man = Descriptor(mt.OCI_MANIFEST, sha256_digest(man_bytes), len(man_bytes))
    store.push(man, io.BytesIO(man_bytes))
    store.tag(man, "v1")
    assert store.resolve("v1").digest == man.digest
    assert store.resolve(man.digest).digest == man.digest
    with pytest.raises(NotFoundError):
        store.resolve("v2")


def test_fetch_detects_corruption_on_disk(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "storage")
    desc, data = blob(b"A" * 10000)
    store.put_blob(desc, io.BytesIO(data))
    path = store.blob_path(desc.digest)
    path.chmod(0o644)
    path.write_bytes(b"B" * 10000)
    with pytest.raises(IntegrityError, match="does not match its digest"):
        read_blob_bytes(store.repository("localhost/x"), desc, limit=1 << 20)


def _kit(store: Store, layers: list[bytes]) -> Descriptor:
    layer_descs = []
    for data in layers:
        d, _ = blob(data, mt.layer_media_type("model"))
        store.push(d, io.BytesIO(data))
        layer_descs.append(d)
    cfg, cfg_data = blob(b'{"manifestVersion":"1.0.0","package":{}}', mt.KIT_CONFIG)
    store.push(cfg, io.BytesIO(cfg_data))
    data = Manifest(cfg, tuple(layer_descs)).to_bytes()
    man = Descriptor(mt.OCI_MANIFEST, sha256_digest(data), len(data))
    store.push(man, io.BytesIO(data))
    store.tag(man, "v1")
    return man


@pytest.mark.parametrize("src_factory", STORES)
@pytest.mark.parametrize("dst_factory", STORES)
def test_copy_engine_between_stores(
    src_factory: Callable[[Path], Store], dst_factory: Callable[[Path], Store], tmp_path: Path
) -> None:
    src = src_factory(tmp_path / "src")
    dst = dst_factory(tmp_path / "dst")
    man = _kit(src, [b"layer-one" * 100, b"layer-two" * 100])
    got = transfer.copy(src, "v1", dst, dst_ref="copied")
    assert got.digest == man.digest
    assert dst.resolve("copied").digest == man.digest
    manifest = Manifest.from_bytes(read_blob_bytes(dst, man))
    for layer in manifest.layers:
        assert dst.exists(layer)


def test_copy_skips_what_destination_has_and_reports_progress(tmp_path: Path) -> None:
    src = MemoryStore()
    dst = MemoryStore()
    _kit(src, [b"one" * 1000, b"two" * 1000])  # type: ignore[arg-type]
    events: list[tuple[str, str]] = []

    class Rec:
        def begin(self, key: str, action: str, total: int | None) -> None:
            events.append(("begin", key))

        def advance(self, key: str, nbytes: int) -> None:
            pass

        def end(self, key: str, error: BaseException | None = None) -> None:
            events.append(("end", key))

    transfer.copy(src, "v1", dst, progress=Rec())  # type: ignore[arg-type]
    assert len([e for e in events if e[0] == "begin"]) == 3  # config + 2 layers
    events.clear()
    transfer.copy(src, "v1", dst, progress=Rec())  # type: ignore[arg-type]
    assert events == []  # nothing re-sent


def test_copy_detects_tampered_source_blob(tmp_path: Path) -> None:
    src = LocalStore(tmp_path / "src")
    repo = src.repository("localhost/x")
    man = _kit(repo, [b"good" * 1000])
    manifest = src.read_manifest(man)
    layer_path = src.blob_path(manifest.layers[0].digest)
    layer_path.chmod(0o644)
    layer_path.write_bytes(b"evil" * 1000)
    dst = MemoryStore()
    with pytest.raises(IntegrityError):
        transfer.copy(repo, "v1", dst)  # type: ignore[arg-type]
    assert not dst.exists(manifest.layers[0])
    with pytest.raises(NotFoundError):
        dst.resolve("v1")  # the manifest never lands without its blobs
