"""What a listing passes over (other artifacts, damaged entries) and what it must not swallow."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.errors import PermissionDeniedError
from kitops.oci import mediatypes as mt
from kitops.registry.remote import NetworkOptions
from kitops.store.layout import LocalStore
from tests.helpers import write_tree

REPO = "registry.invalid/team/model"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest(config: bytes, config_type: str = mt.KIT_CONFIG) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": config_type, "digest": _digest(config), "size": len(config)},
            "layers": [],
        }
    ).encode()


class FakeRegistry:
    """tags -> manifests -> configs; a config may be missing (404) or forbidden (403)."""

    def __init__(self) -> None:
        self.manifests: dict[str, bytes] = {}
        self.blobs: dict[str, bytes] = {}
        self.forbidden: set[str] = set()

    def add(
        self, tag: str, config: bytes | None, config_type: str = mt.KIT_CONFIG, *, forbidden: bool = False
    ) -> str:
        body = config if config is not None else b'{"gone": true}'
        manifest = _manifest(body, config_type)
        self.manifests[tag] = manifest
        if config is not None:
            self.blobs[_digest(body)] = body
        if forbidden:
            self.forbidden.add(_digest(body))
        return _digest(manifest)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v2/":
            return httpx.Response(200)
        if path.endswith("/tags/list"):
            return httpx.Response(200, json={"name": "team/model", "tags": sorted(self.manifests)})
        if "/manifests/" in path:
            data = self.manifests.get(path.rsplit("/", 1)[1])
            if data is None:
                return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
            headers = {"Content-Type": mt.OCI_MANIFEST, "Docker-Content-Digest": _digest(data)}
            return httpx.Response(200, headers=headers, content=b"" if request.method == "HEAD" else data)
        digest = path.rsplit("/", 1)[1]
        if digest in self.forbidden:
            return httpx.Response(403, json={"errors": [{"code": "DENIED", "message": "no access"}]})
        if digest not in self.blobs:
            return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN"}]})
        return httpx.Response(200, content=self.blobs[digest])


def _list(reg: FakeRegistry, home: Path) -> list[str]:
    network = NetworkOptions(transport=httpx.MockTransport(reg))
    return [row.digest for row in api.list_remote(REPO, home=home, network=network)]


def test_remote_listing_passes_over_other_artifacts_and_damaged_entries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reg = FakeRegistry()
    good = reg.add("v1", b'{"manifestVersion": "1.0.0", "package": {"name": "m"}}')
    reg.add("sig", b"{}", config_type="application/vnd.example.signature.v1+json")  # not a ModelKit
    damaged = reg.add("v2", None)  # its config is gone
    with caplog.at_level(logging.DEBUG, logger="kitops.api"):
        assert _list(reg, tmp_path) == [good]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and damaged in warnings[0] and "not listed" in warnings[0]


def test_remote_listing_raises_what_is_no_property_of_an_entry(tmp_path: Path) -> None:
    """A refused blob is the caller's problem (credentials), not a damaged entry: no partial list."""
    reg = FakeRegistry()
    reg.add("v1", b'{"manifestVersion": "1.0.0"}')
    reg.add("v2", b'{"manifestVersion": "1.0.0", "package": {"name": "secret"}}', forbidden=True)
    with pytest.raises(PermissionDeniedError):
        _list(reg, tmp_path)


def test_local_listing_warns_about_a_damaged_modelkit_and_lists_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    first = write_tree(
        tmp_path / "a",
        {"Kitfile": "manifestVersion: 1.0.0\npackage: {name: a}\nmodel: {path: m.bin}\n", "m.bin": b"a"},
    )
    second = write_tree(
        tmp_path / "b",
        {"Kitfile": "manifestVersion: 1.0.0\npackage: {name: b}\nmodel: {path: m.bin}\n", "m.bin": b"b"},
    )
    kept = api.pack(first, tag="team/a:v1", home=home)
    broken = api.pack(second, tag="team/b:v1", home=home)
    LocalStore(home / "storage").blob_path(broken.manifest.config.digest).unlink()
    with caplog.at_level(logging.WARNING, logger="kitops.api"):
        rows = api.list_modelkits(home=home)
    assert [r.digest for r in rows] == [kept.descriptor.digest]
    assert any(broken.descriptor.digest in r.getMessage() for r in caplog.records)


def test_repacking_passes_over_a_lost_manifest_but_not_a_failing_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pack looks for an identical stored ModelKit to reuse: one it cannot read is no candidate,
    but an I/O error is the store's trouble and must not turn into a silent second copy."""
    # A fixed creation time: the re-pack writes the same manifest again whichever second it runs in.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    home = tmp_path / "home"
    project = write_tree(
        tmp_path / "p", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: m.bin}\n", "m.bin": b"m"}
    )
    first = api.pack(project, tag="team/m:v1", home=home)
    store = LocalStore(home / "storage")
    store.blob_path(first.descriptor.digest).unlink()  # the manifest blob is gone, its index entry is not
    again = api.pack(project, tag="team/m:v2", home=home)
    assert again.descriptor.digest == first.descriptor.digest and store.has_blob(first.descriptor.digest)

    def failing_disk(self: LocalStore, desc: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(LocalStore, "read_manifest", failing_disk)
    with pytest.raises(OSError, match="Input/output error"):
        api.pack(project, tag="team/m:v3", home=home)
