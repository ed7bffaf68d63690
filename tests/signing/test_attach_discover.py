"""kit attach / kit discover: files attached as referrers (as ``oras attach``), and the tree of
everything that refers to a ModelKit (referrers, recursively, and cosign's tags) as ``oras
discover`` shows it; locally, on the real registry and on an OCI 1.1 registry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kitops import api
from kitops.registry.remote import NetworkOptions
from tests.helpers import kit
from tests.realregistry import Registry
from tests.signing.ociregistry import OciRegistry
from tests.signing.sigtools import (
    DSSE,
    EMPTY,
    EMPTY_DIGEST,
    FORMATS,
    PASSWORD,
    SIG_ARTIFACT,
    SIMPLESIGNING,
    Keys,
    RegistryReader,
    local_repo,
    make_keys,
    pack,
    read_local_manifest,
    sig_tag,
)

EVAL = "application/vnd.example.eval.v1+json"
CARD = "application/vnd.example.model-card.v1"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)


@pytest.fixture()
def report(tmp_path: Path) -> Path:
    path = tmp_path / "eval.json"
    path.write_text('{"accuracy": 0.97}\n')
    return path


def attached_digest(stdout: str) -> str:
    assert stdout.startswith("Attached to "), stdout
    return stdout.strip().rsplit(" ", 1)[1]


@pytest.mark.parametrize("fmt", FORMATS)
def test_attach_then_discover_in_local_storage(
    fmt: str, keys: Keys, home: Path, report: Path, tmp_path: Path
) -> None:
    digest = pack(home, "iris:v1", fmt)
    res = kit(home, "attach", "iris:v1", str(report), "--artifact-type", EVAL, "-a", "purpose=eval")
    assert res.exit_code == 0, res.output
    attachment = attached_digest(res.stdout)
    predicate = tmp_path / "p.json"
    predicate.write_text("{}")
    assert kit(home, "sign", "iris:v1", "--key", str(keys.key)).exit_code == 0
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
            "spdxjson",
        ).exit_code
        == 0
    )
    assert kit(home, "sign", f"iris@{attachment}", "--key", str(keys.key), "--referrers").exit_code == 0

    repo = local_repo(home)
    _desc, manifest = read_local_manifest(repo, attachment)
    assert (
        manifest.artifact_type == EVAL and manifest.subject is not None and manifest.subject.digest == digest
    )
    assert (manifest.config.media_type, manifest.config.digest) == (EMPTY, EMPTY_DIGEST)
    assert dict(manifest.annotations or {}) == {"purpose": "eval"}
    (layer,) = manifest.layers
    assert layer.media_type == "application/octet-stream"
    assert dict(layer.annotations or {}) == {"org.opencontainers.image.title": "eval.json"}
    assert repo.store.blob_path(layer.digest).read_bytes() == report.read_bytes()

    sig_manifest = repo.resolve(sig_tag(digest)).digest
    att_manifest = repo.resolve(sig_tag(digest, ".att")).digest
    (nested,) = repo.referrers(attachment)
    tree = kit(home, "discover", "iris:v1")
    assert tree.exit_code == 0, tree.output
    assert tree.stdout.splitlines() == [
        f"iris@{digest}",
        f"├── {EVAL}",
        f"│   └── {attachment}",
        f"│       └── {SIG_ARTIFACT}",
        f"│           └── {nested.digest}",
        f"├── {SIMPLESIGNING}",
        f"│   └── {sig_manifest} ({sig_tag(digest)})",
        f"└── {DSSE}",
        f"    └── {att_manifest} ({sig_tag(digest, '.att')})",
    ]

    doc = json.loads(kit(home, "discover", "iris:v1", "--format", "json").stdout)
    assert (doc["reference"], doc["digest"]) == (f"iris@{digest}", digest)
    first = doc["manifests"][0]
    assert (first["artifactType"], first["digest"], first["reference"]) == (
        EVAL,
        attachment,
        f"iris@{attachment}",
    )
    assert [m["artifactType"] for m in first["manifests"]] == [SIG_ARTIFACT]
    assert [(m["artifactType"], m.get("tag")) for m in doc["manifests"][1:]] == [
        (SIMPLESIGNING, sig_tag(digest)),
        (DSSE, sig_tag(digest, ".att")),
    ]


def test_nothing_refers_to_a_fresh_modelkit(home: Path) -> None:
    digest = pack(home, "iris:v1")
    res = kit(home, "discover", "iris:v1")
    assert res.exit_code == 0 and res.stdout == f"iris@{digest}\n"


@pytest.mark.registry
def test_attach_and_discover_on_the_registry(
    keys: Keys, home: Path, report: Path, tmp_path: Path, plain_registry: Registry, repo_name: str
) -> None:
    pack(home, "iris:v1", "modelpack")
    ref = f"{plain_registry.host}/{repo_name}:v1"
    assert kit(home, "push", "iris:v1", ref).exit_code == 0
    card = tmp_path / "MODEL_CARD.md"
    card.write_bytes(os.urandom(3 << 20))  # several MiB: streamed from the file, not held whole
    first = attached_digest(kit(home, "attach", ref, str(report), "--artifact-type", EVAL).stdout)
    second = attached_digest(
        kit(home, "attach", ref, str(card), "--artifact-type", CARD, "--media-type", "text/markdown").stdout
    )
    assert kit(home, "sign", ref, "--key", str(keys.key)).exit_code == 0

    reader = RegistryReader(plain_registry.url, repo_name)
    digest, _ = reader.manifest("v1")
    card_manifest = reader.manifest_json(second)
    assert card_manifest["layers"][0]["mediaType"] == "text/markdown"
    assert reader.blob(card_manifest["layers"][0]["digest"]) == card.read_bytes()

    sig_manifest, _ = reader.manifest(sig_tag(digest))
    tree = kit(home, "discover", ref)
    assert tree.exit_code == 0, tree.output
    assert tree.stdout.splitlines() == [
        f"{plain_registry.host}/{repo_name}@{digest}",
        f"├── {EVAL}",
        f"│   └── {first}",
        f"├── {CARD}",
        f"│   └── {second}",
        f"└── {SIMPLESIGNING}",
        f"    └── {sig_manifest} ({sig_tag(digest)})",
    ]


def test_attach_and_discover_through_the_referrers_api(home: Path, report: Path) -> None:
    fake = OciRegistry()
    net = NetworkOptions(transport=fake.transport())
    ref = "registry.example.com/team/iris:v1"
    pack(home, "iris:v1")
    digest = api.push("iris:v1", ref, home=home, network=net).descriptor.digest
    result = api.attach(
        ref, report, artifact_type=EVAL, annotations={"purpose": "eval"}, home=home, network=net
    )
    assert result.remote and result.subject.digest == digest
    assert fake.tag_names("team/iris") == ["v1"]
    found = api.discover(ref, home=home, network=net).referrers
    assert [(a.artifact_type, a.descriptor.digest, a.tag) for a in found] == [
        (EVAL, result.descriptor.digest, None)
    ]
    assert dict(found[0].descriptor.annotations or {}) == {"purpose": "eval"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--artifact-type", "nope"], 2, "error: artifact type 'nope' is not a media type"),
        (
            ["--artifact-type", EVAL, "--media-type", "a b/c"],
            2,
            "error: media type 'a b/c' is not a media type",
        ),
    ],
)
def test_bad_types_are_refused(args: list[str], code: int, message: str, home: Path, report: Path) -> None:
    pack(home, "iris:v1")
    res = kit(home, "attach", "iris:v1", str(report), *args)
    assert res.exit_code == code
    assert res.stderr.splitlines()[0] == message


def test_attaching_what_is_not_a_file(home: Path, tmp_path: Path) -> None:
    pack(home, "iris:v1")
    missing = tmp_path / "missing.json"
    res = kit(home, "attach", "iris:v1", str(missing), "--artifact-type", EVAL)
    assert res.exit_code == 1 and res.stderr.splitlines()[0] == f"error: no such file: {missing}"
    res = kit(home, "attach", "iris:v1", str(tmp_path), "--artifact-type", EVAL)
    assert res.exit_code == 1 and res.stderr.splitlines()[0] == f"error: {tmp_path} is not a file"
    assert local_repo(home).referrers(local_repo(home).resolve("v1").digest) == []
