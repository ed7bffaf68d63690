"""kitops.cli.kit against the real registry: every function, its return type, its options, its errors and its log."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kitops import api
from kitops.cli import kit
from kitops.errors import KitError
from kitops.modelkit.kitfile import Kitfile
from tests.helpers import tree_files, write_tree
from tests.realregistry import Registry

pytestmark = pytest.mark.registry

KITFILE = """\
manifestVersion: 1.0.0
package:
  name: demo
  authors: [Ada]
model:
  name: clf
  path: model.bin
datasets:
  - name: train
    path: data/train.csv
docs:
  - path: README.md
"""


def _project(root: Path) -> Path:
    return write_tree(
        root,
        {
            "Kitfile": KITFILE,
            "model.bin": b"weights\n",
            "data/train.csv": "a,b\n1,2\n",
            "README.md": "# demo\n",
        },
    )


def _kit_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kitops.cli.kit"]


def test_round_trip(
    plain_registry: Registry, repo_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kitops.cli.kit")
    project = _project(tmp_path / "project")
    ref = f"{plain_registry.host}/{repo_name}:v1"
    ref2 = f"{plain_registry.host}/{repo_name}:v2"

    assert kit.pack(ref, str(project)) is None
    table = kit.list()
    assert isinstance(table, str)
    assert table.splitlines()[0].split() == ["REPOSITORY", "TAG", "MAINTAINER", "NAME", "SIZE", "DIGEST"]
    assert f"{plain_registry.host}/{repo_name}" in table and "Ada" in table
    rows = json.loads(kit.list(format="json"))
    assert [r["tags"] for r in rows] == [["v1"]]

    inspected = kit.inspect(ref)
    assert isinstance(inspected, dict) and set(inspected) == {"digest", "cliVersion", "kitfile", "manifest"}
    digest = inspected["digest"]

    info = kit.info(ref)
    assert isinstance(info, dict)
    assert info["package"] == {"name": "demo", "authors": ["Ada"]}
    assert kit.info(ref, filters=[".package.name"]) == "demo"
    assert kit.info(ref, filters=["package.name", "model.path"]) == {
        "package.name": "demo",
        "model.path": "model.bin",
    }  # every filter, not the last

    assert kit.tag(ref, ref2) is None
    assert kit.push(ref, **{"plain-http": True}) is None
    assert kit.push(ref2, plain_http=True, concurrency=2) is None
    assert kit.inspect(ref, remote=True)["digest"] == digest
    assert kit.info(ref2, r=True)["model"]["path"] == "model.bin"
    remote_rows = json.loads(kit.list(f"{plain_registry.host}/{repo_name}", format="json"))
    assert [sorted(r["tags"]) for r in remote_rows] == [["v1", "v2"]]

    assert kit.remove(ref) is None  # untags (v2 still points at it)
    assert kit.remove(ref2, f=True) is None
    assert f"{plain_registry.host}/{repo_name}" not in kit.list()

    assert kit.pull(ref) is None
    assert kit.inspect(ref)["digest"] == digest
    out = tmp_path / "out"
    assert kit.unpack(ref, str(out)) is None
    assert tree_files(out) == {k: v for k, v in tree_files(project).items()}
    with pytest.raises(subprocess.CalledProcessError):
        (out / "model.bin").write_bytes(b"changed\n")
        kit.unpack(ref, str(out))  # an existing, different file needs overwrite
    kit.unpack(ref, str(out), filters=["model"], o=True)
    assert (out / "model.bin").read_bytes() == b"weights\n"
    kit.unpack(ref, str(tmp_path / "only-data"), filters=["datasets:train"])
    assert sorted(tree_files(tmp_path / "only-data")) == ["data/train.csv"]

    assert kit.remove(ref, remote=True) is None
    with pytest.raises(subprocess.CalledProcessError):
        kit.inspect(ref2, remote=True)

    lines = _kit_lines(caplog)
    commands = [line for line in lines if line.startswith("% kit ")]
    assert f"% kit pack {project} --tag {ref}" in commands
    assert f"% kit push {ref} --plain-http" in commands
    assert f"% kit push {ref2} --plain-http --concurrency 2" in commands
    assert any(line.startswith("Model saved: sha256:") for line in lines)
    assert not [line for line in lines if "\x1b" in line]  # no ANSI codes in log records


def test_init_returns_the_full_kitfile(tmp_path: Path) -> None:
    project = write_tree(
        tmp_path / "p",
        {
            "model.safetensors": b"\0" * 16,
            "LICENSE": "Apache License\nVersion 2.0, January 2004\n",
            "README.md": "# x\n",
        },
    )
    kitfile = kit.init(str(project), "my-model", "a model", "Ada")
    assert isinstance(kitfile, Kitfile)
    assert kitfile.package.name == "my-model" and kitfile.package.authors == ["Ada"]
    assert kitfile.model.path == "model.safetensors"
    assert kitfile.model.license == "Apache-2.0"
    docs_only = write_tree(tmp_path / "d", {"LICENSE": "Apache License\nVersion 2.0, January 2004\n"})
    assert kit.init(str(docs_only), "docs").package.license == "Apache-2.0"  # the reference dropped it
    with pytest.raises(subprocess.CalledProcessError, match="already exists"):
        kit.init(str(project), "my-model")
    again = kit.init(project.as_uri(), "other", f=True)  # file:// URIs work (MLflow artifact URIs)
    assert again.package.name == "other"
    assert again.package.description in ("", None) and again.package.authors in ([], None)  # no " " junk


def test_errors_are_called_process_errors_with_the_registry_message(
    basic_registry: Registry, tmp_path: Path, repo_name: str
) -> None:
    project = _project(tmp_path / "project")
    ref = f"{basic_registry.host}/{repo_name}:v1"
    kit.pack(ref, str(project))
    try:
        kit.push(ref)
    except subprocess.CalledProcessError as exc:  # the reference's handler still catches it
        assert isinstance(exc, KitError) and isinstance(exc, kit.KitCommandError)
        assert exc.returncode == 1
        assert exc.cmd == ["kit", "push", ref]
        assert exc.stderr.startswith(
            f"error: Failed to push: {basic_registry.host} requires authentication\n"
        )
        assert f"hint: run 'kit login {basic_registry.host}'" in exc.stderr
        assert "requires authentication" in str(exc) and "kit login" in str(exc)
        assert exc.__cause__ is not None
    else:
        pytest.fail("push without credentials succeeded")

    with pytest.raises(subprocess.CalledProcessError) as info:
        kit.login(basic_registry.username or "", "wrong", basic_registry.host)
    assert "failed to validate the credentials" in info.value.stderr
    assert "unauthorized: authentication required" in info.value.stderr  # the registry's own text
    assert "unauthorized: authentication required" in str(info.value)
    kit.login(basic_registry.username or "", basic_registry.password or "", basic_registry.host)
    kit.push(ref)
    kit.logout(basic_registry.host)
    with pytest.raises(subprocess.CalledProcessError, match="not logged in"):
        kit.logout(basic_registry.host)


def test_local_errors(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError, match="not found") as info:
        kit.inspect("nothing-here:v1")
    assert info.value.stderr.startswith("error: Error resolving modelkit: ")
    with pytest.raises(subprocess.CalledProcessError, match="No Kitfile found"):
        kit.pack("x:v1", str(tmp_path))


def test_option_keys(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Raw keys, snake_case aliases and options the reference could not express reach the API."""
    seen: dict[str, Any] = {}

    def fake_pull(ref: str, **kwargs: Any) -> Any:
        seen.update(kwargs, ref=ref)
        raise KitError("stop here")

    monkeypatch.setattr(api, "pull", fake_pull)
    caplog.set_level(logging.INFO, logger="kitops.cli.kit")
    with pytest.raises(kit.KitCommandError):
        kit.pull(
            "reg.example.com/a/b:v1",
            **{"tls-verify": False, "ca-file": "/ca.pem"},
            concurrency="3",
            proxy="http://proxy:3128",
            v=True,
        )
    assert seen == {
        "ref": "reg.example.com/a/b:v1",
        "home": None,
        "tls_verify": False,
        "ca_file": "/ca.pem",
        "concurrency": 3,
        "proxy": "http://proxy:3128",
    }
    assert (
        "% kit pull reg.example.com/a/b:v1 --tls-verify=false --ca-file /ca.pem --concurrency 3 "
        "--proxy http://proxy:3128" in _kit_lines(caplog)
    )
    with pytest.raises(TypeError, match="unexpected keyword argument 'over_write'"):
        kit.unpack("x:v1", "out", over_write=True)
    with pytest.raises(TypeError, match="conflicting"):
        kit.pull("r.io/a:v1", **{"tls-verify": True}, tls_verify=False)
    with pytest.raises(TypeError, match="must be a string"):
        kit.pull(None)  # type: ignore[arg-type]


def test_concurrency_zero_is_refused(plain_registry: Registry) -> None:
    with pytest.raises(subprocess.CalledProcessError, match="concurrency"):
        kit.pull(f"{plain_registry.host}/nothing/here:v1", concurrency=0)


def test_login_never_logs_the_password(plain_registry: Registry, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kitops.cli.kit")
    kit.login("user", "top-secret", plain_registry.host)
    assert not [m for m in _kit_lines(caplog) if "top-secret" in m]
    assert f"% kit login {plain_registry.host} --username user --password-stdin" in _kit_lines(caplog)


def test_run_executes_a_command_line_in_process(tmp_path: Path) -> None:
    root = logging.getLogger("kitops")
    before = (list(root.handlers), root.level, root.propagate)
    done = kit._run(["kit", "version"])
    assert isinstance(done, subprocess.CompletedProcess) and done.returncode == 0
    assert done.stdout.startswith("Version: ")
    assert kit.version().startswith("Version: ")
    project = _project(tmp_path / "p")
    kit._run(["kit", "pack", str(project), "-t", "demo:v1"])
    rows = json.loads(kit._run(["kit", "list", "--format", "json"]).stdout)
    assert rows[0]["tags"] == ["v1"]
    with pytest.raises(subprocess.CalledProcessError) as info:
        kit._run(["kit", "inspect", "nope:v1"])
    assert info.value.returncode == 1 and "not found" in info.value.stderr
    with pytest.raises(TypeError, match="expected str instance"):
        kit._run(["kit", "list", 3])
    assert (list(root.handlers), root.level, root.propagate) == before  # the CLI's logging set-up is undone


def test_plain_http_false_means_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in the reference, a falsy plain-http is "not given", so the default (HTTP for loopback) applies."""
    seen: list[dict[str, Any]] = []

    def fake_pull(ref: str, **kwargs: Any) -> Any:
        seen.append(kwargs)
        raise KitError("stop here")

    monkeypatch.setattr(api, "pull", fake_pull)
    for options in ({"plain-http": False}, {"plain_http": False}, {"plain-http": 0}, {"plain-http": ""}):
        with pytest.raises(kit.KitCommandError) as info:
            kit.pull("127.0.0.1:5000/a/b:v1", **options)
        assert "plain_http" not in seen[-1], options
        assert info.value.cmd == ["kit", "pull", "127.0.0.1:5000/a/b:v1"]
    with pytest.raises(kit.KitCommandError):
        kit.pull(
            "127.0.0.1:5000/a/b:v1", **{"plain-http": True}, plain_http=False
        )  # no conflict: False is "not given"
    assert seen[-1]["plain_http"] is True
    with pytest.raises(kit.KitCommandError) as info:
        kit.pull("127.0.0.1:5000/a/b:v1", tls_verify=False)  # False still means "do not verify" here
    assert seen[-1]["tls_verify"] is False and "plain_http" not in seen[-1]
    assert info.value.cmd[-1] == "--tls-verify=false"


def test_plain_http_false_keeps_plain_http_for_a_loopback_registry(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v1"
    kit.pack(ref, str(_project(tmp_path / "project")))
    kit.push(ref, **{"plain-http": False})  # forced HTTPS before, which a plain-HTTP registry refuses
    assert kit.inspect(ref, remote=True, plain_http=False)["digest"] == kit.inspect(ref)["digest"]


def test_import_from_hf_failing_never_shows_the_token(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1")  # nothing listens there: the import fails
    caplog.set_level(logging.DEBUG, logger="kitops")
    token = "hf_" + "Zq7" * 12  # a realistic, unmistakable token
    with pytest.raises(subprocess.CalledProcessError) as info:
        kit.import_from_hf("HuggingFaceTB/SmolLM-135M", token=token, tag="smol:v1", **{"plain-http": True})
    exc = info.value
    assert isinstance(exc, kit.KitCommandError) and exc.returncode == 1
    assert "cannot reach the Hub" in exc.message
    assert exc.stderr.startswith("error: Failed to import model: HuggingFaceTB/SmolLM-135M@main")
    # the token was given and reached the command line, masked: a leak would put it right here
    assert exc.cmd == [
        "kit",
        "import",
        "HuggingFaceTB/SmolLM-135M",
        "--token",
        "***",
        "--tag",
        "smol:v1",
        "--plain-http",
    ]
    records = [r for r in caplog.records if r.name.startswith("kitops")]
    assert "% kit import HuggingFaceTB/SmolLM-135M --token *** --tag smol:v1 --plain-http" in [
        r.getMessage() for r in records
    ]
    texts = [
        str(exc),
        repr(exc),
        " ".join(exc.cmd),
        exc.stderr,
        exc.output or "",
        exc.message,
        exc.hint or "",
        *(r.getMessage() for r in records),
        *(caplog.handler.format(r) for r in records),
        caplog.text,
    ]
    import pickle

    texts.append(repr(pickle.dumps(exc)))
    leaks = [t for t in texts if token in t or token[3:] in t]
    assert not leaks
    with pytest.raises(TypeError, match="token must be a string"):
        kit.import_from_hf("org/name", token=123)


def test_command_error_pickles_and_keeps_its_text() -> None:
    import pickle

    err = kit.KitCommandError(
        1, ["kit", "pull", "x"], "", "error: boom\nhint: retry\n", message="boom", hint="retry"
    )
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, subprocess.CalledProcessError) and isinstance(back, KitError)
    assert (back.returncode, back.cmd, back.stderr, back.message, back.hint) == (
        1,
        ["kit", "pull", "x"],
        "error: boom\nhint: retry\n",
        "boom",
        "retry",
    )
