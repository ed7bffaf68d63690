"""The walks along model.path references that api.unpack and api.push make (all through walk_parents)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import NotFoundError
from tests.helpers import tree_files, write_tree


def _family(tmp: Path, home: Path) -> None:
    """base:v1 <- mid:v1 <- top:v1, each adding one model part."""
    api.pack(
        write_tree(tmp / "base", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: w.bin}\n", "w.bin": "w"}),
        tag="base:v1",
        home=home,
    )
    for name, parent in (("mid", "base:v1"), ("top", "mid:v1")):
        kitfile = f"manifestVersion: 1.0.0\nmodel: {{path: '{parent}', parts: [{{path: {name}.bin}}]}}\n"
        api.pack(
            write_tree(tmp / name, {"Kitfile": kitfile, f"{name}.bin": name}), tag=f"{name}:v1", home=home
        )


def test_local_unpack_announces_parents_nearest_first_and_unpacks_them_farthest_first(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    _family(tmp_path, home)
    with caplog.at_level(logging.INFO, logger="kitops.api"):
        api.unpack("top:v1", target_dir=tmp_path / "out", home=home)
    announced = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Unpacking referenced")]
    assert announced == ["Unpacking referenced modelkit mid:v1", "Unpacking referenced modelkit base:v1"]
    assert {k: v for k, v in tree_files(tmp_path / "out").items() if k != "Kitfile"} == {
        "w.bin": b"w",
        "mid.bin": b"mid",
        "top.bin": b"top",
    }


def test_unpack_without_model_layers_reads_no_parent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _family(tmp_path, home)
    api.remove("base:v1", home=home)  # a broken chain does not matter when no model layer is asked for
    api.unpack("top:v1", target_dir=tmp_path / "out", home=home, filters=["kitfile"])
    assert set(tree_files(tmp_path / "out")) == {"Kitfile"}
    with pytest.raises(NotFoundError, match=r"^model base:v1 not found$"):
        api.unpack("top:v1", target_dir=tmp_path / "out2", home=home)
