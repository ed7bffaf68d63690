"""One contract suite for every Store implementation (local layout, memory, a real registry),
plus the copy engine over every pair of them."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest

from kitops import transfer
from kitops.errors import IntegrityError, NotFoundError, TransferError
from kitops.oci import mediatypes as mt
from kitops.oci.digest import sha256_digest
from kitops.oci.models import Descriptor, Manifest
from kitops.registry.client import RegistryClient
from kitops.registry.repository import RemoteRepository
from kitops.store.base import ResumableSink, SeekableSource, Store, read_blob_bytes
from kitops.store.layout import LocalRepository, LocalStore
from kitops.store.memory import MemoryStore
from tests.realregistry import Registry

REMOTE = pytest.param("remote", marks=pytest.mark.registry)
KINDS = ["local", "memory", REMOTE]
NOT_IN_MEMORY = pytest.mark.skip(
    reason="MemoryStore keeps its bytes in the process: nothing can change them "
    "behind its back, and it can neither resume nor seek"
)
# Contract points a MemoryStore does not offer; skipped for it with the reason above.
KINDS_WITH_STORAGE = ["local", pytest.param("memory", marks=NOT_IN_MEMORY), REMOTE]


def blob(data: bytes, media_type: str = "application/octet-stream") -> tuple[Descriptor, bytes]:
    return Descriptor(media_type, sha256_digest(data), len(data)), data


def unique(size: int = 10_000) -> bytes:
    """Content no other test pushes: the registry is shared by the whole session and stores
    blobs by digest, so corrupting a common one would break other tests."""
    return os.urandom(size)


def make_store(kind: str, request: pytest.FixtureRequest, path: Path) -> Store:
    if kind == "local":
        return LocalStore(path / "storage").repository("localhost/test")
    if kind == "memory":
        return MemoryStore()
    registry: Registry = request.getfixturevalue("plain_registry")
    return RemoteRepository(RegistryClient(registry.host), f"contract/{uuid.uuid4().hex}")


def corrupt(store: Store, desc: Descriptor, request: pytest.FixtureRequest) -> None:
    """Replace a stored blob's bytes with others of the same length, behind the store's back."""
    if isinstance(store, LocalRepository):
        path = store.store.blob_path(desc.digest)
        path.chmod(0o644)
    else:
        registry: Registry = request.getfixturevalue("plain_registry")
        path = registry.blob_path(desc.digest)
    path.write_bytes(bytes(b ^ 0xFF for b in path.read_bytes()))


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return make_store(request.param, request, tmp_path)


@pytest.fixture(params=KINDS_WITH_STORAGE)
def stored(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return make_store(request.param, request, tmp_path)


def test_every_implementation_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)


def test_push_fetch_round_trip(store: Store) -> None:
    desc, data = blob(b"hello world" * 1000)
    assert not store.exists(desc)
    store.push(desc, io.BytesIO(data))
    assert store.exists(desc)
    assert read_blob_bytes(store, desc, limit=1 << 30) == data


def test_push_refuses_wrong_digest_or_size(store: Store) -> None:
    """Bytes that do not match the descriptor are refused and nothing is stored. A registry checks
    the digest itself: the client reports the registry's refusal, a TransferError (with the status
    and the registry's message), where the local and memory stores raise IntegrityError."""
    refusal = TransferError if isinstance(store, RemoteRepository) else IntegrityError
    desc, _ = blob(b"expected")
    with pytest.raises(refusal):
        store.push(desc, io.BytesIO(b"tampered"))
    assert not store.exists(desc)
    with pytest.raises(refusal):
        store.push(Descriptor(desc.media_type, desc.digest, desc.size + 1), io.BytesIO(b"expected"))
    assert not store.exists(desc)


def _manifest(store: Store) -> Descriptor:
    cfg, cfg_data = blob(b"{}", mt.KIT_CONFIG)
    store.push(cfg, io.BytesIO(cfg_data))
    man_bytes = Manifest(cfg, ()).to_bytes()
    man = Descriptor(mt.OCI_MANIFEST, sha256_digest(man_bytes), len(man_bytes))
    store.push(man, io.BytesIO(man_bytes))
    return man


def test_tag_resolve_and_missing(store: Store) -> None:
    man = _manifest(store)
    store.tag(man, "v1")
    assert store.resolve("v1").digest == man.digest
    assert store.resolve(man.digest).digest == man.digest
    with pytest.raises(NotFoundError):
        store.resolve("v2")


def test_tags_are_listed_and_a_deleted_manifest_is_gone(store: Store) -> None:
    man = _manifest(store)
    store.tag(man, "v1")
    store.tag(man, "v2")
    assert sorted(store.tags()) == ["v1", "v2"]  # type: ignore[attr-defined]
    store.delete(man)  # type: ignore[attr-defined]
    assert not store.exists(man)
    for ref in ("v1", man.digest):
        with pytest.raises(NotFoundError):
            store.resolve(ref)


def test_fetch_detects_a_blob_changed_in_storage(stored: Store, request: pytest.FixtureRequest) -> None:
    desc, data = blob(unique())
    stored.push(desc, io.BytesIO(data))
    corrupt(stored, desc, request)
    with pytest.raises(IntegrityError, match="does not match its digest"):
        read_blob_bytes(stored, desc, limit=1 << 20)


def test_resumable_sink_takes_a_blob_from_a_seekable_source(stored: Store, tmp_path: Path) -> None:
    """A sink takes a blob through ``opener(offset)`` (starting at 0 when it holds nothing of it);
    a seekable source then serves it from any offset."""
    assert isinstance(stored, ResumableSink) and isinstance(stored, SeekableSource)
    desc, data = blob(unique(300_000))
    offsets: list[int] = []

    def opener(offset: int) -> io.BytesIO:
        offsets.append(offset)
        return io.BytesIO(data[offset:])

    stored.push_from(desc, opener)
    assert stored.exists(desc)
    assert offsets and offsets[0] == 0
    with stored.open_at(desc, 123_456) as tail:
        assert tail.read() == data[123_456:]


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


@pytest.mark.parametrize("src_kind", KINDS)
@pytest.mark.parametrize("dst_kind", KINDS)
def test_copy_engine_between_stores(
    src_kind: str, dst_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    src = make_store(src_kind, request, tmp_path / "src")
    dst = make_store(dst_kind, request, tmp_path / "dst")
    man = _kit(src, [b"layer-one" * 100, b"layer-two" * 100])
    got = transfer.copy(src, "v1", dst, dst_ref="copied")
    assert got.digest == man.digest
    assert dst.resolve("copied").digest == man.digest
    manifest = Manifest.from_bytes(read_blob_bytes(dst, man))
    for layer in manifest.layers:
        assert read_blob_bytes(dst, layer) == read_blob_bytes(src, layer)


def test_copy_skips_what_destination_has_and_reports_progress(tmp_path: Path) -> None:
    src = MemoryStore()
    dst = MemoryStore()
    _kit(src, [b"one" * 1000, b"two" * 1000])
    events: list[tuple[str, str]] = []

    class Rec:
        def begin(self, key: str, action: str, total: int | None) -> None:
            events.append(("begin", key))

        def advance(self, key: str, nbytes: int) -> None:
            pass

        def end(self, key: str, error: BaseException | None = None) -> None:
            events.append(("end", key))

    transfer.copy(src, "v1", dst, progress=Rec())
    assert len([e for e in events if e[0] == "begin"]) == 3  # config + 2 layers
    events.clear()
    transfer.copy(src, "v1", dst, progress=Rec())
    assert events == []  # nothing re-sent


def test_copy_detects_tampered_source_blob(stored: Store, request: pytest.FixtureRequest) -> None:
    man = _kit(stored, [unique()])
    manifest = Manifest.from_bytes(read_blob_bytes(stored, man))
    corrupt(stored, manifest.layers[0], request)
    dst = MemoryStore()
    with pytest.raises(IntegrityError):
        transfer.copy(stored, "v1", dst)
    assert not dst.exists(manifest.layers[0])
    with pytest.raises(NotFoundError):
        dst.resolve("v1")  # the manifest never lands without its blobs
