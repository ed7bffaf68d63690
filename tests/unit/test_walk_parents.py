"""walk_parents: the one walk along model.path references that push, pull and unpack share."""

from __future__ import annotations

import pytest

from kitops.errors import KitfileError
from kitops.kitfile.model import Kitfile, Model
from kitops.modelkit.references import MAX_REFERENCE_DEPTH, walk_parents
from kitops.oci.reference import Reference


def kitfile(path: str) -> Kitfile:
    return Kitfile(model=Model(path=path))


class Registry:
    """Kitfiles by reference; records what was loaded, in order."""

    def __init__(self, parents: dict[str, str]) -> None:
        self.parents = parents  # str(reference) -> the model.path of that ModelKit
        self.loaded: list[str] = []

    def load(self, ref: Reference) -> tuple[Kitfile, str] | None:
        self.loaded.append(str(ref))
        if str(ref) not in self.parents:
            return None
        return kitfile(self.parents[str(ref)]), f"kit {ref}"


def test_nearest_first_lazily_and_with_what_load_kept() -> None:
    reg = Registry({"localhost/mid:v1": "base:v1", "localhost/base:v1": "weights.bin"})
    walk = walk_parents(kitfile("mid:v1"), "child:v1", reg.load)
    assert reg.loaded == []  # nothing read before it is asked for
    assert next(walk) == ("mid:v1", "kit localhost/mid:v1")
    assert reg.loaded == [
        "localhost/mid:v1"
    ]  # a caller acting on each (pull) does so before the next is read
    assert list(walk) == [("base:v1", "kit localhost/base:v1")]
    assert reg.loaded == ["localhost/mid:v1", "localhost/base:v1"]


def test_no_reference_no_walk() -> None:
    reg = Registry({})
    assert list(walk_parents(kitfile("weights.bin"), "child:v1", reg.load)) == []
    assert list(walk_parents(Kitfile(), "child:v1", reg.load)) == []
    assert reg.loaded == []


def test_load_returning_none_ends_the_walk() -> None:
    reg = Registry({"localhost/mid:v1": "base:v1"})  # base:v1 is not there
    assert list(walk_parents(kitfile("mid:v1"), "child:v1", reg.load)) == [("mid:v1", "kit localhost/mid:v1")]
    assert reg.loaded == ["localhost/mid:v1", "localhost/base:v1"]


def test_registry_applies_to_references_without_one() -> None:
    reg = Registry(
        {"reg.example.com/team/mid:v1": "other.example.com/base:v1", "other.example.com/base:v1": "w.bin"}
    )
    got = list(walk_parents(kitfile("team/mid:v1"), "child", reg.load, registry="reg.example.com"))
    assert [path for path, _kept in got] == ["team/mid:v1", "other.example.com/base:v1"]
    assert reg.loaded == ["reg.example.com/team/mid:v1", "other.example.com/base:v1"]


def test_a_cycle_fails_with_the_chain_from_the_root() -> None:
    reg = Registry({"localhost/b:v1": "a:v1", "localhost/a:v1": "b:v1"})
    with pytest.raises(KitfileError, match=r"^found cycle in modelkit references: \[a:v1=>b:v1=>a:v1\]$"):
        list(walk_parents(kitfile("b:v1"), "a:v1", reg.load))
    assert reg.loaded == ["localhost/b:v1"]  # found before the root is read again


def test_depth_limit_and_its_message() -> None:
    chain = {f"localhost/k{i}:v1": f"k{i + 1}:v1" for i in range(20)}
    reg = Registry(chain)
    walk = walk_parents(kitfile("k0:v1"), "root", reg.load)
    got = [next(walk) for _ in range(MAX_REFERENCE_DEPTH)]
    assert got[-1][0] == f"k{MAX_REFERENCE_DEPTH - 1}:v1"
    expected = "=>".join(["root", *(f"k{i}:v1" for i in range(MAX_REFERENCE_DEPTH))])
    with pytest.raises(KitfileError, match=rf"^reached maximum number of model references: \[{expected}\]$"):
        next(walk)
    # pull allows one ancestor fewer
    short = walk_parents(kitfile("k0:v1"), "root", Registry(chain).load, limit=MAX_REFERENCE_DEPTH - 1)
    assert len([next(short) for _ in range(MAX_REFERENCE_DEPTH - 1)]) == MAX_REFERENCE_DEPTH - 1
    with pytest.raises(KitfileError, match="reached maximum number of model references"):
        next(short)
