"""``kit dev``: serve a ModelKit's GGUF model on this machine, with an OpenAI-compatible API and a
chat page.

:func:`start` finds the model (a directory with a Kitfile, or a ModelKit reference whose model
layer is unpacked into ``$KITOPS_HOME/cache/dev`` first), picks a backend (llama-cpp-python's
server, or a ``llama-server`` binary of llama.cpp) and leaves one background process running:
:mod:`kitops.integrations.devserver`, which runs the backend on a loopback port of its own and
serves the chat page and the API (forwarded to the backend) on the requested host and port.
:func:`stop` ends it and :func:`read_log` / :func:`follow_log` give its log.

One server at a time: its process id is kept in ``$KITOPS_HOME/dev/process.pid``. A pid file whose
process is gone (or is some other program that got the same id) is stale and simply replaced.
Processes are started from argument lists, never through a shell, so no path or host can be
taken for shell syntax.

Nothing here prints or exits; the control of processes is POSIX (signals, process groups).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kitops.errors import KitError, NotFoundError, UsageError
from kitops.kitfile.model import Kitfile
from kitops.oci.reference import is_modelkit_reference
from kitops.progress import Cancel, Progress
from kitops.settings import cache_dir, kitops_home

Home = str | os.PathLike[str] | None

BACKENDS = ("auto", "llama-cpp-python", "llama-server")
INSTALL_HINT = (
    "install a model server: pip install 'kitops[devserver]' (llama-cpp-python, which compiles "
    "llama.cpp), or put llama.cpp's llama-server binary on PATH"
)
# what ``python -m llama_cpp.server`` imports beside llama_cpp (its "server" extra)
_SERVER_MODULES = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
# the runner's module name is in its command line: how a pid is told apart from a reused one
RUNNER_MODULE = "kitops.integrations.devserver"
GGUF_MAGIC = b"GGUF"
_STOP_WAIT = 15.0  # seconds the server gets to end its backend after SIGINT, before SIGKILL
_LOG_TAIL = 4000  # characters of the log shown when the server fails to start


@dataclass(frozen=True)
class DevServer:
    """A running development server."""

    pid: int
    url: str
    model: str
    backend: str
    log: Path


@dataclass(frozen=True)
class DevPaths:
    """Where the server's state lives under ``$KITOPS_HOME``."""

    root: Path

    @classmethod
    def of(cls, home: Home) -> DevPaths:
        return cls(kitops_home(home) / "dev")

    @property
    def pid(self) -> Path:
        return self.root / "process.pid"

    @property
    def state(self) -> Path:
        """Written by the server once its backend answers: its address and its backend's pid."""
        return self.root / "server.json"

    @property
    def log(self) -> Path:
        return self.root / "server.log"


# ---------------------------------------------------------------------------------------------
# the model


def find_model(
    source: str = ".",
    *,
    kitfile: str | os.PathLike[str] | None = None,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Path:
    """The GGUF file to serve for ``source``: a directory with a Kitfile, or a ModelKit reference
    (local storage first, then its registry) whose model layers are unpacked into the cache."""
    from kitops import api

    if os.path.isdir(source):
        path = Path(kitfile) if kitfile is not None else api.find_kitfile(source)
        return model_in_directory(Path(source), api.load_kitfile(path), home=home, cancel=cancel)
    if kitfile is not None:
        raise UsageError("-f/--file applies to a directory, not to a ModelKit reference")
    if not is_modelkit_reference(source):
        raise NotFoundError(
            f"{source} is neither a directory nor a ModelKit reference",
            hint="give a directory with a Kitfile, or a reference such as my-model:v1",
        )
    return unpack_model(source, home=home, progress=progress, cancel=cancel)


def model_in_directory(
    directory: Path, kitfile: Kitfile, *, home: Home = None, cancel: Cancel | None = None
) -> Path:
    """The model file a Kitfile names in ``directory``; a ``model.path`` that is a ModelKit
    reference is unpacked into the cache, as a reference given directly is."""
    if kitfile.model is None:
        raise UsageError("the Kitfile has no model section: there is nothing to serve")
    path = kitfile.model.path
    if is_modelkit_reference(path):
        return unpack_model(path, home=home, cancel=cancel)
    root = directory.resolve()
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise UsageError(f"model path {path} is outside {directory}")
    return single_gguf(target)


def single_gguf(path: Path) -> Path:
    """``path`` itself when it is a file, else the one ``*.gguf`` regular file below it."""
    if path.is_file():
        found = path
    elif path.is_dir():
        candidates = sorted(p for p in path.rglob("*.gguf") if p.is_file() and not p.is_symlink())
        if not candidates:
            raise NotFoundError(f"could not find model file in {path}")
        if len(candidates) > 1:
            raise UsageError(
                f"multiple model files found: {candidates[0]} and {candidates[1]}",
                hint="point model.path at the one to serve",
            )
        found = candidates[0]
    else:
        raise NotFoundError(f"could not find model file in {path}")
    with found.open("rb") as fh:
        if fh.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
            raise UsageError(
                f"{found} is not a GGUF file",
                hint="kit dev serves GGUF models (llama.cpp's format); convert the model first",
            )
    return found


def unpack_model(
    ref: str, *, home: Home = None, progress: Progress | None = None, cancel: Cancel | None = None
) -> Path:
    """Unpack the model layers of ``ref`` into ``$KITOPS_HOME/cache/dev/model`` (replacing what
    the last server used: only one runs at a time) and return its GGUF file."""
    from kitops import api

    target = cache_dir(kitops_home(home)) / "dev" / "model"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    api.unpack(ref, target_dir=target, filters=["model,kitfile"], home=home, progress=progress, cancel=cancel)
    kitfile = api.load_kitfile(target / "Kitfile")
    model = kitfile.model
    if model is not None and model.path and not is_modelkit_reference(model.path):
        return single_gguf((target / model.path).resolve())
    return single_gguf(target)  # the model came from a parent ModelKit: its files are here too


# ---------------------------------------------------------------------------------------------
# the backend


def choose_backend(requested: str = "auto") -> str:
    """``llama-cpp-python`` when it is installed with its server extra, else ``llama-server``
    when on PATH; a :class:`UsageError` naming what to install when neither is there."""
    if requested not in BACKENDS:
        raise UsageError(f"unknown backend {requested}", hint=f"one of: {', '.join(BACKENDS)}")
    if requested in ("auto", "llama-cpp-python") and importlib.util.find_spec("llama_cpp") is not None:
        missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
        if not missing:
            return "llama-cpp-python"
        if requested == "llama-cpp-python" or shutil.which("llama-server") is None:
            raise UsageError(
                f"llama-cpp-python is installed without its server (missing: {', '.join(missing)})",
                hint="pip install 'llama-cpp-python[server]'",
            )
    if requested in ("auto", "llama-server") and shutil.which("llama-server") is not None:
        return "llama-server"
    raise UsageError(f"no model server found for kit dev (backend: {requested})", hint=INSTALL_HINT)


def backend_command(backend: str, model: Path, host: str, port: int) -> list[str]:
    """The argument list that serves ``model`` on ``host:port`` with ``backend``."""
    if backend == "llama-cpp-python":
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            host,
            "--port",
            str(port),
        ]
    if backend == "llama-server":
        exe = shutil.which("llama-server")
        if exe is None:
            raise UsageError("llama-server is not on PATH", hint=INSTALL_HINT)
        return [exe, "--model", str(model), "--host", host, "--port", str(port)]
    raise UsageError(f"unknown backend {backend}", hint=f"one of: {', '.join(BACKENDS[1:])}")


# ---------------------------------------------------------------------------------------------
# the server process


def start(
    source: str = ".",
    *,
    kitfile: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    backend: str = "auto",
    home: Home = None,
    timeout: float = 300.0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> DevServer:
    """Start the development server for ``source`` in the background and wait until it answers.

    ``port`` 0 picks a free port. Refused while another server runs (see :func:`stop`). If the
    server dies or does not answer within ``timeout`` seconds, it is stopped and the error
    carries the end of its log.
    """
    if not 0 <= port <= 65535:
        raise UsageError(f"invalid port {port}: must be between 0 and 65535")
    paths = DevPaths.of(home)
    running = running_pid(paths)
    if running is not None:
        raise KitError(
            f"a server process with PID {running} is already running", hint='use "kit dev stop" first'
        )
    kind = choose_backend(backend)  # before the unpack: a missing backend fails at once
    model = find_model(source, kitfile=kitfile, home=home, progress=progress, cancel=cancel)
    paths.root.mkdir(parents=True, exist_ok=True)
    for stale in (paths.pid, paths.state):
        stale.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        RUNNER_MODULE,
        "--model",
        str(model),
        "--host",
        host,
        "--port",
        str(port),
        "--backend",
        kind,
        "--state",
        str(paths.state),
        "--timeout",
        str(timeout),
    ]
    with paths.log.open("wb") as log_file:  # truncated: the log of this server only
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            close_fds=True,
            start_new_session=True,  # Ctrl-C in the terminal that started it does not reach it
        )
    paths.pid.write_text(f"{proc.pid}\n", encoding="ascii")
    try:
        state = _wait_ready(proc, paths, timeout + 10.0, cancel)
    except BaseException:
        with contextlib.suppress(KitError):
            stop(home=home)
        raise
    return DevServer(pid=proc.pid, url=state["url"], model=str(model), backend=kind, log=paths.log)


def _wait_ready(
    proc: subprocess.Popen[bytes], paths: DevPaths, timeout: float, cancel: Cancel | None
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cancel is not None:
            cancel.check()
        if proc.poll() is not None:
            raise KitError(
                f"the development server exited with status {proc.returncode} while starting",
                hint=f"its log ({paths.log}) ends with:\n{_log_tail(paths.log)}",
            )
        state = _read_state(paths)
        if state is not None and state.get("pid") == proc.pid:
            return {"url": str(state["url"])}
        time.sleep(0.2)
    raise KitError(
        f"the development server did not answer within {timeout:.0f} s",
        hint=f"its log ({paths.log}) ends with:\n{_log_tail(paths.log)}",
    )


def status(*, home: Home = None) -> DevServer | None:
    """The running server, or None."""
    paths = DevPaths.of(home)
    pid = running_pid(paths)
    if pid is None:
        return None
    state = _read_state(paths) or {}
    if state.get("pid") != pid:
        state = {}  # still starting
    return DevServer(
        pid=pid,
        url=str(state.get("url", "")),
        model=str(state.get("model", "")),
        backend=str(state.get("backend", "")),
        log=paths.log,
    )


def stop(*, home: Home = None) -> int:
    """Stop the running server (SIGINT; SIGKILL to its process group if it lingers) and return its
    pid. :class:`NotFoundError` when there is none."""
    paths = DevPaths.of(home)
    pid = _read_pid(paths)
    if pid is None:
        raise NotFoundError("no Running server found", hint='start one with "kit dev start"')
    if not is_server_process(pid):
        _forget(paths)
        raise NotFoundError(f"no running process found with PID {pid}")
    state = _read_state(paths) or {}
    backend_pid = state.get("backend_pid") if state.get("pid") == pid else None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    if not _wait_gone(pid, _STOP_WAIT):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # the server leads its own group: the backend goes too
        _wait_gone(pid, 5.0)
    if isinstance(backend_pid, int) and _alive(backend_pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(backend_pid, signal.SIGKILL)
        _wait_gone(backend_pid, 5.0)
    _forget(paths)
    return pid


def _forget(paths: DevPaths) -> None:
    for path in (paths.pid, paths.state):
        path.unlink(missing_ok=True)


def read_log(*, home: Home = None) -> str | None:
    """The server's log, or None when there is none."""
    try:
        return DevPaths.of(home).log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None


def follow_log(*, home: Home = None, interval: float = 1.0, cancel: Cancel | None = None) -> Iterator[str]:
    """The log, then what is appended to it, polled every ``interval`` seconds while the server
    runs; ends with :class:`KitError` ``server stopped`` once it is gone."""
    paths = DevPaths.of(home)
    offset = 0
    while True:
        alive = running_pid(paths) is not None  # before reading: the last lines are never lost
        try:
            with paths.log.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            data = b""
        if data:
            offset += len(data)
            yield data.decode("utf-8", errors="replace")
        if not alive:
            raise KitError("server stopped")
        if cancel is not None and cancel.cancelled:
            return
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# processes


def running_pid(paths: DevPaths) -> int | None:
    """The pid of the running server; a stale pid file (its process gone, or the pid reused by
    another program) counts as none."""
    pid = _read_pid(paths)
    return pid if pid is not None and is_server_process(pid) else None


def _read_pid(paths: DevPaths) -> int | None:
    try:
        text = paths.pid.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _read_state(paths: DevPaths) -> dict[str, object] | None:
    try:
        value = json.loads(paths.state.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def is_server_process(pid: int) -> bool:
    """``pid`` is alive and, where /proc tells, runs the development server."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid file
    return RUNNER_MODULE.encode() in cmdline


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to signal
    with contextlib.suppress(ChildProcessError, OSError):
        # the server is this process's child when started from the same Python (the API, tests):
        # reap it, or it would linger as a zombie that signal 0 still finds
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]  # a zombie of some other parent


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _log_tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return text[-_LOG_TAIL:].strip() or "(empty)"
