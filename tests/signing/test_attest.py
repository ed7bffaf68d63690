"""kit attest / kit verify-attestation: in-toto statements in DSSE envelopes, in cosign's ``.att``
tag or as referrers, locally, on the real registry and on an OCI 1.1 registry; each refusal with
its own message. The envelopes are checked with ``cryptography`` alone (PAE rebuilt here)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kitops import api
from kitops.oci import mediatypes as mt
from kitops.oci.models import Manifest
from kitops.registry.remote import NetworkOptions
from tests.helpers import kit
from tests.realregistry import Registry
from tests.signing.ociregistry import OciRegistry
from tests.signing.sigtools import (
    ATT_ARTIFACT,
    DSSE,
    EMPTY,
    FORMATS,
    PASSWORD,
    SIGNATURE_ANNOTATION,
    Keys,
    RegistryReader,
    local_repo,
    make_keys,
    pack,
    put_blob,
    read_local_manifest,
    sig_tag,
    tamper,
    verify_ecdsa,
)

SLSA02 = "https://slsa.dev/provenance/v0.2"
SPDX = "https://spdx.dev/Document"
IN_TOTO = "application/vnd.in-toto+json"
PROVENANCE = {"buildType": "https://example.com/train/v1", "builder": {"id": "https://ci.example.com"}}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)


@pytest.fixture()
def predicate(tmp_path: Path) -> Path:
    path = tmp_path / "provenance.json"
    path.write_text(json.dumps(PROVENANCE))
    return path


def error_line(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("error: "))


def refused(home: Path, *args: str) -> str:
    res = kit(home, *args)
    assert res.exit_code == 1, res.output
    assert res.stdout == ""
    return error_line(res.stderr)


def check_envelope(pub: Path, envelope: bytes, digest: str) -> dict[str, object]:
    """Verify a DSSE envelope as the DSSE spec says, without kitops: signature over the PAE."""
    doc = json.loads(envelope)
    assert doc["payloadType"] == IN_TOTO
    body = base64.b64decode(doc["payload"])
    pae = b"DSSEv1 %d %s %d %s" % (len(IN_TOTO), IN_TOTO.encode(), len(body), body)
    (signature,) = doc["signatures"]
    assert signature["keyid"] == ""
    verify_ecdsa(pub, signature["sig"], pae)
    statement: dict[str, object] = json.loads(body)
    assert statement["subject"] == [
        {"name": statement["subject"][0]["name"], "digest": {"sha256": digest[7:]}}
    ]  # type: ignore[index]
    return statement


@pytest.mark.parametrize("fmt", FORMATS)
def test_attest_and_verify_in_local_storage(fmt: str, keys: Keys, home: Path, predicate: Path) -> None:
    digest = pack(home, "iris:v1", fmt)
    res = kit(
        home,
        "attest",
        "iris:v1",
        "--key",
        str(keys.key),
        "--predicate",
        str(predicate),
        "--type",
        "slsaprovenance",
    )
    assert res.exit_code == 0, res.output
    assert res.stdout == f"Attested iris:v1 ({digest})\n"
    expected = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": SLSA02,
        "subject": [{"name": "localhost/iris", "digest": {"sha256": digest[7:]}}],
        "predicate": PROVENANCE,
    }
    verified = kit(home, "verify-attestation", "iris:v1", "--key", str(keys.pub))
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout) == [expected]

    repo = local_repo(home)
    _desc, manifest = read_local_manifest(repo, sig_tag(digest, ".att"))
    (layer,) = manifest.layers
    assert layer.media_type == DSSE
    assert dict(layer.annotations or {}) == {SIGNATURE_ANNOTATION: "", "predicateType": SLSA02}
    assert check_envelope(keys.pub, repo.store.blob_path(layer.digest).read_bytes(), digest) == expected


def test_custom_predicate_wraps_the_text(keys: Keys, home: Path, tmp_path: Path) -> None:
    digest = pack(home, "iris:v1")
    note = tmp_path / "note.txt"
    note.write_text("reviewed by the model board\n")
    assert kit(home, "attest", "iris:v1", "--key", str(keys.key), "--predicate", str(note)).exit_code == 0
    (statement,) = api.verify_attestation("iris:v1", verify_key=keys.pub, home=home).attestations
    assert statement.statement.predicate_type == "https://cosign.sigstore.dev/attestation/v1"
    predicate = statement.statement.predicate
    assert predicate["Data"] == "reviewed by the model board\n" and predicate["Timestamp"].endswith("Z")
    assert statement.statement.names_digest(digest)


def test_type_filter(keys: Keys, home: Path, predicate: Path, tmp_path: Path) -> None:
    pack(home, "iris:v1")
    sbom = tmp_path / "sbom.json"
    sbom.write_text('{"spdxVersion": "SPDX-2.3", "name": "iris"}')
    for path, kind in ((predicate, "slsaprovenance"), (sbom, "spdxjson")):
        res = kit(home, "attest", "iris:v1", "--key", str(keys.key), "--predicate", str(path), "--type", kind)
        assert res.exit_code == 0, res.output
    only = kit(home, "verify-attestation", "iris:v1", "--key", str(keys.pub), "--type", "spdxjson")
    assert only.exit_code == 0, only.output
    assert [s["predicateType"] for s in json.loads(only.stdout)] == [SPDX]
    text = kit(home, "verify-attestation", "iris:v1", "--key", str(keys.pub), "-o", "text")
    assert [line.rsplit(" ", 1)[1] for line in text.stdout.splitlines()] == [SLSA02, SPDX]
    assert refused(home, "verify-attestation", "iris:v1", "--key", str(keys.pub), "--type", "cyclonedx") == (
        "error: no attestation of type https://cyclonedx.org/bom found for iris:v1"
    )


@pytest.mark.registry
def test_attest_on_the_registry_tag_and_referrer(
    keys: Keys, home: Path, predicate: Path, plain_registry: Registry, repo_name: str
) -> None:
    pack(home, "iris:v1", "modelpack")
    ref = f"{plain_registry.host}/{repo_name}:v1"
    assert kit(home, "push", "iris:v1", ref).exit_code == 0
    for flags in ([], ["--referrers"]):
        res = kit(
            home,
            "attest",
            ref,
            "--key",
            str(keys.key),
            "--predicate",
            str(predicate),
            "--type",
            "slsaprovenance",
            *flags,
        )
        assert res.exit_code == 0, res.output
    reader = RegistryReader(plain_registry.url, repo_name)
    digest, _ = reader.manifest("v1")
    att = reader.manifest_json(sig_tag(digest, ".att"))
    check_envelope(keys.pub, reader.blob(att["layers"][0]["digest"]), digest)
    index = reader.manifest_json(
        digest.replace(":", "-")
    )  # the referrers tag schema: no API on this registry
    assert [m["artifactType"] for m in index["manifests"]] == [ATT_ARTIFACT]
    referrer = reader.manifest_json(index["manifests"][0]["digest"])
    assert referrer["config"]["mediaType"] == EMPTY and referrer["subject"]["digest"] == digest
    check_envelope(keys.pub, reader.blob(referrer["layers"][0]["digest"]), digest)

    verified = kit(home, "verify-attestation", ref, "--key", str(keys.pub), "-o", "text")
    assert verified.exit_code == 0, verified.output
    assert [line.split()[1] for line in verified.stdout.splitlines()] == ["tag", "referrer"]


def test_attest_through_the_referrers_api(keys: Keys, home: Path) -> None:
    fake = OciRegistry()
    net = NetworkOptions(transport=fake.transport())
    ref = "registry.example.com/team/iris:v1"
    pack(home, "iris:v1")
    digest = api.push("iris:v1", ref, home=home, network=net).descriptor.digest
    api.attest(
        ref,
        signing_key=keys.key,
        password=PASSWORD,
        predicate=json.dumps(PROVENANCE).encode(),
        predicate_type="slsaprovenance",
        mode="referrers",
        home=home,
        network=net,
    )
    assert fake.tag_names("team/iris") == ["v1"]
    (found,) = api.verify_attestation(
        ref, verify_key=keys.pub, predicate_type="slsaprovenance", home=home, network=net
    ).attestations
    assert found.place == "referrer" and found.statement.predicate == PROVENANCE
    assert found.statement.names_digest(digest)


# ---------------------------------------------------------------------------------------------
# refusals


def test_no_attestations(keys: Keys, home: Path) -> None:
    pack(home, "iris:v1")
    assert refused(home, "verify-attestation", "iris:v1", "--key", str(keys.pub)) == (
        "error: no attestations found for iris:v1"
    )


def test_an_unsigned_statement_is_no_attestation(keys: Keys, home: Path) -> None:
    """A bare in-toto statement referrer (the provenance ``kit pack`` records) signs nothing."""
    digest = pack(home, "iris:v1")
    repo = local_repo(home)
    statement = json.dumps(
        {"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": SLSA02}
    ).encode()
    layer = put_blob(repo, IN_TOTO, statement)
    config = put_blob(repo, EMPTY, b"{}")
    subject = repo.resolve("v1")
    repo.push_referrer(
        Manifest(
            config=config, layers=(layer,), media_type=mt.OCI_MANIFEST, artifact_type=IN_TOTO, subject=subject
        )
    )
    assert refused(home, "verify-attestation", "iris:v1", "--key", str(keys.pub)) == (
        "error: no attestations found for iris:v1"
    )
    assert digest == subject.digest


def test_attestation_by_another_key(keys: Keys, home: Path, predicate: Path) -> None:
    pack(home, "iris:v1")
    assert (
        kit(
            home,
            "attest",
            "iris:v1",
            "--key",
            str(keys.key),
            "--predicate",
            str(predicate),
            "--type",
            "slsaprovenance",
        ).exit_code
        == 0
    )
    assert refused(home, "verify-attestation", "iris:v1", "--key", str(keys.other_pub)) == (
        "error: no attestation verifies with the given key"
    )


def test_attestation_for_another_digest(keys: Keys, home: Path, predicate: Path) -> None:
    first = pack(home, "iris:v1")
    second = pack(home, "iris:v2", note="second")
    assert (
        kit(
            home,
            "attest",
            "iris:v1",
            "--key",
            str(keys.key),
            "--predicate",
            str(predicate),
            "--type",
            "slsaprovenance",
        ).exit_code
        == 0
    )
    repo = local_repo(home)
    repo.tag(repo.resolve(sig_tag(first, ".att")), sig_tag(second, ".att"))
    assert refused(home, "verify-attestation", "iris:v2", "--key", str(keys.pub)) == (
        f"error: attestation is for {first}, not {second}"
    )


def test_tampered_envelope(keys: Keys, home: Path, predicate: Path) -> None:
    digest = pack(home, "iris:v1")
    assert (
        kit(
            home,
            "attest",
            "iris:v1",
            "--key",
            str(keys.key),
            "--predicate",
            str(predicate),
            "--type",
            "slsaprovenance",
        ).exit_code
        == 0
    )
    repo = local_repo(home)
    tamper(repo, read_local_manifest(repo, sig_tag(digest, ".att"))[1].layers[0].digest)
    assert refused(home, "verify-attestation", "iris:v1", "--key", str(keys.pub)) == (
        "error: attestation payload blob does not match its digest"
    )


def test_a_predicate_that_is_not_json_is_refused_before_signing(
    keys: Keys, home: Path, tmp_path: Path
) -> None:
    digest = pack(home, "iris:v1")
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    res = kit(
        home, "attest", "iris:v1", "--key", str(keys.key), "--predicate", str(bad), "--type", "slsaprovenance"
    )
    assert res.exit_code == 2
    assert error_line(res.stderr) == f"error: the predicate for {SLSA02} must be a JSON object"
    assert sig_tag(digest, ".att") not in local_repo(home).tags()
