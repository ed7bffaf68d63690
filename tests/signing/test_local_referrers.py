"""Referrers in local storage: found by their subject, stored untagged, alive as long as the
ModelKit they refer to, removed with it, never listed as ModelKits.

The referrers here are built by hand (an empty config and one payload layer, as cosign and oras
write them), so these tests depend on nothing but the store.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import FormatError, NotFoundError
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest
from kitops.store.layout import LocalRepository, LocalStore
from tests.helpers import kit, write_tree

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
SIG_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SBOM_TYPE = "application/spdx+json"
PAYLOAD_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
REPO = "localhost/iris"


def store_of(home: Path) -> LocalStore:
    return LocalStore(home / "storage")


def cosign_tag(subject: str, suffix: str) -> str:
    return "sha256-" + subject.partition(":")[2] + suffix


def add_referrer(
    store: LocalStore,
    repo_key: str,
    payload: bytes,
    *,
    subject: Descriptor | None = None,
    tag: str | None = None,
    artifact_type: str | None = SIG_TYPE,
    annotations: dict[str, str] | None = None,
) -> Descriptor:
    """A signature-like manifest stored as a pull or another tool would store it (a plain push of
    its bytes): an empty config and one payload layer, pointing at ``subject`` (OCI referrers)
    and/or tagged ``tag`` (cosign's tag scheme)."""
    config = store.put_bytes(EMPTY_TYPE, b"{}")
    layer = store.put_bytes(PAYLOAD_TYPE, payload)
    manifest = Manifest(
        config=config,
        layers=(layer,),
        media_type=mt.OCI_MANIFEST,
        artifact_type=artifact_type if subject is not None else None,
        subject=Descriptor(subject.media_type, subject.digest, subject.size) if subject is not None else None,
        annotations=annotations or {"note": payload.decode()},
    )
    data = manifest.to_bytes()
    desc = Descriptor(mt.OCI_MANIFEST, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    repo = store.repository(repo_key)
    repo.push(desc, io.BytesIO(data))
    if tag is not None:
        repo.tag(desc, tag)
    return desc


def payload_digest(payload: bytes) -> str:
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def packed(home: Path, tag: str = "iris:v1") -> Descriptor:
    return api.pack(EXAMPLE, tag=tag, home=home).descriptor


# ---------------------------------------------------------------------------------------------
# finding and storing


def test_referrers_are_the_manifests_naming_the_subject(tmp_path: Path) -> None:
    home = tmp_path / "home"
    subject = packed(home)
    store = store_of(home)
    sig = add_referrer(store, REPO, b"sig", subject=subject)
    sbom = add_referrer(store, REPO, b"sbom", subject=subject, artifact_type=SBOM_TYPE)
    untyped = add_referrer(store, REPO, b"untyped", subject=subject, artifact_type=None)
    add_referrer(store, REPO, b"tagged only", tag=cosign_tag(subject.digest, ".sig"))  # no subject
    add_referrer(store, REPO, b"elsewhere", subject=Descriptor(mt.OCI_MANIFEST, "sha256:" + "1" * 64, 9))
    add_referrer(store, "localhost/other", b"other repository", subject=subject)

    repo = store.repository(REPO)
    found = repo.referrers(subject.digest)
    assert [(d.digest, d.artifact_type, dict(d.annotations or {})) for d in found] == [
        (sig.digest, SIG_TYPE, {"note": "sig"}),
        (sbom.digest, SBOM_TYPE, {"note": "sbom"}),
        (untyped.digest, EMPTY_TYPE, {"note": "untyped"}),  # no artifactType: the config's type
    ]
    assert [d.digest for d in repo.referrers(subject.digest, artifact_type=SBOM_TYPE)] == [sbom.digest]
    assert repo.referrers("sha256:" + "2" * 64) == []
    # a fresh store object reads them again from disk: nothing is remembered but by digest
    assert [d.digest for d in store_of(home).repository(REPO).referrers(subject.digest)] == [
        sig.digest,
        sbom.digest,
        untyped.digest,
    ]


def test_push_referrer_stores_it_untagged_once_its_blobs_are_there(tmp_path: Path) -> None:
    home = tmp_path / "home"
    subject = packed(home)
    store = store_of(home)
    repo = store.repository(REPO)
    tags_before = repo.tag_map()
    config = store.put_bytes(EMPTY_TYPE, b"{}")
    layer = store.put_bytes(SBOM_TYPE, b'{"spdxVersion": "SPDX-2.3"}')
    manifest = Manifest(
        config=config,
        layers=(layer,),
        media_type=mt.OCI_MANIFEST,
        artifact_type=SBOM_TYPE,
        subject=subject.plain(),
    )
    desc = repo.push_referrer(manifest)

    assert desc.digest == payload_digest(manifest.to_bytes())
    assert desc.artifact_type == SBOM_TYPE
    assert store.blob_path(desc.digest).read_bytes() == manifest.to_bytes()
    assert desc.digest in {d.digest for d in repo.manifests()}
    assert repo.tag_map() == tags_before  # no tag: it is found through its subject
    assert [d.digest for d in repo.referrers(subject.digest)] == [desc.digest]


def test_push_referrer_refuses_a_manifest_without_subject_or_with_missing_blobs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    subject = packed(home)
    store = store_of(home)
    repo = store.repository(REPO)
    config = store.put_bytes(EMPTY_TYPE, b"{}")
    with pytest.raises(FormatError, match="a referrer manifest needs a subject"):
        repo.push_referrer(Manifest(config=config, layers=(), media_type=mt.OCI_MANIFEST))
    missing = Descriptor(SBOM_TYPE, payload_digest(b"never stored"), 12)
    with pytest.raises(NotFoundError, match=f"blob {missing.digest} of the referrer is not in local storage"):
        repo.push_referrer(
            Manifest(config=config, layers=(missing,), media_type=mt.OCI_MANIFEST, subject=subject.plain())
        )
    assert repo.referrers(subject.digest) == []


# ---------------------------------------------------------------------------------------------
# alive with their ModelKit, removed with it


def test_referrers_of_a_kept_modelkit_survive_gc_and_remove_all(tmp_path: Path) -> None:
    home = tmp_path / "home"
    subject = packed(home)
    store = store_of(home)
    sig = add_referrer(store, REPO, b"signature", subject=subject)
    countersig = add_referrer(store, REPO, b"signature of the signature", subject=sig)
    att = add_referrer(store, REPO, b"attestation", tag=cosign_tag(subject.digest, ".att"))
    orphan = add_referrer(
        store, REPO, b"orphan", subject=Descriptor(mt.OCI_MANIFEST, "sha256:" + "3" * 64, 5)
    )

    assert store.gc() == []  # every referrer is listed in its repository: nothing to collect
    removed = api.remove(all=True, home=home)
    assert [r.digest for r in removed] == [orphan.digest]  # it refers to nothing kept

    repo = store_of(home).repository(REPO)
    assert {d.digest for d in repo.manifests()} == {subject.digest, sig.digest, countersig.digest, att.digest}
    for payload in (b"signature", b"signature of the signature", b"attestation"):
        assert store.blob_path(payload_digest(payload)).read_bytes() == payload
    assert not store.blob_path(payload_digest(b"orphan")).exists()
    # with --force everything goes, referrers included
    api.remove(all=True, force=True, home=home)
    assert store_of(home).repository(REPO).manifests() == []
    assert not store.blob_path(payload_digest(b"signature")).exists()


def test_removing_a_modelkit_removes_its_referrers_and_cosign_tags(tmp_path: Path) -> None:
    home = tmp_path / "home"
    subject = packed(home)
    store = store_of(home)
    sig = add_referrer(store, REPO, b"signature", subject=subject)
    add_referrer(store, REPO, b"signature of the signature", subject=sig)
    add_referrer(store, REPO, b"attestation", tag=cosign_tag(subject.digest, ".att"))
    add_referrer(store, REPO, b"sbom", tag=cosign_tag(subject.digest, ".sbom"))
    kept = add_referrer(store, REPO, b"named by the user", subject=subject, tag="keep-me")
    other = api.pack(
        write_tree(
            tmp_path / "other", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: m.bin}\n", "m.bin": "o"}
        ),
        tag="iris:other",
        home=home,
    ).descriptor
    other_sig = add_referrer(store, REPO, b"other's signature", subject=other)

    result = kit(home, "remove", "iris:v1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"Removed iris:v1 (digest {subject.digest})"]

    repo = store_of(home).repository(REPO)
    assert {d.digest for d in repo.manifests()} == {kept.digest, other.digest, other_sig.digest}
    assert repo.tag_map().keys() == {"keep-me", "other"}
    for gone in (b"signature", b"signature of the signature", b"attestation", b"sbom"):
        assert not store.blob_path(payload_digest(gone)).exists(), gone
    for stays in (b"named by the user", b"other's signature"):
        assert store.blob_path(payload_digest(stays)).is_file()


def test_a_local_tag_in_another_repository_takes_the_referrers_along(tmp_path: Path) -> None:
    """kit tag iris:v1 registry/team/iris:v1 then kit push registry/team/iris:v1 must push the
    signatures too, so the new repository gets them; removing the first name keeps them."""
    home = tmp_path / "home"
    subject = packed(home)
    store = store_of(home)
    sig = add_referrer(store, REPO, b"signature", subject=subject)
    att = add_referrer(store, REPO, b"attestation", tag=cosign_tag(subject.digest, ".att"))

    api.tag("iris:v1", "registry.example.com/team/iris:v1", home=home)
    target = store.repository("registry.example.com/team/iris")
    assert [d.digest for d in target.referrers(subject.digest)] == [sig.digest]
    assert target.tag_map()[cosign_tag(subject.digest, ".att")].digest == att.digest

    api.remove("iris:v1", home=home)
    assert store_of(home).repository(REPO).manifests() == []
    assert [d.digest for d in target.referrers(subject.digest)] == [sig.digest]
    for payload in (b"signature", b"attestation"):
        assert store.blob_path(payload_digest(payload)).read_bytes() == payload
    out = tmp_path / "out"
    api.unpack("registry.example.com/team/iris:v1", target_dir=out, home=home)  # and the kit is whole


# ---------------------------------------------------------------------------------------------
# not ModelKits


def test_listing_passes_over_referrers_and_cosign_artifacts_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    subject = packed(home)
    store = store_of(home)
    add_referrer(store, REPO, b"signature", subject=subject)
    broken = add_referrer(store, REPO, b"damaged", tag=cosign_tag(subject.digest, ".sig"))
    store.blob_path(broken.digest).unlink()  # a signature manifest whose bytes are gone
    with caplog.at_level(logging.WARNING):
        result = kit(home, "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[1].startswith("iris ") and "v1" in lines[1]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "not listed" not in result.stderr


def _repo(home: Path) -> LocalRepository:
    return store_of(home).repository(REPO)


def test_a_damaged_modelkit_is_still_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The quiet path is for referrers only: a ModelKit whose manifest is gone still warns."""
    home = tmp_path / "home"
    subject = packed(home)
    store_of(home).blob_path(subject.digest).unlink()
    with caplog.at_level(logging.WARNING, logger="kitops.api"):
        assert api.list_modelkits(home=home) == []
    assert any(subject.digest in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert [d.digest for d in _repo(home).manifests()] == [subject.digest]


def test_a_referrer_in_another_json_form_keeps_its_bytes_locally(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Local storage lists referrers by scanning its manifests: one written by another tool
    (other key order, spacing) is copied as it is, listed, and needs no warning."""
    home = tmp_path / "home"
    subject = packed(home)
    store = store_of(home)
    config = store.put_bytes(EMPTY_TYPE, b"{}")
    layer = store.put_bytes(PAYLOAD_TYPE, b"foreign")
    body = {"subject": subject.plain().to_go(), "layers": [layer.to_go()], "config": config.to_go()}
    data = json.dumps({**body, "artifactType": SIG_TYPE, "schemaVersion": 2}, indent=1).encode()
    foreign = Descriptor(mt.OCI_MANIFEST, payload_digest(data), len(data))
    store.repository(REPO).push(foreign, io.BytesIO(data))

    with caplog.at_level(logging.WARNING):
        api.tag("iris:v1", "copy:v1", home=home)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    found = store.repository("localhost/copy").referrers(subject.digest)
    assert [(d.digest, d.artifact_type) for d in found] == [(foreign.digest, SIG_TYPE)]
    assert store.blob_path(foreign.digest).read_bytes() == data
