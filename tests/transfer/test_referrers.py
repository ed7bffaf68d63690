"""Referrers (signatures, attestations): the OCI 1.1 API and the sha256-<hex> tag-schema fallback.

The real registry (Debian's distribution 2.8) has no referrers endpoint, so it exercises the
fallback end to end; a MockTransport registry that does implement the API covers the other path.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Index, Manifest
from kitops.oci.reference import parse_single
from kitops.registry.client import RegistryClient
from kitops.registry.remote import NetworkOptions, Remotes
from kitops.registry.repository import RemoteRepository
from kitops.store.referrers import referrers_tag
from tests.realregistry import Registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"
EMPTY = b"{}"
EMPTY_DESC = Descriptor("application/vnd.oci.empty.v1+json", "sha256:" + hashlib.sha256(EMPTY).hexdigest(), 2)
SIG_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SBOM_TYPE = "application/spdx+json"


def referrer(subject: Descriptor, artifact_type: str, note: str) -> Manifest:
    return Manifest(
        config=EMPTY_DESC,
        layers=(EMPTY_DESC,),
        media_type=mt.OCI_MANIFEST,
        artifact_type=artifact_type,
        subject=subject,
        annotations={"note": note},
    )


@pytest.mark.registry
def test_tag_schema_fallback_on_a_registry_without_the_api(
    plain_registry: Registry, repo_name: str, home: Path
) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v1"
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    subject = api.push("iris:v1", ref, home=home).descriptor
    with Remotes(home, NetworkOptions()) as remotes:
        repo = remotes.repository(parse_single(ref))
        assert repo.referrers(subject.digest) == []  # neither the API nor the tag exists yet
        repo.push(EMPTY_DESC, io.BytesIO(EMPTY))
        sig = repo.push_referrer(referrer(subject, SIG_TYPE, "signature"))
        sbom = repo.push_referrer(referrer(subject, SBOM_TYPE, "sbom"))
        again = repo.push_referrer(referrer(subject, SIG_TYPE, "signature"))  # same bytes: listed once
        assert again == sig
        found = repo.referrers(subject.digest)
        assert [(d.digest, d.artifact_type, dict(d.annotations or {})) for d in found] == [
            (sig.digest, SIG_TYPE, {"note": "signature"}),
            (sbom.digest, SBOM_TYPE, {"note": "sbom"}),
        ]
        assert [d.digest for d in repo.referrers(subject.digest, artifact_type=SBOM_TYPE)] == [sbom.digest]
        assert sorted(repo.tags()) == sorted(["v1", referrers_tag(subject.digest)])
    # the index really is on the registry, under the schema's tag, as an OCI index
    url = f"{plain_registry.url}/v2/{repo_name}/manifests/{referrers_tag(subject.digest)}"
    resp = httpx.get(url, headers={"Accept": mt.OCI_INDEX})
    assert resp.headers["content-type"] == mt.OCI_INDEX
    assert [m["digest"] for m in json.loads(resp.content)["manifests"]] == [sig.digest, sbom.digest]
    # and the ModelKit listing of the repository is not confused by it
    rows = api.list_remote(f"{plain_registry.host}/{repo_name}", home=home)
    assert [r.tags for r in rows] == [("v1",)]


class ReferrersRegistry:
    """A registry that implements the referrers API and answers OCI-Subject on PUT."""

    def __init__(self) -> None:
        self.manifests: dict[str, bytes] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "PUT" and "/manifests/" in path:
            body = request.read()
            self.manifests[path.rsplit("/", 1)[1]] = body
            subject = json.loads(body).get("subject")
            headers = {"OCI-Subject": subject["digest"]} if subject else {}
            return httpx.Response(201, headers=headers)
        if request.method == "GET" and "/referrers/" in path:
            subject = path.rsplit("/", 1)[1]
            entries = []
            for digest, body in self.manifests.items():
                obj = json.loads(body)
                if obj.get("subject", {}).get("digest") == subject:
                    entries.append(
                        {
                            "mediaType": mt.OCI_MANIFEST,
                            "digest": digest,
                            "size": len(body),
                            "artifactType": obj.get("artifactType"),
                        }
                    )
            return httpx.Response(
                200,
                headers={"Content-Type": mt.OCI_INDEX},
                content=Index(manifests=tuple(Descriptor.from_json(e) for e in entries)).to_bytes(),
            )
        return httpx.Response(404)


def test_referrers_api_used_when_the_registry_has_it() -> None:
    fake = ReferrersRegistry()
    repo = RemoteRepository(RegistryClient("registry.example.com", transport=httpx.MockTransport(fake)), "r")
    subject = Descriptor(mt.OCI_MANIFEST, "sha256:" + "a" * 64, 100)
    sig = repo.push_referrer(referrer(subject, SIG_TYPE, "x"))
    assert list(fake.manifests) == [sig.digest]  # no sha256-<hex> index written: the registry indexed it
    assert [(d.digest, d.artifact_type) for d in repo.referrers(subject.digest)] == [(sig.digest, SIG_TYPE)]
    assert repo.referrers(subject.digest, artifact_type=SBOM_TYPE) == []
    assert not any(referrers_tag(subject.digest) in r.url.path for r in fake.requests)


def test_false_200_on_referrers_falls_back_to_the_tag_schema() -> None:
    subject = "sha256:" + "b" * 64
    index = Index(manifests=(Descriptor(mt.OCI_MANIFEST, "sha256:" + "c" * 64, 10, artifact_type=SIG_TYPE),))

    def handler(request: httpx.Request) -> httpx.Response:
        if "/referrers/" in request.url.path:
            return httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<html>hello</html>")
        if request.url.path.endswith(referrers_tag(subject)):
            return httpx.Response(200, headers={"Content-Type": mt.OCI_INDEX}, content=index.to_bytes())
        return httpx.Response(404)

    repo = RemoteRepository(
        RegistryClient("registry.example.com", transport=httpx.MockTransport(handler)), "r"
    )
    assert [d.digest for d in repo.referrers(subject)] == ["sha256:" + "c" * 64]


def test_oversized_referrers_index_is_refused_unread() -> None:
    from kitops.errors import IntegrityError
    from kitops.oci.models import MAX_MANIFEST_BYTES

    big = b" " * (MAX_MANIFEST_BYTES + 1)

    def handler(request: httpx.Request) -> httpx.Response:
        if "/referrers/" in request.url.path:
            return httpx.Response(200, headers={"Content-Type": mt.OCI_INDEX}, content=big)
        return httpx.Response(404)

    repo = RemoteRepository(
        RegistryClient("registry.example.com", transport=httpx.MockTransport(handler)), "r"
    )
    with pytest.raises(
        IntegrityError, match=r"referrers of sha256:d+ is \d+ bytes, over the 4194304-byte limit"
    ):
        repo.referrers("sha256:" + "d" * 64)
