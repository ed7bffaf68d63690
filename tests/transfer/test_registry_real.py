"""Push, pull, login and remote reads against a real OCI registry (Debian's docker-registry)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import AuthenticationError, IntegrityError, TransferError
from kitops.registry.remote import NetworkOptions
from kitops.store.layout import LocalStore
from tests.helpers import kit, tree_files
from tests.realregistry import Registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"
pytestmark = pytest.mark.registry


def _push_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("kitops.registry")]


def test_round_trip_push_remove_pull_unpack(
    plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path
) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v1"
    packed = api.pack(EXAMPLE, tag="iris:v1", home=home)
    pushed = api.push("iris:v1", ref, home=home)
    assert pushed.descriptor.digest == packed.descriptor.digest
    api.remove("iris:v1", home=home)
    pulled = api.pull(ref, home=home)
    assert pulled.descriptor.digest == packed.descriptor.digest
    out = tmp_path / "out"
    api.unpack(ref, target_dir=out, home=home)
    assert {k: v for k, v in tree_files(out).items() if k != "Kitfile"} == {
        k: v for k, v in tree_files(EXAMPLE).items() if k != "Kitfile"
    }
    rows = api.list_remote(f"{plain_registry.host}/{repo_name}", home=home)
    assert [(r.tags, r.digest) for r in rows] == [(("v1",), packed.descriptor.digest)]


def test_repush_sends_nothing_and_second_repo_mounts(
    plain_registry: Registry, repo_name: str, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    api.push("iris:v1", f"{plain_registry.host}/{repo_name}:v1", home=home)
    caplog.set_level(logging.DEBUG, logger="kitops")
    api.push("iris:v1", f"{plain_registry.host}/{repo_name}:v1", home=home)
    sent = [m for m in _push_logs(caplog) if ("PUT" in m and "/blobs/uploads/" in m) or "PATCH" in m]
    assert sent == []  # every blob skipped by HEAD
    caplog.clear()
    api.push("iris:v1", f"{plain_registry.host}/{repo_name}-copy:v1", home=home)
    logs = _push_logs(caplog)
    assert sum("mount=" in m for m in logs) == 5  # config + 4 layers
    assert not [m for m in logs if "PUT" in m and "/blobs/uploads/" in m]


def test_tags_are_listed_with_pagination(
    plain_registry: Registry, repo_name: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitops.registry import repository

    api.pack(EXAMPLE, tag="iris:v1", home=home)
    for t in ("v1", "v2", "latest", "prod", "rc1"):
        api.push("iris:v1", f"{plain_registry.host}/{repo_name}:{t}", home=home)
    monkeypatch.setattr(repository, "TAGS_PAGE", 2)
    rows = api.list_remote(f"{plain_registry.host}/{repo_name}", home=home)
    assert rows[0].tags == ("latest", "prod", "rc1", "v1", "v2")
    out = kit(home, "list", f"{plain_registry.host}/{repo_name}").stdout
    assert out.count("\n") == 6 and f"{plain_registry.host}/{repo_name}" in out


def test_tampered_blob_on_registry_is_detected(plain_registry: Registry, repo_name: str, home: Path) -> None:
    res = api.pack(EXAMPLE, tag="iris:v1", home=home)
    ref = f"{plain_registry.host}/{repo_name}:v1"
    api.push("iris:v1", ref, home=home)
    dataset = res.manifest.layers[2]
    path = plain_registry.blob_path(dataset.digest)
    original = path.read_bytes()
    data = bytearray(original)
    data[-2000] ^= 1
    path.write_bytes(bytes(data))
    other_home = home.parent / "other"
    try:
        with pytest.raises(IntegrityError):
            api.pull(ref, home=other_home)
    finally:
        path.write_bytes(original)  # blobs are shared by every repository of the registry
    store = LocalStore(other_home / "storage")
    assert not store.has_blob(dataset.digest)
    with pytest.raises(Exception, match="not found"):
        store.repository(f"{plain_registry.host}/{repo_name}").resolve("v1")  # no manifest without its blobs


def test_remote_unpack_fetches_only_selected_layers(
    plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    res = api.pack(EXAMPLE, tag="iris:v1", home=home)
    ref = f"{plain_registry.host}/{repo_name}:v1"
    api.push("iris:v1", ref, home=home)
    caplog.set_level(logging.DEBUG, logger="kitops")
    out = tmp_path / "out"
    api.unpack(ref, target_dir=out, filters=["model"], home=tmp_path / "fresh")
    gets = [m for m in _push_logs(caplog) if m.startswith("GET") and "/blobs/" in m]
    model = res.manifest.layers[0].digest
    assert len(gets) == 2 and any(model in g for g in gets)  # config + the model layer, nothing else
    assert sorted(tree_files(out)) == ["model/iris-classifier.joblib"]
    assert not (tmp_path / "fresh" / "storage" / "blobs").exists()  # streamed, not stored


def test_pull_resumes_a_partial_download_and_discards_a_corrupt_one(
    plain_registry: Registry, repo_name: str, home: Path
) -> None:
    res = api.pack(EXAMPLE, tag="iris:v1", home=home)
    ref = f"{plain_registry.host}/{repo_name}:v1"
    api.push("iris:v1", ref, home=home)
    layer = res.manifest.layers[2]
    full = LocalStore(home / "storage").blob_path(layer.digest).read_bytes()
    for prefix in (full[: len(full) // 2], b"X" * (len(full) // 2)):
        other = home.parent / f"resume-{prefix[:1].hex()}"
        ingest = other / "storage" / "ingest"
        ingest.mkdir(parents=True)
        (ingest / layer.digest.split(":")[1]).write_bytes(prefix)
        api.pull(ref, home=other)
        stored = LocalStore(other / "storage").blob_path(layer.digest).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == layer.digest.split(":")[1]
        assert not any(ingest.iterdir())


def test_basic_auth_login_and_push(basic_registry: Registry, repo_name: str, home: Path) -> None:
    ref = f"{basic_registry.host}/{repo_name}:v1"
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    with pytest.raises(AuthenticationError) as err:
        api.push("iris:v1", ref, home=home)
    assert f"kit login {basic_registry.host}" in (err.value.hint or "")
    with pytest.raises(AuthenticationError, match="failed to validate"):
        api.login(basic_registry.host, username="alice", password="wrong", home=home)
    res = kit(
        home,
        "login",
        basic_registry.host,
        "-u",
        "alice",
        "--password-stdin",
        input=basic_registry.password + "\n",
    )
    assert res.exit_code == 0 and "Log in successful" in res.stdout
    creds = home / "credentials.json"
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    assert basic_registry.password not in res.output
    api.push("iris:v1", ref, home=home)
    assert api.pull(ref, home=home).descriptor.digest  # uses the stored credentials
    assert (
        kit(home, "logout", basic_registry.host).stdout
        == f"Successfully logged out from {basic_registry.host}\n"
    )


def test_tls_is_verified_by_default(tls_registry: Registry, repo_name: str, home: Path) -> None:
    ref = f"{tls_registry.host}/{repo_name}:v1"
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    secure = NetworkOptions(plain_http=False)
    with pytest.raises(TransferError, match=r"TLS certificate of .* is not trusted \(.*certificate"):
        api.login(
            tls_registry.host,
            username="alice",
            password=tls_registry.password or "",
            home=home,
            network=secure,
        )
    trusted = NetworkOptions(plain_http=False, ca_file=tls_registry.ca_file)
    api.login(
        tls_registry.host, username="alice", password=tls_registry.password or "", home=home, network=trusted
    )
    api.push("iris:v1", ref, home=home, network=trusted)
    insecure = NetworkOptions(plain_http=False, tls_verify=False)
    assert api.pull(ref, home=home, network=insecure).descriptor.digest


def test_system_trust_is_loaded_before_the_first_handshake(
    tls_registry: Registry, repo_name: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --ca-file the CA bundle is loaded lazily, from the system's default paths: a CA
    installed there (SSL_CERT_DIR, hashed as c_rehash does) is trusted, nothing else is."""
    assert tls_registry.ca_file
    subject_hash = subprocess.run(
        ["openssl", "x509", "-noout", "-hash", "-in", tls_registry.ca_file],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(tls_registry.ca_file, certs / f"{subject_hash}.0")
    monkeypatch.setenv("SSL_CERT_DIR", str(certs))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    secure = NetworkOptions(plain_http=False)
    api.login(
        tls_registry.host, username="alice", password=tls_registry.password or "", home=home, network=secure
    )
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    api.push("iris:v1", f"{tls_registry.host}/{repo_name}:v1", home=home, network=secure)


def test_remote_inspect_info_and_remove(plain_registry: Registry, repo_name: str, home: Path) -> None:
    res = api.pack(EXAMPLE, tag="iris:v1", home=home)
    ref = f"{plain_registry.host}/{repo_name}:v1"
    api.push("iris:v1", ref, home=home)
    assert api.inspect(ref, home=home, remote=True).digest == res.descriptor.digest
    assert api.info(ref, home=home, remote=True).package.name == "iris-classifier"
    out = kit(home, "info", "--remote", ref, "--filter", "package.name")
    assert out.stdout == "iris-classifier\n"
    assert kit(home, "remove", "--remote", ref).exit_code == 0
    missing = kit(home, "inspect", "--remote", ref)
    assert missing.exit_code == 1 and "not found" in missing.stderr


def test_push_pull_via_cli(plain_registry: Registry, repo_name: str, home: Path) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v1"
    assert kit(home, "pack", str(EXAMPLE), "-t", "iris:v1").exit_code == 0
    res = kit(home, "push", "iris:v1", ref)
    assert res.exit_code == 0 and res.stdout.startswith("Pushed sha256:")
    bad = kit(home, "push", "iris:v1")
    assert bad.exit_code == 2 and "registry is required when pushing" in bad.stderr  # a bad command line
    res = kit(home.parent / "h3", "pull", ref)
    assert res.exit_code == 0 and res.stdout.startswith("Pulled sha256:")


def test_parent_modelkits_are_pushed_pulled_and_unpacked_remotely(
    plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path
) -> None:
    from tests.helpers import write_tree

    api.pack(EXAMPLE, tag=f"{repo_name}-base:v1", home=home)
    child = write_tree(
        tmp_path / "child",
        {
            "Kitfile": f"manifestVersion: 1.0.0\nmodel:\n  path: {repo_name}-base:v1\n  parts: [{{path: lora.bin}}]\n",
            "lora.bin": "adapter",
        },
    )
    api.pack(child, tag="tuned:v1", home=home)
    ref = f"{plain_registry.host}/{repo_name}-tuned:v1"
    api.push("tuned:v1", ref, home=home)  # the parent goes to the same registry, in its own repository
    assert api.list_remote(f"{plain_registry.host}/{repo_name}-base", home=home)[0].tags == ("v1",)
    out = tmp_path / "remote-unpack"
    api.unpack(ref, target_dir=out, home=tmp_path / "fresh")
    assert (out / "lora.bin").read_text() == "adapter"
    assert (out / "model" / "iris-classifier.joblib").exists() and not (out / "data").exists()
    other = tmp_path / "pulled"
    api.pull(ref, home=other)
    keys = LocalStore(other / "storage").repo_keys()
    assert keys == sorted(
        [f"{plain_registry.host}/{repo_name}-base", f"{plain_registry.host}/{repo_name}-tuned"]
    )
