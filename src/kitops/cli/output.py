"""Terminal output for the CLI: log formatting and progress rendering. The only place that draws.

Results go to stdout; logs and progress go to stderr, so ``kit ... | jq`` and
``$(kit pack ...)`` see only results.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from kitops.cli.text import format_bytes

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

_PREFIX = {
    logging.DEBUG: "[DEBUG] ",
    logging.INFO: "[INFO ] ",
    logging.WARNING: "[WARN ] ",
    logging.ERROR: "[ERROR] ",
    logging.CRITICAL: "[ERROR] ",
}
TRACE = 5
LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


class KitLogFormatter(logging.Formatter):
    """The reference's shape: no prefix for info at level info, ``[WARN ] ``-style prefixes otherwise."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if msg:
            msg = msg[0].upper() + msg[1:]
        if record.exc_info and self.level <= logging.DEBUG:
            msg += "\n" + self.formatException(record.exc_info)
        if self.level == logging.INFO and record.levelno == logging.INFO:
            return msg
        return _PREFIX.get(record.levelno, "[TRACE] ") + msg


def setup_logging(level: int, stream: TextIO | None = None) -> None:
    logging.addLevelName(TRACE, "TRACE")
    root = logging.getLogger("kitops")
    for h in list(root.handlers):
        if getattr(h, "_kit_cli", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KitLogFormatter(level))
    handler._kit_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


PROGRESS_INTERVAL = 5.0
"""Seconds between two plain (non-TTY) progress lines for one unit of work. A unit that takes less
prints only its end line; a longer one a line this often, even while no bytes move."""


def _short_key(key: str) -> str:
    return key if len(key) <= 40 else key[:19] + "…" + key[-20:]


def _rate(bytes_per_second: float) -> str:
    if bytes_per_second >= 1e6:
        return f"{bytes_per_second / 1e6:.0f} MB/s"
    if bytes_per_second >= 1e3:
        return f"{bytes_per_second / 1e3:.0f} kB/s"
    return f"{bytes_per_second:.0f} B/s"


@dataclass
class _Unit:
    """One unit of work of a :class:`PlainProgress`.

    ``shown`` and ``shown_done``: when its last line fell due (its begin, at first), and its bytes then.
    """

    action: str
    total: int | None
    start: float
    done: int = 0
    shown: float = 0.0
    shown_done: int = 0


class PlainProgress:
    """Lines for logs and CI (no TTY): one per finished unit of work and, while one runs longer than
    :data:`PROGRESS_INTERVAL`, one every interval with bytes done / total, percent and current rate.

    Lines fall due in :meth:`advance` (called from many worker threads; one lock guards the state
    and the writes). Used as a context manager, a background thread also prints the lines of
    stalled units, which get no ``advance`` calls. ``clock`` (seconds, monotonic) is injectable,
    so tests drive time without sleeping.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self._stream = stream or sys.stderr
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._units: dict[str, _Unit] = {}
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> PlainProgress:
        self._stopped.clear()
        self._ticker = threading.Thread(target=self._tick_loop, name="kit-progress", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None

    def begin(self, key: str, action: str, total: int | None) -> None:
        now = self._clock()
        with self._lock:
            self._units[key] = _Unit(action, total, now, shown=now)

    def advance(self, key: str, nbytes: int) -> None:
        now = self._clock()
        with self._lock:
            unit = self._units.get(key)
            if unit is None:
                unit = self._units[key] = _Unit("", None, now, shown=now)
            unit.done += nbytes
            self._show_if_due(key, unit, now)

    def end(self, key: str, error: BaseException | None = None) -> None:
        now = self._clock()
        with self._lock:
            unit = self._units.pop(key, None) or _Unit("", None, now)
            if error is not None:
                return
            secs = max(now - unit.start, 1e-6)
            speed = f" ({unit.done / secs / 1e6:.0f} MB/s)" if unit.done >= (1 << 20) else ""
            self._write(f"{unit.action} {_short_key(key)}: {format_bytes(unit.done)} in {secs:.1f}s{speed}")

    def tick(self) -> float:
        """Print the lines that are due now; return the seconds until the next can be."""
        now = self._clock()
        with self._lock:
            for key, unit in self._units.items():
                self._show_if_due(key, unit, now)
            due = min((u.shown + self._interval for u in self._units.values()), default=now + self._interval)
        return max(due - now, 0.0)

    def _tick_loop(self) -> None:
        wait = self._interval
        while not self._stopped.wait(wait):
            wait = max(self.tick(), 0.05)

    def _show_if_due(self, key: str, unit: _Unit, now: float) -> None:
        span = now - unit.shown
        if span < self._interval:
            return
        rate = (unit.done - unit.shown_done) / max(span, 1e-6)
        unit.shown, unit.shown_done = now, unit.done
        amount = format_bytes(unit.done)
        if unit.total:
            amount += f" / {format_bytes(unit.total)} ({min(unit.done * 100 // unit.total, 100)}%)"
        self._write(f"{unit.action} {_short_key(key)}: {amount} {_rate(rate)}")

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


def _same_file(a: object, b: object) -> bool:
    """Whether two text streams write to the same place (the same object, or the same open file or terminal)."""
    if a is b:
        return True
    try:
        sa, sb = os.fstat(a.fileno()), os.fstat(b.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
        return False
    return (sa.st_dev, sa.st_ino, sa.st_rdev) == (sb.st_dev, sb.st_ino, sb.st_rdev)


class _ConsoleLines:
    """Stands in for a log handler's stream while bars are live: each whole line is printed through
    the bars' Console, which draws it above the bars and the bars again below it.

    Lines are soft-wrapped (left to the terminal), so a long digest stays one line when copied.
    Writes come under the handler's lock, and the Console has its own.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            done, _, self._pending = self._pending.rpartition("\n")
            self._print(done)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            text, self._pending = self._pending, ""
            self._print(text)

    def isatty(self) -> bool:
        return self._console.is_terminal

    def _print(self, text: str) -> None:
        from rich.text import Text

        self._console.print(Text(text), soft_wrap=True)


class RichProgress:
    """rich bars on stderr, one per unit of work (thread-safe: rich locks internally).

    While the bars are live, the log handlers that write to the same place as the bars (the
    ``kitops`` logger's and the root logger's) write through the bars' Console instead, so
    every log line lands on its own line above the bars and the bars' last state is drawn once.
    stdout is never touched: it carries only results.
    """

    def __init__(
        self, fancy: bool = False, stream: TextIO | None = None, *, console: Console | None = None
    ) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        if console is None:
            console = Console(stderr=True) if stream is None else Console(file=stream)
        self._console = console
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=None if fancy else 30),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            redirect_stdout=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()
        self._rerouted: list[tuple[logging.StreamHandler[Any], Any, _ConsoleLines]] = []

    def __enter__(self) -> RichProgress:
        self._reroute_logging()
        try:
            self._progress.start()
        except BaseException:
            self._restore_logging()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._progress.stop()
        finally:
            self._restore_logging()

    def _reroute_logging(self) -> None:
        target = self._console.file
        for logger in (logging.getLogger("kitops"), logging.getLogger()):
            for handler in logger.handlers:
                if (
                    isinstance(handler, logging.StreamHandler)
                    and not isinstance(handler, logging.FileHandler)
                    and _same_file(handler.stream, target)
                ):
                    proxy = _ConsoleLines(self._console)
                    old = handler.setStream(proxy)
                    if old is not None:
                        self._rerouted.append((handler, old, proxy))

    def _restore_logging(self) -> None:
        rerouted, self._rerouted = self._rerouted, []
        for handler, old, proxy in rerouted:
            if handler.stream is proxy:  # unless someone has set another stream meanwhile
                handler.setStream(old)

    def begin(self, key: str, action: str, total: int | None) -> None:
        short = key.split(":", 1)[-1]
        short = short if len(short) <= 24 else short[:12] + "…" + short[-8:]
        with self._lock:
            task = self._tasks.get(key)
            if task is None:
                self._tasks[key] = self._progress.add_task(f"{action} {short}", total=total)
            else:  # the same unit again (a retry): reuse its bar rather than draw a second one
                self._progress.reset(task, total=total, description=f"{action} {short}")

    def advance(self, key: str, nbytes: int) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self._progress.advance(task, nbytes)

    def end(self, key: str, error: BaseException | None = None) -> None:
        with self._lock:
            task = self._tasks.get(key)
        if task is not None and error is None:
            for t in self._progress.tasks:
                if t.id == task:
                    self._progress.update(t.id, completed=t.total or t.completed)
