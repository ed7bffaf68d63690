"""The kit command line: outputs, exit codes and error texts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import kit, tree_files, write_tree

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def packed(home: Path, tag: str = "iris:v1") -> str:
    res = kit(home, "pack", str(EXAMPLE), "-t", tag)
    assert res.exit_code == 0, res.output
    line = next(x for x in res.stdout.splitlines() if x.startswith("Model saved: "))
    return line.split(": ", 1)[1]


def test_pack_prints_digest_and_list_table(home: Path) -> None:
    digest = packed(home)
    assert digest.startswith("sha256:")
    res = kit(home, "list")
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "MAINTAINER", "NAME", "SIZE", "DIGEST"]
    row = lines[1].split("   ")
    assert [c.strip() for c in row if c.strip()][:3] == ["iris", "v1", "kitops examples"]
    assert lines[1].endswith(digest)
    # columns align (tabwriter, padding 3)
    assert lines[0].index("TAG") == lines[1].index("v1")


def test_list_json_and_template(home: Path) -> None:
    digest = packed(home)
    kit(home, "pack", str(EXAMPLE))  # the same content untagged lands in localhost/_
    items = json.loads(kit(home, "list", "--format", "json").stdout)
    assert {"repo", "digest", "tags", "modelName", "size", "sizeBytes", "author"} == set(items[0])
    by_repo = {i["repo"]: i for i in items}
    assert by_repo["iris"]["tags"] == ["v1"] and by_repo["iris"]["digest"] == digest
    assert by_repo["<none>"]["tags"] is None
    assert "\\u003cnone\\u003e" in kit(home, "list", "--format", "json").stdout
    out = kit(home, "list", "--format", "{{.Repo}} {{.Tags}} {{.ModelName}}").stdout
    assert "iris [v1] iris-classifier\n" in out


def test_inspect_json_shape(home: Path) -> None:
    digest = packed(home)
    data = json.loads(kit(home, "inspect", "iris:v1").stdout)
    assert list(data) == ["digest", "cliVersion", "kitfile", "manifest"]
    assert data["digest"] == digest
    assert data["kitfile"]["model"]["digest"].startswith("sha256:")
    assert data["manifest"]["artifactType"] == "application/vnd.kitops.modelkit.manifest.v1+json"


def test_info_yaml_and_filter(home: Path) -> None:
    packed(home)
    out = kit(home, "info", "iris:v1").stdout
    assert out.startswith("manifestVersion: 1.0.0\npackage:\n  name: iris-classifier\n")
    assert "authors: [kitops examples]" in out
    assert "digest" not in out
    assert kit(home, "info", "iris:v1", "--filter", "package.name").stdout == "iris-classifier\n"
    assert (
        "name: iris" in kit(home, "info", "iris:v1", "-f", "datasets").stdout
    )  # the reference cannot: its filter keys are Go field names
    bad = kit(home, "info", "iris:v1", "-f", "model[0]")
    assert bad.exit_code == 2 and "array access using '[]' is not currently supported" in bad.stderr


def test_unpack_cli_and_overwrite_rules(home: Path, tmp_path: Path) -> None:
    packed(home)
    out = tmp_path / "out"
    res = kit(home, "unpack", "iris:v1", "-d", str(out))
    assert res.exit_code == 0, res.output
    assert (out / "Kitfile").is_file() and (out / "model" / "iris-classifier.joblib").is_file()
    again = kit(home, "unpack", "iris:v1", "-d", str(out))
    assert (
        again.exit_code == 1 and "already exists" in again.stderr and "hint: use --overwrite" in again.stderr
    )
    assert kit(home, "unpack", "iris:v1", "-d", str(out), "-o").exit_code == 0
    assert kit(home, "unpack", "iris:v1", "-d", str(out), "-i").exit_code == 0
    only = tmp_path / "only"
    assert kit(home, "unpack", "iris:v1", "-d", str(only), "--filter", "kitfile").exit_code == 0
    assert sorted(tree_files(only)) == ["Kitfile"]
    dep = tmp_path / "dep"
    assert kit(home, "unpack", "iris:v1", "-d", str(dep), "--model").exit_code == 0
    assert sorted(tree_files(dep)) == ["model/iris-classifier.joblib"]
    bad = kit(home, "unpack", "iris:v1", "-f", "weights")
    assert bad.exit_code == 2 and "invalid filter type weights" in bad.stderr


def test_tag_remove_and_gc(home: Path) -> None:
    digest = packed(home)
    res = kit(home, "tag", "iris:v1", "iris:prod")
    assert res.stdout == "Modelkit localhost/iris:v1 tagged as localhost/iris:prod\n"
    assert kit(home, "tag", "iris:v1", "other/repo:v9").exit_code == 0
    res = kit(home, "remove", "iris:v1")
    assert res.stdout == "Untagged iris:v1\n"  # another tag still points at it
    res = kit(home, "remove", "iris:prod")
    assert res.stdout == f"Removed iris:prod (digest {digest})\n"
    blobs = home / "storage" / "blobs" / "sha256"
    assert (blobs / digest[7:]).exists()  # still held by other/repo
    assert kit(home, "remove", f"other/repo@{digest}").exit_code == 0
    assert not any(blobs.iterdir())
    missing = kit(home, "remove", "iris:v1")
    assert missing.exit_code == 1 and "model iris:v1 not found" in missing.stderr


def test_remove_all_and_force(home: Path) -> None:
    packed(home, "a:v1")
    assert kit(home, "pack", str(EXAMPLE), "-t", "b:v1", "--compression", "zstd").exit_code == 0
    kit(home, "tag", "a:v1", "a:v2")
    assert kit(home, "remove", "--all").stdout == ""  # nothing untagged
    assert kit(home, "remove", "a:v1,v2", "--force").exit_code == 0
    res = kit(home, "remove", "--all", "--force")
    assert "Removed b@sha256:" in res.stdout
    assert kit(home, "list").stdout.count("\n") == 1
    assert kit(home, "remove").exit_code == 2


def test_diff_output(home: Path, tmp_path: Path) -> None:
    packed(home)
    assert kit(home, "diff", "iris:v1", "iris:v1").stdout == "ModelKits are identical\n"
    assert kit(home, "pack", str(EXAMPLE), "-t", "iris:z", "--compression", "zstd").exit_code == 0
    out = kit(home, "diff", "local://iris:v1", "iris:z").stdout
    assert out.startswith(
        "Comparing:\n  ModelKit1: localhost/iris:v1\n  ModelKit2: localhost/iris:z\n\nConfigurations:\n"
    )
    assert "Configs differ:" in out and "Unique Layers to ModelKit1 (localhost/iris:v1)" in out
    assert "model   | sha256:" in out


def test_init_writes_kitfile_and_refuses_overwrite(home: Path, tmp_path: Path) -> None:
    proj = write_tree(
        tmp_path / "proj", {"model.safetensors": b"x" * 100, "README.md": "# hi", "data/train.csv": "a\n1\n"}
    )
    res = kit(home, "init", str(proj), "--name", "demo", "--desc", "a demo", "--author", "me")
    assert res.exit_code == 0, res.output
    text = (proj / "Kitfile").read_text()
    assert "manifestVersion: 1.0.0" in text and "name: demo" in text and "path: model.safetensors" in text
    again = kit(home, "init", str(proj))
    assert again.exit_code == 1 and "Use '--force' to overwrite" in again.stderr
    assert kit(home, "init", str(proj), "--force").exit_code == 0
    assert kit(home, "pack", str(proj), "-t", "demo:v1").exit_code == 0


def test_pack_from_stdin_and_errors(home: Path, tmp_path: Path) -> None:
    ctx = write_tree(tmp_path / "ctx", {"m.bin": "m"})
    res = kit(home, "pack", str(ctx), "-f", "-", input="manifestVersion: 1.0.0\nmodel: {path: m.bin}\n")
    assert res.exit_code == 0, res.output
    res = kit(home, "pack", str(tmp_path / "ctx"))
    assert res.exit_code == 1
    assert "No Kitfile found in" in res.stderr and "hint: create one with: kit init" in res.stderr
    bad = kit(home, "pack", str(ctx), "-t", "Bad:Tag", "-f", "-", input="model: {path: m.bin}\n")
    assert bad.exit_code == 2 and "name must be lowercase" in bad.stderr


def test_cache_and_version(home: Path) -> None:
    assert kit(home, "cache", "info").stdout == "Cache is currently empty\n"
    (home / "cache" / "pack").mkdir(parents=True)
    (home / "cache" / "pack" / "x").write_bytes(b"0" * 2048)
    assert kit(home, "cache", "info").stdout == (
        "Total size of cache directory: 2.0 KiB\nCache contents:\n  ./pack    2.0 KiB\n"
    )
    assert kit(home, "cache", "clear").stdout == "Cleared 2.0 KiB\n"
    assert kit(home, "version").stdout.startswith("Version: ")


def test_console_script_exit_codes(tmp_path: Path) -> None:
    """The real entry point, in a subprocess: stdout carries results only, errors exit 1."""
    env = {**os.environ, "KITOPS_HOME": str(tmp_path / "h")}
    cmd = [sys.executable, "-m", "kitops.cli.main", "--progress", "none"]
    ok = subprocess.run(
        [*cmd, "pack", str(EXAMPLE), "-t", "x:v1"], capture_output=True, text=True, env=env, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("Model saved: sha256:") and ok.stdout.count("\n") == 1
    bad = subprocess.run([*cmd, "unpack", "nope:v1"], capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 1 and bad.stdout == ""
    assert "error: Failed to unpack: model nope:v1 not found" in bad.stderr
    usage = subprocess.run([*cmd, "unpack"], capture_output=True, text=True, env=env, check=False)
    assert usage.returncode == 2 and "Missing argument" in usage.stderr


EXIT_PROBE = """
import atexit, sys
from kitops.cli.main import main

class Teardown:
    def __del__(self):
        sys.stdout.write("teardown ran\\n")

probe = Teardown()
atexit.register(lambda: sys.stdout.write("atexit ran\\n"))
sys.argv = ["kit", *sys.argv[1:]]
main()
"""


def test_console_script_exits_the_ordinary_way(tmp_path: Path) -> None:
    """The console script leaves through SystemExit like any Python program (no os._exit and no
    private atexit call): atexit handlers and the interpreter's teardown both run, codes are kept."""
    env = {**os.environ, "KITOPS_HOME": str(tmp_path / "h")}
    ok = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, "version"], capture_output=True, text=True, env=env, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("Version: ") and "atexit ran\n" in ok.stdout and "teardown ran" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, "--progress", "none", "unpack", "nope:v1"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 1 and "model nope:v1 not found" in bad.stderr and "atexit ran\n" in bad.stdout
