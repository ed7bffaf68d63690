"""Fixtures of the SDK tests: an isolated environment for every test, and the Kitfiles of the reference SDK's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def sdk_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own $KITOPS_HOME and a fresh current directory (so a developer's .env
    never leaks in); tests/conftest.py's isolated_user_state has already emptied HOME, the
    Docker config and the JOZU_*/credential variables."""
    home = tmp_path / "kitops-home"
    monkeypatch.setenv("KITOPS_HOME", str(home))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return home


@pytest.fixture()
def fixtures() -> dict[str, Path]:
    return {p.name: p for p in FIXTURES.iterdir() if p.is_file()}
