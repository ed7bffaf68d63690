"""kitops.cli.kit._run: secrets never leave it, and it runs with its own streams and logging
(nothing process-wide is swapped, so concurrent runs and other threads are not mixed up)."""

from __future__ import annotations

import logging
import pickle
import sys
import threading
from pathlib import Path

import pytest

from kitops import __version__
from kitops.cli import kit
from tests.helpers import write_tree
from tests.realregistry import Registry

SECRET = "S3CRET-pw-7f3a"

# The forms of a secret not tried in test_compat_layer.py (which runs the password forms a login
# takes): options click refuses (not login options, or mistyped names), whose values must be
# hidden all the same, and ``-p=X``, a password that click reads as ``=X``.
SECRET_FORMS = {
    "-p=value": ["-p=" + SECRET],
    "--token value": ["--token", SECRET],
    "--token=value": ["--token=" + SECRET],
    "--passwrd value": ["--passwrd", SECRET],
    "--pasword=value": ["--pasword=" + SECRET],
    "--acces-tokn value": ["--acces-tokn", SECRET],
}


def _texts_of(exc: kit.KitCommandError, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Everything a secret could leak into: the error in every form, and every log record."""
    records = caplog.records
    return [
        str(exc),
        repr(exc),
        " ".join(exc.cmd),
        exc.stderr or "",
        exc.stdout or "",
        exc.output or "",
        exc.message,
        exc.hint or "",
        repr(pickle.dumps(exc)),
        *(r.getMessage() for r in records),
        *(caplog.handler.format(r) for r in records),
        caplog.text,
    ]


@pytest.mark.parametrize("form", SECRET_FORMS.values(), ids=SECRET_FORMS.keys())
def test_run_failure_never_shows_the_secret(form: list[str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kitops")
    with pytest.raises(kit.KitCommandError) as info:
        kit._run(["kit", "login", "127.0.0.1:1", "-u", "bob", *form])
    exc = info.value
    option = form[0].split("=")[0]
    if option == "-p":  # taken as the password: the login got as far as connecting
        assert exc.returncode == 1 and "connection refused" in exc.message and exc.hint
    else:
        assert exc.returncode == 2 and f"No such option '{option}'" in exc.stderr
    assert "***" in " ".join(exc.cmd)  # the secret's place is masked, not dropped
    assert exc.cmd[:5] == ["kit", "login", "127.0.0.1:1", "-u", "bob"]
    assert any(r.getMessage().startswith("% kit login 127.0.0.1:1 -u bob ") for r in caplog.records)
    leaks = [t for t in _texts_of(exc, caplog) if SECRET in t]
    assert not leaks


def test_run_of_the_reported_command_masks_the_password(caplog: pytest.LogCaptureFixture) -> None:
    """The reviewer's repro, as given (a real connection attempt to a closed port)."""
    caplog.set_level(logging.DEBUG, logger="kitops")
    with pytest.raises(kit.KitCommandError) as info:
        kit._run(["kit", "login", "127.0.0.1:1", "-u", "bob", "-p", "S3CRET"])
    assert info.value.cmd == ["kit", "login", "127.0.0.1:1", "-u", "bob", "-p", "***"]
    assert str(info.value).startswith(
        "Command 'kit login 127.0.0.1:1 -u bob -p ***' failed (exit status 1): "
    )
    assert not [t for t in _texts_of(info.value, caplog) if "S3CRET" in t]


@pytest.mark.registry
@pytest.mark.parametrize("form", ["-p {}", "-p{}", "--password {}", "--password={}", "--password-stdin"])
def test_run_success_never_shows_the_password(
    form: str, basic_registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kitops")
    password = basic_registry.password or ""
    assert len(password) >= 4
    args = form.format(password).split(" ")
    done = kit._run(
        ["kit", "login", basic_registry.host, "-u", basic_registry.username or "", *args],
        input=password + "\n" if form == "--password-stdin" else None,
    )
    assert done.returncode == 0 and done.stdout == "Log in successful\n"
    texts = [
        " ".join(done.args),
        done.stdout,
        done.stderr,
        caplog.text,
        *(r.getMessage() for r in caplog.records),
    ]
    assert not [t for t in texts if password in t]
    if form != "--password-stdin":
        assert "***" in " ".join(done.args)
    kit.logout(basic_registry.host)


def test_one_masker_for_every_form() -> None:
    masked, secrets = kit._masked(
        [
            "kit",
            "login",
            "r",
            "-u",
            "bob",
            "-p",
            "a1",
            "-pb2",
            "--password",
            "c3",
            "--password=d4",
            "--token",
            "e5",
            "--token=f6",
            "--hf-token=g7",
            "--client-secret",
            "h8",
            "--password-stdin",
            "r2",
            "--tag",
            "t:v1",
            "-p",
        ]
    )
    assert masked == [
        "kit",
        "login",
        "r",
        "-u",
        "bob",
        "-p",
        "***",
        "-p***",
        "--password",
        "***",
        "--password=***",
        "--token",
        "***",
        "--token=***",
        "--hf-token=***",
        "--client-secret",
        "***",
        "--password-stdin",
        "r2",
        "--tag",
        "t:v1",
        "-p",
    ]
    assert secrets == ["a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8"]
    # whoever builds the error, it keeps only the masked command line
    err = kit.KitCommandError(1, ["kit", "login", "r", "--password=S3CRET"], "", "error: x\n", message="x")
    assert err.cmd == ["kit", "login", "r", "--password=***"] and "S3CRET" not in str(err)
    with pytest.raises(ValueError) as info:
        kit._run(["docker", "login", "-p", "S3CRET"])
    assert "S3CRET" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# streams and logging are the call's own


def test_concurrent_output_is_never_mixed(capsys: pytest.CaptureFixture[str]) -> None:
    """The reviewer's repro: a thread looping ``_run(["kit", "version"])`` while the main thread prints."""
    expected = kit._run(["kit", "version"]).stdout
    assert expected.startswith(f"Version: {__version__}\n")
    runs, contaminated, errors = 10, [], []

    def loop() -> None:
        try:
            for _ in range(runs):
                out = kit._run(["kit", "version"]).stdout
                if out != expected:
                    contaminated.append(out)
        except BaseException as exc:  # reported below
            errors.append(exc)

    stdin, stdout, stderr = sys.stdin, sys.stdout, sys.stderr
    worker = threading.Thread(target=loop)
    worker.start()
    printed = swapped = 0
    while worker.is_alive() or printed < 100:
        print(f"main thread line {printed}")
        printed += 1
        swapped += (sys.stdin, sys.stdout, sys.stderr) != (stdin, stdout, stderr)
    worker.join()
    assert not errors
    assert contaminated == []  # none of the runs saw the main thread's output
    assert swapped == 0  # the process's streams were never replaced
    out = capsys.readouterr().out
    assert out.count("main thread line ") == printed  # and none of the main thread's lines went missing
    assert "Version:" not in out


def test_concurrent_runs_keep_their_own_results_and_errors() -> None:
    ok = kit._run(["kit", "version"])
    with pytest.raises(kit.KitCommandError) as info:
        kit._run(["kit", "inspect", "nope:v1"])
    bad = info.value
    assert "not found" in bad.stderr
    mismatches: list[str] = []

    def good_loop() -> None:
        for _ in range(5):
            done = kit._run(["kit", "version"])
            if (done.stdout, done.stderr) != (ok.stdout, ok.stderr):
                mismatches.append(f"version: {done.stdout!r} {done.stderr!r}")

    def bad_loop() -> None:
        for _ in range(5):
            try:
                kit._run(["kit", "inspect", "nope:v1"])
            except kit.KitCommandError as exc:
                if (exc.stdout, exc.stderr) != (bad.stdout, bad.stderr):
                    mismatches.append(f"inspect: {exc.stdout!r} {exc.stderr!r}")
            else:
                mismatches.append("inspect succeeded")

    threads = [threading.Thread(target=f) for f in (good_loop, bad_loop, good_loop, bad_loop)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mismatches == []


def test_logging_is_scoped_to_the_call(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kitops logger keeps its handlers and propagate; other threads' records stay out of a run's
    stderr and still reach the process's logging."""
    root = logging.getLogger("kitops")
    # a library's usual state (earlier CLI runs in this process may have left the CLI's set-up)
    monkeypatch.setattr(root, "propagate", True)
    monkeypatch.setattr(root, "handlers", [])
    caplog.set_level(logging.INFO, logger="kitops.elsewhere")
    before = (list(root.handlers), root.level, root.propagate)
    other = logging.getLogger("kitops.elsewhere")
    stop = threading.Event()
    seen_while_running: list[tuple[bool, bool]] = []
    logged = 0

    def chatter() -> None:
        nonlocal logged
        while not stop.is_set():
            other.info("OTHER-THREAD record %d", logged)
            logged += 1
            seen_while_running.append(
                (root.propagate, any(getattr(h, "_kit_cli", False) for h in root.handlers))
            )

    thread = threading.Thread(target=chatter)
    thread.start()
    try:
        stderrs = []
        for _ in range(5):
            with pytest.raises(kit.KitCommandError) as info:
                kit._run(["kit", "-v", "inspect", "nope:v1"])
            stderrs.append(info.value.stderr)
    finally:
        stop.set()
        thread.join()
    assert (list(root.handlers), root.level, root.propagate) == before
    assert not [e for e in stderrs if "OTHER-THREAD" in e]
    assert all(e.startswith("error: Error resolving modelkit: ") or "[DEBUG]" in e for e in stderrs)
    assert seen_while_running and all(p and not cli for p, cli in seen_while_running)  # never reconfigured
    assert len([r for r in caplog.records if r.getMessage().startswith("OTHER-THREAD")]) == logged


def test_the_run_captures_its_own_log_lines_help_version_and_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger("kitops")
    before = (list(root.handlers), root.level, root.propagate)
    project = write_tree(tmp_path / "p", {"model.bin": b"weights\n"})
    kitfile = "manifestVersion: 1.0.0\npackage:\n  name: piped\nmodel:\n  path: model.bin\n"
    done = kit._run(
        ["kit", "pack", str(project), "-f", "-", "-t", "piped:v1"], input=kitfile
    )  # stdin from input
    assert done.stdout.startswith("Model saved: sha256:")
    assert "Saved manifest to storage: sha256:" in done.stderr  # the CLI's INFO lines, formatted as kit does
    assert "Saved to path" not in done.stderr and "[INFO ]" not in done.stderr
    verbose = kit._run(["kit", "-v", "pack", str(project), "-f", "-", "-t", "piped:v2"], input=kitfile)
    assert "[INFO ] Saved manifest to storage: sha256:" in verbose.stderr
    assert kit._run(["kit", "--version"]).stdout == f"kit, version {__version__}\n"
    assert kit._run(["kit", "--help"]).stdout.startswith("Usage: kit [OPTIONS] COMMAND [ARGS]...")
    assert kit._run(["kit", "pack", "-h"]).stdout.startswith("Usage: kit pack [OPTIONS] DIRECTORY")
    assert kit._run(["kit", "cache", "--help"]).stdout.startswith("Usage: kit cache [OPTIONS] COMMAND")
    with pytest.raises(kit.KitCommandError) as info:
        kit._run(["kit"])  # no command: click's help, as a usage error on stderr
    assert info.value.returncode == 2 and "Usage: kit" in info.value.stderr
    with pytest.raises(kit.KitCommandError) as info:
        kit._run(["kit", "login", "127.0.0.1:1", "-u", "bob", "--password-stdin"], input="")
    assert "failed to read password from stdin" in info.value.stderr  # reads input, never sys.stdin
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # nothing reached the process's streams
    assert (list(root.handlers), root.level, root.propagate) == before
