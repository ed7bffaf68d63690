"""The PyKitOps layer over kitops.api: the CLI's texts and exit codes, and ``_run`` as a child process."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from kitops import api
from kitops.cli import kit
from kitops.errors import Cancelled
from tests.helpers import kit as kit_cli
from tests.helpers import write_tree

SECRET = "S3CRET-pw-7f3a"


def _project(root: Path) -> Path:
    kitfile = "manifestVersion: 1.0.0\npackage:\n  name: demo\n  authors: [Ada]\nmodel:\n  path: model.bin\n"
    return write_tree(root, {"Kitfile": kitfile, "model.bin": b"w" * 3000})


def test_list_returns_the_texts_kit_list_prints(sdk_env: Path, tmp_path: Path) -> None:
    kit.pack("demo:v1", str(_project(tmp_path / "p")))
    as_json = kit.list(format="json")
    assert as_json == kit_cli(sdk_env, "list", "--format", "json").stdout.strip()
    [row] = json.loads(as_json)
    assert row["sizeBytes"] > 3000 and isinstance(row["sizeBytes"], int) and row["size"].endswith("KiB")
    assert kit.list() == kit_cli(sdk_env, "list").stdout.strip()


def test_exit_codes_are_those_of_the_command_line(sdk_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(kit.KitCommandError) as info:
        kit.logout("never.example.com")
    assert info.value.returncode == 2 == kit_cli(sdk_env, "logout", "never.example.com").exit_code
    assert info.value.stderr == "error: not logged in to never.example.com\n"
    with pytest.raises(kit.KitCommandError) as info:
        kit.list(format="yaml")
    assert info.value.returncode == 2 and info.value.hint == "use format='table' or format='json'"
    with pytest.raises(kit.KitCommandError) as info:
        kit.remove("r.example.com/a/b:v1", remote=True, force=True)
    assert (
        info.value.returncode == 2 == kit_cli(sdk_env, "remove", "-r", "-f", "r.example.com/a/b:v1").exit_code
    )

    def cancelled(ref: str, **_kwargs: Any) -> Any:
        raise Cancelled("interrupted")

    monkeypatch.setattr(api, "pull", cancelled)
    with pytest.raises(kit.KitCommandError) as info:
        kit.pull("r.example.com/a/b:v1")
    assert info.value.returncode == 130 and info.value.stderr == "error: Failed to pull: interrupted\n"
    with pytest.raises(kit.KitCommandError) as info:
        kit.inspect("nope:v1")
    assert info.value.returncode == 1


def test_exit_code_constants_match_the_command_line() -> None:
    from kitops.cli import errors as cli_errors
    from kitops.compat.pykitops import errors as compat_errors

    assert (compat_errors.EXIT_ERROR, compat_errors.EXIT_USAGE, compat_errors.EXIT_CANCELLED) == (
        cli_errors.EXIT_ERROR,
        cli_errors.EXIT_USAGE,
        cli_errors.EXIT_CANCELLED,
    )


def test_importing_the_kit_functions_loads_no_command_line() -> None:
    code = (
        "import sys, kitops.cli.kit, kitops.modelkit.manager\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'rich') or m == 'kitops.cli.main')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# _run: a kit command line, run as its own process


def test_run_is_a_child_process_of_this_kitops(
    sdk_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command runs the kitops this process imported (a kitops or click in the current directory
    cannot stand in for it), and nothing patched in this process reaches it."""
    write_tree(
        Path.cwd(),
        {
            "kitops/__init__.py": "raise ImportError('the wrong kitops')\n",
            "click.py": "raise ImportError('the wrong click')\n",
        },
    )

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("called in this process")

    monkeypatch.setattr(api, "pack", broken)
    project = _project(tmp_path / "p")
    done = kit._run(["kit", "pack", str(project), "-t", "demo:v1"])
    assert done.returncode == 0 and done.stdout.startswith("Model saved: sha256:")
    assert json.loads(kit_cli(sdk_env, "list", "--format", "json").stdout)[0]["tags"] == ["v1"]


@pytest.mark.parametrize(
    "form",
    [["-p", SECRET], ["-p" + SECRET], ["--password", SECRET], ["--password=" + SECRET]],
    ids=["-p value", "-pvalue", "--password value", "--password=value"],
)
def test_run_passes_the_password_and_never_shows_it(
    form: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kitops")
    with pytest.raises(kit.KitCommandError) as info:
        kit._run(["kit", "login", "127.0.0.1:1", "-u", "bob", *form])
    exc = info.value
    # it got as far as connecting: the password option was taken, not refused as a usage error
    assert exc.returncode == 1 and "connection refused" in exc.message and exc.hint
    assert "***" in " ".join(exc.cmd)
    texts = [
        str(exc),
        repr(exc),
        " ".join(exc.cmd),
        exc.stderr,
        exc.stdout or "",
        exc.message,
        exc.hint or "",
        caplog.text,
        *(r.getMessage() for r in caplog.records),
    ]
    assert not [t for t in texts if SECRET in t]


class _EchoingRegistry(BaseHTTPRequestHandler):
    """Refuses every request, and says which password it was given (as a careless registry might)."""

    passwords: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            self._answer(b"")
            return
        password = base64.b64decode(auth[6:]).decode().partition(":")[2]
        self.passwords.append(password)
        body = {"errors": [{"code": "UNAUTHORIZED", "message": f"bad credentials {password}"}]}
        self._answer(json.dumps(body).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="test"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture()
def echoing_registry() -> Iterator[str]:
    _EchoingRegistry.passwords = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("stdin", [False, True], ids=["--password", "--password-stdin"])
def test_run_scrubs_a_password_the_registry_echoes(
    stdin: bool, echoing_registry: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kitops")
    args = ["--password-stdin"] if stdin else ["--password", SECRET]
    with pytest.raises(kit.KitCommandError) as info:
        kit._run(
            ["kit", "login", echoing_registry, "-u", "bob", *args], input=SECRET + "\n" if stdin else None
        )
    assert _EchoingRegistry.passwords and set(_EchoingRegistry.passwords) == {
        SECRET
    }  # it did get the password
    exc = info.value
    assert exc.returncode == 1 and "bad credentials ***" in exc.stderr
    texts = [str(exc), exc.stderr, exc.message, caplog.text]
    assert not [t for t in texts if SECRET in t]
