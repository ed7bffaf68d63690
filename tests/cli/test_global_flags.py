"""Global flags (cobra's persistent flags) before or after any subcommand; network and upload flags
only where they are used; bad command lines exit 2 with ``error:`` and ``hint:``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from kitops.cli import kit as kit_functions
from kitops.cli.main import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"
KIT = Path(sys.executable).with_name("kit")


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False, prog_name="kit")


def command_paths(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every runnable command of the ``kit`` group, nested groups included, as its words."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


# Arguments that run each command to its end quickly, with no registry: most fail (not found,
# nothing to pack...), which is fine: the global flags take effect before the command's work.
# The login reads an empty --password-stdin and stops before any request.
COMMAND_ARGS: dict[tuple[str, ...], list[str]] = {
    ("pack",): ["{work}/empty"],
    ("unpack",): ["nope:v1", "-d", "{work}/out"],
    ("push",): ["nope:v1"],
    ("pull",): ["Not-Lower-Case:v1"],
    ("list",): [],
    ("inspect",): ["nope:v1"],
    ("info",): ["nope:v1"],
    ("tag",): ["nope:v1", "nope:v2"],
    ("remove",): ["nope:v1"],
    ("diff",): ["local://nope:v1", "local://nope:v2"],
    ("login",): ["127.0.0.1:1", "-u", "me", "--password-stdin"],
    ("logout",): ["registry.example.com"],
    ("init",): ["{work}/proj", "--name", "demo"],
    ("import",): ["nope://source"],
    ("save",): ["nope:v1", "-o", "{work}/out.tar"],
    ("load",): ["-i", "{work}/missing.tar"],
    ("dev", "start"): ["{work}/empty"],
    ("dev", "stop"): [],
    ("dev", "logs"): [],
    ("cache", "info"): [],
    ("cache", "clear"): [],
    # a ModelKit in no storage: refused before any registry is asked; a path that is no layout
    ("image", "build"): ["nope:v1", "--base", "registry.invalid/base:v1", "-t", "registry.invalid/img:v1"],
    ("image", "inspect"): ["{work}/no-layout"],
    ("version",): [],
    # the hidden command behind 'kit sign REF'; the keys and files do not exist
    ("sign", "MODELKIT"): ["nope:v1", "--key", "{work}/missing.key"],
    ("sign", "generate-key-pair"): ["--output-key-prefix", "{work}/proj/cosign"],
    ("verify",): ["nope:v1", "--key", "{work}/missing.pub"],
    ("attest",): ["nope:v1", "--key", "{work}/missing.key", "--predicate", "{work}/missing.json"],
    ("verify-attestation",): ["nope:v1", "--key", "{work}/missing.pub"],
    ("attach",): ["nope:v1", "{work}/missing.json", "--artifact-type", "application/x-test"],
    ("discover",): ["nope:v1"],
    # the container entrypoints: no MODELKIT_REF in the environment; a ModelKit in no storage
    ("init-container",): [],
    ("kserve-storage",): ["kit://nope:v1", "{work}/out"],
}
ALL_COMMANDS = sorted(COMMAND_ARGS)

SETTINGS = "[DEBUG] Settings: "

# id -> (flags given first, at the root; the flag under test; what the settings line must say,
#        or None when no settings line may be printed). The settings line is kit's debug log of
#        the storage, log level, progress mode and traceback setting a command runs with.
GLOBAL_CASES: dict[str, tuple[list[str], list[str], str | None]] = {
    "-v": ([], ["-v"], "log level debug"),
    "--verbose": ([], ["--verbose"], "log level debug"),
    "-vv": ([], ["-vv"], "log level trace"),
    "-vvv": ([], ["-vvv"], "log level trace, progress none"),
    "-v adds up": (["-v"], ["-v"], "log level trace"),
    "--log-level debug": ([], ["--log-level", "debug"], "log level debug"),
    "--log-level=trace": ([], ["--log-level=trace"], "log level trace"),
    "--log-level error wins": (["--log-level", "debug"], ["--log-level", "error"], None),
    "--progress none": (["--log-level", "debug"], ["--progress", "none"], "progress none"),
    "--config": (["--log-level", "debug"], ["--config", "{work}/other-home"], "storage {work}/other-home,"),
    "--debug": (["--log-level", "debug"], ["--debug"], "tracebacks on"),
}


def positions(path: tuple[str, ...], args: list[str]) -> dict[str, int]:
    """Where a flag can go: before the command, after each of its words, and after its arguments."""
    words = len(path)
    spots = {"before the command": 0}
    spots.update({f"after '{' '.join(path[:i])}'": i for i in range(1, words + 1)})
    spots["at the end"] = words + len(args)
    return spots


@pytest.fixture()
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KITOPS_HOME", str(tmp_path / "work" / "home"))
    monkeypatch.delenv("KITOPS_DEBUG", raising=False)
    return tmp_path / "work"


def fresh(work: Path) -> None:
    """The same empty workspace for every run, so runs can be compared byte for byte."""
    shutil.rmtree(work, ignore_errors=True)
    (work / "empty").mkdir(parents=True)
    (work / "proj").mkdir()
    (work / "proj" / "model.safetensors").write_bytes(b"x" * 10)


def test_the_table_covers_every_command() -> None:
    assert set(command_paths()) == set(COMMAND_ARGS), "add the new command to COMMAND_ARGS"


@pytest.mark.parametrize("case", list(GLOBAL_CASES))
@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_global_flag_works_in_every_position_with_the_same_effect(
    path: tuple[str, ...], case: str, work: Path
) -> None:
    base, flag, expected = GLOBAL_CASES[case]
    args = [a.format(work=work) for a in COMMAND_ARGS[path]]
    flag = [f.format(work=work) for f in flag]
    words = [*path, *args]
    results = {}
    for where, at in positions(path, args).items():
        fresh(work)
        res = invoke(*base, *words[:at], *flag, *words[at:], input="")
        assert "No such option" not in res.stderr and "Usage:" not in res.stderr, (where, res.stderr)
        settings = [line for line in res.stderr.splitlines() if line.startswith(SETTINGS)]
        if expected is None:
            assert settings == [], (where, res.stderr)
        else:
            assert len(settings) == 1 and expected.format(work=work) in settings[0], (where, res.stderr)
        # a traceback (--debug) names the line of concurrent.futures that happened to raise: not ours to compare
        stderr = re.sub(
            r"(?m)^  File \"[^\"]*/concurrent/futures/[^\"]*\", line \d+",
            "  File concurrent.futures",
            res.stderr,
        )
        results[where] = (res.exit_code, res.stdout, stderr)
    first = results.pop("before the command")
    for where, result in results.items():
        assert result == first, f"{flag} {where} differs from {flag} before the command"


def test_without_flags_no_settings_line_and_the_defaults(work: Path) -> None:
    fresh(work)
    assert SETTINGS not in invoke("list").stderr
    line = next(
        x for x in invoke("list", "--log-level", "debug").stderr.splitlines() if x.startswith(SETTINGS)
    )
    assert line == f"{SETTINGS}storage {work / 'home'}, log level debug, progress plain, tracebacks off"


def _pack_project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "model.bin").write_bytes(b"weights" * 1000)
    (proj / "Kitfile").write_text(
        "manifestVersion: 1.0.0\npackage:\n  name: demo\nmodel:\n  path: model.bin\n"
    )
    return proj


def test_config_after_the_subcommand_selects_the_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITOPS_HOME", str(tmp_path / "env-home"))
    proj = _pack_project(tmp_path)
    other = tmp_path / "other"
    packed = invoke("--progress", "none", "pack", str(proj), "-t", "demo:v1", "--config", str(other))
    assert packed.exit_code == 0, packed.output
    assert (other / "storage").is_dir() and not (tmp_path / "env-home" / "storage").exists()
    assert "demo" in invoke("list", "--config", str(other)).stdout
    assert "demo" not in invoke("list").stdout  # $KITOPS_HOME: nothing there
    assert (
        "demo" in invoke("--config", str(tmp_path / "env-home"), "list", "--config", str(other)).stdout
    )  # later wins
    assert "demo" not in invoke("--config", str(other), "list", "--config", str(tmp_path / "env-home")).stdout
    (other / "cache" / "pack-digests.json").unlink()  # pack's digest cache: only our 2 KiB file counted below
    (other / "cache" / "x").mkdir(parents=True)
    (other / "cache" / "x" / "f").write_bytes(b"0" * 2048)
    assert invoke("cache", "info", "--config", str(other)).stdout.startswith(
        "Total size of cache directory: 2.0 KiB"
    )
    assert invoke("cache", "--config", str(other), "info").stdout.startswith(
        "Total size of cache directory: 2.0 KiB"
    )


@pytest.mark.parametrize("flag", [["-v"], ["--verbose"], ["--log-level", "debug"]])
def test_verbose_after_the_subcommand_enables_debug_logging(flag: list[str], tmp_path: Path) -> None:
    proj = _pack_project(tmp_path)
    home = str(tmp_path / "home")
    quiet = invoke("--config", home, "--progress", "none", "pack", str(proj), "-t", "demo:v1")
    assert "Saved manifest to storage: sha256:" in quiet.stderr and "[INFO ]" not in quiet.stderr
    after = invoke("--config", home, "--progress", "none", "pack", str(proj), "-t", "demo:v1", *flag)
    assert after.exit_code == 0, after.output
    assert "[INFO ] Saved manifest to storage: sha256:" in after.stderr and "[DEBUG] " in after.stderr


@pytest.mark.parametrize("before", [True, False])
def test_log_level_error_suppresses_info_lines(before: bool, tmp_path: Path) -> None:
    proj = _pack_project(tmp_path)
    flag = ["--log-level", "error"]
    words = ["pack", str(proj), "-t", "demo:v1"]
    res = invoke(
        "--config", str(tmp_path / "home"), "--progress", "none", *(flag + words if before else words + flag)
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("Model saved: sha256:")
    assert "Saved manifest" not in res.stderr and res.stderr == ""


def test_progress_none_after_the_subcommand_turns_progress_off(tmp_path: Path) -> None:
    proj = _pack_project(tmp_path)

    def pack(*flags: str, after: bool) -> str:
        home = tmp_path / "home"
        shutil.rmtree(home, ignore_errors=True)
        words = ["pack", str(proj), "-t", "demo:v1", "--log-level", "error"]
        res = invoke("--config", str(home), *([*flags, *words] if not after else [*words, *flags]))
        assert res.exit_code == 0, res.output
        return res.stderr

    assert pack("--progress", "plain", after=True) != ""  # plain progress lines (stderr is no TTY)
    assert pack("--progress", "plain", after=False) != ""
    assert pack(after=True) == ""  # the default (plain) says nothing above --log-level info
    assert pack("--progress", "none", after=True) == ""
    assert pack("--progress", "none", after=False) == ""
    traced = pack("-vvv", after=True)  # -vvv: trace logs, and no progress lines among them
    assert "log level trace, progress none" in traced and all(
        line.startswith("[") for line in traced.splitlines()
    )


def test_debug_after_the_subcommand_shows_tracebacks(work: Path) -> None:
    fresh(work)
    plain = invoke("inspect", "nope:v1")
    assert plain.exit_code == 1 and "Traceback" not in plain.stderr
    for args in (["inspect", "nope:v1", "--debug"], ["--debug", "inspect", "nope:v1"]):
        res = invoke(*args)
        assert res.exit_code == 1 and "Traceback (most recent call last)" in res.stderr


def test_a_value_that_looks_like_a_global_flag_stays_a_value(tmp_path: Path) -> None:
    """``-t -v``: ``-v`` is the tag, not the verbose flag (no argv pre-scanning)."""
    res = invoke("--config", str(tmp_path / "home"), "pack", str(EXAMPLE), "-t", "-v")
    assert res.exit_code != 0 and 'invalid repository "-v"' in res.stderr
    assert "[DEBUG]" not in res.stderr and not (tmp_path / "home" / "storage").exists()
    fmt = invoke("--config", str(tmp_path / "home"), "list", "--format", "--debug")
    assert fmt.exit_code == 2 and "'--debug'" in fmt.stderr and "Traceback" not in fmt.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["list", "--log-level", "loud"],
        ["--log-level", "loud", "list"],
        ["cache", "info", "--log-level", "loud"],
    ],
)
def test_bad_log_level_anywhere_is_a_usage_error(args: list[str], work: Path) -> None:
    res = invoke(*args)
    assert res.exit_code == 2
    assert (
        "error: Invalid log level 'loud'. Options are 'trace', 'debug', 'info', 'warn', 'error'" in res.stderr
    )
    assert "hint: " in res.stderr and res.stdout == ""


@pytest.mark.parametrize("path", [(), *ALL_COMMANDS, ("cache",)], ids=lambda p: " ".join(p) or "kit")
def test_help_lists_the_global_options_under_their_own_heading(path: tuple[str, ...]) -> None:
    res = invoke(*path, "--help")
    assert res.exit_code == 0, res.output
    options, _, global_options = res.stdout.partition("\nGlobal options:\n")
    assert global_options, res.stdout
    for flag in ("--config DIR", "--log-level LEVEL", "--progress MODE", "-v, --verbose", "--debug"):
        assert flag in global_options
        assert flag not in options


# ---------------------------------------------------------------------------------------------
# network and upload flags only where they are used

NETWORK = {"--plain-http", "--tls-verify", "--ca-file", "--cert", "--key", "--proxy", "--concurrency"}
UPLOAD = {"--upload-mode", "--chunk-size"}
# what each command does with a registry (the reference's flags, plus what kitops.api does: a remote tag
# uploads a manifest and mounts or streams blobs; pack only with --push; import and init never touch one)
EXPECTED_FLAGS: dict[tuple[str, ...], set[str]] = {
    ("pack",): NETWORK | UPLOAD,  # with --push: layers go straight to the registry
    ("unpack",): NETWORK,
    ("push",): NETWORK | UPLOAD,
    ("pull",): NETWORK,
    ("list",): NETWORK,
    ("inspect",): NETWORK,
    ("info",): NETWORK,
    ("tag",): NETWORK | UPLOAD,
    ("remove",): NETWORK,
    ("diff",): NETWORK,
    ("login",): NETWORK,
    ("logout",): set(),
    ("init",): set(),
    ("import",): {"--concurrency"},  # parallel Hub downloads; import never talks to a registry
    ("save",): set(),
    ("load",): set(),
    ("dev", "start"): set(),
    ("dev", "stop"): set(),
    ("dev", "logs"): set(),
    ("cache", "info"): set(),
    ("cache", "clear"): set(),
    ("image", "build"): NETWORK | UPLOAD,
    ("image", "inspect"): NETWORK,
    ("version",): set(),
    # as in cosign, --key names the signing (or public) key there: the client TLS pair comes from
    # $KITOPS_CLIENT_CERT and $KITOPS_CLIENT_KEY, so --cert is left out with it
    ("sign", "MODELKIT"): NETWORK - {"--cert"},
    ("sign", "generate-key-pair"): set(),
    ("verify",): NETWORK - {"--cert"},
    ("attest",): NETWORK - {"--cert"},
    ("verify-attestation",): NETWORK - {"--cert"},
    ("attach",): NETWORK,
    ("discover",): NETWORK,
    ("init-container",): set(),
    ("kserve-storage",): set(),
}


def test_the_flag_table_covers_every_command() -> None:
    assert set(command_paths()) == set(EXPECTED_FLAGS)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_network_and_upload_flags_only_on_commands_that_use_them(path: tuple[str, ...]) -> None:
    command: click.Command = cli
    for word in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), word)
        assert found is not None
        command = found
    given = {
        opt for p in command.params if isinstance(p, click.Option) for opt in p.opts if opt.startswith("--")
    }
    assert given & (NETWORK | UPLOAD) == EXPECTED_FLAGS[path]
    help_text = invoke(*path, "--help").stdout
    for flag in NETWORK | UPLOAD:
        assert (flag in help_text) == (flag in EXPECTED_FLAGS[path]), flag


def test_upload_flag_on_a_command_that_does_not_upload_is_refused(work: Path) -> None:
    res = invoke("pull", "reg.example.com/a/b:v1", "--chunk-size", "8")
    assert res.exit_code == 2 and "No such option" in res.stderr and "--chunk-size" in res.stderr


# ---------------------------------------------------------------------------------------------
# bad command lines exit 2, printed as error: + hint:

USAGE_ERRORS = {
    "unknown option": (["list", "--nope"], "No such option"),
    "missing argument": (["unpack"], "Missing argument 'MODELKIT'"),
    "extra argument": (["list", "a", "b"], "unexpected extra argument"),
    "unknown command": (["nope"], "No such command 'nope'"),
    "bad choice": (["pack", ".", "--compression", "lzma"], "'lzma' is not one of"),
    "missing subcommand": (["cache", "-v"], "Missing command"),
    # kitops.errors.UsageError from the command's body
    "remove without a ModelKit": (["remove"], "modelkit is required for remove unless --all is specified"),
    "remove --remote --all": (
        ["remove", "x", "--remote", "--all"],
        "cannot use --all or --force with --remote",
    ),
    "bad reference": (["inspect", "UPPER:v1"], "must be lowercase"),
    "unsupported import": (["import", "nope://source"], "unsupported import source"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_bad_command_lines_exit_2_with_error_and_hint(case: str, work: Path) -> None:
    args, message = USAGE_ERRORS[case]
    res = invoke(*args)
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert lines[0].startswith("error: ") and message in lines[0], res.stderr
    assert any(line.startswith("hint: ") for line in lines[1:]), res.stderr


def test_click_usage_error_hint_points_at_the_command_help(work: Path) -> None:
    res = invoke("cache", "info", "--nope")
    assert "hint: run 'kit cache info --help'" in res.stderr
    assert "hint: run 'kit remove --help'" in invoke("remove").stderr  # ours, which had no hint


def test_console_script_exit_codes(tmp_path: Path) -> None:
    """The real ``kit`` entry point: 2 for bad command lines (click's or ours), 1 for failures."""
    env = {**os.environ, "KITOPS_HOME": str(tmp_path / "h")}
    env.pop("KITOPS_DEBUG", None)

    def kit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(KIT), *args], capture_output=True, text=True, env=env, check=False)

    ok = kit("list", "-v", "--progress", "none", "--log-level", "info")
    assert ok.returncode == 0 and ok.stdout.startswith("REPOSITORY"), ok.stderr
    bad_flag = kit("list", "--nope")
    assert bad_flag.returncode == 2 and bad_flag.stderr.startswith("error: No such option")
    ours = kit("remove")
    assert ours.returncode == 2 and ours.stderr.startswith("error: ")
    failed = kit("inspect", "nope:v1", "-v")
    assert failed.returncode == 1 and "not found" in failed.stderr


def test_in_process_run_reports_the_same_exit_codes(work: Path) -> None:
    with pytest.raises(kit_functions.KitCommandError) as info:
        kit_functions._run(["kit", "list", "--nope"])
    assert info.value.returncode == 2 and info.value.message.startswith("No such option") and info.value.hint
    with pytest.raises(kit_functions.KitCommandError) as info:
        kit_functions._run(["kit", "remove"])
    assert info.value.returncode == 2 and "modelkit is required" in info.value.message
    assert kit_functions._run(["kit", "list", "-v"]).returncode == 0


@pytest.mark.parametrize("level", ["error", "warn"])
def test_log_level_above_info_also_silences_plain_progress(level: str, tmp_path: Path) -> None:
    """Without a terminal, progress is plain lines on stderr: a script asking for errors only must
    get an empty stderr from a successful pack, whatever the --progress default."""
    proj = _pack_project(tmp_path)
    res = invoke("--config", str(tmp_path / "home"), "pack", str(proj), "-t", "demo:v1", "--log-level", level)
    assert res.exit_code == 0, res.output
    assert res.stderr == ""
    quiet_info = invoke("--config", str(tmp_path / "home2"), "pack", str(proj), "-t", "demo:v1")
    assert "packing" in quiet_info.stderr  # at info level the lines are still there
