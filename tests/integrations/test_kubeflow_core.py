"""kitops.integrations.kubeflow.core in-process: which failures are retried and how often, the
attestation predicate, a required attestation without a key, and that importing the package
loads neither kfp nor the registry client."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from kitops.errors import (
    AuthenticationError,
    KitError,
    NotFoundError,
    PermissionDeniedError,
    RegistryError,
    TransferError,
    UsageError,
)
from kitops.integrations.kubeflow import core
from kitops.signing.errors import PasswordError, SignatureError
from tests.helpers import write_tree
from tests.realregistry import Registry


class Flaky:
    """Fails with ``errors`` in turn, then returns the attempt number it was called with."""

    def __init__(self, *errors: KitError) -> None:
        self.errors = list(errors)
        self.attempts: list[int] = []

    def __call__(self, attempt: int) -> int:
        self.attempts.append(attempt)
        if self.errors:
            raise self.errors.pop(0)
        return attempt


@pytest.mark.parametrize(
    "error",
    [
        TransferError("connection reset"),
        RegistryError("503 Service Unavailable", status=503),
        NotFoundError("manifest unknown"),
    ],
)
def test_transient_errors_are_retried_with_the_delay(error: KitError) -> None:
    sleeps: list[float] = []
    action = Flaky(error, error)
    assert core.retry(action, attempts=3, delay=2.0, sleep=sleeps.append) == 3
    assert action.attempts == [1, 2, 3]
    assert sleeps == [2.0, 2.0]


@pytest.mark.parametrize(
    "error",
    [
        UsageError("bad reference"),
        AuthenticationError("401", status=401),
        PermissionDeniedError("403", status=403),
        SignatureError("no signatures found"),
        PasswordError("wrong password"),
    ],
)
def test_errors_that_would_repeat_are_raised_at_once(error: KitError) -> None:
    sleeps: list[float] = []
    action = Flaky(error)
    with pytest.raises(type(error)):
        core.retry(action, attempts=3, delay=2.0, sleep=sleeps.append)
    assert action.attempts == [1] and sleeps == []


def test_exhausted_retries_raise_the_last_error(caplog: pytest.LogCaptureFixture) -> None:
    last = TransferError("third")
    action = Flaky(TransferError("first"), TransferError("second"), last)
    with pytest.raises(TransferError) as raised:
        core.retry(action, attempts=3, delay=0.5, sleep=lambda _s: None)
    assert raised.value is last
    assert [r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR")] == [
        "Command failed, retrying in 0.5s",
        "Command failed, retrying in 0.5s",
        "Command failed after 3 attempts",
    ]


def test_attestation_predicate() -> None:
    moment = dt.datetime(2026, 1, 2, 4, 5, 6, 789, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert core.attestation_predicate(
        "r.io/a/b@sha256:00", "sha256:00", dataset_uri="s3://d", code_commit="c0ffee", created_at=moment
    ) == {
        "modelkit": {"reference": "r.io/a/b@sha256:00", "digest": "sha256:00"},
        "metadata": {
            "dataset_uri": "s3://d",
            "code_repo": "",
            "code_commit": "c0ffee",
            "created_at": "2026-01-02T03:05:06Z",
        },
    }


def test_default_signing_key() -> None:
    assert core.default_signing_key({}) == "/etc/cosign/cosign.key"
    assert core.default_signing_key({"KITOPS_COSIGN_KEY": "/keys/k"}) == "/keys/k"


@pytest.mark.registry
def test_a_required_attestation_without_a_key_fails_the_step(
    tmp_path: Path, basic_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = f"{basic_registry.username}:{basic_registry.password}"
    (docker / "config.json").write_text(
        json.dumps({"auths": {basic_registry.host: {"auth": base64.b64encode(auth.encode()).decode()}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    model = write_tree(
        tmp_path / "m", {"model.bin": b"w", "Kitfile": "manifestVersion: 1.0\nmodel:\n  path: model.bin\n"}
    )
    common = {"modelkit_dir": model, "home": tmp_path / "home", "delay": 0.0}
    pushed = core.push_modelkit(
        basic_registry.host, "core/req", "v1", signing_key=tmp_path / "nope", **common
    )
    assert not pushed.attested and pushed.full_ref == f"{basic_registry.host}/core/req@{pushed.digest}"
    with pytest.raises(core.StepFailed) as failed:
        core.push_modelkit(
            basic_registry.host,
            "core/req",
            "v2",
            signing_key=tmp_path / "nope",
            require_attestation=True,
            **common,
        )
    assert failed.value.step == "Failed to sign ModelKit"
    assert failed.value.message == f"Failed to sign ModelKit: no signing key at {tmp_path / 'nope'}"


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, kitops.integrations.kubeflow as k; "
        "assert 'kfp' not in sys.modules and 'httpx' not in sys.modules, 'heavy import'; "
        "assert k.PushOutputs.__name__ == 'PushOutputs'; print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_an_unpack_retry_keeps_what_the_failed_attempt_unpacked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Layers land whole: a retry after a dropped connection must not fail on the files the first
    attempt already wrote, so it keeps them (``ignore_existing``); the first attempt does not."""
    calls: list[dict[str, object]] = []

    def unpack(ref: str, **kwargs: object) -> None:
        calls.append({"ref": ref, **kwargs})
        if len(calls) == 1:
            raise TransferError("connection reset mid-layer")

    monkeypatch.setattr(core.api, "unpack", unpack)
    target = tmp_path / "out"
    assert core.unpack_modelkit("r.io/a/b:v1", target, filters=["model"], delay=0.0) == str(target)
    assert [(c["ref"], c["target_dir"], c["filters"], c["ignore_existing"]) for c in calls] == [
        ("r.io/a/b:v1", str(target), ["model"], False),
        ("r.io/a/b:v1", str(target), ["model"], True),
    ]


def test_a_verified_unpack_reads_the_digest_that_was_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification and unpack are two reads of the tag: the unpack is pinned to the verified
    digest, so a tag moved in between cannot swap in a model nobody signed."""
    digest = "sha256:" + "ab" * 32
    asked: list[tuple[str, bool]] = []

    def verify_attestation(ref: str, **kwargs: object) -> object:
        asked.append((ref, bool(kwargs["remote"])))
        assert kwargs["predicate_type"] == core.KITOPS_ATTESTATION
        return SimpleNamespace(subject=SimpleNamespace(digest=digest))

    unpacked: list[str] = []
    monkeypatch.setattr(core.api, "verify_attestation", verify_attestation)
    monkeypatch.setattr(core.api, "unpack", lambda ref, **_kw: unpacked.append(ref))
    core.unpack_modelkit("r.io:5000/a/b:v1", tmp_path / "out", verify_key=b"pem", delay=0.0)
    assert asked == [("r.io:5000/a/b:v1", True)]  # on the registry, where push stored it
    assert unpacked == [f"r.io:5000/a/b@{digest}"]
