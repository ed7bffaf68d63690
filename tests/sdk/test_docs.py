"""docs/sdk.md: every ```python block runs, top to bottom, against the real registry."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.realregistry import Registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"
pytestmark = [pytest.mark.registry, pytest.mark.slow]


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, code) of every fenced ```python block."""
    blocks = []
    for m in re.finditer(r"^```python\n(.*?)^```$", text, flags=re.S | re.M):
        blocks.append((text.count("\n", 0, m.start()) + 2, m.group(1)))
    return blocks


def test_the_page_has_examples() -> None:
    assert len(python_blocks(DOC.read_text())) >= 8


def test_sdk_page_examples_run(plain_registry: Registry, tmp_path: Path) -> None:
    """The blocks share one interpreter (a fresh process: MLflow, logging and env stay isolated)."""
    parts = []
    for line, code in python_blocks(DOC.read_text()):
        parts.append(f"# ---- docs/sdk.md line {line}\n{code}")
    script = tmp_path / "sdk_examples.py"
    script.write_text("\n".join(parts))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOZU_", "KITOPS_", "MLFLOW_"))}
    env.update(
        REGISTRY=plain_registry.host,
        KITOPS_HOME=str(tmp_path / "home"),
        MLFLOW_DISABLE_TELEMETRY="true",
        DOCKER_CONFIG=str(tmp_path / "docker"),
        PYTHONPATH=str(DOC.parents[1] / "src"),
    )
    cwd = tmp_path / "cwd"  # made empty by the autouse fixture
    proc = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    out = proc.stdout
    assert "Kitfile model.safetensors" in out
    assert "learning_rate: 0.01" in out
    assert "pulled" in out and "sha256:" in out
    assert "not found" in out  # the error examples printed their messages
    assert (tmp_path / "home" / "credentials.json").exists()
