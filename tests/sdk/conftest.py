"""Fixtures of the SDK tests: an isolated environment for every test, and the §8 Kitfiles."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ISOLATED = ("JOZU_USERNAME", "JOZU_PASSWORD", "JOZU_REGISTRY", "JOZU_NAMESPACE", "KITOPS_REGISTRY_USER",
            "KITOPS_REGISTRY_PASSWORD", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR")


@pytest.fixture(autouse=True)
def sdk_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own $KITOPS_HOME, an empty Docker config, no JOZU_* variables, and a
    fresh current directory (so a developer's .env or ~/.local/share/kitops never leaks in)."""
    for var in ISOLATED:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "kitops-home"
    monkeypatch.setenv("KITOPS_HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return home


@pytest.fixture()
def fixtures() -> dict[str, Path]:
    return {p.name: p for p in FIXTURES.iterdir() if p.is_file()}
