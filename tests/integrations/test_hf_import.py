"""``kit import`` from a Hugging Face Hub: the real ``huggingface_hub`` client against tests/hubserver.py."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import IntegrityError, UsageError
from kitops.importers.hfsource import RemoteFile, check_listing, default_tag, parse_source, select
from kitops.modelkit.listing import repo_display
from tests.helpers import kit, tree_files
from tests.hubserver import HubRepo, HubServer, git_blob_id

pytest.importorskip("huggingface_hub")

README = b"""---
license: apache-2.0
base_model: meta/tiny-base
tags: [text-generation]
---
# tiny-llm

A model for the tests.
"""
WEIGHTS = bytes(range(256)) * 64  # 16 KiB, in LFS
FILES = {
    "README.md": README,
    "config.json": b'{"architectures": ["LlamaForCausalLM"]}\n',
    "model.safetensors": WEIGHTS,
    "tokenizer.json": b'{"version": "1.0"}\n',
    "extra/notes.txt": b"notes\n",
    ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
}
IMPORTED = {k: v for k, v in FILES.items() if k != ".gitattributes"}


@pytest.fixture()
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    server = HubServer(page_size=2)  # several pages: the client must follow the Link headers
    server.repos["acme/tiny-llm"] = HubRepo(dict(FILES), lfs={"model.safetensors"})
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield server
    server.close()


def _unpacked(home: Path, ref: str, dest: Path) -> dict[str, bytes]:
    api.unpack(ref, target_dir=dest, home=home)
    files = tree_files(dest)
    files.pop("Kitfile")
    return files


def _stored(home: Path) -> list[str]:
    return sorted(f"{repo_display(m.repo)}:{t}" for m in api.list_modelkits(home=home) for t in m.tags or ())


# ---------------------------------------------------------------------------------------------
# a whole import


def test_import_packs_every_file_verified_with_a_kitfile_from_the_repo_and_its_card(
    hub: HubServer, home: Path, tmp_path: Path
) -> None:
    res = kit(home, "import", "acme/tiny-llm")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("Model saved: sha256:")
    kf = api.info("acme/tiny-llm:latest", home=home)
    assert kf.package.name == "tiny-llm" and kf.package.authors == ["acme"]
    assert kf.model is not None and kf.model.path == "model.safetensors"
    assert kf.model.license == "apache-2.0"
    assert kf.model.parameters == {
        "huggingface": {
            "repository": f"{hub.url}/acme/tiny-llm",
            "revision": hub.repos["acme/tiny-llm"].commit,
            "base_model": "meta/tiny-base",
        }
    }
    # byte for byte what the repository holds, .gitattributes left out
    assert _unpacked(home, "acme/tiny-llm:latest", tmp_path / "out") == IMPORTED
    # the listing took several pages, and every request was pinned to the commit
    commit = hub.repos["acme/tiny-llm"].commit
    trees = [r.path for r in hub.requests if "/tree/" in r.path]
    assert len(trees) > 1 and all(f"/tree/{commit}" in p for p in trees)
    resolves = [r.path for r in hub.requests if "/resolve/" in r.path]
    assert resolves and all(f"/resolve/{commit}/" in p for p in resolves)
    # the LFS file came from the CDN, once
    assert [r.method for r in hub.requests if r.origin == "cdn"] == ["GET"]
    # the staging directory is gone after the pack
    assert list((home / "cache" / "import" / "hf").glob("*--*")) == []


@pytest.mark.parametrize(
    "source",
    ["hf://acme/tiny-llm", "{url}/acme/tiny-llm", "{url}/acme/tiny-llm/tree/main", "acme/tiny-llm/"],
)
def test_every_spelling_of_a_hub_repository_imports_it(hub: HubServer, home: Path, source: str) -> None:
    res = kit(home, "import", source.format(url=hub.url), "-t", "tiny:v1")
    assert res.exit_code == 0, res.output
    assert _stored(home) == ["tiny:v1"]


def test_a_dataset_repository(hub: HubServer, home: Path, tmp_path: Path) -> None:
    hub.repos["acme/rows"] = HubRepo(
        {"train.csv": b"a,b\n1,2\n", "README.md": b"# rows\n"}, repo_type="dataset"
    )
    res = kit(home, "import", "hf://datasets/acme/rows")
    assert res.exit_code == 0, res.output
    kf = api.info("acme/rows:latest", home=home)
    assert [d.path for d in kf.datasets] == ["train.csv"]
    same = kit(home, "import", "acme/rows", "--repo-type", "dataset", "-t", "rows:v2")
    assert same.exit_code == 0, same.output
    assert _unpacked(home, "rows:v2", tmp_path / "out") == {
        "train.csv": b"a,b\n1,2\n",
        "README.md": b"# rows\n",
    }
    # as a model repository it does not exist
    wrong = kit(home, "import", "acme/rows", "-t", "rows:v3")
    assert wrong.exit_code == 1 and "repository not found" in wrong.stderr


def test_include_and_exclude_choose_the_files(hub: HubServer, home: Path, tmp_path: Path) -> None:
    res = kit(
        home, "import", "acme/tiny-llm", "--include", "*.safetensors", "--include", "*.json",
        "--exclude", "tokenizer.json", "-t", "only:v1",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert _unpacked(home, "only:v1", tmp_path / "out") == {
        "config.json": FILES["config.json"],
        "model.safetensors": WEIGHTS,
    }
    assert not any("tokenizer.json" in r.path for r in hub.requests)


def test_a_kitfile_from_stdin_decides_what_is_downloaded(hub: HubServer, home: Path, tmp_path: Path) -> None:
    kitfile = "manifestVersion: 1.0.0\nmodel:\n  path: model.safetensors\ndocs:\n  - path: README.md\n"
    res = kit(home, "import", "acme/tiny-llm", "-f", "-", "-t", "mine:v1", input=kitfile)
    assert res.exit_code == 0, res.output
    assert _unpacked(home, "mine:v1", tmp_path / "out") == {"README.md": README, "model.safetensors": WEIGHTS}
    assert not any(name in r.path for r in hub.requests for name in ("config.json", "tokenizer", "notes"))


def test_the_same_content_is_downloaded_once_and_packed_at_both_paths(
    hub: HubServer, home: Path, tmp_path: Path
) -> None:
    hub.repos["acme/twins"] = HubRepo({"a/w.bin": WEIGHTS, "b/w.bin": WEIGHTS}, lfs={"a/w.bin", "b/w.bin"})
    res = kit(home, "import", "acme/twins")
    assert res.exit_code == 0, res.output
    assert _unpacked(home, "acme/twins:latest", tmp_path / "out") == {"a/w.bin": WEIGHTS, "b/w.bin": WEIGHTS}
    assert len([r for r in hub.requests if r.origin == "cdn"]) == 1


# ---------------------------------------------------------------------------------------------
# auth and errors


def test_a_private_repository_needs_the_token_which_never_leaves_the_hub_or_shows(
    hub: HubServer, home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "hf_" + "Qx9" * 12
    hub.repos["acme/tiny-llm"].token = secret
    denied = kit(home, "import", "acme/tiny-llm")
    assert denied.exit_code == 1
    assert "repository not found, or it is private or gated" in denied.stderr and "--token" in denied.stderr
    caplog.set_level(logging.DEBUG)
    res = kit(home, "--log-level", "debug", "import", "acme/tiny-llm", "--token", secret, "-t", "priv:v1")
    assert res.exit_code == 0, res.output
    hub_requests = [r for r in hub.requests if r.origin == "hub"]
    assert hub_requests[-1].authorized
    assert [r.authorized for r in hub.requests if r.origin == "cdn"] == [False]  # not sent to the CDN
    assert secret not in res.output + res.stderr + caplog.text
    # HF_TOKEN works too (huggingface_hub's own convention)
    monkeypatch.setenv("HF_TOKEN", secret)
    assert kit(home, "import", "acme/tiny-llm", "-t", "priv:v2").exit_code == 0


def test_unknown_repository_and_reference_fail_cleanly(hub: HubServer, home: Path) -> None:
    missing = kit(home, "import", "acme/nothing")
    assert missing.exit_code == 1
    assert "error: Failed to import model: acme/nothing@main: repository not found" in missing.stderr
    bad_ref = kit(home, "import", "acme/tiny-llm", "--ref", "v9")
    assert bad_ref.exit_code == 1 and "acme/tiny-llm@v9: reference not found" in bad_ref.stderr
    assert "hint: check --ref" in bad_ref.stderr
    nothing = kit(home, "import", "acme/tiny-llm", "--include", "*.gguf")
    assert nothing.exit_code == 1 and "no file to import" in nothing.stderr
    assert _stored(home) == []


def test_usage_errors_exit_2(hub: HubServer, home: Path) -> None:
    no_tag = kit(home, "import", "https://git.example.com/team/sub/model.git")  # no org/name to make a tag of
    assert no_tag.exit_code == 2 and "use flag --tag to set a tag for ModelKit" in no_tag.stderr
    tool = kit(home, "import", "acme/tiny-llm", "--tool", "svn")
    assert tool.exit_code == 2
    not_hub = kit(home, "import", "just-a-name")
    assert not_hub.exit_code == 2 and "not a Hugging Face repository: just-a-name" in not_hub.stderr
    mlflow_flag = kit(home, "import", "acme/tiny-llm", "--tracking-uri", "http://x")
    assert mlflow_flag.exit_code == 2 and "--tracking-uri applies only to mlflow://" in mlflow_flag.stderr
    hf_flag = kit(home, "import", "mlflow://runs/abc", "--ref", "main", "-t", "x:v1")
    assert hf_flag.exit_code == 2 and "--ref does not apply to mlflow://" in hf_flag.stderr
    assert _stored(home) == []


# ---------------------------------------------------------------------------------------------
# hostile or broken servers: refused, nothing packed, nothing written outside the staging area


def _hostile(repo: HubRepo, case: str) -> str:
    good = {"type": "file", "size": 3, "oid": git_blob_id(b"abc")}
    if case == "traversal":
        repo.extra_entries.append({**good, "path": "../../escaped.txt"})
        return "not a plain relative path"
    if case == "absolute":
        repo.extra_entries.append({**good, "path": "/tmp/escaped.txt"})
        return "not a plain relative path"
    if case == "duplicate":
        repo.extra_entries.append({**good, "path": "config.json"})
        return "listed twice"
    if case == "file-and-dir":
        repo.extra_entries.append({**good, "path": "extra"})
        return "both a file and a directory"
    if case == "wrong-git-hash":
        repo.served["config.json"] = FILES["config.json"].replace(b"Llama", b"Evil!")
        return "config.json: git blob id mismatch"
    if case == "wrong-lfs-hash":
        repo.served["model.safetensors"] = WEIGHTS[::-1]
        return "model.safetensors: sha256 mismatch"
    if case == "wrong-head-size":
        repo.head_size["model.safetensors"] = len(WEIGHTS) + 1
        return "model.safetensors: the Hub serves 16385 bytes, the listing says 16384"
    if case == "short-body":
        repo.served["config.json"] = FILES["config.json"][:5]
        return "config.json"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "traversal",
        "absolute",
        "duplicate",
        "file-and-dir",
        "wrong-git-hash",
        "wrong-lfs-hash",
        "wrong-head-size",
        "short-body",
    ],
)
def test_a_hostile_listing_or_content_is_refused_and_nothing_is_packed(
    hub: HubServer, home: Path, tmp_path: Path, case: str
) -> None:
    expected = _hostile(hub.repos["acme/tiny-llm"], case)
    res = kit(home, "import", "acme/tiny-llm")
    assert res.exit_code == 1, res.output
    assert expected in res.stderr
    assert _stored(home) == []
    assert not list(tmp_path.rglob("escaped.txt")) and not Path("/tmp/escaped.txt").exists()
    # no bad byte is left where a later run would trust it
    stages = list((home / "cache" / "import" / "hf").glob("*--*"))
    blobs = [p for s in stages for p in (s / "blobs").glob("*") if not p.name.endswith(".part")]
    for blob in blobs:
        data = blob.read_bytes()
        assert data in IMPORTED.values(), blob


def test_listing_checks() -> None:
    ok = RemoteFile("a/b.bin", 3, "1" * 40, "2" * 64)
    assert check_listing([ok, RemoteFile(".gitattributes", 1, "3" * 40, None)]) == [ok]
    for path in ("a/../b", "./a", "a//b", "a\\b", "C:/x", ".git/config", "a\nb", ""):
        with pytest.raises(IntegrityError):
            check_listing([RemoteFile(path, 1, "1" * 40, None)])
    with pytest.raises(IntegrityError, match="invalid size"):
        check_listing([RemoteFile("a", -1, "1" * 40, None)])
    with pytest.raises(IntegrityError, match="invalid LFS sha256"):
        check_listing([RemoteFile("a", 1, "1" * 40, "zz")])
    files = [RemoteFile(p, 1, "1" * 40, None) for p in ("m.gguf", "q/m-Q4.gguf", "onnx/x.onnx", "r.md")]
    assert [f.path for f in select(files, ["*Q4*", "onnx/"], [])] == ["q/m-Q4.gguf", "onnx/x.onnx"]
    assert [f.path for f in select(files, [], ["*.gguf"])] == ["onnx/x.onnx", "r.md"]


def test_source_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    src = parse_source("https://huggingface.co/datasets/Org/Set.v2/tree/refs%2Fpr%2F1")
    assert (src.repo_id, src.repo_type, src.revision) == ("Org/Set.v2", "dataset", "refs/pr/1")
    assert default_tag(parse_source("HuggingFaceTB/SmolLM-135M")) == "huggingfacetb/smollm-135m:latest"
    git = parse_source("https://git.example.com/team/model.git")
    assert git.repo_id == "" and default_tag(git) == "team/model:latest"
    for bad in ("org/../x", "a/b/c", "hf://only"):
        with pytest.raises(UsageError):
            parse_source(bad)


def test_without_huggingface_hub_the_hint_names_the_extra(
    hub: HubServer, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if not installed
    res = kit(home, "import", "acme/tiny-llm")
    assert res.exit_code == 2
    assert "huggingface_hub is not installed" in res.stderr and "pip install 'kitops[hf]'" in res.stderr


# ---------------------------------------------------------------------------------------------
# resume


def test_an_import_killed_mid_file_resumes_where_it_stopped(
    hub: HubServer, home: Path, tmp_path: Path
) -> None:
    # big enough for the client to write a first 10 MiB chunk before the stall
    big = os.urandom(1 << 20) * 24
    hub.repos["acme/big"] = HubRepo({"model.gguf": big, "README.md": b"# big\n"}, lfs={"model.gguf"})
    digest = hashlib.sha256(big).hexdigest()
    hub.stall_after[digest] = 12 << 20
    env = {**os.environ, "KITOPS_HOME": str(home)}
    argv = [sys.executable, "-c", "from kitops.cli.main import main; main()", "--progress", "none"]
    proc = subprocess.Popen(
        [*argv, "import", "acme/big"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    part = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        parts = list((home / "cache" / "import" / "hf").glob(f"*/blobs/{digest}.part"))
        if parts and parts[0].stat().st_size >= 10 << 20:
            part = parts[0]
            break
        time.sleep(0.1)
    assert part is not None, proc.communicate(timeout=5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    kept = part.stat().st_size
    assert 0 < kept < len(big)
    del hub.stall_after[digest]
    hub.release()
    before = len(hub.requests)
    res = kit(home, "import", "acme/big")
    assert res.exit_code == 0, res.output
    cdn = [r for r in hub.requests[before:] if r.origin == "cdn"]
    assert [r.range for r in cdn] == [f"bytes={kept}-"]  # only the rest was asked for
    out = tmp_path / "out"
    assert _unpacked(home, "acme/big:latest", out) == {"model.gguf": big, "README.md": b"# big\n"}
    shutil.rmtree(out)


# ---------------------------------------------------------------------------------------------
# git, and the PyKitOps function


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture()
def git_lfs() -> None:
    have = (
        shutil.which("git") and subprocess.run(["git", "lfs", "version"], capture_output=True).returncode == 0
    )
    if not have:
        if os.environ.get("CI"):
            pytest.fail("git and git-lfs are needed (scripts/setup.sh installs them)")
        pytest.skip("git-lfs is not installed")


def test_the_git_tool_clones_a_repository_without_its_git_files(
    git_lfs: None, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    src = tmp_path / "src"
    src.mkdir()
    for rel, data in {
        "model.onnx": b"\x08onnx-weights",
        "README.md": b"# r\n",
        "sub/.gitignore": b"x\n",
    }.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    _git("init", "-q", "-b", "main", cwd=src)
    _git("add", "-A", cwd=src)
    _git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "c", cwd=src)
    res = kit(home, "import", f"file://{src}", "--tool", "git", "-t", "gitted:v1")
    assert res.exit_code == 0, res.output
    assert _unpacked(home, "gitted:v1", tmp_path / "out") == {
        "model.onnx": b"\x08onnx-weights",
        "README.md": b"# r\n",
    }
    assert list((home / "cache" / "import").glob("kitops_import_*")) == []


def test_the_git_tool_hands_the_token_over_in_the_environment_only() -> None:
    from kitops.importers.gitimport import clone_argv, git_env

    env = git_env("https://git.example.com/team/m.git", "s3cret-token")
    argv = clone_argv("https://git.example.com/team/m.git", Path("/tmp/x"), "v1")
    assert "s3cret-token" not in " ".join(argv)
    assert env["KIT_IMPORT_TOKEN"] == "s3cret-token"
    assert env["GIT_CONFIG_KEY_1"] == "credential.https://git.example.com.helper"
    assert "s3cret-token" not in json.dumps({k: v for k, v in env.items() if k != "KIT_IMPORT_TOKEN"})
    assert argv[-4:] == ["v1", "--", "https://git.example.com/team/m.git", "/tmp/x"]
    bare = git_env("https://git.example.com/team/m.git", None)
    assert "KIT_IMPORT_TOKEN" not in bare and bare["GIT_ASKPASS"] == "true"


def test_pykitops_import_from_hf(hub: HubServer, home: Path, caplog: pytest.LogCaptureFixture) -> None:
    from kitops.cli import kit as pykit

    caplog.set_level(logging.INFO, logger="kitops.cli.kit")
    pykit.import_from_hf("acme/tiny-llm", tag="py:v1", include="*.safetensors,README.md", home=str(home))
    assert _stored(home) == ["py:v1"]
    assert "% kit import acme/tiny-llm --tag py:v1 --include *.safetensors,README.md" in caplog.text
    with pytest.raises(pykit.KitCommandError) as info:
        pykit.import_from_hf("acme/none", token="hf_" + "Zz1" * 12, home=str(home))
    assert "repository not found" in info.value.message and "Zz1Zz1" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# the prompt to edit a generated Kitfile (a terminal is faked: the CLI asks only on one)

# An $EDITOR: rewrites the Kitfile it is given (its last argument) with its first argument's YAML.
_EDITOR = """\
import sys
from pathlib import Path

Path(sys.argv[-1]).write_text(Path(sys.argv[1]).read_text())
Path(sys.argv[1] + ".ran").write_text(sys.argv[-1])
"""


@pytest.fixture()
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake terminal and an $EDITOR (a Python script, "python script new.yaml" split as argv) that
    puts ``new.yaml`` in place of the Kitfile; returns ``new.yaml``'s path."""
    from kitops.cli import main

    script = tmp_path / "edit kitfile.py"  # a space: $EDITOR is split like a shell would, not run by one
    script.write_text(_EDITOR)
    new = tmp_path / "new.yaml"
    monkeypatch.setattr(main, "_interactive", lambda: True)
    monkeypatch.setenv("EDITOR", shlex.join([sys.executable, str(script), str(new)]))
    return new


_PROMPT = "Would you like to edit Kitfile before packing? (y/N): "


def test_on_a_terminal_the_generated_kitfile_can_be_edited_before_packing(
    hub: HubServer, home: Path, tmp_path: Path, editor: Path
) -> None:
    editor.write_text(
        "manifestVersion: 1.0.0\npackage:\n  name: edited-by-hand\n"
        "model:\n  path: model.safetensors\ndocs:\n  - path: README.md\n"
    )
    res = kit(home, "import", "acme/tiny-llm", "-t", "edited:v1", input="y\n")
    assert res.exit_code == 0, res.output
    assert _PROMPT in res.stdout
    kf = api.info("edited:v1", home=home)
    assert kf.package.name == "edited-by-hand" and kf.code == []
    assert _unpacked(home, "edited:v1", tmp_path / "out") == {
        "README.md": README,
        "model.safetensors": WEIGHTS,
    }
    edited = Path(Path(f"{editor}.ran").read_text())  # the file the editor was given...
    assert not edited.exists()  # ...is gone after the pack
    # "N" (or just Enter) packs the generated Kitfile, and no editor runs
    Path(f"{editor}.ran").unlink()
    res = kit(home, "import", "acme/tiny-llm", "-t", "plain:v1", input="\n")
    assert res.exit_code == 0 and _PROMPT in res.stdout
    assert api.info("plain:v1", home=home).package.name == "tiny-llm"
    assert not Path(f"{editor}.ran").exists()


def test_an_invalid_edit_keeps_the_kitfile_and_says_how_to_resume(
    hub: HubServer, home: Path, tmp_path: Path, editor: Path
) -> None:
    editor.write_text("manifestVersion: 1.0.0\nmodel:\n  path: no-such-file.bin\n")
    res = kit(home, "import", "acme/tiny-llm", "--include", "*.safetensors", "--include", "README.md",
              "-t", "fixme:v1", input="y\n")  # fmt: skip
    assert res.exit_code == 1, res.output
    kept = Path(Path(f"{editor}.ran").read_text())
    assert f"Kitfile {kept} not used" in res.stderr and "no-such-file.bin" in res.stderr
    command = f"kit import acme/tiny-llm -t fixme:v1 --include '*.safetensors' --include README.md -f {kept}"
    assert f"hint: the file is kept; fix it, then run: {command}" in res.stderr
    assert kept.read_text() == editor.read_text() and _stored(home) == []
    # a resumed run that fails (here: at the pack, a path the repository lacks) keeps the Kitfile
    kept.write_text(
        kept.read_text().replace("no-such-file.bin", "model.safetensors") + "docs:\n  - path: gone.md\n"
    )
    failed = kit(home, *shlex.split(command)[1:])
    assert failed.exit_code == 1 and "gone.md" in failed.stderr
    assert kept.is_file()
    kept.write_text(kept.read_text().replace("docs:\n  - path: gone.md\n", ""))
    # the printed command resumes (the downloads were kept too: nothing is fetched again)
    before = len(hub.requests)
    again = kit(home, *shlex.split(command)[1:])
    assert again.exit_code == 0, again.output
    assert _PROMPT not in again.stdout  # a given Kitfile is not offered for editing
    assert _unpacked(home, "fixme:v1", tmp_path / "out") == {"model.safetensors": WEIGHTS}
    assert not [r for r in hub.requests[before:] if r.origin == "cdn"]


def test_without_an_editor_the_kitfile_is_kept_with_the_command_to_resume(
    hub: HubServer, home: Path, tmp_path: Path, editor: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDITOR")
    monkeypatch.setenv("PATH", str(tmp_path / "no-editors-here"))
    res = kit(home, "import", "acme/tiny-llm", "--token", "hf_" + "Tk7" * 12, input="y\n")
    assert res.exit_code == 1, res.output
    assert "no editor found" in res.stderr and "Tk7Tk7" not in res.output + res.stderr
    match = re.search(
        r"then run: (kit import acme/tiny-llm -t acme/tiny-llm:latest -f (\S+)) \(with --token", res.stderr
    )
    assert match, res.stderr
    kept = Path(match.group(2))
    assert api.load_kitfile(kept).package.name == "tiny-llm"  # the generated one, as it was
    assert _stored(home) == []


# ---------------------------------------------------------------------------------------------
# the Hugging Face cache


def _resolves(hub: HubServer, path: str, since: int = 0) -> list[str]:
    return [r.method for r in hub.requests[since:] if "/resolve/" in r.path and r.path.endswith("/" + path)]


def test_files_in_the_hugging_face_cache_are_verified_and_linked_not_downloaded(
    hub: HubServer, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    cache = tmp_path / "hf-home" / "hub"  # $HF_HOME/hub, as the hub fixture sets HF_HOME
    for name in ("model.safetensors", "config.json"):
        huggingface_hub.hf_hub_download("acme/tiny-llm", name, cache_dir=cache, endpoint=hub.url)
    assert _resolves(hub, "model.safetensors") and _resolves(hub, "config.json")
    before = len(hub.requests)
    res = kit(home, "import", "acme/tiny-llm", "-t", "cached:v1")
    assert res.exit_code == 0, res.output
    assert _resolves(hub, "model.safetensors", before) == [] and _resolves(hub, "config.json", before) == []
    assert not [r for r in hub.requests[before:] if r.origin == "cdn"]
    assert _resolves(hub, "tokenizer.json", before)  # what the cache lacks is downloaded
    assert _unpacked(home, "cached:v1", tmp_path / "out") == IMPORTED

    # a cached file whose bytes are not the listed ones is not used: it is downloaded
    blob = Path(os.path.realpath(next(cache.rglob("snapshots/*/model.safetensors"))))
    blob.chmod(0o644)
    blob.write_bytes(WEIGHTS[::-1])  # same size, other bytes
    before = len(hub.requests)
    res = kit(home, "import", "acme/tiny-llm", "-t", "cached:v2")
    assert res.exit_code == 0, res.output
    assert _resolves(hub, "model.safetensors", before) == ["HEAD"]  # metadata, then the CDN
    assert [r.method for r in hub.requests[before:] if r.origin == "cdn"] == ["GET"]
    assert _resolves(hub, "config.json", before) == []
    assert _unpacked(home, "cached:v2", tmp_path / "out2") == IMPORTED
    assert blob.read_bytes() == WEIGHTS[::-1]  # the user's cache is left as it was


def test_the_python_api_imports_with_an_edit_hook_and_keeps_its_old_import_path(
    hub: HubServer, home: Path, tmp_path: Path
) -> None:
    import kitops
    from kitops.errors import KitfileError
    from kitops.integrations.huggingface import import_hf as earlier_path

    assert earlier_path is kitops.import_hf is api.import_hf
    given: list[Path] = []

    def rename(path: Path) -> None:  # what a front end's editor would do
        given.append(path)
        path.write_text(path.read_text().replace("name: tiny-llm", "name: renamed"))

    result = kitops.import_hf("acme/tiny-llm", tag="api:v1", home=home, edit_kitfile=rename)
    assert result.ref == "api:v1" and result.revision == hub.repos["acme/tiny-llm"].commit
    assert result.kitfile.package.name == "renamed" == api.info("api:v1", home=home).package.name
    assert sorted(result.files) == sorted(IMPORTED)
    assert not given[0].exists()

    def refuse(path: Path) -> None:
        raise UsageError("changed my mind")

    with pytest.raises(KitfileError) as info:
        kitops.import_hf("acme/tiny-llm", tag="api:v2", home=home, edit_kitfile=refuse)
    assert "changed my mind" in info.value.message and info.value.hint is not None
    kept = Path(info.value.hint.rsplit(" -f ", 1)[1])
    assert kept.is_file() and _stored(home) == ["api:v1"]


def test_the_progress_bars_stop_while_the_user_edits(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from kitops.cli import main
    from kitops.cli.output import RichProgress

    bars = RichProgress(console=Console(file=io.StringIO(), force_terminal=True))
    live_while_editing: list[bool] = []
    monkeypatch.setattr(
        main, "_offer_kitfile_edit", lambda path: live_while_editing.append(bars._progress.live.is_started)
    )
    with bars:
        main._kitfile_editor(bars)(Path("Kitfile"))
        assert bars._progress.live.is_started  # drawn again for the pack
    assert live_while_editing == [False]
