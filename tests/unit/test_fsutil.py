"""Atomic replacement and advisory locks: the two primitives shared files are written with."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kitops.fsutil import atomic_write, lock, locked


def test_atomic_write_replaces_the_file_with_the_mode_asked_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    target.write_bytes(b"old")
    atomic_write(target, b"new content", mode=0o600)
    assert target.read_bytes() == b"new content"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    atomic_write(target, b"again")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]


def test_a_failed_atomic_write_leaves_the_old_state_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a directory cannot be replaced by a file: the rename fails
    (target / "inside").write_bytes(b"kept")
    with pytest.raises(OSError):
        atomic_write(target, b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert (target / "inside").read_bytes() == b"kept"


def test_an_exclusive_lock_excludes_every_other_open_file_until_closed(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.touch()
    with open(path, "rb") as first, open(path, "rb") as second:
        assert lock(first)
        assert not lock(second, blocking=False)
        assert not lock(second.fileno(), shared=True, blocking=False)
        first.close()  # closing releases it
        assert lock(second, blocking=False)


def test_shared_locks_coexist_and_keep_an_exclusive_one_out(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.touch()
    with open(path, "rb") as a, open(path, "rb") as b, open(path, "rb") as c:
        assert lock(a, shared=True)
        assert lock(b, shared=True, blocking=False)
        assert not lock(c, blocking=False)


def test_locked_creates_the_lock_file_and_says_whether_it_got_the_lock(tmp_path: Path) -> None:
    path = tmp_path / ".store.lock"
    with locked(path) as got:
        assert got is True
        assert path.is_file()
        with locked(path, blocking=False) as other:
            assert other is False
    with locked(path, blocking=False) as after:
        assert after is True
