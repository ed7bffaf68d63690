"""The on-disk layout shared with the Go CLI, locking and garbage collection."""

from __future__ import annotations

import base64
import io
import json
import multiprocessing
from pathlib import Path

import pytest

from kitops.oci import mediatypes as mt
from kitops.oci.digest import sha256_digest
from kitops.oci.models import Descriptor, Manifest
from kitops.store.layout import LocalStore, decode_repo, encode_repo


def test_repo_file_names_match_the_go_cli() -> None:
    assert encode_repo("localhost/_") == "bG9jYWxob3N0L18="
    assert encode_repo("localhost/test") == "bG9jYWxob3N0L3Rlc3Q="
    assert decode_repo("bG9jYWxob3N0L3Rlc3Q=") == "localhost/test"


def _manifest(store: LocalStore, payload: bytes) -> Descriptor:
    layer = store.put_bytes(mt.layer_media_type("model"), payload)
    cfg = store.put_bytes(mt.KIT_CONFIG, b'{"manifestVersion":"1.0.0","package":{}}')
    data = Manifest(cfg, (layer,)).to_bytes()
    return store.put_bytes(mt.OCI_MANIFEST, data)


def test_layout_files_and_formats(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "storage")
    man = _manifest(store, b"weights")
    repo = store.repository("localhost/test")
    repo.tag(man, "v1")
    root = tmp_path / "storage"
    assert (root / "oci-layout").read_bytes() == b'{"imageLayoutVersion":"1.0.0"}'
    index = json.loads((root / "index.json").read_bytes())
    assert index["mediaType"] == mt.OCI_INDEX and index["schemaVersion"] == 2
    assert [d["digest"] for d in index["manifests"]] == [man.digest]
    repo_index = (root / "bG9jYWxob3N0L3Rlc3Q=-index.json").read_bytes()
    assert repo_index == (
        b'{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        + f'"digest":"{man.digest}","size":{man.size}'.encode()
        + b"}]}"
    )
    tags = json.loads((root / "bG9jYWxob3N0L3Rlc3Q=-tags.json").read_bytes())
    assert tags == {"v1": {"mediaType": mt.OCI_MANIFEST, "digest": man.digest, "size": man.size}}
    assert (root / "blobs" / "sha256" / man.digest.split(":")[1]).is_file()
    assert store.repo_keys() == ["localhost/test"]


def test_delete_collects_unreferenced_blobs_but_keeps_shared(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "storage")
    a = _manifest(store, b"weights-a")
    b = _manifest(store, b"weights-b")  # shares the config blob with a
    repo = store.repository("localhost/test")
    repo.tag(a, "a")
    repo.tag(b, "b")
    ma = store.read_manifest(a)
    repo.delete(a)
    assert not store.has_blob(a.digest)
    assert not store.has_blob(ma.layers[0].digest)
    assert store.has_blob(ma.config.digest)  # still used by b
    assert repo.tags() == ["b"]
    repo.delete(b)
    assert not any((tmp_path / "storage" / "blobs" / "sha256").iterdir())
    assert not (tmp_path / "storage" / "bG9jYWxob3N0L3Rlc3Q=-index.json").exists()
    assert not (tmp_path / "storage" / "bG9jYWxob3N0L3Rlc3Q=-tags.json").exists()


def test_manifest_in_two_repos_is_not_collected(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "storage")
    a = _manifest(store, b"weights")
    store.repository("localhost/one").tag(a, "v1")
    store.repository("localhost/two").tag(a, "v1")
    store.repository("localhost/one").delete(a)
    assert store.has_blob(a.digest)
    assert store.repository("localhost/two").resolve("v1").digest == a.digest


def _tag_many(root: str, worker: int) -> None:
    store = LocalStore(Path(root))
    desc = Descriptor(mt.OCI_MANIFEST, sha256_digest(b"x"), 1)
    store.put_blob(desc, io.BytesIO(b"x"))
    repo = store.repository("localhost/race")
    for i in range(40):
        repo.tag(desc, f"w{worker}-{i}")


def test_concurrent_processes_never_lose_tags(tmp_path: Path) -> None:
    root = str(tmp_path / "storage")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_tag_many, args=(root, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    tags = LocalStore(Path(root)).repository("localhost/race").tags()
    assert len(tags) == 160


def test_go_made_store_fixture_is_readable(tmp_path: Path) -> None:
    """A store written by hand exactly as the Go CLI lays one out is read by ours."""
    root = tmp_path / "storage"
    (root / "blobs" / "sha256").mkdir(parents=True)
    layer = b"hello\n"
    cfg = b'{"manifestVersion":"1.0.0","package":{"name":"demo"}}'
    for data in (layer, cfg):
        (root / "blobs" / "sha256" / sha256_digest(data)[7:]).write_bytes(data)
    man = (
        '{"schemaVersion":2,"config":{"mediaType":"application/vnd.kitops.modelkit.config.v1+json",'
        f'"digest":"{sha256_digest(cfg)}","size":{len(cfg)}}},"layers":[{{"mediaType":'
        f'"application/vnd.kitops.modelkit.model.v1.tar","digest":"{sha256_digest(layer)}","size":{len(layer)}}}],'
        '"annotations":{"ml.kitops.modelkit.cli-version":"1.7.0"}}'
    ).encode()
    (root / "blobs" / "sha256" / sha256_digest(man)[7:]).write_bytes(man)
    desc = {"mediaType": mt.OCI_MANIFEST, "digest": sha256_digest(man), "size": len(man)}
    enc = base64.urlsafe_b64encode(b"localhost/demo").decode()
    (root / f"{enc}-index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))
    (root / f"{enc}-tags.json").write_text(json.dumps({"v1": desc}))
    (root / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [desc]})
    )
    store = LocalStore(root)
    got = store.repository("localhost/demo").resolve("v1")
    assert got.digest == sha256_digest(man)
    assert store.read_manifest(got).annotations == {"ml.kitops.modelkit.cli-version": "1.7.0"}


def test_a_symlink_planted_in_ingest_is_never_written_through(tmp_path: Path) -> None:
    """A partial download's name replaced by a link to another file: refused, the target untouched."""
    import hashlib
    import io

    from kitops.errors import IntegrityError
    from kitops.oci.models import Descriptor
    from kitops.store.layout import LocalStore

    data = b"blob content" * 1000
    desc = Descriptor("application/octet-stream", "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    store = LocalStore(tmp_path / "storage")
    store.ensure_layout()
    store.ingest_dir.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    (store.ingest_dir / desc.digest.split(":")[1]).symlink_to(victim)
    with pytest.raises(IntegrityError, match="symlink"):
        store.ingest_resumable(desc, lambda offset: io.BytesIO(data[offset:]))
    assert victim.read_bytes() == b"precious"
    assert not store.has_blob(desc.digest)


def test_gc_deletes_nothing_when_a_kept_manifest_cannot_be_read(tmp_path: Path) -> None:
    """A stored manifest that does not parse has unknown references: collecting on that basis could
    delete blobs it needs, so nothing is deleted (and nothing crashes, even on 100,000-deep JSON)."""
    from kitops.store.layout import LocalStore

    store = LocalStore(tmp_path / "storage")
    layer = store.put_bytes("application/octet-stream", b"layer bytes")
    config = store.put_bytes(mt.KIT_CONFIG, b"{}")
    good = store.put_bytes(mt.OCI_MANIFEST, Manifest(config=config, layers=(layer,)).to_bytes())
    store.repository("localhost/good").tag(good, "v1")
    broken = store.put_bytes(mt.OCI_MANIFEST, b"[" * 100_000)
    store.repository("localhost/broken").tag(broken, "v1")
    orphan = store.put_bytes("application/octet-stream", b"nobody references me")
    assert store.gc() == []
    assert store.has_blob(layer.digest) and store.has_blob(orphan.digest)
    store.repository("localhost/broken").delete(broken)  # the unreadable one goes: GC works again
    assert orphan.digest in store.gc()
    assert store.has_blob(layer.digest)


def test_layer_media_types_are_matched_whole() -> None:
    assert mt.parse_layer_media_type("application/vnd.kitops.modelkit.model.v1.tar") is not None
    assert mt.parse_layer_media_type("application/vnd.kitops.modelkit.model.v1.tar\n") is None
    assert mt.parse_layer_media_type("application/vnd.kitops.modelkit.modèl.v1.tar") is None
