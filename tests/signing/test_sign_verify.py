"""kit sign / kit verify: the three places a signature is kept, on Kit and ModelPack ModelKits, in
local storage, on the real registry (no referrers API: the tag-schema fallback) and on an OCI 1.1
registry (MockTransport); every refusal with its own message and exit code 1. What we store is
checked with ``cryptography`` alone, so a verifier that follows cosign's format accepts it."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import stat
from pathlib import Path

import pytest

from kitops import api
from kitops.cli import main as cli_main
from kitops.registry.remote import NetworkOptions
from kitops.signing.errors import SignatureError
from tests.helpers import kit
from tests.realregistry import Registry
from tests.signing.ociregistry import OciRegistry
from tests.signing.sigtools import (
    BUNDLE,
    EMPTY,
    EMPTY_DIGEST,
    FORMATS,
    IMAGE_CONFIG,
    PASSWORD,
    SIG_ARTIFACT,
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING,
    Keys,
    RegistryReader,
    local_repo,
    make_keys,
    pack,
    payload_for,
    put_blob,
    put_sig_manifest,
    read_local_manifest,
    sig_tag,
    sign_ecdsa,
    tamper,
    verify_ecdsa,
)

TYPE = "cosign container image signature"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("error: ", "hint: "))]


def sign_as_other(home: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """``kit sign`` with the other key, whose password is empty."""
    monkeypatch.setenv("COSIGN_PASSWORD", "")
    try:
        return kit(home, "sign", *args, "--key", str(keys.other_key)).exit_code
    finally:
        monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)


# ---------------------------------------------------------------------------------------------
# generate-key-pair


def test_generate_key_pair_writes_cosign_files(tmp_path: Path, home: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    prefix = tmp_path / "release"
    res = kit(home, "sign", "generate-key-pair", "--output-key-prefix", str(prefix))
    assert res.exit_code == 0, res.output
    key, pub = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    assert res.stdout == f"Private key written to {key}\nPublic key written to {pub}\n"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(pub.stat().st_mode) == 0o644
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    public = serialization.load_pem_public_key(pub.read_bytes())
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"

    before = key.read_bytes()
    again = kit(home, "sign", "generate-key-pair", "--output-key-prefix", str(prefix))
    assert again.exit_code == 1
    assert error_lines(again.stderr)[0] == f"error: {key} already exists"
    assert key.read_bytes() == before
    forced = kit(home, "sign", "generate-key-pair", "--output-key-prefix", str(prefix), "--force")
    assert forced.exit_code == 0 and key.read_bytes() != before


def test_generate_key_pair_prompts_twice_on_a_terminal(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitops.signing.errors import PasswordError
    from kitops.signing.keys import load_private_key

    monkeypatch.delenv("COSIGN_PASSWORD")
    prefix = tmp_path / "k"
    refused = kit(home, "sign", "generate-key-pair", "--output-key-prefix", str(prefix))
    assert refused.exit_code == 2 and not Path(f"{prefix}.key").exists()
    assert error_lines(refused.stderr)[0] == (
        "error: no password for the private key: COSIGN_PASSWORD is not set and standard input is not a terminal"
    )
    monkeypatch.setattr(cli_main, "_stdin_is_terminal", lambda: True)
    res = kit(home, "sign", "generate-key-pair", "--output-key-prefix", str(prefix), input="s3cret\ns3cret\n")
    assert res.exit_code == 0, res.output
    assert "Enter password for private key again" in res.stderr and "s3cret" not in res.output
    pem = Path(f"{prefix}.key").read_bytes()
    load_private_key(pem, b"s3cret")
    with pytest.raises(PasswordError):
        load_private_key(pem, b"wrong")


# ---------------------------------------------------------------------------------------------
# local storage


@pytest.mark.parametrize("fmt", FORMATS)
def test_sign_and_verify_in_local_storage(
    fmt: str, keys: Keys, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = pack(home, "iris:v1", fmt)
    res = kit(home, "sign", "iris:v1", "--key", str(keys.key), "-a", "ci=42", "-a", "by=me")
    assert res.exit_code == 0, res.output
    assert res.stdout == f"Signed iris:v1 ({digest})\n"

    verified = kit(home, "verify", "iris:v1", "--key", str(keys.pub))
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout) == [
        {
            "critical": {
                "identity": {"docker-reference": "localhost/iris"},
                "image": {"docker-manifest-digest": digest},
                "type": TYPE,
            },
            "optional": {"by": "me", "ci": "42"},
        }
    ]
    assert "Verification for iris:v1" in verified.stderr

    repo = local_repo(home)
    _desc, manifest = read_local_manifest(repo, sig_tag(digest))
    (layer,) = manifest.layers
    payload = repo.store.blob_path(layer.digest).read_bytes()
    verify_ecdsa(keys.pub, (layer.annotations or {})[SIGNATURE_ANNOTATION], payload)

    # the same key again adds nothing; another key appends a layer, and each key verifies its own
    assert kit(home, "sign", "iris:v1", "--key", str(keys.key), "-a", "ci=42", "-a", "by=me").exit_code == 0
    assert len(read_local_manifest(repo, sig_tag(digest))[1].layers) == 1
    assert sign_as_other(home, keys, monkeypatch, "iris:v1") == 0
    assert len(read_local_manifest(repo, sig_tag(digest))[1].layers) == 2
    for pub in (keys.pub, keys.other_pub):
        out = kit(home, "verify", "iris:v1", "--key", str(pub), "-o", "text")
        assert out.exit_code == 0 and out.stdout.count("Verified tag signature") == 1, out.output


def test_all_three_places_verify_and_are_listed(keys: Keys, home: Path) -> None:
    digest = pack(home, "iris:v1")
    for flag in ([], ["--referrers"], ["--bundle"]):
        assert kit(home, "sign", "iris:v1", "--key", str(keys.key), *flag).exit_code == 0
    result = api.verify("iris:v1", verify_key=keys.pub, home=home)
    assert [s.place for s in result.signatures] == ["tag", "referrer", "bundle"]
    assert all(s.claim.digest == digest for s in result.signatures)
    kinds = {d.artifact_type for d in local_repo(home).referrers(digest)}
    assert kinds == {SIG_ARTIFACT, BUNDLE}


# ---------------------------------------------------------------------------------------------
# the real registry: tag scheme, and referrers through the tag-schema fallback


@pytest.mark.registry
@pytest.mark.parametrize("fmt", FORMATS)
def test_sign_on_the_registry_in_the_tag_scheme(
    fmt: str, keys: Keys, home: Path, plain_registry: Registry, repo_name: str
) -> None:
    pack(home, "iris:v1", fmt)
    ref = f"{plain_registry.host}/{repo_name}:v1"
    assert kit(home, "push", "iris:v1", ref).exit_code == 0
    res = kit(home, "sign", ref, "--key", str(keys.key), "-a", "release=v1")
    assert res.exit_code == 0, res.output
    reader = RegistryReader(plain_registry.url, repo_name)
    digest, _ = reader.manifest("v1")
    assert res.stdout == f"Signed {ref} ({digest})\n"

    # what is on the registry, read and checked without kitops
    sig = reader.manifest_json(sig_tag(digest))
    assert sig["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert sig["config"]["mediaType"] == IMAGE_CONFIG
    (layer,) = sig["layers"]
    assert layer["mediaType"] == SIMPLESIGNING
    config = json.loads(reader.blob(sig["config"]["digest"]))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"]]}
    payload = reader.blob(layer["digest"])
    verify_ecdsa(keys.pub, layer["annotations"][SIGNATURE_ANNOTATION], payload)
    assert json.loads(payload) == {
        "critical": {
            "identity": {"docker-reference": f"{plain_registry.host}/{repo_name}"},
            "image": {"docker-manifest-digest": digest},
            "type": TYPE,
        },
        "optional": {"release": "v1"},
    }

    verified = kit(home, "verify", ref, "--key", str(keys.pub))
    assert verified.exit_code == 0 and json.loads(verified.stdout) == [json.loads(payload)]


@pytest.mark.registry
def test_referrers_and_bundle_use_the_tag_schema_on_a_registry_without_the_api(
    keys: Keys, home: Path, plain_registry: Registry, repo_name: str
) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pack(home, "iris:v1")
    ref = f"{plain_registry.host}/{repo_name}:v1"
    assert kit(home, "push", "iris:v1", ref).exit_code == 0
    assert kit(home, "sign", ref, "--key", str(keys.key), "--referrers").exit_code == 0
    assert kit(home, "sign", ref, "--key", str(keys.key), "--bundle").exit_code == 0
    reader = RegistryReader(plain_registry.url, repo_name)
    digest, manifest_bytes = reader.manifest("v1")
    assert reader.tags() == sorted(["v1", digest.replace(":", "-")])  # the index tag; no .sig tag

    index = reader.manifest_json(digest.replace(":", "-"))
    assert [m["artifactType"] for m in index["manifests"]] == [SIG_ARTIFACT, BUNDLE]
    sig_ref, bundle_ref = (m["digest"] for m in index["manifests"])

    sig = reader.manifest_json(sig_ref)
    assert sig["subject"]["digest"] == digest and sig["artifactType"] == SIG_ARTIFACT
    (layer,) = sig["layers"]
    verify_ecdsa(keys.pub, layer["annotations"][SIGNATURE_ANNOTATION], reader.blob(layer["digest"]))

    bundle_manifest = reader.manifest_json(bundle_ref)
    assert bundle_manifest["config"] == {"mediaType": EMPTY, "digest": EMPTY_DIGEST, "size": 2}
    assert bundle_manifest["annotations"] == {"dev.sigstore.bundle.content": "message-signature"}
    assert bundle_manifest["subject"]["digest"] == digest
    bundle = json.loads(reader.blob(bundle_manifest["layers"][0]["digest"]))
    assert bundle["mediaType"] == BUNDLE
    message = bundle["messageSignature"]
    assert message["messageDigest"] == {
        "algorithm": "SHA2_256",
        "digest": base64.b64encode(hashlib.sha256(manifest_bytes).digest()).decode(),
    }
    public = serialization.load_pem_public_key(keys.pub.read_bytes())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(base64.b64decode(message["signature"]), manifest_bytes, ec.ECDSA(hashes.SHA256()))

    verified = kit(home, "verify", ref, "--key", str(keys.pub), "-o", "text")
    assert verified.exit_code == 0, verified.output
    assert [line.split()[1] for line in verified.stdout.splitlines()] == ["referrer", "bundle"]


@pytest.mark.registry
def test_a_locally_signed_modelkit_verifies_after_push_on_another_machine(
    keys: Keys, tmp_path: Path, home: Path, plain_registry: Registry, repo_name: str
) -> None:
    digest = pack(home, "iris:v1", "modelpack")
    assert kit(home, "sign", "iris:v1", "--key", str(keys.key)).exit_code == 0
    assert kit(home, "sign", "iris:v1", "--key", str(keys.key), "--referrers").exit_code == 0
    ref = f"{plain_registry.host}/{repo_name}:v1"
    assert kit(home, "push", "iris:v1", ref).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    verified = kit(elsewhere, "verify", ref, "--key", str(keys.pub), "-o", "text")
    assert verified.exit_code == 0, verified.output
    assert [line.split()[1] for line in verified.stdout.splitlines()] == ["tag", "referrer"]
    assert f"for {digest}" in verified.stdout


# ---------------------------------------------------------------------------------------------
# a registry with the OCI 1.1 referrers API


def test_referrers_api_is_used_where_the_registry_has_it(keys: Keys, home: Path) -> None:
    fake = OciRegistry()
    net = NetworkOptions(transport=fake.transport())
    ref = "registry.example.com/team/iris:v1"
    pack(home, "iris:v1", "modelpack")
    digest = api.push("iris:v1", ref, home=home, network=net).descriptor.digest
    for mode in ("referrers", "bundle"):
        api.sign(ref, signing_key=keys.key, password=PASSWORD, mode=mode, home=home, network=net)
    assert fake.tag_names("team/iris") == ["v1"]  # the registry indexed them: no fallback tag
    assert any(r.url.path == f"/v2/team/iris/referrers/{digest}" for r in fake.requests)
    result = api.verify(ref, verify_key=keys.pub.read_bytes(), home=home, network=net)
    assert [s.place for s in result.signatures] == ["referrer", "bundle"]


def test_a_registry_serving_altered_payload_bytes_is_refused(keys: Keys, home: Path) -> None:
    fake = OciRegistry()
    net = NetworkOptions(transport=fake.transport())
    ref = "registry.example.com/team/iris:v1"
    pack(home, "iris:v1")
    digest = api.push("iris:v1", ref, home=home, network=net).descriptor.digest
    api.sign(ref, signing_key=keys.key, password=PASSWORD, home=home, network=net)
    _media_type, body = fake.manifests[fake.tags[("team/iris", sig_tag(digest))]]
    payload_digest = json.loads(body)["layers"][0]["digest"]
    original = fake.blobs[payload_digest]
    fake.tampered[payload_digest] = original.replace(digest.encode(), ("sha256:" + "0" * 64).encode())
    with pytest.raises(SignatureError, match=r"^signature payload blob does not match its digest$"):
        api.verify(ref, verify_key=keys.pub, home=home, network=net)


# ---------------------------------------------------------------------------------------------
# refusals: each its own message, exit code 1, nothing on stdout


def refused(home: Path, *args: str) -> str:
    res = kit(home, *args)
    assert res.exit_code == 1, res.output
    assert res.stdout == ""
    return error_lines(res.stderr)[0]


def test_unsigned_modelkit(keys: Keys, home: Path) -> None:
    pack(home, "iris:v1")
    assert (
        refused(home, "verify", "iris:v1", "--key", str(keys.pub)) == "error: no signatures found for iris:v1"
    )


def test_signature_by_another_key(keys: Keys, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pack(home, "iris:v1")
    assert sign_as_other(home, keys, monkeypatch, "iris:v1") == 0
    assert (
        refused(home, "verify", "iris:v1", "--key", str(keys.pub))
        == "error: no signature verifies with the given key"
    )


def test_signature_for_another_digest(keys: Keys, home: Path) -> None:
    first = pack(home, "iris:v1")
    second = pack(home, "iris:v2", note="second")
    assert kit(home, "sign", "iris:v1", "--key", str(keys.key)).exit_code == 0
    repo = local_repo(home)
    repo.tag(repo.resolve(sig_tag(first)), sig_tag(second))  # v1's signatures offered for v2
    assert (
        refused(home, "verify", "iris:v2", "--key", str(keys.pub))
        == f"error: signature is for {first}, not {second}"
    )


def test_tampered_payload_blob(keys: Keys, home: Path) -> None:
    digest = pack(home, "iris:v1")
    assert kit(home, "sign", "iris:v1", "--key", str(keys.key)).exit_code == 0
    repo = local_repo(home)
    tamper(repo, read_local_manifest(repo, sig_tag(digest))[1].layers[0].digest)
    assert (
        refused(home, "verify", "iris:v1", "--key", str(keys.pub))
        == "error: signature payload blob does not match its digest"
    )


def test_payload_of_another_type(keys: Keys, home: Path) -> None:
    digest = pack(home, "iris:v1")
    repo = local_repo(home)
    payload = payload_for("localhost/iris", digest, kind="something else")
    layer = put_blob(
        repo, SIMPLESIGNING, payload, **{SIGNATURE_ANNOTATION: sign_ecdsa(keys.private(), payload)}
    )
    put_sig_manifest(repo, digest, [layer])
    assert refused(home, "verify", "iris:v1", "--key", str(keys.pub)) == (
        "error: signature payload has type 'something else', not 'cosign container image signature'"
    )


def test_truncated_der_signature(keys: Keys, home: Path) -> None:
    digest = pack(home, "iris:v1")
    repo = local_repo(home)
    payload = payload_for("localhost/iris", digest)
    der = base64.b64decode(sign_ecdsa(keys.private(), payload))
    truncated = base64.b64encode(der[:-4]).decode()
    put_sig_manifest(
        repo, digest, [put_blob(repo, SIMPLESIGNING, payload, **{SIGNATURE_ANNOTATION: truncated})]
    )
    assert (
        refused(home, "verify", "iris:v1", "--key", str(keys.pub))
        == "error: signature is not a DER-encoded ECDSA signature"
    )


def test_one_valid_layer_among_fifty_verifies(
    keys: Keys, home: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitops.signing.keys import load_private_key

    digest = pack(home, "iris:v1")
    repo = local_repo(home)
    other = load_private_key(keys.other_key.read_bytes(), b"")
    layers = []
    for i in range(49):  # signed by another key, each payload different
        payload = payload_for(f"localhost/iris-{i}", digest)
        signature = base64.b64encode(other.sign(payload)).decode()
        layers.append(put_blob(repo, SIMPLESIGNING, payload, **{SIGNATURE_ANNOTATION: signature}))
    good = payload_for("localhost/iris", digest)
    layers.insert(
        30, put_blob(repo, SIMPLESIGNING, good, **{SIGNATURE_ANNOTATION: sign_ecdsa(keys.private(), good)})
    )
    put_sig_manifest(repo, digest, layers)
    monkeypatch.setattr(logging.getLogger("kitops"), "propagate", True)  # a CLI run turned it off
    with caplog.at_level(logging.DEBUG, logger="kitops.signing.verify"):
        result = api.verify("iris:v1", verify_key=keys.pub, home=home)
    assert [s.payload for s in result.signatures] == [good]
    assert "49 of 50 signatures of iris:v1 rejected" in caplog.messages


def test_the_most_telling_reason_is_reported(keys: Keys, home: Path) -> None:
    """Among many bad signatures, one made by the key for another ModelKit says the most."""
    digest = pack(home, "iris:v1")
    repo = local_repo(home)
    layers = [put_blob(repo, SIMPLESIGNING, b"{}", **{SIGNATURE_ANNOTATION: "bm90IGEgc2lnbmF0dXJl"})]
    elsewhere = payload_for("localhost/iris", "sha256:" + "e" * 64)
    layers.append(
        put_blob(
            repo, SIMPLESIGNING, elsewhere, **{SIGNATURE_ANNOTATION: sign_ecdsa(keys.private(), elsewhere)}
        )
    )
    put_sig_manifest(repo, digest, layers)
    assert refused(home, "verify", "iris:v1", "--key", str(keys.pub)) == (
        f"error: signature is for sha256:{'e' * 64}, not {digest}"
    )


def test_wrong_password_signs_nothing(keys: Keys, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = pack(home, "iris:v1")
    monkeypatch.setenv("COSIGN_PASSWORD", "not it")
    message = refused(home, "sign", "iris:v1", "--key", str(keys.key))
    assert message == "error: decryption failed: the password is wrong or the key file is damaged"
    assert sig_tag(digest) not in local_repo(home).tags()


def test_password_is_prompted_for_only_when_the_key_is_encrypted(
    keys: Keys, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack(home, "iris:v1")
    monkeypatch.delenv("COSIGN_PASSWORD")
    monkeypatch.setattr(cli_main, "_stdin_is_terminal", lambda: True)
    res = kit(home, "sign", "iris:v1", "--key", str(keys.key), input=PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    assert "Enter password for private key" in res.stderr and "again" not in res.stderr
    assert kit(home, "verify", "iris:v1", "--key", str(keys.pub)).exit_code == 0


def test_a_public_key_cannot_sign_and_a_private_one_cannot_verify(keys: Keys, home: Path) -> None:
    pack(home, "iris:v1")
    assert refused(home, "verify", "iris:v1", "--key", str(keys.key)) == "error: no PEM public key found"
    assert refused(home, "sign", "iris:v1", "--key", str(keys.pub)).startswith("error: ")
    assert refused(home, "verify", "iris:v1", "--key", str(home / "missing.pub")) == (
        f"error: key file {home / 'missing.pub'} not found"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--referrers", "--bundle"], "error: --referrers and --bundle cannot be used together"),
        (["-a", "novalue"], "error: Invalid value for -a: 'novalue' is not KEY=VALUE"),
        (
            ["--bundle", "-a", "k=v"],
            "error: annotations cannot go into a bundle signature: it signs the manifest itself, not a payload",
        ),
    ],
)
def test_bad_sign_command_lines_exit_2(args: list[str], message: str, keys: Keys, home: Path) -> None:
    pack(home, "iris:v1")
    res = kit(home, "sign", "iris:v1", "--key", str(keys.key), *args)
    assert res.exit_code == 2, res.output
    assert error_lines(res.stderr)[0] == message


def test_sign_help_shows_the_signing_options_and_the_key_pair_command(home: Path) -> None:
    from click.testing import CliRunner

    def run(*args: str) -> tuple[int, str, str]:
        res = CliRunner().invoke(cli_main.cli, ["--config", str(home), *args], prog_name="kit")
        return res.exit_code, res.stdout, res.stderr

    code, out, _err = run("sign", "--help")
    assert code == 0
    assert out.startswith("Usage: kit sign [OPTIONS] MODELKIT\n")
    for text in ("--key PATH", "--referrers", "--bundle", "-a, --annotation KEY=VALUE", "generate-key-pair"):
        assert text in out
    assert "MODELKIT" not in out.partition("Commands:")[2]  # the hidden default command is not listed
    code, _out, err = run("sign", "iris:v1")
    assert code == 2 and "Missing option '--key'" in err
    assert "hint: run 'kit sign --help' to see its options (usage: kit sign [OPTIONS] MODELKIT)" in err


def test_a_cosign_v3_dsse_bundle_verifies_as_a_signature(keys: Keys, home: Path) -> None:
    """cosign v3 signs an image with a bundle of a DSSE envelope whose statement names the digest."""
    from kitops.oci import mediatypes as mt
    from kitops.oci.models import Manifest
    from kitops.signing.bundle import make_dsse_bundle
    from kitops.signing.dsse import cosign_sign_statement, sign_envelope
    from kitops.signing.keys import load_private_key

    digest = pack(home, "iris:v1")
    repo = local_repo(home)
    key = load_private_key(keys.key.read_bytes(), PASSWORD.encode())
    bundle = make_dsse_bundle(sign_envelope(cosign_sign_statement(digest), key), key.public_key)
    manifest = Manifest(
        config=put_blob(repo, EMPTY, b"{}"),
        layers=(put_blob(repo, BUNDLE, bundle),),
        media_type=mt.OCI_MANIFEST,
        artifact_type=BUNDLE,
        subject=repo.resolve("v1"),
        annotations={
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
        },
    )
    stored = repo.push_referrer(manifest)
    verified = kit(home, "verify", "iris:v1", "--key", str(keys.pub), "-o", "text")
    assert verified.exit_code == 0, verified.output
    assert verified.stdout == f"Verified bundle signature {stored.digest} for {digest}\n"
    assert refused(home, "verify", "iris:v1", "--key", str(keys.other_pub)) == (
        "error: no signature verifies with the given key"
    )
    assert refused(home, "verify-attestation", "iris:v1", "--key", str(keys.pub)) == (
        "error: no attestations found for iris:v1"
    )
