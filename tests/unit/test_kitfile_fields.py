"""One declaration per Kitfile field: every reader and writer follows the field table.

The table is what ``kitops.kitfile.fields.kitfile_fields`` reads from the dataclasses of
``kitops.kitfile.model``. For every section, the strict loader's accepted keys, the config
JSON's keys, the YAML writer's keys, the config reader, the Pydantic mirror and reference
merging must all agree with it; and a field declared once, in a subclass, reaches all of them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from kitops.errors import KitfileError
from kitops.kitfile import fields as kf
from kitops.kitfile.config import kitfile_from_config
from kitops.kitfile.fields import Kind, kitfile_fields
from kitops.kitfile.load import load_kitfile_text
from kitops.kitfile.model import Kitfile, LayerInfo, Model
from kitops.kitfile.yamlio import dump_yaml, load_yaml
from kitops.modelkit import _pydantic_kit as sdk
from kitops.modelkit.references import merge_kitfiles

BOOKKEEPING = {"layer", "has_parameters"}  # attributes that are never Kitfile keys
Wrap = Callable[[dict[str, Any]], dict[str, Any]]


def _sections(
    cls: type = Kitfile, wrap: Wrap = lambda m: m, where: str = "Kitfile"
) -> Iterator[tuple[type, Wrap, str]]:
    """Every section class reachable from ``cls``, with how to place a mapping at its spot and its name."""
    yield cls, wrap, where
    for spec in kitfile_fields(cls):
        sub = spec.key if where == "Kitfile" else f"{where}.{spec.key}"
        if spec.kind is Kind.SECTION:
            yield from _sections(spec.nested, lambda m, w=wrap, k=spec.key: w({k: m}), sub)
        elif spec.kind is Kind.ENTRIES:
            yield from _sections(spec.nested, lambda m, w=wrap, k=spec.key: w({k: [m]}), f"{sub}[0]")


SECTIONS = list(_sections())
IDS = [where for _cls, _wrap, where in SECTIONS]


def _full(cls: type, counter: list[int]) -> Any:
    """An instance of ``cls`` with every declared field non-empty and every text distinct (paths too)."""
    kwargs: dict[str, Any] = {}
    for spec in kitfile_fields(cls):
        counter[0] += 1
        name = f"{cls.__name__}-{spec.key}-{counter[0]}"
        if spec.kind is Kind.TEXT:
            kwargs[spec.attr] = name
        elif spec.kind is Kind.TEXTS:
            kwargs[spec.attr] = [name, name + "b"]
        elif spec.kind is Kind.VALUE:
            kwargs[spec.attr] = {"b": [1, 2.5, None], "a": name}
            if spec.presence:
                kwargs[spec.presence] = True
        elif spec.kind is Kind.SECTION:
            kwargs[spec.attr] = _full(spec.nested, counter)
        else:
            kwargs[spec.attr] = [_full(spec.nested, counter), _full(spec.nested, counter)]
    if kf.carries_layer(cls):
        kwargs["layer"] = LayerInfo("sha256:" + "1" * 64, "sha256:" + "2" * 64)
    return cls(**kwargs)


def _without_layers(obj: Any) -> Any:
    """A copy of a section tree without layer info (YAML and the Pydantic mirror never hold it)."""
    changes: dict[str, Any] = {"layer": None} if kf.carries_layer(type(obj)) else {}
    for spec in kitfile_fields(type(obj)):
        value = getattr(obj, spec.attr)
        if spec.kind is Kind.SECTION and value is not None:
            changes[spec.attr] = _without_layers(value)
        elif spec.kind is Kind.ENTRIES:
            changes[spec.attr] = [_without_layers(item) for item in value]
    return dataclasses.replace(obj, **changes)


def _check_keys(data: Any, cls: type, where: str, *, layers: bool) -> int:
    """Assert that every section of ``data`` has exactly the declared keys, in declaration order
    (then digest and diffId when ``layers``); the number of sections checked."""
    expected = [s.key for s in kitfile_fields(cls)] + (
        ["digest", "diffId"] if layers and kf.carries_layer(cls) else []
    )
    assert list(data) == expected, where
    checked = 1
    for spec in kitfile_fields(cls):
        if spec.kind is Kind.SECTION:
            checked += _check_keys(data[spec.key], spec.nested, f"{where}.{spec.key}", layers=layers)
        elif spec.kind is Kind.ENTRIES:
            checked += sum(
                _check_keys(item, spec.nested, f"{where}.{spec.key}", layers=layers)
                for item in data[spec.key]
            )
    return checked


FULL = _full(Kitfile, [0])


def test_sections_hold_only_declared_fields_and_bookkeeping() -> None:
    """An attribute added without a declaration would be silently left out of every file: refused."""
    for cls, _wrap, where in SECTIONS:
        attrs = [f.name for f in dataclasses.fields(cls) if f.name not in BOOKKEEPING]
        assert attrs == [s.attr for s in kitfile_fields(cls)], where
    assert len(SECTIONS) == 8  # Kitfile, package, model, model.parts, code, datasets, docs, prompts


def test_config_json_has_every_declared_key_in_order() -> None:
    data = json.loads(FULL.to_config_bytes())
    assert _check_keys(data, Kitfile, "config", layers=True) == 1 + 1 + 1 + 2 + 2 * 4


def test_yaml_has_every_declared_key_in_order() -> None:
    data, _lines = load_yaml(FULL.to_yaml())
    assert _check_keys(data, Kitfile, "yaml", layers=False) == 1 + 1 + 1 + 2 + 2 * 4


def test_readers_read_every_declared_field() -> None:
    assert load_kitfile_text(FULL.to_yaml()) == _without_layers(FULL)
    assert kitfile_from_config(FULL.to_config_bytes()) == FULL


@pytest.mark.parametrize(("cls", "wrap", "where"), SECTIONS, ids=IDS)
def test_loader_accepts_exactly_the_declared_keys(cls: type, wrap: Wrap, where: str) -> None:
    with pytest.raises(KitfileError) as info:
        load_kitfile_text(dump_yaml(wrap({"zzzzzzzz": 1})))
    [problem] = info.value.problems
    found = re.fullmatch(
        rf"line \d+: unknown field 'zzzzzzzz' in {re.escape(where)} \(known: (.*)\)", problem
    )
    assert found is not None, problem
    assert found.group(1).split(", ") == [s.key for s in kitfile_fields(cls)]


@pytest.mark.parametrize(("cls", "wrap", "where"), SECTIONS[1:], ids=IDS[1:])
def test_pydantic_mirror_has_exactly_the_declared_fields(cls: type, wrap: Wrap, where: str) -> None:
    mirror = sdk.mirror_of(cls)
    assert list(mirror.model_fields) == [s.key for s in kf.sdk_order(cls)], where
    assert set(mirror.model_fields) == {s.key for s in kitfile_fields(cls)}


def test_pydantic_kitfile_has_a_property_per_top_level_field() -> None:
    keys = [s.key for s in kf.sdk_order(Kitfile)]
    assert [f.alias for f in sdk.PydanticKitfile.model_fields.values()] == keys
    assert list(sdk.PydanticKitfile().model_dump()) == keys
    assert {s.key for s in kitfile_fields(Kitfile)} == set(keys)


def test_pydantic_mirror_round_trips_every_field() -> None:
    mirrored = sdk.PydanticKitfile.from_core(FULL)
    assert mirrored.to_core() == _without_layers(FULL)
    data = mirrored.model_dump(mode="json")
    assert data["model"]["parts"][1]["license"] == FULL.model.parts[1].license


def test_merge_takes_every_field_from_the_parent_when_the_child_has_none() -> None:
    child = Kitfile(model=Model(path="parent:v1"))
    merged = merge_kitfiles(child, FULL)
    assert merged == dataclasses.replace(
        FULL, model=dataclasses.replace(FULL.model, parameters=None, has_parameters=False, layer=None)
    )
    assert merge_kitfiles(FULL, Kitfile()) == FULL


def test_a_default_that_is_not_empty_is_refused() -> None:
    @dataclass
    class Bad:
        name: str = field(default="x", metadata=kf.text())

    with pytest.raises(TypeError, match="'name': the default of a TEXT field is its empty value"):
        kitfile_fields(Bad)


# ---- a new field is one declaration ------------------------------------------------------
# The subclasses stand for an edit of Model and Kitfile: each new field below is the one line
# such an edit adds. Re-declaring ``model`` only points the subclass at WideModel.


@dataclass
class WideModel(Model):
    quantization: str = field(default="", metadata=kf.text())


@dataclass
class WideKitfile(Kitfile):
    model: WideModel | None = field(default=None, metadata=kf.section(WideModel, sdk_after="prompts"))
    artifact_type: str = field(default="", metadata=kf.text("artifactType"))


WIDE_YAML = """\
manifestVersion: 1.0.0
model:
  path: w.gguf
  quantization: int8
artifactType: application/vnd.example
"""


def _wide() -> WideKitfile:
    kitfile = load_kitfile_text(WIDE_YAML, into=WideKitfile)
    assert isinstance(kitfile, WideKitfile) and isinstance(kitfile.model, WideModel)
    return kitfile


def test_new_field_is_loaded_strictly() -> None:
    kitfile = _wide()
    assert (kitfile.model.quantization, kitfile.artifact_type) == ("int8", "application/vnd.example")
    with pytest.raises(KitfileError) as info:
        load_kitfile_text(WIDE_YAML.replace("quantization", "quantisation"), into=WideKitfile)
    assert info.value.problems == [
        "line 4: unknown field 'quantisation' in model (did you mean 'quantization'?)"
    ]
    with pytest.raises(KitfileError):  # the plain Kitfile does not know it
        load_kitfile_text(WIDE_YAML)


def test_new_field_is_written_and_read_back() -> None:
    kitfile = _wide()
    assert kitfile.to_yaml() == WIDE_YAML
    kitfile.model.layer = LayerInfo("sha256:aa", "sha256:bb")
    config = kitfile.to_config_bytes()
    assert config == (
        b'{"manifestVersion":"1.0.0","package":{},"model":{"path":"w.gguf","quantization":"int8",'
        b'"digest":"sha256:aa","diffId":"sha256:bb"},"artifactType":"application/vnd.example"}'
    )
    assert kitfile_from_config(config, into=WideKitfile) == kitfile


def test_new_field_is_in_the_pydantic_mirror() -> None:
    kitfile = _wide()
    mirror = sdk.kitfile_model(WideKitfile, "WideKitfileModel")
    data = sdk.core_to_data(kitfile)
    assert data["model"]["quantization"] == "int8" and data["artifactType"] == "application/vnd.example"
    mirrored = mirror.model_validate(data)
    assert list(mirrored.model_dump()) == [
        "manifestVersion",
        "package",
        "code",
        "datasets",
        "docs",
        "prompts",
        "model",
        "artifactType",
    ]
    assert mirrored.model.quantization == "int8"
    assert sdk.to_core(mirrored, WideKitfile) == kitfile
    mirrored.model.quantization = "fp16"  # validated on assignment like the other fields
    assert sdk.to_core(mirrored, WideKitfile).model.quantization == "fp16"
    with pytest.raises(ValidationError, match="quantisation"):
        sdk.mirror_of(WideModel).model_validate({"path": "w", "quantisation": "int8"})


def test_new_field_is_merged_from_a_parent() -> None:
    parent = _wide()
    child = WideKitfile(model=WideModel(path="parent:v1"))
    merged = merge_kitfiles(child, parent)
    assert isinstance(merged.model, WideModel)
    assert (merged.model.quantization, merged.model.path) == ("int8", "w.gguf")
    assert merged.artifact_type == "application/vnd.example"
