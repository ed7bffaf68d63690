"""The CLI's progress display: plain lines without a TTY, rich bars with one, and logs beside them."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kitops.cli.output import PROGRESS_INTERVAL, KitLogFormatter, PlainProgress, RichProgress
from tests.fakeclock import FakeClock

KIT = Path(sys.executable).with_name("kit")
GIB = 1 << 30
MIB = 1 << 20
BAR = "━"
LOG_PREFIX = re.compile(r"\[(INFO |DEBUG|TRACE|WARN |ERROR)\] ")


def transfer(
    progress: PlainProgress, clock: FakeClock, key: str, total: int, seconds: float, steps: int
) -> None:
    progress.begin(key, "copying", total)
    for i in range(steps):
        clock.advance(seconds / steps)
        progress.advance(key, total // steps + (total % steps if i == steps - 1 else 0))
    progress.end(key)


# ---------------------------------------------------------------------------------------------
# (a) plain lines, no TTY

KEY = "sha256:" + "ab" * 32
PERIODIC = re.compile(
    r"^copying sha256:abababababab…abababababababababab: (?P<done>[\d.]+ (?:B|KiB|MiB|GiB)) / (?P<total>[\d.]+ GiB) "
    r"\((?P<pct>\d+)%\) (?P<rate>\d+ (?:MB|kB|B)/s)$"
)


def test_plain_prints_a_line_every_interval_for_a_long_transfer() -> None:
    out, clock = io.StringIO(), FakeClock()
    total = -(-36 * GIB // 10)  # 3.6 GiB
    transfer(PlainProgress(out, clock=clock), clock, KEY, total, seconds=16.0, steps=1600)
    lines = out.getvalue().splitlines()
    periodic = [m for m in map(PERIODIC.match, lines) if m]
    assert len(periodic) >= 3, lines  # at 5, 10 and 15 s
    assert len(periodic) == len(lines) - 1  # plus the end line, nothing else
    assert all(m["total"] == "3.6 GiB" for m in periodic)
    pcts = [int(m["pct"]) for m in periodic]
    assert pcts == sorted(pcts) and 25 <= pcts[0] <= 40 and pcts[-1] < 100, pcts
    assert [m["done"] for m in periodic][:3] == ["1.1 GiB", "2.2 GiB", "3.3 GiB"]
    assert all(m["rate"] == "242 MB/s" for m in periodic), [m["rate"] for m in periodic]  # 3.6 GiB / 16 s
    assert re.match(r"^copying sha256:abab\S*: 3\.6 GiB in 16\.0s \(242 MB/s\)$", lines[-1]), lines[-1]


def test_plain_prints_no_extra_line_for_a_short_transfer() -> None:
    out, clock = io.StringIO(), FakeClock()
    transfer(PlainProgress(out, clock=clock), clock, KEY, 2 * GIB, seconds=PROGRESS_INTERVAL - 0.1, steps=490)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and " in 4.9s " in lines[0], lines


def test_plain_reports_a_stalled_transfer_on_tick() -> None:
    out, clock = io.StringIO(), FakeClock()
    progress = PlainProgress(out, clock=clock)
    progress.begin(KEY, "copying", GIB)
    progress.advance(KEY, GIB // 4)
    assert progress.tick() == pytest.approx(PROGRESS_INTERVAL) and out.getvalue() == ""
    clock.advance(PROGRESS_INTERVAL + 1)  # no bytes move: only the ticker can speak
    assert progress.tick() == pytest.approx(PROGRESS_INTERVAL)
    assert PERIODIC.match(out.getvalue().rstrip("\n"))
    assert out.getvalue().endswith(" 256.0 MiB / 1.0 GiB (25%) 45 MB/s\n")  # 256 MiB in 6 s, out.getvalue()
    clock.advance(PROGRESS_INTERVAL)
    progress.tick()
    assert out.getvalue().splitlines()[-1].endswith(" 256.0 MiB / 1.0 GiB (25%) 0 B/s")


def test_plain_ticker_thread_prints_while_stalled() -> None:
    out, clock = io.StringIO(), FakeClock()
    with PlainProgress(out, clock=clock, interval=0.01) as progress:  # the ticker waits 0.01 s of real time
        progress.begin(KEY, "copying", GIB)
        clock.advance(1.0)
        deadline = time.monotonic() + 10
        while not out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert out.getvalue().startswith("copying sha256:abab"), out.getvalue()


def test_plain_is_thread_safe() -> None:
    out, clock = io.StringIO(), FakeClock()
    progress = PlainProgress(out, clock=clock, interval=0.5)
    keys = [f"sha256:{i:064x}" for i in range(4)]
    for key in keys:
        progress.begin(key, "copying", 4000 * 1000)

    def work(key: str) -> None:
        for _ in range(4000):
            clock.advance(0.001)
            progress.advance(key, 1000)

    threads = [threading.Thread(target=work, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in keys:
        progress.end(key)
    lines = out.getvalue().splitlines()
    ends = [line for line in lines if " in " in line]
    assert len(ends) == 4 and all(": 3.8 MiB in " in line for line in ends), ends  # every byte counted once
    assert len(lines) > 4 and all(line.startswith("copying sha256:") for line in lines)  # whole lines only


# ---------------------------------------------------------------------------------------------
# A terminal, as far as rich drives one


class Screen:
    """A minimal terminal: the escape sequences rich's live display uses, on unbounded scrollback."""

    CSI = re.compile(r"\x1b\[(\??)([\d;]*)([A-Za-z])")

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows: list[list[str]] = [[]]
        self.row = self.col = 0

    def feed(self, text: str) -> Screen:
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                m = self.CSI.match(text, i)
                assert m, f"unknown escape sequence {text[i : i + 10]!r}"
                self._csi(m.group(1), m.group(2), m.group(3))
                i = m.end()
                continue
            if ch == "\r":
                self.col = 0
            elif ch == "\n":  # a terminal's onlcr, as rich relies on
                self.row, self.col = self.row + 1, 0
            elif ch >= " ":
                if self.col >= self.width:
                    self.row, self.col = self.row + 1, 0
                line = self._line()
                line.extend(" " * (self.col - len(line) + 1))
                line[self.col] = ch
                self.col += 1
            i += 1
        return self

    def _line(self) -> list[str]:
        while len(self.rows) <= self.row:
            self.rows.append([])
        return self.rows[self.row]

    def _csi(self, private: str, params: str, final: str) -> None:
        n = int(params or "1") if params.isdigit() or not params else 1
        if private or final == "m":  # cursor show/hide, colours
            return
        if final == "A":
            self.row = max(self.row - n, 0)
        elif final == "K":
            line = self._line()
            if (params or "0") == "2":
                line.clear()
            elif (params or "0") == "0":
                del line[self.col :]
            else:
                raise AssertionError(f"unexpected erase {params!r}")
        else:
            raise AssertionError(f"unexpected escape sequence {final!r}")

    def lines(self) -> list[str]:
        """The final screen, trailing spaces and blank lines removed."""
        out = ["".join(r).rstrip() for r in self.rows]
        while out and not out[-1]:
            out.pop()
        return out


# ---------------------------------------------------------------------------------------------
# (b) rich bars and log lines, in process


@pytest.fixture()
def kitops_log_to() -> Iterator[Callable[[io.StringIO], None]]:
    """Attach CLI-formatted handlers of the ``kitops`` logger to streams; put the logger back after."""
    logger = logging.getLogger("kitops")
    saved = (logger.level, logger.propagate)
    handlers: list[logging.Handler] = []

    def attach(stream: io.StringIO) -> None:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(KitLogFormatter(logging.INFO))
        logger.addHandler(handler)
        handlers.append(handler)

    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield attach
    finally:
        for h in handlers:
            logger.removeHandler(h)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def test_rich_log_lines_go_above_the_bars_and_the_last_frame_is_drawn_once(
    kitops_log_to: Callable[[io.StringIO], None],
) -> None:
    from rich.console import Console

    terminal = io.StringIO()
    kitops_log_to(terminal)  # the CLI's handler writes where the bars draw (stderr)
    console = Console(file=terminal, force_terminal=True, width=100, color_system="truecolor")
    log = logging.getLogger("kitops.test")
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    with RichProgress(console=console) as bars:
        bars.begin(a, "copying", 10 * MIB)
        bars.begin(b, "copying", 20 * MIB)  # drawn at once: add_task refreshes
        bars.advance(a, 10 * MIB)
        bars.end(a)
        log.info("saved layer: %s", a)
        bars.advance(b, 20 * MIB)
        bars.end(b)
        log.info("saved layer: %s", b)
    raw = terminal.getvalue()
    assert raw.index(BAR) < raw.index("Saved layer")  # the log lines did come while bars were live
    screen = Screen(100).feed(raw).lines()
    assert len(screen) == 4, screen  # two log lines, then each bar exactly once
    assert screen[:2] == [f"Saved layer: {a}", f"Saved layer: {b}"]
    assert screen[2].startswith("copying aaaaaaaaaaaa…aaaaaaaa ") and "10.0/10.0 MiB" in screen[2], screen
    assert screen[3].startswith("copying bbbbbbbbbbbb…bbbbbbbb ") and "20.0/20.0 MiB" in screen[3], screen
    assert logging.getLogger("kitops").handlers[-1].stream is terminal  # type: ignore[attr-defined]  # put back


def test_rich_leaves_other_handlers_and_stdout_alone(kitops_log_to: Callable[[io.StringIO], None]) -> None:
    from rich.console import Console

    elsewhere = io.StringIO()
    kitops_log_to(elsewhere)
    terminal = io.StringIO()
    stdout = sys.stdout
    with RichProgress(console=Console(file=terminal, force_terminal=True, width=100)) as bars:
        assert sys.stdout is stdout  # results never go through the bars' console
        bars.begin("k", "copying", 1)
        logging.getLogger("kitops.test").info("elsewhere")
    assert elsewhere.getvalue() == "Elsewhere\n" and "Elsewhere" not in terminal.getvalue()


# ---------------------------------------------------------------------------------------------
# (c) the real kit command under a pseudo-terminal


def make_project(root: Path) -> Path:
    """~50 MiB in three layers, so pack draws bars and logs a line per layer while they are live."""
    proj = root / "proj"
    for rel, size in (("model/weights.bin", 30 * MIB), ("data1/a.bin", 10 * MIB), ("data2/b.bin", 10 * MIB)):
        path = proj / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((rel.encode() * (size // len(rel) + 1))[:size])
    (proj / "Kitfile").write_text(
        "manifestVersion: 1.0.0\npackage:\n  name: progress\nmodel:\n  name: m\n  path: model\n"
        "datasets:\n  - name: one\n    path: data1\n  - name: two\n    path: data2\n"
    )
    return proj


def run_in_pty(args: list[str], width: int = 160, timeout: float = 120) -> tuple[str, str, int]:
    """Run ``kit ARGS`` with stderr on a pseudo-terminal and stdout on a pipe: (terminal bytes, stdout, exit code)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES")
    }
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [str(KIT), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            proc.kill()
            pytest.fail(f"kit {args} did not finish in {timeout}s")
        assert proc.stdout is not None
        stdout = proc.stdout.read().decode()
        code = proc.wait(timeout=timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return b"".join(chunks).decode(), stdout, code


@pytest.mark.slow
def test_kit_pack_in_a_terminal_keeps_log_lines_off_the_bars(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    raw, stdout, code = run_in_pty(
        ["--config", str(tmp_path / "home"), "-v", "pack", str(proj), "-t", "progress:v1"]
    )
    assert code == 0, raw
    assert re.fullmatch(r"Model saved: sha256:[0-9a-f]{64}\n", stdout), stdout  # only the result on stdout
    assert BAR not in stdout and "[INFO" not in stdout
    first_saved = raw.index("Saved dataset layer")
    assert raw.index(BAR) < first_saved  # bars were live when the log lines came
    screen = Screen(160).feed(raw).lines()
    logs = [line for line in screen if LOG_PREFIX.search(line)]
    bars = [line for line in screen if BAR in line]
    for line in logs:  # every log line stands alone: its prefix starts the line, no bar on it
        assert LOG_PREFIX.match(line) and BAR not in line and "MiB" not in line, screen
    for line in bars:
        assert line.startswith("packing ") and not LOG_PREFIX.search(line), screen
    messages = [LOG_PREFIX.sub("", line, count=1).split(":")[0] for line in logs]
    for message in (
        "Saved model layer",
        "Saved dataset layer",
        "Saved configuration",
        "Saved manifest to storage",
    ):
        assert message in messages, screen
    assert messages.count("Saved dataset layer") == 2
    # each layer's bar exactly once (layers are packed in parallel: in any order), finished, below every log line
    finished = sorted(
        " ".join(b.split(BAR)[0].split()) + " " + re.findall(r"[\d.]+/[\d.]+ MiB", b)[0] for b in bars
    )
    assert finished == [
        "packing dataset data1 10.0/10.0 MiB",
        "packing dataset data2 10.0/10.0 MiB",
        "packing model model 30.0/30.0 MiB",
    ], screen
    assert screen.index(bars[0]) > screen.index(logs[-1]) and screen[-len(bars) :] == bars


@pytest.mark.slow
def test_kit_progress_none_prints_no_progress(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    raw, stdout, code = run_in_pty(
        ["--config", str(tmp_path / "home"), "--progress", "none", "pack", str(proj)]
    )
    assert code == 0, raw
    assert re.fullmatch(r"Model saved: sha256:[0-9a-f]{64}\n", stdout), stdout
    assert BAR not in raw and "packing" not in raw and "MiB" not in raw, raw
    assert Screen(160).feed(raw).lines() == [line for line in raw.replace("\r", "").splitlines() if line], raw


@pytest.mark.slow
def test_kit_plain_progress_goes_to_stderr_only(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    res = subprocess.run(
        [str(KIT), "--config", str(tmp_path / "home"), "pack", str(proj)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r"Model saved: sha256:[0-9a-f]{64}\n", res.stdout), res.stdout
    assert "packing model model:model: 30.0 MiB in " in res.stderr and BAR not in res.stderr
