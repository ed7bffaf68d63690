"""ModelKit references in model.path: chains, merging, cycles and the depth limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitops import api
from kitops.errors import KitfileError
from kitops.kitfile.model import CodeEntry, Kitfile, Model, ModelPart, Package
from kitops.modelkit.references import merge_kitfiles
from tests.helpers import write_tree


def test_merge_rules() -> None:
    child = Kitfile(
        package=Package(name="child", authors=["c"]),
        model=Model(name="", path="parent:v1", parts=[ModelPart(path="lora")]),
        code=[CodeEntry(path="c")],
    )
    parent = Kitfile(
        package=Package(name="parent", version="2", authors=["p"]),
        model=Model(name="base", path="weights.bin", framework="pt", parts=[ModelPart(path="tok")]),
        code=[CodeEntry(path="p")],
    )
    merged = merge_kitfiles(child, parent)
    assert merged.package.name == "child" and merged.package.version == "2"
    assert merged.package.authors == ["c", "p"]
    assert merged.model is not None and merged.model.path == "weights.bin" and merged.model.name == "base"
    assert [p.path for p in merged.model.parts] == ["lora", "tok"]
    assert [c.path for c in merged.code] == ["c", "p"]


def _pack_ref(home: Path, tmp: Path, name: str, model_path: str) -> None:
    ctx = write_tree(
        tmp / name,
        {
            "Kitfile": f"manifestVersion: 1.0.0\nmodel: {{path: '{model_path}', parts: [{{path: {name}.bin}}]}}\n",
            f"{name}.bin": name,
        },
    )
    api.pack(ctx, tag=f"{name}:v1", home=home)


def test_chain_of_references_packs_and_unpacks(tmp_path: Path) -> None:
    home = tmp_path / "h"
    base = write_tree(
        tmp_path / "base", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: w.bin}\n", "w.bin": "weights"}
    )
    api.pack(base, tag="base:v1", home=home)
    _pack_ref(home, tmp_path, "mid", "base:v1")
    _pack_ref(home, tmp_path, "top", "mid:v1")
    out = tmp_path / "out"
    api.unpack("top:v1", target_dir=out, home=home)
    assert (out / "w.bin").read_text() == "weights"
    assert (out / "mid.bin").read_text() == "mid" and (out / "top.bin").read_text() == "top"


def test_cycle_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "h"
    base = write_tree(
        tmp_path / "a", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: w.bin}\n", "w.bin": "w"}
    )
    api.pack(base, tag="a:v1", home=home)
    _pack_ref(home, tmp_path, "b", "a:v1")
    # re-pointing a:v1 at a ModelKit that references b:v1 would close the loop a -> b -> a
    with pytest.raises(KitfileError, match=r"cycle in modelkit references: \[a:v1=>b:v1=>a:v1\]"):
        _pack_ref(home, tmp_path, "a", "b:v1")


def test_missing_reference_has_a_pull_hint(tmp_path: Path) -> None:
    ctx = write_tree(tmp_path / "x", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: 'ghost:v1'}\n"})
    with pytest.raises(KitfileError) as err:
        api.pack(ctx, tag="x:v1", home=tmp_path / "h")
    assert "kit pull ghost:v1" in (err.value.hint or "")


def test_parent_reference_checks_cycles_limit_and_defaults_registry() -> None:
    from kitops.modelkit.references import parent_reference

    kf = Kitfile(model=Model(path="team/base:v1"))
    assert parent_reference(Kitfile(model=Model(path="w.bin")), ["root"]) is None
    path, ref = parent_reference(kf, ["root"], registry="reg.example.com:5000")  # type: ignore[misc]
    assert path == "team/base:v1" and str(ref) == "reg.example.com:5000/team/base:v1"
    assert parent_reference(kf, ["root"])[1].registry == "localhost"  # type: ignore[index]
    with pytest.raises(
        KitfileError, match=r"found cycle in modelkit references: \[root=>team/base:v1=>team/base:v1\]"
    ):
        parent_reference(kf, ["root", "team/base:v1"])
    with pytest.raises(KitfileError, match="reached maximum number of model references"):
        parent_reference(kf, [f"r{i}" for i in range(11)])
    assert parent_reference(kf, [f"r{i}" for i in range(10)]) is not None
    with pytest.raises(KitfileError, match="reached maximum number"):
        parent_reference(kf, [f"r{i}" for i in range(10)], limit=9)
