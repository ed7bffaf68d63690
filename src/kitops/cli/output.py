"""Terminal output for the CLI: log formatting and progress rendering. The only place that draws.

Results go to stdout; logs and progress go to stderr, so ``kit ... | jq`` and
``$(kit pack ...)`` see only results.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from kitops.modelkit.listing import format_bytes

_PREFIX = {
    logging.DEBUG: "[DEBUG] ",
    logging.INFO: "[INFO ] ",
    logging.WARNING: "[WARN ] ",
    logging.ERROR: "[ERROR] ",
    logging.CRITICAL: "[ERROR] ",
}
TRACE = 5
LEVELS = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


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


@dataclass(frozen=True)
class Streams:
    """Where one CLI run reads and writes, carried on the click context (``obj``).

    ``None`` means the process's stream, looked up when it is used, so the ``kit`` command
    behaves exactly as with plain ``sys.stdin``/``sys.stdout``/``sys.stderr``. An in-process
    caller (``kitops.cli.kit._run``) passes its own streams instead of redirecting the process's,
    so concurrent runs never see each other's output. ``logging``, when given, replaces
    :func:`setup_logging`: it is called with the run's level and sets up logging for that run only.
    """

    stdin: TextIO | None = None
    stdout: TextIO | None = None
    stderr: TextIO | None = None
    logging: Callable[[int], None] | None = None

    @property
    def inp(self) -> TextIO:
        return self.stdin if self.stdin is not None else sys.stdin

    @property
    def out(self) -> TextIO:
        return self.stdout if self.stdout is not None else sys.stdout

    @property
    def err(self) -> TextIO:
        return self.stderr if self.stderr is not None else sys.stderr


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


class PlainProgress:
    """One line per finished unit of work, for logs and CI (no TTY)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._state: dict[str, tuple[str, int | None, float, int]] = {}

    def begin(self, key: str, action: str, total: int | None) -> None:
        with self._lock:
            self._state[key] = (action, total, time.monotonic(), 0)

    def advance(self, key: str, nbytes: int) -> None:
        with self._lock:
            action, total, start, done = self._state.get(key, ("", None, time.monotonic(), 0))
            self._state[key] = (action, total, start, done + nbytes)

    def end(self, key: str, error: BaseException | None = None) -> None:
        with self._lock:
            action, _total, start, done = self._state.pop(key, ("", None, time.monotonic(), 0))
            if error is not None:
                return
            secs = max(time.monotonic() - start, 1e-6)
            rate = done / secs / 1e6
            short = key if len(key) <= 40 else key[:19] + "…" + key[-20:]
            speed = f" ({rate:.0f} MB/s)" if done >= (1 << 20) else ""
            print(f"{action} {short}: {format_bytes(done)} in {secs:.1f}s{speed}", file=self._stream)


class RichProgress:
    """rich bars on stderr, one per unit of work (thread-safe: rich locks internally)."""

    def __init__(self, fancy: bool = False, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=None if fancy else 30),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True) if stream is None else Console(file=stream),
            transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def begin(self, key: str, action: str, total: int | None) -> None:
        short = key.split(":", 1)[-1]
        short = short if len(short) <= 24 else short[:12] + "…" + short[-8:]
        with self._lock:
            self._tasks[key] = self._progress.add_task(f"{action} {short}", total=total)

    def advance(self, key: str, nbytes: int) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self._progress.advance(task, nbytes)  # type: ignore[arg-type]

    def end(self, key: str, error: BaseException | None = None) -> None:
        with self._lock:
            task = self._tasks.get(key)
        if task is not None and error is None:
            for t in self._progress.tasks:
                if t.id == task:
                    self._progress.update(t.id, completed=t.total or t.completed)
