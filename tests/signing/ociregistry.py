"""An in-memory registry for httpx.MockTransport that implements the OCI 1.1 referrers API (the
Debian distribution the other tests run has none): manifests by tag and digest, blob uploads
(monolithic and chunked), ranged blob reads, ``GET /referrers/<digest>`` with the artifactType
filter, and ``OCI-Subject`` on a PUT of a manifest with a subject.

``tampered`` maps a blob digest to other bytes served in its place: a registry (or a man in the
middle) handing out content that does not match its digest.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re

import httpx

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

_PATH = re.compile(r"/v2/(?P<name>.+?)/(?P<kind>manifests|blobs|referrers|tags)/(?P<rest>.*)")


class OciRegistry:
    """One registry host; every repository in it. Records the requests it answered."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[str, bytes]] = {}  # digest -> (media type, bytes)
        self.tags: dict[tuple[str, str], str] = {}  # (repository, tag) -> digest
        self.uploads: dict[str, bytearray] = {}
        self.tampered: dict[str, bytes] = {}
        self.requests: list[httpx.Request] = []
        self._ids = itertools.count(1)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def tag_names(self, repository: str) -> list[str]:
        return sorted(tag for (repo, tag) in self.tags if repo == repository)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in ("/v2/", "/v2"):
            return httpx.Response(200)
        m = _PATH.fullmatch(path)
        if m is None:
            return httpx.Response(404)
        name, kind, rest = m["name"], m["kind"], m["rest"]
        if kind == "manifests":
            return self._manifest(request, name, rest)
        if kind == "blobs":
            return self._blob(request, name, rest)
        if kind == "referrers":
            return self._referrers(request, rest)
        return httpx.Response(200, json={"name": name, "tags": self.tag_names(name)})

    # -- manifests ----------------------------------------------------------------------------
    def _manifest(self, request: httpx.Request, name: str, ref: str) -> httpx.Response:
        if request.method == "PUT":
            body = request.read()
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            media_type = request.headers.get("content-type", OCI_MANIFEST)
            self.manifests[digest] = (media_type, body)
            if not ref.startswith("sha256:"):
                self.tags[(name, ref)] = digest
            headers = {"Docker-Content-Digest": digest}
            subject = json.loads(body).get("subject")
            if subject:
                headers["OCI-Subject"] = subject["digest"]
            return httpx.Response(201, headers=headers)
        digest = ref if ref.startswith("sha256:") else self.tags.get((name, ref))
        if digest is None or digest not in self.manifests:
            return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]})
        if request.method == "DELETE":
            del self.manifests[digest]
            return httpx.Response(202)
        media_type, body = self.manifests[digest]
        headers = {"Docker-Content-Digest": digest, "Content-Type": media_type}
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, content=body)

    # -- blobs --------------------------------------------------------------------------------
    def _blob(self, request: httpx.Request, name: str, rest: str) -> httpx.Response:
        if rest.startswith("uploads"):
            return self._upload(request, name, rest.removeprefix("uploads").strip("/"))
        data = self.blobs.get(rest)
        if data is None:
            return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN", "message": "unknown"}]})
        data = self.tampered.get(rest, data)
        if request.method == "HEAD":
            return httpx.Response(
                200, headers={"Content-Length": str(len(data)), "Docker-Content-Digest": rest}
            )
        wanted = request.headers.get("range")
        if wanted:
            start, _, end = wanted.removeprefix("bytes=").partition("-")
            part = data[int(start) : int(end) + 1 if end else None]
            return httpx.Response(206, content=part, headers={"Content-Length": str(len(part))})
        return httpx.Response(200, content=data, headers={"Content-Length": str(len(data))})

    def _upload(self, request: httpx.Request, name: str, upload: str) -> httpx.Response:
        if request.method == "POST":
            upload = str(next(self._ids))
            self.uploads[upload] = bytearray(request.read())
            location = f"/v2/{name}/blobs/uploads/{upload}"
            if "digest" in request.url.params:  # a single POST with the body
                return self._finish(upload, request.url.params["digest"], location)
            return httpx.Response(202, headers={"Location": location, "Range": "0-0"})
        received = self.uploads[upload]
        location = f"/v2/{name}/blobs/uploads/{upload}"
        received += request.read()
        if request.method == "PATCH":
            return httpx.Response(
                202, headers={"Location": location, "Range": f"0-{max(len(received) - 1, 0)}"}
            )
        return self._finish(upload, request.url.params["digest"], location)

    def _finish(self, upload: str, digest: str, location: str) -> httpx.Response:
        data = bytes(self.uploads.pop(upload))
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            return httpx.Response(400, json={"errors": [{"code": "DIGEST_INVALID", "message": "digest"}]})
        self.blobs[digest] = data
        return httpx.Response(201, headers={"Docker-Content-Digest": digest, "Location": location})

    # -- referrers ----------------------------------------------------------------------------
    def _referrers(self, request: httpx.Request, subject: str) -> httpx.Response:
        wanted = request.url.params.get("artifactType")
        entries = []
        for digest, (media_type, body) in self.manifests.items():
            obj = json.loads(body)
            if not isinstance(obj, dict) or (obj.get("subject") or {}).get("digest") != subject:
                continue
            kind = obj.get("artifactType") or obj["config"]["mediaType"]
            if wanted and kind != wanted:
                continue
            entry = {"mediaType": media_type, "digest": digest, "size": len(body), "artifactType": kind}
            if obj.get("annotations"):
                entry["annotations"] = obj["annotations"]
            entries.append(entry)
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        headers = {"Content-Type": OCI_INDEX}
        if wanted:
            headers["OCI-Filters-Applied"] = "artifactType"
        return httpx.Response(200, headers=headers, content=body)
