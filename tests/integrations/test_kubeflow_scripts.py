"""``push-modelkit`` / ``unpack-modelkit``: the drop-in Kubeflow component scripts, run as processes
against the real registry with Basic auth from a Docker ``config.json``, every case the upstream
bats tests cover (argument errors, Kitfile detection and ``kit init``, ``/tmp/outputs`` files, the
JSON log lines and final document, signing, retries, unusual names), plus the attestation checked
with ``kit verify-attestation`` and ``--verify-key`` refusing before anything is written."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kitops import api
from kitops.integrations.kubeflow import core
from kitops.oci import mediatypes as mt
from tests.helpers import kit, tree_files, write_tree
from tests.realregistry import Registry

pytestmark = pytest.mark.registry

KITOPS_TYPE = "https://kitops.ml/attestation/v1"
PASSWORD = "pipeline secret"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
LOG_KEYS = ["timestamp", "level", "request_id", "message", "extra"]
KITFILE = """\
manifestVersion: 1.0
package:
  name: test-model
model:
  path: model.bin
code:
  - path: train.py
"""
MODEL_FILES: dict[str, str | bytes] = {"model.bin": b"weights \x00\x01\x02" * 100, "train.py": "print(1)\n"}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def logs(self) -> list[dict[str, Any]]:
        """Every JSON log line, stdout's then stderr's; each must have exactly the upstream keys."""
        lines = [ln for ln in self.stdout.splitlines() if ln.startswith('{"')]
        lines += self.stderr.splitlines()
        records = [json.loads(ln) for ln in lines]
        for record in records:
            assert list(record) == LOG_KEYS, record
            assert STAMP.fullmatch(record["timestamp"])
        return records

    def messages(self, level: str | None = None) -> list[str]:
        return [r["message"] for r in self.logs if level is None or r["level"] == level]

    @property
    def result(self) -> dict[str, Any]:
        """The final document, cut out as the upstream tests do (``awk '/^{$/,/^}$/'``)."""
        lines = self.stdout.splitlines()
        start = lines.index("{")
        return json.loads("\n".join(lines[start : lines.index("}", start) + 1]))

    @property
    def error(self) -> str:
        """The one ERROR line's message (stderr holds nothing else)."""
        errors = [json.loads(ln) for ln in self.stderr.splitlines()]
        assert errors and all(e["level"] == "ERROR" for e in errors), self.stderr
        return str(errors[-1]["message"])


@dataclass
class Env:
    root: Path
    vars: dict[str, str]

    @property
    def outputs(self) -> Path:
        return Path(self.vars["KITOPS_OUTPUTS_DIR"])

    def output(self, name: str) -> str:
        return (self.outputs / name).read_text()

    def run(self, script: str, *args: str, **env: str | None) -> Run:
        """``python -m kitops.integrations.kubeflow.cli push|unpack ARGS`` in its own process."""
        merged = {**self.vars, **env}
        full = {k: v for k, v in {**os.environ, **merged}.items() if v is not None}
        proc = subprocess.run(
            [sys.executable, "-m", "kitops.integrations.kubeflow.cli", script, *args],
            env=full,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=self.root,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)


def docker_config(directory: Path, registry: Registry, password: str | None = None) -> Path:
    auth = f"{registry.username}:{password or registry.password}".encode()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(
        json.dumps({"auths": {registry.host: {"auth": base64.b64encode(auth).decode()}}})
    )
    return directory


@pytest.fixture()
def env(tmp_path: Path, basic_registry: Registry) -> Env:
    return Env(
        tmp_path,
        {
            "KITOPS_HOME": str(tmp_path / "kitops-home"),
            "DOCKER_CONFIG": str(docker_config(tmp_path / "docker", basic_registry)),
            "KITOPS_OUTPUTS_DIR": str(tmp_path / "outputs"),
            "KITOPS_RETRY_DELAY": "0",
            "KITOPS_COSIGN_KEY": str(tmp_path / "no-such-key"),  # never the machine's /etc/cosign
            "LOG_LEVEL": "INFO",
            "REQUEST_ID": "req-42",
        },
    )


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "model", {**MODEL_FILES, "Kitfile": KITFILE})


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cosign")
    pair = api.generate_key_pair(PASSWORD)
    (root / "cosign.key").write_bytes(pair.private_key)
    (root / "cosign.pub").write_bytes(pair.public_key)
    return root / "cosign.key", root / "cosign.pub"


@pytest.fixture()
def registry_env(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    """``env``'s Docker config for the in-process ``kit`` and ``api`` calls of the checks too."""
    monkeypatch.setenv("DOCKER_CONFIG", env.vars["DOCKER_CONFIG"])
    return env


def remote_files(ref: str, target: Path) -> dict[str, bytes]:
    api.unpack(ref, target_dir=target, home=target.parent / "check-home")
    return tree_files(target)


# ---------------------------------------------------------------------------------------------
# push-modelkit: arguments


@pytest.mark.parametrize("args", [(), ("registry.io",), ("registry.io", "myorg/mymodel")])
def test_push_usage_errors_for_fewer_than_three_arguments(env: Env, args: tuple[str, ...]) -> None:
    run = env.run("push", *args)
    assert run.code == 1
    assert run.error == ("Usage: push-modelkit <registry> <repository> <tag> --modelkit-dir <path> [options]")
    assert run.stdout == ""
    assert not env.outputs.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Must specify --modelkit-dir"),
        (("--modelkit-dir", "/nonexistent"), "ModelKit directory not found: /nonexistent"),
        (("--modelkit-dir", "MODEL", "--bogus", "x"), "Unknown argument: --bogus"),
        (("--modelkit-dir", "MODEL", "--name"), "Missing value for --name"),
        (
            ("--modelkit-dir", "MODEL", "--use-model-pack=maybe"),
            "Invalid value for --use-model-pack: 'maybe' (use true or false)",
        ),
    ],
)
def test_push_argument_errors(env: Env, model_dir: Path, args: tuple[str, ...], message: str) -> None:
    args = tuple(str(model_dir) if a == "MODEL" else a for a in args)
    run = env.run("push", "registry.io", "myorg/mymodel", "v1", *args)
    assert (run.code, run.error) == (1, message)
    assert not env.outputs.exists()
    assert not (env.root / "kitops-home").exists()  # nothing packed


# ---------------------------------------------------------------------------------------------
# push-modelkit: the whole step


def test_push_writes_outputs_logs_and_result_and_the_modelkit_round_trips(
    registry_env: Env, model_dir: Path, basic_registry: Registry, tmp_path: Path
) -> None:
    env = registry_env
    run = env.run("push", basic_registry.host, "myorg/mymodel", "v1", "--modelkit-dir", str(model_dir))
    assert run.code == 0, run.stderr
    assert run.stderr == ""

    digest = api.inspect(f"{basic_registry.host}/myorg/mymodel:v1", remote=True, home=tmp_path / "h").digest
    full_ref = f"{basic_registry.host}/myorg/mymodel@{digest}"
    assert env.output("reference") == f"{basic_registry.host}/myorg/mymodel:v1"
    assert env.output("digest") == full_ref
    result = run.result
    assert list(result) == ["reference", "digest", "timestamp", "status"]
    assert result["reference"] == full_ref and result["digest"] == digest and result["status"] == "success"
    assert STAMP.fullmatch(result["timestamp"])

    logs = run.logs
    assert {r["request_id"] for r in logs} == {"req-42"}
    assert [r["message"] for r in logs] == [
        "Starting ModelKit push",
        "Using ModelKit directory",
        "Found existing Kitfile",
        "Packing ModelKit artifacts",
        "Pushing to registry",
        "Push completed",
        f"No cosign key found at {env.vars['KITOPS_COSIGN_KEY']}, skipping signing",
        "Push workflow completed",
    ]
    assert logs[0]["extra"] == {"reference": f"{basic_registry.host}/myorg/mymodel:v1"}
    assert logs[5]["extra"] == {"reference": full_ref}
    assert logs[6]["level"] == "WARN"
    assert (model_dir / "Kitfile").read_text() == KITFILE  # an existing Kitfile is left alone

    files = remote_files(full_ref, tmp_path / "check")
    assert files == {
        **{k: v.encode() if isinstance(v, str) else v for k, v in MODEL_FILES.items()},
        "Kitfile": files["Kitfile"],
    }


@pytest.mark.parametrize("name", ["kitfile", ".kitfile"])
def test_push_recognises_the_other_kitfile_names(
    env: Env, model_dir: Path, basic_registry: Registry, name: str
) -> None:
    (model_dir / "Kitfile").rename(model_dir / name)
    run = env.run("push", basic_registry.host, "myorg/mymodel", "v1", "--modelkit-dir", str(model_dir))
    assert run.code == 0, run.stderr
    assert "Found existing Kitfile" in run.messages()
    assert "No Kitfile found, running kit init" not in run.messages()
    assert sorted(p.name for p in model_dir.iterdir()) == sorted([name, *MODEL_FILES])


def test_push_runs_kit_init_without_a_kitfile_and_passes_the_metadata(
    registry_env: Env, model_dir: Path, basic_registry: Registry, tmp_path: Path
) -> None:
    (model_dir / "Kitfile").unlink()
    args = [
        "--modelkit-dir",
        str(model_dir),
        "--name",
        "My Model",
        "--desc",
        "Test model",
        "--author",
        "Test Author",
    ]
    run = registry_env.run("push", basic_registry.host, "myorg/inited", "v1", *args)
    assert run.code == 0, run.stderr
    assert "No Kitfile found, running kit init" in run.messages()
    generated = api.load_kitfile(model_dir / "Kitfile")
    assert (generated.package.name, generated.package.description, generated.package.authors) == (
        "My Model",
        "Test model",
        ["Test Author"],
    )
    pushed = api.info(f"{basic_registry.host}/myorg/inited:v1", remote=True, home=tmp_path / "h")
    assert pushed.package.name == "My Model"
    assert pushed.model is not None and pushed.model.path == "model.bin"


def test_push_unusual_names_nested_repository_rc_tag_and_spaces(
    env: Env, basic_registry: Registry, tmp_path: Path
) -> None:
    spaced = write_tree(tmp_path / "model with spaces", {**MODEL_FILES, "Kitfile": KITFILE})
    run = env.run(
        "push", basic_registry.host, "myorg/team/project/mymodel", "v1.0.0-rc1", "--modelkit-dir", str(spaced)
    )
    assert run.code == 0, run.stderr
    assert basic_registry.host.count(":") == 1  # the registry has a port
    assert env.output("reference") == f"{basic_registry.host}/myorg/team/project/mymodel:v1.0.0-rc1"
    assert re.fullmatch(
        re.escape(f"{basic_registry.host}/myorg/team/project/mymodel@") + "sha256:[0-9a-f]{64}",
        env.output("digest"),
    )


@pytest.mark.parametrize(
    ("flag", "config_type"),
    [("--use-model-pack", mt.MODELPACK_CONFIG), ("--use-model-pack=false", mt.KIT_CONFIG)],
)
def test_push_use_model_pack(
    registry_env: Env, model_dir: Path, basic_registry: Registry, tmp_path: Path, flag: str, config_type: str
) -> None:
    run = registry_env.run(
        "push", basic_registry.host, "myorg/modelpack", "v1", "--modelkit-dir", str(model_dir), flag
    )
    assert run.code == 0, run.stderr
    pushed = api.remote_modelkit(registry_env.output("digest"), home=tmp_path / "h")
    assert pushed.manifest.config.media_type == config_type


def test_push_without_docker_config_uses_other_credentials(
    env: Env, model_dir: Path, basic_registry: Registry
) -> None:
    run = env.run(
        "push",
        basic_registry.host,
        "myorg/nodocker",
        "v1",
        "--modelkit-dir",
        str(model_dir),
        DOCKER_CONFIG=None,
        KITOPS_REGISTRY_USER=basic_registry.username,
        KITOPS_REGISTRY_PASSWORD=basic_registry.password,
    )
    assert run.code == 0, run.stderr
    assert env.output("digest").startswith(f"{basic_registry.host}/myorg/nodocker@sha256:")


def test_push_warns_about_a_docker_config_without_config_json(
    env: Env, model_dir: Path, basic_registry: Registry, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-docker"
    empty.mkdir()
    run = env.run(
        "push",
        basic_registry.host,
        "myorg/m",
        "v1",
        "--modelkit-dir",
        str(model_dir),
        DOCKER_CONFIG=str(empty),
    )
    assert run.code == 1
    assert "No config.json in DOCKER_CONFIG: no registry credentials from it" in run.messages("WARN")
    assert run.error == "Failed to push ModelKit"


# ---------------------------------------------------------------------------------------------
# push-modelkit: signing and attestation


def test_push_signs_and_attests_with_the_mounted_key(
    registry_env: Env, model_dir: Path, basic_registry: Registry, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    key, pub = keys
    run = registry_env.run(
        "push",
        basic_registry.host,
        "myorg/signed",
        "v2",
        "--modelkit-dir",
        str(model_dir),
        "--dataset-uri",
        "s3://bucket/data",
        "--code-repo",
        "github.com/org/repo",
        "--code-commit",
        "abc123",
        KITOPS_COSIGN_KEY=str(key),
        COSIGN_PASSWORD=PASSWORD,
    )
    assert run.code == 0, run.stderr
    assert "Signing and attaching attestation" in run.messages()
    assert "Signed ModelKit and attached attestation" in run.messages()
    full_ref = registry_env.output("digest")
    digest = full_ref.rpartition("@")[2]

    check_home = tmp_path / "check-home"
    verified = kit(check_home, "verify-attestation", full_ref, "--key", str(pub), "--type", KITOPS_TYPE)
    assert verified.exit_code == 0, verified.output
    (statement,) = json.loads(verified.stdout)
    assert statement["predicateType"] == KITOPS_TYPE
    assert statement["subject"] == [
        {"name": f"{basic_registry.host}/myorg/signed", "digest": {"sha256": digest.removeprefix("sha256:")}}
    ]
    predicate = statement["predicate"]
    created = predicate["metadata"].pop("created_at")
    assert STAMP.fullmatch(created)
    assert predicate == {
        "modelkit": {"reference": full_ref, "digest": digest},
        "metadata": {
            "dataset_uri": "s3://bucket/data",
            "code_repo": "github.com/org/repo",
            "code_commit": "abc123",
        },
    }
    # a plain signature too: what init containers and kit unpack --verify-key check
    assert kit(check_home, "verify", full_ref, "--key", str(pub)).exit_code == 0


def test_push_with_a_wrong_key_password_warns_and_still_succeeds(
    registry_env: Env, model_dir: Path, basic_registry: Registry, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    key, pub = keys
    run = registry_env.run(
        "push",
        basic_registry.host,
        "myorg/badpass",
        "v1",
        "--modelkit-dir",
        str(model_dir),
        KITOPS_COSIGN_KEY=str(key),
        COSIGN_PASSWORD="wrong",
    )
    assert run.code == 0, run.stderr
    assert "Failed to sign ModelKit, continuing" in run.messages("WARN")
    assert not any(m.startswith("Command failed") for m in run.messages())  # a wrong password is not retried
    refused = kit(tmp_path / "h", "verify-attestation", registry_env.output("digest"), "--key", str(pub))
    assert refused.exit_code == 1


# ---------------------------------------------------------------------------------------------
# push-modelkit: retries


def test_push_retries_then_fails(env: Env, model_dir: Path) -> None:
    run = env.run("push", "127.0.0.1:1", "myorg/mymodel", "v1", "--modelkit-dir", str(model_dir))
    assert run.code == 1
    warnings = [r for r in run.logs if r["level"] == "WARN"]
    assert [(w["message"], w["extra"]["attempt"]) for w in warnings] == [
        ("Command failed, retrying in 0s", 1),
        ("Command failed, retrying in 0s", 2),
    ]
    assert run.messages("ERROR") == ["Command failed after 3 attempts", "Failed to push ModelKit"]
    assert "connection refused" in run.logs[-1]["extra"]["error"]
    assert not env.outputs.joinpath("reference").exists()


def test_push_does_not_retry_refused_credentials(
    env: Env, model_dir: Path, basic_registry: Registry, tmp_path: Path
) -> None:
    wrong = docker_config(tmp_path / "wrong-docker", basic_registry, password="not-the-password")
    run = env.run(
        "push",
        basic_registry.host,
        "myorg/m",
        "v1",
        "--modelkit-dir",
        str(model_dir),
        DOCKER_CONFIG=str(wrong),
    )
    assert run.code == 1
    assert not any(m.startswith("Command failed") for m in run.messages())
    assert run.messages("ERROR") == ["Failed to push ModelKit"]
    assert "401" in run.logs[-1]["extra"]["error"] or "credentials" in run.logs[-1]["extra"]["error"]


def test_log_level_filters_the_lines(env: Env, model_dir: Path, basic_registry: Registry) -> None:
    quiet = env.run(
        "push", basic_registry.host, "myorg/q", "v1", "--modelkit-dir", str(model_dir), LOG_LEVEL="ERROR"
    )
    assert quiet.code == 0, quiet.stderr
    assert quiet.logs == []
    assert quiet.stdout.startswith("{\n") and quiet.result["status"] == "success"
    loud = env.run(
        "push", basic_registry.host, "myorg/q", "v2", "--modelkit-dir", str(model_dir), LOG_LEVEL="DEBUG"
    )
    assert any(m.startswith("ModelKit digest: sha256:") for m in loud.messages("DEBUG"))


# ---------------------------------------------------------------------------------------------
# unpack-modelkit


@pytest.fixture()
def pushed(env: Env, model_dir: Path, basic_registry: Registry, keys: tuple[Path, Path]) -> str:
    """A ModelKit pushed (and signed) by push-modelkit; its tagged reference."""
    run = env.run(
        "push",
        basic_registry.host,
        "myorg/unpackme",
        "v1",
        "--modelkit-dir",
        str(model_dir),
        KITOPS_COSIGN_KEY=str(keys[0]),
        COSIGN_PASSWORD=PASSWORD,
    )
    assert run.code == 0, run.stderr
    return env.output("reference")


def expected_files() -> dict[str, bytes]:
    return {k: v.encode() if isinstance(v, str) else v for k, v in MODEL_FILES.items()}


def test_unpack_usage_error_and_docker_config_required(env: Env) -> None:
    run = env.run("unpack")
    assert (run.code, run.error) == (
        1,
        "Usage: unpack-modelkit <modelkit_reference> [extract_path] [options]",
    )
    run = env.run("unpack", "registry.io/myorg/mymodel:v1", str(env.root / "x"), DOCKER_CONFIG=None)
    assert (run.code, run.error) == (1, "Required environment variable not set: DOCKER_CONFIG")
    assert not (env.root / "x").exists()


def test_unpack_into_a_new_nested_path_with_spaces(env: Env, pushed: str) -> None:
    target = env.root / "nonexistent" / "deep path" / "with spaces"
    run = env.run("unpack", pushed, str(target))
    assert run.code == 0, run.stderr
    files = tree_files(target)
    assert {k: v for k, v in files.items() if k != "Kitfile"} == expected_files()
    assert env.output("model_path") == str(target)
    assert run.result == {
        "model_path": str(target),
        "modelkit_reference": pushed,
        "timestamp": run.result["timestamp"],
        "status": "success",
    }
    assert run.messages() == [
        "Starting unpack",
        "Unpacking",
        "Unpacked successfully",
        "Unpack workflow completed",
    ]
    assert run.logs[0]["extra"] == {"modelkit_reference": pushed, "extract_path": str(target)}


def test_unpack_default_path(env: Env, pushed: str) -> None:
    assert core.DEFAULT_EXTRACT_PATH == "/tmp/model"
    # the default is used for a missing path and for an empty one (KFP passes "" for an unset input)
    for args in ((pushed,), (pushed, "")):
        default = env.root / f"default{len(args)}"
        script = (
            "import sys; from kitops.integrations.kubeflow import cli; "
            "cli.DEFAULT_EXTRACT_PATH = sys.argv[1]; sys.exit(cli.unpack_main(sys.argv[2:]))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", script, str(default), *args],
            env={**os.environ, **env.vars},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert env.output("model_path") == str(default)
        assert (default / "model.bin").read_bytes() == expected_files()["model.bin"]


def test_unpack_filter(env: Env, pushed: str) -> None:
    target = env.root / "only-model"
    run = env.run("unpack", pushed, str(target), "--filter", "model")
    assert run.code == 0, run.stderr
    assert sorted(tree_files(target)) == ["model.bin"]  # no Kitfile either, as kit unpack --filter


def test_unpack_verify_key_accepts_what_push_signed_and_pins_its_digest(
    env: Env, pushed: str, keys: tuple[Path, Path]
) -> None:
    target = env.root / "verified"
    run = env.run("unpack", pushed, str(target), "--verify-key", str(keys[1]))
    assert run.code == 0, run.stderr
    (verified,) = [r for r in run.logs if r["message"] == "Verified ModelKit"]
    assert verified["extra"]["verified_by"] == "attestation"
    assert verified["extra"]["digest"] == env.output("digest").rpartition("@")[2]
    assert {k: v for k, v in tree_files(target).items() if k != "Kitfile"} == expected_files()


def test_unpack_verify_key_refuses_an_unsigned_modelkit_and_writes_nothing(
    env: Env, pushed: str, model_dir: Path, basic_registry: Registry, keys: tuple[Path, Path]
) -> None:
    # the tag now names an unsigned ModelKit: what was verified before does not vouch for it
    (model_dir / "model.bin").write_bytes(b"swapped weights")
    run = env.run("push", basic_registry.host, "myorg/unpackme", "v1", "--modelkit-dir", str(model_dir))
    assert run.code == 0, run.stderr
    target = env.root / "refused" / "model"
    run = env.run("unpack", pushed, str(target), "--verify-key", str(keys[1]))
    assert run.code == 1
    assert run.error == "Failed to verify ModelKit"
    assert "no KitOps attestation or signature verified by the key" in run.logs[-1]["extra"]["error"]
    assert not any(m.startswith("Command failed") for m in run.messages())  # a refusal is not retried
    assert not (env.root / "refused").exists()
    assert not env.outputs.joinpath("model_path").exists()


def test_unpack_retries_then_fails(env: Env) -> None:
    run = env.run("unpack", "127.0.0.1:1/myorg/mymodel:v1", str(env.root / "never"))
    assert run.code == 1
    assert run.messages("WARN") == ["Command failed, retrying in 0s"] * 2
    assert run.messages("ERROR") == ["Command failed after 3 attempts", "Failed to unpack ModelKit"]
    assert not (env.root / "never").exists()


def test_console_scripts_are_installed(env: Env) -> None:
    """The entry points of pyproject.toml, as pip installs them (run ``pip install -e .`` after
    adding them); the same code as ``python -m``."""
    bindir = Path(sys.executable).parent
    for name in ("push-modelkit", "unpack-modelkit"):
        script = bindir / name
        if not script.exists() and not os.environ.get("CI"):
            pytest.skip(f"{name} is not installed in {bindir}: re-run pip install -e .")
        assert script.exists(), f"{name} is not installed in {bindir}"  # CI installs from pyproject
        proc = subprocess.run(
            [str(script), "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env.vars},
        )
        assert proc.returncode == 0 and proc.stdout.startswith(f"Usage: {name} "), proc.stderr
