"""Small helpers shared by the tests: project trees, tar listings, running the CLI."""

from __future__ import annotations

import io
import os
import tarfile
import textwrap
from pathlib import Path

from click.testing import CliRunner, Result

from kitops.cli.main import cli
from kitops.store.layout import LocalStore


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = textwrap.dedent(content) if rel.endswith("Kitfile") else content
            path.write_text(content)
        else:
            path.write_bytes(content)
    return root


def layer_names(store: LocalStore, digest: str) -> list[str]:
    """Entry names of a stored (uncompressed) layer, in archive order."""
    with open(store.blob_path(digest), "rb") as fh, tarfile.open(fileobj=io.BytesIO(fh.read())) as tf:
        return [m.name for m in tf.getmembers()]


def kit(home: Path, *args: str, input: str | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(
        cli, ["--config", str(home), "--progress", "none", *args], input=input, catch_exceptions=False
    )


def tree_files(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = p.read_bytes()
    return out
