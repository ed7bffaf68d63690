"""kit dev start/stop/logs: a tiny GGUF LLM (tests/integrations/tinyllm.py) packed into a ModelKit
and served by the real backend (llama-cpp-python), its API called over HTTP and its chat page
loaded in headless Chromium (its screenshot is kept: the test prints where).

The tests that need the backend or Chromium skip when it is missing, except under CI=true, where
scripts/setup.sh installs both and a missing one is a failure.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitops.errors import KitError, UsageError
from kitops.integrations import dev
from kitops.integrations.devserver import FrontServer, chat_page
from tests.helpers import kit, write_tree
from tests.integrations.headless import Browser
from tests.integrations.tinyllm import write_tiny_llama

IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is missing: scripts/setup.sh installs it for CI")
    pytest.skip(f"{what} is not installed")


def _need_backend() -> None:
    try:
        dev.choose_backend("auto")
    except UsageError:
        _missing("the kit dev backend (llama-cpp-python[server] or llama-server)")


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        _missing("chromium")
    assert exe is not None
    return exe


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = write_tree(
        tmp_path / "project",
        {
            "Kitfile": """\
                manifestVersion: 1.0.0
                package:
                  name: tiny
                model:
                  name: tiny-llama
                  path: models
                code:
                  - path: src
                docs:
                  - path: README.md
                """,
            "src/train.py": "print('training')\n",
            "README.md": "# tiny\n",
        },
    )
    (root / "models").mkdir()
    write_tiny_llama(root / "models" / "tiny.gguf")
    return root


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.status, resp.read()


def _post_json(url: str, body: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=300) as resp:
        return resp.status, json.loads(resp.read())


# ---------------------------------------------------------------------------------------------
# finding the model (no backend needed)


def test_model_of_a_directory_is_its_one_gguf(project: Path, home: Path) -> None:
    assert dev.find_model(str(project), home=home) == (project / "models" / "tiny.gguf").resolve()


def test_two_ggufs_or_none_or_a_path_outside_are_refused(project: Path, tmp_path: Path, home: Path) -> None:
    (project / "models" / "other.gguf").write_bytes(b"GGUF" + bytes(8))
    with pytest.raises(UsageError, match=r"multiple model files found: .*other\.gguf and .*tiny\.gguf"):
        dev.find_model(str(project), home=home)
    for p in (project / "models").iterdir():
        p.unlink()
    with pytest.raises(KitError, match="could not find model file in"):
        dev.find_model(str(project), home=home)
    kitfile = tmp_path / "outside.yaml"
    kitfile.write_text("manifestVersion: 1.0.0\nmodel:\n  path: ../elsewhere.gguf\n")
    (tmp_path / "elsewhere.gguf").write_bytes(b"GGUF")
    with pytest.raises(UsageError, match=r"model path \.\./elsewhere\.gguf is outside"):
        dev.find_model(str(project), kitfile=kitfile, home=home)


def test_a_model_that_is_not_gguf_is_refused(project: Path, tmp_path: Path, home: Path) -> None:
    kitfile = tmp_path / "onnx.yaml"
    kitfile.write_text("manifestVersion: 1.0.0\nmodel:\n  path: model.onnx\n")
    (project / "model.onnx").write_bytes(b"\x08\x07onnx")
    with pytest.raises(UsageError, match=r"model\.onnx is not a GGUF file"):
        dev.find_model(str(project), kitfile=kitfile, home=home)


def test_a_reference_unpacks_only_the_model_into_the_cache(project: Path, home: Path) -> None:
    assert kit(home, "pack", str(project), "-t", "tiny:v1").exit_code == 0
    model = dev.find_model("tiny:v1", home=home)
    cache = home / "cache" / "dev" / "model"
    assert model == (cache / "models" / "tiny.gguf").resolve()
    assert model.read_bytes() == (project / "models" / "tiny.gguf").read_bytes()
    assert not (cache / "src").exists() and not (cache / "README.md").exists()


def test_a_missing_backend_names_what_to_install(
    project: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    result = kit(home, "dev", "start", str(project), "--backend", "llama-server")
    assert result.exit_code == 2  # a missing tool is a usage error, as for the other integrations
    assert "no model server found" in result.output
    assert "pip install 'kitops[devserver]'" in result.output
    assert not (home / "dev" / "process.pid").exists()


def test_stop_and_logs_without_a_server(home: Path) -> None:
    result = kit(home, "dev", "stop")
    assert result.exit_code == 1 and "no Running server found" in result.output
    result = kit(home, "dev", "logs")
    assert result.exit_code == 0 and "No log file found" in result.output


def test_a_stale_pid_file_is_not_a_running_server(home: Path) -> None:
    gone = subprocess.Popen(["sleep", "0"])  # a pid that is surely gone (reaped)
    gone.wait()
    pid_file = home / "dev" / "process.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{gone.pid}\n")
    assert dev.status(home=home) is None
    result = kit(home, "dev", "stop")
    assert result.exit_code == 1
    assert f"no running process found with PID {gone.pid}" in result.output
    assert not pid_file.exists()
    # a live process that is not the dev server (a reused pid) is not taken for one either
    other = subprocess.Popen(["sleep", "30"])
    try:
        pid_file.write_text(f"{other.pid}\n")
        assert dev.status(home=home) is None
        assert kit(home, "dev", "stop").exit_code == 1
        assert other.poll() is None  # and it was not signalled
    finally:
        other.kill()
        other.wait()


# ---------------------------------------------------------------------------------------------
# the front server, with a stand-in backend


class _StubBackend(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "stub"}], "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for word in [*request["messages"][-1]["content"].split(), "[DONE]"]:
            event = f"data: {word}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def front() -> Iterator[str]:
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StubBackend)
    server = FrontServer("127.0.0.1", 0, chat_page())
    server.backend_port = backend.server_address[1]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (backend, server)]
    for t in threads:
        t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    for s in (server, backend):
        s.shutdown()
        s.server_close()


def test_front_serves_the_page_and_forwards_the_api(front: str) -> None:
    status, page = _get(front + "/?prompt=hi")
    assert status == 200 and page == chat_page() and b"/v1/chat/completions" in page
    status, body = _get(front + "/v1/models?x=1")
    assert status == 200 and json.loads(body) == {
        "object": "list",
        "data": [{"id": "stub"}],
        "path": "/v1/models?x=1",
    }
    request = urllib.request.Request(
        front + "/v1/chat/completions",
        data=json.dumps({"messages": [{"role": "user", "content": "one two"}]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:  # the stream, de-chunked, as sent
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert resp.read() == b"data: one\n\ndata: two\n\ndata: [DONE]\n\n"
    for path in ("/etc/passwd", "/../v1/models", "/docs"):
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(front + path)
        assert err.value.code == 404


# ---------------------------------------------------------------------------------------------
# end to end, with the real backend


# the page has sent its message and shown the whole answer: the send button is enabled again
_ANSWERED = (
    "(() => { const a = document.querySelector('.msg.assistant span:last-child');"
    " return !!a && a.textContent !== '…' && !document.getElementById('send').disabled; })()"
)


def _artifact_dir() -> Path:
    root = Path(
        os.environ.get("KITOPS_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "kitops-test-artifacts"
    )
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.mark.slow
def test_dev_serves_a_modelkit_end_to_end(project: Path, home: Path, tmp_path: Path) -> None:
    _need_backend()
    assert kit(home, "pack", str(project), "-t", "tiny:v1").exit_code == 0
    result = kit(home, "dev", "start", "tiny:v1", "--port", "0")
    assert result.exit_code == 0, result.output
    match = re.search(r"Development server started at (http://127\.0\.0\.1:(\d+))", result.output)
    assert match, result.output
    url = match.group(1)
    state = json.loads((home / "dev" / "server.json").read_text())
    pids = [state["pid"], state["backend_pid"]]
    try:
        assert dev.is_server_process(pids[0])
        again = kit(home, "dev", "start", str(project))
        assert (
            again.exit_code == 1 and f"a server process with PID {pids[0]} is already running" in again.output
        )

        status, body = _get(url + "/v1/models")
        models = json.loads(body)
        assert status == 200 and models["data"] and models["data"][0]["id"].endswith("tiny.gguf")
        status, answer = _post_json(
            url + "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "hello kit"}], "max_tokens": 8, "temperature": 0},
        )
        assert status == 200
        choice = answer["choices"][0]  # type: ignore[index]
        assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
        assert 1 <= answer["usage"]["completion_tokens"] <= 8  # type: ignore[index]

        # the chat page in a real browser: it lists the model, sends a message, shows the answer
        browser = Browser(_chromium(), tmp_path / "chromium")
        try:
            browser.open(f"{url}/?prompt=hello%20kit", ready=_ANSWERED)
            assert browser.evaluate("document.getElementById('model').textContent") == "model: tiny.gguf"
            log_html = browser.evaluate("document.getElementById('log').innerHTML")
            assert (
                '<div class="msg user"><span class="role">user</span><span>hello kit</span></div>' in log_html
            )
            assert not browser.evaluate("document.querySelector('.msg.error')")
            shot = browser.screenshot(_artifact_dir() / "kit-dev-chat.png")
        finally:
            browser.close()
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        print(f"chat page screenshot: {shot}")
    finally:
        stopped = kit(home, "dev", "stop")
    assert stopped.exit_code == 0 and "Development server stopped" in stopped.output
    assert not any(dev._alive(pid) for pid in pids)
    assert not (home / "dev" / "process.pid").exists()
    logs = kit(home, "dev", "logs")
    assert logs.exit_code == 0 and "kit dev: serving" in logs.output and "kit dev: stopped" in logs.output
    followed = kit(home, "dev", "logs", "-f")
    assert (
        followed.exit_code == 1
        and "kit dev: stopped" in followed.output
        and "server stopped" in followed.output
    )


@pytest.mark.slow
def test_dev_serves_a_modelkit_imported_from_a_hub(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a (local) Hub repository to a chat answer: kit import, then kit dev start on its tag."""
    pytest.importorskip("huggingface_hub")
    _need_backend()
    from tests.hubserver import HubRepo, HubServer

    gguf = write_tiny_llama(tmp_path / "tiny.gguf").read_bytes()
    hub = HubServer()
    hub.repos["acme/tiny-gguf"] = HubRepo(
        {"tiny.gguf": gguf, "README.md": b"---\nlicense: mit\n---\n# tiny\n"}, lfs={"tiny.gguf"}
    )
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    try:
        imported = kit(home, "import", "acme/tiny-gguf")
        assert imported.exit_code == 0, imported.output
        assert [r.method for r in hub.requests if r.origin == "cdn"] == ["GET"]  # the GGUF, from the CDN
    finally:
        hub.close()
    started = kit(home, "dev", "start", "acme/tiny-gguf:latest", "--port", "0")
    assert started.exit_code == 0, started.output
    match = re.search(r"Development server started at (http://127\.0\.0\.1:\d+)", started.output)
    assert match, started.output
    state = json.loads((home / "dev" / "server.json").read_text())
    pids = [state["pid"], state["backend_pid"]]
    try:
        served = (home / "cache" / "dev" / "model" / "tiny.gguf").read_bytes()
        assert served == gguf  # the imported model, unpacked for the server
        status, answer = _post_json(
            match.group(1) + "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "temperature": 0},
        )
        assert status == 200
        message = answer["choices"][0]["message"]  # type: ignore[index]
        assert message["role"] == "assistant" and isinstance(message["content"], str)
        assert answer["usage"]["completion_tokens"] >= 1  # type: ignore[index]
    finally:
        stopped = kit(home, "dev", "stop")
    assert stopped.exit_code == 0 and "Development server stopped" in stopped.output
    assert not any(dev._alive(pid) for pid in pids)
    assert not (home / "dev" / "process.pid").exists()
