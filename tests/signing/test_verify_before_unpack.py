"""``--verify-key`` on kit pull and kit unpack (``verify_key=`` on api.pull / api.unpack): a ModelKit
no signature of the key verifies is refused before a byte of it is fetched or written, with the
verification's own message and exit code 1; a signed one goes through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kitops import api
from kitops.registry.remote import NetworkOptions
from kitops.signing.errors import SignatureError
from tests.helpers import kit, tree_files
from tests.realregistry import Registry
from tests.signing.ociregistry import OciRegistry
from tests.signing.sigtools import EXAMPLE, FORMATS, PASSWORD, Keys, make_keys, pack, sig_tag


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)


def stored_blobs(home: Path) -> list[str]:
    blobs = home / "storage" / "blobs" / "sha256"
    return sorted(p.name for p in blobs.iterdir()) if blobs.is_dir() else []


def empty(path: Path) -> bool:
    return not path.exists() or not any(path.iterdir())


def error_line(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("error: "))


def example_files() -> dict[str, bytes]:
    return {k: v for k, v in tree_files(EXAMPLE).items() if k != "Kitfile"}


@pytest.mark.registry
@pytest.mark.parametrize("fmt", FORMATS)
def test_pull_and_unpack_refuse_an_unsigned_or_wrongly_signed_modelkit(
    fmt: str, keys: Keys, tmp_path: Path, home: Path, plain_registry: Registry, repo_name: str
) -> None:
    pack(home, "iris:v1", fmt)
    ref = f"{plain_registry.host}/{repo_name}:v1"
    assert kit(home, "push", "iris:v1", ref).exit_code == 0
    elsewhere, out = tmp_path / "elsewhere", tmp_path / "out"

    def pull() -> tuple[int, str]:
        res = kit(elsewhere, "pull", ref, "--verify-key", str(keys.pub))
        return res.exit_code, error_line(res.stderr) if res.exit_code else res.stdout

    def unpack() -> tuple[int, str]:
        res = kit(elsewhere, "unpack", ref, "-d", str(out), "--verify-key", str(keys.pub))
        return res.exit_code, error_line(res.stderr) if res.exit_code else res.stdout

    assert pull() == (1, f"error: Failed to pull: no signatures found for {ref}")
    assert unpack() == (1, f"error: Failed to unpack: no signatures found for {ref}")
    assert stored_blobs(elsewhere) == [] and empty(out)

    assert api.sign(ref, signing_key=keys.other_key, password="", home=home).remote
    assert pull() == (1, "error: Failed to pull: no signature verifies with the given key")
    assert unpack() == (1, "error: Failed to unpack: no signature verifies with the given key")
    assert stored_blobs(elsewhere) == [] and empty(out)

    assert kit(home, "sign", ref, "--key", str(keys.key), "--referrers").exit_code == 0
    assert unpack()[0] == 0
    assert tree_files(out) == {**example_files(), "Kitfile": (out / "Kitfile").read_bytes()}
    code, stdout = pull()
    assert code == 0 and stdout.startswith("Pulled sha256:")


def test_local_unpack_checks_local_storage(keys: Keys, tmp_path: Path, home: Path) -> None:
    pack(home, "iris:v1")
    out = tmp_path / "out"
    res = kit(home, "unpack", "iris:v1", "-d", str(out), "--verify-key", str(keys.pub))
    assert res.exit_code == 1 and res.stdout == ""
    assert error_line(res.stderr) == "error: Failed to unpack: no signatures found for iris:v1"
    assert empty(out)
    assert kit(home, "sign", "iris:v1", "--key", str(keys.key)).exit_code == 0
    res = kit(home, "unpack", "iris:v1", "-d", str(out), "--verify-key", str(keys.pub))
    assert res.exit_code == 0, res.output
    assert {k: v for k, v in tree_files(out).items() if k != "Kitfile"} == example_files()


def test_api_keywords_refuse_before_any_blob_is_fetched(keys: Keys, tmp_path: Path, home: Path) -> None:
    fake = OciRegistry()
    net = NetworkOptions(transport=fake.transport())
    ref = "registry.example.com/team/iris:v1"
    pack(home, "iris:v1", "modelpack")
    digest = api.push("iris:v1", ref, home=home, network=net).descriptor.digest
    manifest = json.loads(fake.manifests[digest][1])
    blobs = {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}
    elsewhere, out = tmp_path / "elsewhere", tmp_path / "out"

    fake.requests.clear()
    with pytest.raises(SignatureError, match=rf"^no signatures found for {ref}$"):
        api.pull(ref, home=elsewhere, network=net, verify_key=keys.pub.read_bytes())
    with pytest.raises(SignatureError, match=rf"^no signatures found for {ref}$"):
        api.unpack(ref, target_dir=out, home=elsewhere, network=net, verify_key=keys.pub)
    fetched = {r.url.path.rsplit("/", 1)[1] for r in fake.requests if "/blobs/" in r.url.path}
    assert fetched.isdisjoint(blobs), "a blob of the ModelKit was fetched before verification"
    assert stored_blobs(elsewhere) == [] and empty(out)

    # a signature whose payload the registry alters in flight is no signature
    api.sign(ref, signing_key=keys.key, password=PASSWORD, home=home, network=net)
    sig_manifest = json.loads(fake.manifests[fake.tags[("team/iris", sig_tag(digest))]][1])
    payload = sig_manifest["layers"][0]["digest"]
    fake.tampered[payload] = fake.blobs[payload].replace(b"team/iris", b"team/sirl")
    with pytest.raises(SignatureError, match=r"^signature payload blob does not match its digest$"):
        api.pull(ref, home=elsewhere, network=net, verify_key=keys.pub)
    assert stored_blobs(elsewhere) == []

    del fake.tampered[payload]
    result = api.pull(ref, home=elsewhere, network=net, verify_key=keys.pub)
    assert result.descriptor.digest == digest
    assert blobs <= {f"sha256:{name}" for name in stored_blobs(elsewhere)}
    api.unpack(ref, target_dir=out, home=tmp_path / "third", network=net, verify_key=keys.pub)
    assert {k: v for k, v in tree_files(out).items() if k != "Kitfile"} == example_files()


def test_a_bad_key_file_is_refused_before_any_request(tmp_path: Path, home: Path) -> None:
    from kitops.errors import NotFoundError

    fake = OciRegistry()
    net = NetworkOptions(transport=fake.transport())
    missing = tmp_path / "nope.pub"
    with pytest.raises(NotFoundError, match=f"^key file {missing} not found$"):
        api.pull("registry.example.com/team/iris:v1", home=home, network=net, verify_key=missing)
    with pytest.raises(NotFoundError, match=f"^key file {missing} not found$"):
        api.unpack(
            "registry.example.com/team/iris:v1",
            target_dir=tmp_path / "o",
            home=home,
            network=net,
            verify_key=missing,
        )
    assert fake.requests == []
