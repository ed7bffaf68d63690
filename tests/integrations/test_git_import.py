"""``kit import --tool git``: a real git + git LFS round trip without a network.

A bare repository on disk, its LFS objects pushed into it through git LFS's standalone file
transfer agent (git-lfs 3.x), is imported from its ``file://`` URL: the packed files must be the
real bytes (not LFS pointers), verified by git LFS, without ``.git`` or ``.gitattributes``; every
git process is run through a logging wrapper so the test sees each argv and can check that the
token never appears on a command line. The tests fail under CI=true when git or git-lfs is
missing (scripts/setup.sh installs both) and skip otherwise.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kitops import api
from tests.helpers import kit, tree_files

WEIGHTS = os.urandom(300_000)
README = b"# tiny\n\nA model in git LFS.\n"
TOKEN = "glpat-" + "Xy7" * 8

# A `git` first on PATH that logs its argv and whether the token is in its environment, then runs
# the real git; git LFS's own git calls go through it too.
_WRAPPER = """#!{python}
import json, os, sys
with open({log!r}, "a") as fh:
    fh.write(json.dumps({{"argv": sys.argv[1:], "env_has_token": {token!r} in "".join(os.environ.values())}}) + "\\n")
os.execv({git!r}, [{git!r}, *sys.argv[1:]])
"""


@pytest.fixture()
def git_lfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The real git (skips, or fails under CI=true, without git and git-lfs); a private git config."""
    git = shutil.which("git")
    have = git and subprocess.run([git, "lfs", "version"], capture_output=True).returncode == 0
    if not have:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("git and git-lfs are needed (scripts/setup.sh installs them)")
        pytest.skip("git-lfs is not installed")
    assert git is not None
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    return git


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def _bare_lfs_repo(root: Path, files: dict[str, bytes]) -> Path:
    """``root/repo.git``: a bare repository holding ``files`` (``*.bin`` in LFS, objects pushed)."""
    work, bare = root / "work", root / "repo.git"
    work.mkdir(parents=True)
    _git("init", "-q", "-b", "main", cwd=work)
    _git("lfs", "install", "--local", cwd=work)
    _git("lfs", "track", "*.bin", cwd=work)
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    _git("add", "-A", cwd=work)
    _git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "model", cwd=work)
    _git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    _git("remote", "add", "origin", bare.as_uri(), cwd=work)
    _git("push", "-q", "origin", "main", cwd=work)  # the pre-push hook pushes the LFS objects
    assert "model.bin" in _git("lfs", "ls-files", cwd=work)
    return bare


@pytest.fixture()
def logged_git(git_lfs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every later git process logs to the returned file."""
    bindir, log = tmp_path / "bin", tmp_path / "git-argv.log"
    bindir.mkdir()
    wrapper = bindir / "git"
    wrapper.write_text(_WRAPPER.format(python=sys.executable, log=str(log), token=TOKEN, git=git_lfs))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_a_file_url_import_fetches_the_real_lfs_objects_and_never_puts_the_token_in_argv(
    logged_git: Path, home: Path, tmp_path: Path
) -> None:
    bare = _bare_lfs_repo(tmp_path / "origin", {"model.bin": WEIGHTS, "README.md": README})
    logged_git.unlink(missing_ok=True)  # only the import's git processes from here on
    res = kit(home, "import", bare.as_uri(), "--tool", "git", "--token", TOKEN, "-t", "lfs:v1")
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    api.unpack("lfs:v1", target_dir=out, home=home)
    files = tree_files(out)
    kitfile = files.pop("Kitfile").decode()
    assert files == {"model.bin": WEIGHTS, "README.md": README}  # the bytes, not a pointer; no .gitattributes
    assert "path: model.bin" in kitfile
    inspected = api.inspect("lfs:v1", home=home)
    assert inspected.manifest.annotations["ml.kitops.import.source"] == bare.as_uri()

    calls = [json.loads(line) for line in logged_git.read_text().splitlines()]
    argvs = [c["argv"] for c in calls]
    assert any(a[:1] == ["-c"] and "clone" in a for a in argvs), argvs
    assert ["lfs", "pull"] in argvs
    assert all(TOKEN not in " ".join(a) for a in argvs)
    # a file:// remote has no origin to scope a credential to: the token is not handed to git at all
    assert not any(c["env_has_token"] for c in calls)
    assert TOKEN not in res.output + res.stderr
    assert list((home / "cache" / "import").glob("kitops_import_*")) == []


def test_a_corrupt_lfs_object_is_refused_by_git_lfs_and_nothing_is_packed(
    git_lfs: str, home: Path, tmp_path: Path
) -> None:
    bare = _bare_lfs_repo(tmp_path / "origin", {"model.bin": WEIGHTS, "README.md": README})
    [obj] = [p for p in (bare / "lfs" / "objects").rglob("*") if p.is_file()]
    obj.chmod(0o644)
    obj.write_bytes(WEIGHTS[::-1])
    res = kit(home, "import", bare.as_uri(), "--tool", "git", "-t", "bad:v1")
    assert res.exit_code == 1, res.output
    assert "git lfs pull failed" in res.stderr and "invalid hash" in res.stderr
    assert api.list_modelkits(home=home) == []


def test_an_lfs_file_left_unfetched_is_not_packed_as_its_pointer(
    git_lfs: str, home: Path, tmp_path: Path
) -> None:
    bare = _bare_lfs_repo(tmp_path / "origin", {"model.bin": WEIGHTS, "README.md": README})
    missing = tmp_path / "no-lfs.git"
    shutil.copytree(bare, missing)
    shutil.rmtree(missing / "lfs")
    plain = kit(home, "import", missing.as_uri(), "--tool", "git", "-t", "bad:v1")
    assert plain.exit_code == 1 and "git lfs pull failed" in plain.stderr
    # a user's git config that makes git lfs pull skip files quietly: the pointer is still refused
    _git("config", "--global", "lfs.fetchexclude", "*.bin", cwd=tmp_path)
    res = kit(home, "import", bare.as_uri(), "--tool", "git", "-t", "bad:v1")
    assert res.exit_code == 1, res.output
    assert "git lfs did not fetch model.bin" in res.stderr
    assert api.list_modelkits(home=home) == []


# ---------------------------------------------------------------------------------------------
# a private repository over HTTP: the token reaches git through the credential helper only


class _GitHttp(http.server.BaseHTTPRequestHandler):
    """git's smart HTTP protocol through ``git http-backend`` (CGI), behind Basic auth."""

    root: Path
    expected: str  # the Authorization header a request must carry
    seen: list[str | None]

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _cgi(self) -> None:
        auth = self.headers.get("Authorization")
        self.seen.append(auth)
        if auth != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "token",
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        self.send_response(status)
        for k, v in headers:
            if k.lower() != "status":
                self.send_header(k, v.strip())
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def test_an_http_token_goes_through_the_credential_helper_never_argv(
    logged_git: Path, home: Path, tmp_path: Path
) -> None:
    work, served = tmp_path / "work", tmp_path / "served"
    work.mkdir()
    (work / "model.onnx").write_bytes(b"\x08onnx-weights")
    _git("init", "-q", "-b", "main", cwd=work)
    _git("add", "-A", cwd=work)
    _git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "m", cwd=work)
    served.mkdir()
    _git("clone", "-q", "--bare", str(work), str(served / "team" / "model.git"), cwd=tmp_path)
    handler = type(
        "Handler",
        (_GitHttp,),
        {
            "root": served,
            "expected": "Basic " + base64.b64encode(f"token:{TOKEN}".encode()).decode(),
            "seen": [],
        },
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/team/model.git"
    try:
        denied = kit(home, "import", url, "-t", "private:v0")  # no token: git may not prompt, it fails
        assert denied.exit_code == 1 and "Authentication failed" in denied.stderr
        logged_git.unlink(missing_ok=True)
        res = kit(home, "import", url, "--token", TOKEN, "-t", "private:v1")
    finally:
        server.shutdown()
        server.server_close()
    assert res.exit_code == 0, res.output
    assert handler.seen[-1] == handler.expected  # the token did reach the server...
    calls = [json.loads(line) for line in logged_git.read_text().splitlines()]
    assert calls and all(TOKEN not in " ".join(c["argv"]) for c in calls)  # ...never on a command line
    assert any(c["env_has_token"] for c in calls)  # but in git's environment, for the helper
    assert TOKEN not in res.output + res.stderr
    out = tmp_path / "out"
    api.unpack("private:v1", target_dir=out, home=home)
    assert tree_files(out)["model.onnx"] == b"\x08onnx-weights"
