"""Transfers carry referrers: push, pull, remote tag, save and load take a ModelKit's signatures,
attestations and other referrers along (OCI ``subject`` referrers and cosign's tag scheme).

The real registry (Debian's distribution) has no referrers API: what is pushed there is indexed
in the tag schema's ``sha256-<hex>`` index, and a pull finds it there again.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest
from kitops.oci.reference import parse_single
from kitops.registry.remote import NetworkOptions, Remotes
from tests.faultproxy import FaultProxy
from tests.helpers import kit, write_tree
from tests.realregistry import Registry
from tests.signing.test_local_referrers import (
    EXAMPLE,
    PAYLOAD_TYPE,
    REPO,
    SIG_TYPE,
    add_referrer,
    cosign_tag,
    payload_digest,
    store_of,
)

pytestmark = pytest.mark.registry


def tag_schema(registry: Registry, repo_name: str, subject: str) -> list[dict[str, object]]:
    """The entries of the tag schema's index for ``subject`` on the registry ([] when there is none)."""
    resp = httpx.get(
        f"{registry.url}/v2/{repo_name}/manifests/sha256-{subject.partition(':')[2]}",
        headers={"Accept": mt.OCI_INDEX},
    )
    if resp.status_code == 404:
        return []
    resp.raise_for_status()
    return list(json.loads(resp.content)["manifests"])


def tagged_digest(registry: Registry, repo_name: str, tag: str) -> str | None:
    resp = httpx.head(
        f"{registry.url}/v2/{repo_name}/manifests/{tag}", headers={"Accept": mt.MANIFEST_ACCEPT}
    )
    return resp.headers["docker-content-digest"] if resp.status_code == 200 else None


def signed_kit(home: Path) -> tuple[Descriptor, Descriptor, Descriptor, Descriptor]:
    """iris:v1 with a signature referrer, a signature of that signature, and an attestation under
    cosign's ``.att`` tag."""
    subject = api.pack(EXAMPLE, tag="iris:v1", home=home).descriptor
    store = store_of(home)
    sig = add_referrer(store, REPO, b"signature", subject=subject)
    countersig = add_referrer(store, REPO, b"countersignature", subject=sig)
    att = add_referrer(store, REPO, b"attestation", tag=cosign_tag(subject.digest, ".att"))
    return subject, sig, countersig, att


def test_push_carries_referrers_and_pull_brings_them_back(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    subject, sig, countersig, att = signed_kit(home)
    ref = f"{plain_registry.host}/{repo_name}:v1"

    pushed = kit(home, "push", "iris:v1", ref)
    assert pushed.exit_code == 0, pushed.output
    # no referrers API: each subject's referrers are listed in its sha256-<hex> index
    assert [
        (e["digest"], e["artifactType"]) for e in tag_schema(plain_registry, repo_name, subject.digest)
    ] == [(sig.digest, SIG_TYPE)]
    assert [e["digest"] for e in tag_schema(plain_registry, repo_name, sig.digest)] == [countersig.digest]
    assert tagged_digest(plain_registry, repo_name, cosign_tag(subject.digest, ".att")) == att.digest
    assert tagged_digest(plain_registry, repo_name, cosign_tag(subject.digest, ".sig")) is None

    pulled = kit(fresh, "pull", ref)
    assert pulled.exit_code == 0, pulled.output
    repo = store_of(fresh).repository(f"{plain_registry.host}/{repo_name}")
    assert [d.digest for d in repo.referrers(subject.digest)] == [sig.digest]
    assert [d.digest for d in repo.referrers(sig.digest)] == [countersig.digest]
    assert {t: d.digest for t, d in repo.tag_map().items()} == {
        "v1": subject.digest,
        cosign_tag(subject.digest, ".att"): att.digest,
    }
    for payload in (b"signature", b"countersignature", b"attestation"):  # every blob came, verified
        assert store_of(fresh).blob_path(payload_digest(payload)).read_bytes() == payload
    assert [row.digest for row in api.list_modelkits(home=fresh)] == [subject.digest]


def test_pushing_again_puts_back_a_referrer_missing_from_the_index(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    """A push cut short between a referrer's manifest and its index entry leaves it stored but
    unlisted: the next push lists it again instead of taking the stored manifest as done."""
    home = tmp_path / "home"
    subject, sig, _countersig, _att = signed_kit(home)
    ref = f"{plain_registry.host}/{repo_name}:v1"
    api.push("iris:v1", ref, home=home)
    index_tag = f"sha256-{subject.digest.partition(':')[2]}"
    index_digest = tagged_digest(plain_registry, repo_name, index_tag)
    deleted = httpx.delete(f"{plain_registry.url}/v2/{repo_name}/manifests/{index_digest}")
    assert deleted.status_code == 202
    assert tag_schema(plain_registry, repo_name, subject.digest) == []

    api.push("iris:v1", ref, home=home)
    assert [e["digest"] for e in tag_schema(plain_registry, repo_name, subject.digest)] == [sig.digest]


def test_no_referrers_leaves_them_behind(plain_registry: Registry, repo_name: str, tmp_path: Path) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    subject, _sig, _countersig, _att = signed_kit(home)
    ref = f"{plain_registry.host}/{repo_name}:v1"
    assert kit(home, "push", "--no-referrers", "iris:v1", ref).exit_code == 0
    assert tag_schema(plain_registry, repo_name, subject.digest) == []
    assert tagged_digest(plain_registry, repo_name, cosign_tag(subject.digest, ".att")) is None

    api.push("iris:v1", ref, home=home)  # now with them
    assert kit(fresh, "pull", "--no-referrers", ref).exit_code == 0
    repo = store_of(fresh).repository(f"{plain_registry.host}/{repo_name}")
    assert [d.digest for d in repo.manifests()] == [subject.digest]
    assert list(repo.tag_map()) == ["v1"]


def test_a_pull_asks_for_referrers_without_costing_more_requests_than_before(
    fault_proxy: FaultProxy, repo_name: str, tmp_path: Path
) -> None:
    """On a registry without the referrers API and with no referrers, looking costs one tag list,
    one referrers request and one tag-schema lookup (each a 404 or empty), and never a lookup per
    cosign tag. The root is not resolved twice and the config, read to check the format, is not
    downloaded again: a pull makes no more requests than it did before it looked for referrers."""
    home = tmp_path / "home"
    subject = api.pack(EXAMPLE, tag="iris:v1", home=home)
    ref = f"{fault_proxy.host}/{repo_name}:v1"
    api.push("iris:v1", ref, home=home)
    config = subject.manifest.config.digest
    hexpart = subject.descriptor.digest.partition(":")[2]

    def pull(where: Path, *flags: str) -> list[tuple[str, str]]:
        fault_proxy.set()
        result = kit(where, "pull", *flags, ref)
        assert result.exit_code == 0, result.output
        return [(s.method, s.path) for s in fault_proxy.seen]

    plain = pull(tmp_path / "a", "--no-referrers")
    looked = pull(tmp_path / "b")
    extra = list(looked)
    for request in plain:
        extra.remove(request)
    assert sorted(extra) == [
        ("GET", f"/v2/{repo_name}/manifests/sha256-{hexpart}"),
        ("GET", f"/v2/{repo_name}/referrers/sha256:{hexpart}"),
        ("GET", f"/v2/{repo_name}/tags/list?n=1000"),
    ]
    assert not any(path.endswith((".sig", ".att", ".sbom")) for _m, path in looked)
    assert [p for m, p in looked if m == "HEAD"] == [f"/v2/{repo_name}/manifests/v1"]  # resolved once
    assert [p for _m, p in looked if p.endswith(config)] == [f"/v2/{repo_name}/blobs/{config}"]
    assert len(looked) == len(plain) + 3
    layers = len(subject.manifest.layers)
    assert len(plain) == 4 + layers  # HEAD of the tag, the manifest (to check, to copy), config, layers


def test_only_the_cosign_tags_the_registry_has_are_fetched(
    fault_proxy: FaultProxy, repo_name: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    subject, _sig, _countersig, _att = signed_kit(home)
    ref = f"{fault_proxy.host}/{repo_name}:v1"
    api.push("iris:v1", ref, home=home)
    fault_proxy.set()
    api.pull(ref, home=tmp_path / "fresh")
    cosign = [
        (s.method, s.path.rsplit("/", 1)[1]) for s in fault_proxy.seen if "/manifests/sha256-" in s.path
    ]
    att_tag = cosign_tag(subject.digest, ".att")
    assert ("HEAD", att_tag) in cosign or ("GET", att_tag) in cosign
    assert not any(name.endswith((".sig", ".sbom")) for _m, name in cosign)


def test_remote_tag_to_another_repository_carries_referrers(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    subject, sig, countersig, att = signed_kit(home)
    source = f"{plain_registry.host}/{repo_name}:v1"
    target_repo = f"{repo_name}-prod"
    api.push("iris:v1", source, home=home)
    api.tag(source, f"{plain_registry.host}/{target_repo}:v1", home=home, remote=True)
    assert [e["digest"] for e in tag_schema(plain_registry, target_repo, subject.digest)] == [sig.digest]
    assert [e["digest"] for e in tag_schema(plain_registry, target_repo, sig.digest)] == [countersig.digest]
    assert tagged_digest(plain_registry, target_repo, cosign_tag(subject.digest, ".att")) == att.digest


def test_a_cosign_tag_already_on_the_registry_is_merged_not_overwritten(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    """Someone signed the pushed ModelKit on the registry; we signed our copy: pushing ours keeps
    both signatures (one layer each, theirs first), as cosign adds a signature."""
    home, other = tmp_path / "home", tmp_path / "other"
    ref = f"{plain_registry.host}/{repo_name}:v1"
    subject = api.pack(EXAMPLE, tag="iris:v1", home=home).descriptor
    api.push("iris:v1", ref, home=home)
    api.pull(ref, home=other)
    sig_tag = cosign_tag(subject.digest, ".sig")
    theirs = add_referrer(
        store_of(other), f"{plain_registry.host}/{repo_name}", b"theirs", tag=sig_tag, annotations={"k": "a"}
    )
    api.push(ref, home=other)
    assert tagged_digest(plain_registry, repo_name, sig_tag) == theirs.digest
    add_referrer(store_of(home), REPO, b"ours", tag=sig_tag, annotations={"k": "b"})

    api.push("iris:v1", ref, home=home)
    merged_digest = tagged_digest(plain_registry, repo_name, sig_tag)
    assert merged_digest not in (None, theirs.digest)
    body = httpx.get(
        f"{plain_registry.url}/v2/{repo_name}/manifests/{sig_tag}", headers={"Accept": mt.OCI_MANIFEST}
    ).content
    assert [d.digest for d in Manifest.from_bytes(body).layers] == [
        payload_digest(b"theirs"),
        payload_digest(b"ours"),
    ]

    # a second push finds every layer of ours there: the tag is left alone
    api.push("iris:v1", ref, home=home)
    assert tagged_digest(plain_registry, repo_name, sig_tag) == merged_digest


def test_a_referrer_in_another_json_form_is_copied_as_it_is(
    plain_registry: Registry, repo_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A referrer written by another tool (other key order, spacing) keeps its bytes and so its
    digest; it cannot go through the tag-schema index unchanged, which the warning says."""
    home = tmp_path / "home"
    subject = api.pack(EXAMPLE, tag="iris:v1", home=home).descriptor
    store = store_of(home)
    config = store.put_bytes("application/vnd.oci.empty.v1+json", b"{}")
    layer = store.put_bytes(PAYLOAD_TYPE, b"foreign")
    body = {
        "subject": subject.plain().to_go(),
        "layers": [layer.to_go()],
        "config": config.to_go(),
        "artifactType": SIG_TYPE,
        "mediaType": mt.OCI_MANIFEST,
        "schemaVersion": 2,
    }
    data = json.dumps(body, indent=1).encode()
    desc = Descriptor(mt.OCI_MANIFEST, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    store.repository(REPO).push(desc, io.BytesIO(data))
    ref = f"{plain_registry.host}/{repo_name}:v1"
    with caplog.at_level(logging.WARNING, logger="kitops.transfer"):
        api.push("iris:v1", ref, home=home)
    assert any(desc.digest in r.getMessage() and "canonical" in r.getMessage() for r in caplog.records)
    got = httpx.get(
        f"{plain_registry.url}/v2/{repo_name}/manifests/{desc.digest}", headers={"Accept": mt.OCI_MANIFEST}
    )
    assert got.status_code == 200 and got.content == data


def test_push_with_a_registry_that_has_the_referrers_api(tmp_path: Path) -> None:
    """With the OCI 1.1 API the registry indexes what it is given: no tag-schema index is written,
    and a pull lists the referrers through the API."""
    home = tmp_path / "home"
    subject, sig, countersig, att = signed_kit(home)
    fake = FullRegistry()
    network = NetworkOptions(transport=httpx.MockTransport(fake))
    api.push("iris:v1", "registry.example.com/team/iris:v1", home=home, network=network)
    assert not any(name.startswith("sha256-") and "." not in name for name in fake.manifests)
    assert fake.manifests[cosign_tag(subject.digest, ".att")] == fake.manifests[att.digest]

    fresh = tmp_path / "fresh"
    api.pull("registry.example.com/team/iris:v1", home=fresh, network=network)
    repo = store_of(fresh).repository("registry.example.com/team/iris")
    assert [d.digest for d in repo.referrers(subject.digest)] == [sig.digest]
    assert [d.digest for d in repo.referrers(sig.digest)] == [countersig.digest]
    with Remotes(fresh, network) as remotes:
        remote = remotes.repository(parse_single("registry.example.com/team/iris:v1"))
        assert [d.digest for d in remote.referrers(subject.digest)] == [sig.digest]


def test_a_registry_refusing_the_referrers_api_still_serves_the_modelkit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Some registries answer the referrers endpoint with an error other than 404: the pull goes
    on without referrers, with a warning (verifying is a separate, explicit step)."""
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    subject = api.pack(EXAMPLE, tag="iris:v1", home=home).descriptor
    fake = RefusingRegistry()
    network = NetworkOptions(transport=httpx.MockTransport(fake))
    api.push("iris:v1", "registry.example.com/team/iris:v1", home=home, network=network)
    with caplog.at_level(logging.WARNING, logger="kitops.transfer"):
        pulled = api.pull("registry.example.com/team/iris:v1", home=fresh, network=network)
    assert pulled.descriptor.digest == subject.digest
    assert [r.digest for r in api.list_modelkits(home=fresh)] == [subject.digest]
    assert any(
        "cannot be listed" in r.getMessage() and subject.digest in r.getMessage() for r in caplog.records
    )


class FullRegistry:
    """A registry in memory with the referrers API: blobs, manifests by digest and tag, tag list."""

    def __init__(self) -> None:
        self.manifests: dict[str, bytes] = {}
        self.blobs: dict[str, bytes] = {}
        self.uploads: dict[str, bytes] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v2/":
            return httpx.Response(200)
        if path.endswith("/tags/list"):
            tags = sorted(k for k in self.manifests if not k.startswith("sha256:"))
            return httpx.Response(200, json={"name": "team/iris", "tags": tags})
        if "/referrers/" in path:
            subject = path.rsplit("/", 1)[1]
            entries = []
            for digest, body in self.manifests.items():
                obj = json.loads(body)
                if digest.startswith("sha256:") and (obj.get("subject") or {}).get("digest") == subject:
                    entries.append(
                        {
                            "mediaType": mt.OCI_MANIFEST,
                            "digest": digest,
                            "size": len(body),
                            "artifactType": obj.get("artifactType"),
                        }
                    )
            return httpx.Response(
                200, headers={"Content-Type": mt.OCI_INDEX}, json={"schemaVersion": 2, "manifests": entries}
            )
        if "/manifests/" in path:
            ref = path.rsplit("/", 1)[1]
            if request.method == "PUT":
                body = request.read()
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                self.manifests[ref] = body
                self.manifests[digest] = body
                subject = json.loads(body).get("subject")
                headers = {"Docker-Content-Digest": digest}
                if subject:
                    headers["OCI-Subject"] = subject["digest"]
                return httpx.Response(201, headers=headers)
            stored = self.manifests.get(ref)
            if stored is None:
                return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
            headers = {
                "Content-Type": json.loads(stored).get("mediaType", mt.OCI_MANIFEST),
                "Docker-Content-Digest": "sha256:" + hashlib.sha256(stored).hexdigest(),
                "Content-Length": str(len(stored)),
            }
            return httpx.Response(200, headers=headers, content=b"" if request.method == "HEAD" else stored)
        if "/blobs/uploads/" in path:
            if request.method == "POST":
                return httpx.Response(202, headers={"Location": "/v2/team/iris/blobs/uploads/1"})
            digest = request.url.params["digest"]
            self.blobs[digest] = request.read()
            return httpx.Response(201, headers={"Docker-Content-Digest": digest})
        if "/blobs/" in path:
            digest = path.rsplit("/", 1)[1]
            if digest not in self.blobs:
                return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN"}]})
            data = self.blobs[digest]
            return httpx.Response(
                200,
                headers={"Content-Length": str(len(data))},
                content=b"" if request.method == "HEAD" else data,
            )
        return httpx.Response(404)


# ---------------------------------------------------------------------------------------------
# save / load


def test_load_of_one_modelkit_brings_its_referrers_and_no_others(tmp_path: Path) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    subject, sig, countersig, att = signed_kit(home)
    other = api.pack(
        write_tree(
            tmp_path / "o", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: m.bin}\n", "m.bin": "o"}
        ),
        tag="other:v1",
        home=home,
    ).descriptor
    other_sig = add_referrer(store_of(home), "localhost/other", b"other's", subject=other)
    archive = tmp_path / "all.tar"
    api.save(["iris:v1", "other:v1"], archive, home=home)

    api.load(archive, refs=["iris:v1"], home=fresh)
    repo = store_of(fresh).repository(REPO)
    assert {d.digest for d in repo.manifests()} == {subject.digest, sig.digest, countersig.digest, att.digest}
    assert repo.tag_map().keys() == {"v1", cosign_tag(subject.digest, ".att")}
    assert store_of(fresh).repository("localhost/other").manifests() == []
    assert not store_of(fresh).blob_path(payload_digest(b"other's")).exists()
    assert other_sig.digest not in {d.digest for d in repo.manifests()}

    only = tmp_path / "only.tar"
    result = api.save("iris:v1", only, home=home, referrers=False)
    assert [e.descriptor.digest for e in result.entries] == [subject.digest]


class RefusingRegistry(FullRegistry):
    """One whose referrers endpoint is refused (as some registries do for unknown endpoints)."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if "/referrers/" in request.url.path:
            return httpx.Response(405, json={"errors": [{"code": "UNSUPPORTED", "message": "not here"}]})
        return super().__call__(request)
