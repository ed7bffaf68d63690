"""``kit list --format``: table, json (with the size in bytes) and Go templates (any text, clear errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import kit, write_tree

KITFILE = """\
manifestVersion: 1.0.0
package:
  name: café-model
  authors: [Zoë Ångström]
model:
  path: model.bin
"""


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    proj = write_tree(tmp_path / "proj", {"model.bin": b"w" * 3000, "Kitfile": KITFILE})
    home = tmp_path / "home"
    res = kit(home, "pack", str(proj), "-t", "demo:v1")
    assert res.exit_code == 0, res.output
    return home


@pytest.mark.parametrize("fmt", ["yaml", "JSON ", "tabel", "-v", ""])
def test_unknown_format_is_a_usage_error_listing_the_formats(fmt: str, tmp_path: Path) -> None:
    for home in (tmp_path / "empty-home", tmp_path / "home"):  # refused even with nothing to list
        res = kit(home, "list", "--format", fmt)
        assert res.exit_code == 2 and res.stdout == ""
        error, hint = res.stderr.splitlines()[:2]
        assert error.startswith("error: ") and repr(fmt) in error
        assert hint.startswith("hint: ") and "table" in hint and "json" in hint and "{{.Repo}}" in hint


def test_json_gives_the_size_in_bytes_as_a_number(home: Path) -> None:
    items = json.loads(kit(home, "list", "--format", "json").stdout)
    assert len(items) == 1
    item = items[0]
    manifest = json.loads(kit(home, "inspect", "demo:v1").stdout)["manifest"]
    layer_bytes = sum(layer["size"] for layer in manifest["layers"])
    assert item["sizeBytes"] == layer_bytes and isinstance(item["sizeBytes"], int)
    assert layer_bytes == 4608 and item["size"] == "4.5 KiB"  # the Go kit's string, kept
    assert {"repo", "digest", "tags", "modelName", "size", "author"} <= set(item)
    assert kit(home, "list", "--format", "{{.SizeBytes}}").stdout == f"{layer_bytes}\n"


def test_template_keeps_non_ascii_text_and_values(home: Path) -> None:
    res = kit(home, "list", "--format", "{{.Repo}} → é {{.ModelName}} ({{.Author}}) ✓")
    assert res.exit_code == 0, res.output
    assert res.stdout == "demo → é café-model (Zoë Ångström) ✓\n"


def test_template_escapes_and_trim_markers(home: Path) -> None:
    assert kit(home, "list", "--format", r"{{.Repo}}\t{{.Tags}}\n").stdout == "demo\t[v1]\n"
    assert kit(home, "list", "--format", r"a\\b \x41\u00e9").stdout == "a\\b Aé\n"
    assert kit(home, "list", "--format", "{{.Repo}}  {{- .Tags -}}  !").stdout == "demo[v1]!\n"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("\\x", "invalid escape"),
        ("{{.Repo}} \\q", "invalid escape"),
        ("trailing \\", "invalid escape"),
        ("{{.Repo", "unclosed action"),
        ("{{.Repo}} {{", "unclosed action"),
        ("{{.Nope}}", "can't evaluate field Nope"),
        ("{{ .Repo | printf }}", "unsupported action"),
        ("{{}}", "unsupported action"),
    ],
)
def test_bad_template_is_a_clear_usage_error(template: str, message: str, home: Path, tmp_path: Path) -> None:
    for where in (home, tmp_path / "empty-home"):
        res = kit(where, "list", "--format", template)
        assert res.exit_code == 2 and res.stdout == "", res.output
        assert "unexpected error" not in res.stderr
        error, hint = res.stderr.splitlines()[:2]
        assert error.startswith("error: ") and message in error
        assert hint.startswith("hint: ") and "{{.Repo}}" in hint
