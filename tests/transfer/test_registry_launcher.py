"""The one registry launcher (tests/realregistry.py) the fixtures, the bench and the demo share."""

from __future__ import annotations

import hashlib
import importlib.util
import stat
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests import realregistry
from tests.realregistry import RegistryStartError, start_registry

ROOT = Path(__file__).resolve().parents[2]


def _demo() -> ModuleType:
    """scripts/demo.py as a module (it is a script, not a package member)."""
    spec = importlib.util.spec_from_file_location("kitops_demo_script", ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.registry
def test_blobs_go_to_the_storage_given_and_deletes_are_enabled(
    registry_installed: None, tmp_path: Path
) -> None:
    """What the bench relies on: configuration and log in one directory, blobs in another."""
    reg = start_registry(tmp_path / "conf", storage=tmp_path / "blobs", log_level="error")
    try:
        data = b"a blob for the launcher test\n"
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = httpx.post(f"{reg.url}/v2/launcher/test/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = str(httpx.URL(reg.url).join(started.headers["location"]))
        put = httpx.put(f"{location}{'&' if '?' in location else '?'}digest={digest}", content=data)
        assert put.status_code == 201, put.text
        hexpart = digest.split(":", 1)[1]
        stored = (
            tmp_path
            / "blobs"
            / "docker"
            / "registry"
            / "v2"
            / "blobs"
            / "sha256"
            / hexpart[:2]
            / hexpart
            / "data"
        )
        assert stored.read_bytes() == data and reg.blob_path(digest) == stored
        assert (tmp_path / "conf" / realregistry.CONFIG).is_file() and not (
            tmp_path / "conf" / "data"
        ).exists()
        assert httpx.delete(f"{reg.url}/v2/launcher/test/blobs/{digest}").status_code == 202
    finally:
        reg.stop()
    assert reg.process.poll() is not None


def test_a_missing_binary_is_a_start_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realregistry, "BINARY", str(tmp_path / "no-such-registry"))
    with pytest.raises(RegistryStartError, match=r"^docker-registry is not installed \(apt-get install"):
        start_registry(tmp_path / "reg")


def test_a_registry_that_exits_is_retried_then_reported_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake-registry"
    fake.write_text(
        f"#!/bin/sh\necho started >> {tmp_path / 'starts'}\necho 'listen tcp: address already in use'\n"
        "exit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(realregistry, "BINARY", str(fake))
    with pytest.raises(
        RegistryStartError, match=r"did not answer on 127\.0\.0\.1 .*\n.*address already in use"
    ):
        start_registry(tmp_path / "reg", timeout=5)
    assert (tmp_path / "starts").read_text().count("started") == 5  # a port taken in between is retried


def test_the_demo_says_its_registry_did_not_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = _demo()
    monkeypatch.setattr(demo, "OUT", tmp_path)
    monkeypatch.setattr(realregistry, "BINARY", str(tmp_path / "no-such-registry"))
    with pytest.raises(
        SystemExit, match=r"^demo failed: the local registry did not start: docker-registry is not"
    ):
        demo.start_registry()
