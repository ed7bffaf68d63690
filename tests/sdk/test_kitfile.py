"""The PyKitOps Kitfile: the behaviours its own test suite pins, and what we fixed
(dropped fields, sections kit rejects, unvalidated values, ``load()`` leaving the instance as it was)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from kitops.kitfile.load import load_kitfile_text
from kitops.modelkit import CodeEntry, DatasetEntry, DocsEntry, ModelPart, ModelSection, Package, PromptEntry
from kitops.modelkit.kitfile import Kitfile, KitfileValidationError

SECTION_FIXTURES = [
    "Kitfile_manifestVersion_only",
    "Kitfile_base",
    "Kitfile_base_thru_code",
    "Kitfile_base_thru_datasets",
    "Kitfile_base_thru_docs",
    "Kitfile_base_thru_model",
    "Kitfile_full",
]


def _yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


# ---- creation ------------------------------------------------------------------------------


def test_create_from_full_kitfile(fixtures: dict[str, Path]) -> None:
    kitfile = Kitfile(path=str(fixtures["Kitfile_full"]))
    assert kitfile.manifestVersion == "1.0"
    assert kitfile.package.name == "Titanic-Survivability-Predictor"
    assert kitfile.model.name == "titanic-survivability-predictor"


def test_null_kitfile_is_a_value_error(fixtures: dict[str, Path]) -> None:
    with pytest.raises(ValueError) as info:
        Kitfile(path=str(fixtures["kitfile_null"]))
    assert isinstance(info.value, ValidationError)


def test_missing_path_is_a_value_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "Kitfile"
    with pytest.raises(ValueError, match=r"Path '.*nope.*' does not exist\."):
        Kitfile(path=str(missing))


def test_empty_kitfiles_are_equal() -> None:
    assert Kitfile() == Kitfile()
    assert Kitfile("") == Kitfile()


def test_path_and_kwargs_together_is_a_value_error(fixtures: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match=r"Only provide 'path' or keyword arguments, not both\."):
        Kitfile(path=str(fixtures["Kitfile_full"]), manifestVersion="1.0")


def test_create_from_dicts() -> None:
    kitfile = Kitfile(
        manifestVersion="1.0",
        package={"name": "p", "version": "1", "authors": ["me"]},
        model={"name": "m", "path": "model", "framework": "joblib"},
    )
    assert kitfile.package.authors == ["me"]
    assert kitfile.model.framework == "joblib"


@pytest.mark.parametrize("name", SECTION_FIXTURES)
def test_round_trip_through_kwargs_and_model_validate(fixtures: dict[str, Path], name: str) -> None:
    data = _yaml(fixtures[name])
    assert Kitfile(**data).model_dump(exclude_unset=True) == {**_all_sections(), **data}
    assert Kitfile.model_validate(data) == Kitfile(**data)


def _all_sections() -> dict[str, Any]:
    """Computed fields ignore exclude_unset: the seven keys are always dumped, as in the reference."""
    return {
        "manifestVersion": "1.0.0",
        "package": {},
        "code": [],
        "datasets": [],
        "docs": [],
        "prompts": [],
        "model": {"path": ""},
    }


def test_every_kwarg_none_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        Kitfile(
            manifestVersion=None, package=None, code=None, datasets=None, docs=None, prompts=None, model=None
        )


@pytest.mark.parametrize("section", ["package", "model"])
def test_sections_given_as_strings_are_value_errors(section: str) -> None:
    with pytest.raises(ValueError):
        Kitfile(**{section: "a string"})


# ---- mutation -------------------------------------------------------------------------------


@pytest.fixture()
def full(fixtures: dict[str, Path]) -> Kitfile:
    return Kitfile(path=str(fixtures["Kitfile_full"]))


def test_manifest_version_setter(full: Kitfile) -> None:
    full.manifestVersion = "2.0"
    assert full.manifestVersion == "2.0"
    full.manifestVersion = 3  # numbers become text, as in the reference
    assert full.manifestVersion == "3"
    with pytest.raises(TypeError, match="Expected str"):
        full.manifestVersion = []  # type: ignore[assignment]


def test_section_setters_accept_dicts_and_mutation(full: Kitfile) -> None:
    full.package = {"name": "new", "authors": ["a"]}
    full.package.name = "newer"
    assert full.package == Package(name="newer", authors=["a"])
    full.model = {"path": "weights", "name": "w"}
    full.model.name = "w2"
    assert full.model.path == "weights" and full.model.name == "w2"
    full.code = [{"path": "src"}]
    full.code[0].path = "lib"
    full.datasets = [{"path": "d.csv", "name": "d"}]
    full.datasets[0].name = "train"
    full.docs = [{"path": "README.md"}, DocsEntry(path="docs")]
    full.docs[0].path = "README.rst"
    assert (full.code[0].path, full.datasets[0].name, full.docs[0].path) == ("lib", "train", "README.rst")
    full.prompts = [PromptEntry(path="p.txt")]
    assert full.prompts[0].path == "p.txt"


@pytest.mark.parametrize("section", ["package", "model", "code", "datasets", "docs", "prompts"])
def test_section_setters_reject_wrong_types(full: Kitfile, section: str) -> None:
    with pytest.raises(TypeError):
        setattr(full, section, 123)


def test_package_setter_message_names_package(full: Kitfile) -> None:  # the reference said ModelSection
    with pytest.raises(TypeError, match="Expected dict or Package"):
        full.package = 123  # type: ignore[assignment]


def test_invalid_dict_contents_are_validation_errors(full: Kitfile) -> None:
    with pytest.raises(ValidationError):
        full.code = [{"description": "no path"}]
    with pytest.raises(ValidationError):
        full.datasets = [{"path": "x", "name": 1}]
    with pytest.raises(ValidationError):
        full.package = {"authors": "me"}


def test_unknown_attribute_is_a_value_error(full: Kitfile) -> None:
    with pytest.raises(ValueError, match='"Kitfile" object has no field "foo"'):
        full.foo = 1


def test_list_items_of_any_type_are_validated(full: Kitfile) -> None:  # non-dicts were stored as given
    with pytest.raises(TypeError, match="CodeEntry"):
        full.code = ["src"]


def test_nested_assignment_is_validated(full: Kitfile) -> None:  # the reference only warned at dump time
    full.package.version = 3  # type: ignore[assignment]
    assert full.package.version == "3"
    with pytest.raises(ValidationError):
        full.package.name = 5  # type: ignore[assignment]


def test_path_objects_become_text(full: Kitfile) -> None:  # Path values made to_yaml fail
    full.code = [{"path": Path("src") / "train.py"}]
    assert full.code[0].path == "src/train.py"
    assert "src/train.py" in full.to_yaml()


def test_kit_checks_run_on_the_whole_kitfile() -> None:  # none of kit's checks were applied
    with pytest.raises(ValidationError, match="absolute paths are not supported"):
        Kitfile(model={"path": "/abs/model"})
    with pytest.raises(ValidationError, match="use the same path"):
        Kitfile(model={"path": "m"}, code=[{"path": "./m"}])
    with pytest.raises(ValidationError, match="invalid type"):
        Kitfile(model={"path": "m", "parts": [{"path": "p", "type": "has space"}]})


@pytest.mark.parametrize(
    ("section", "value", "problem"),
    [
        ("code", [{"path": "/abs"}], "absolute paths are not supported"),
        ("model", {"path": "/abs/model"}, "absolute paths are not supported"),
        ("model", {"path": "m", "parts": [{"path": "p", "type": "has space"}]}, "invalid type"),
        ("datasets", [{"path": "d.csv"}, {"path": "./d.csv"}], "use the same path"),
        ("docs", [{"path": "m"}], "use the same path"),
        ("prompts", [{"path": "../outside"}], "outside the context directory"),
    ],
)
def test_a_refused_assignment_leaves_the_kitfile_unchanged(section: str, value: Any, problem: str) -> None:
    """Pydantic stores an assigned value before the after-validator with kit's checks runs: the
    refused value used to stay in the Kitfile (and in to_yaml) although the assignment raised."""
    kitfile = Kitfile(package={"name": "demo"}, model={"path": "m"}, code=[{"path": "src"}])
    dumped, text, fields_set = kitfile.model_dump(), kitfile.to_yaml(), set(kitfile.model_fields_set)
    with pytest.raises(ValidationError, match=problem):
        setattr(kitfile, section, value)
    assert kitfile.model_dump() == dumped
    assert kitfile.to_yaml() == text
    assert kitfile.model_fields_set == fields_set


def test_the_reviewers_repro_of_a_refused_code_assignment() -> None:
    kitfile = Kitfile(model={"path": "m"})
    with pytest.raises(ValidationError):
        kitfile.code = [{"path": "/abs"}]
    assert kitfile.code == []
    assert "/abs" not in kitfile.to_yaml()
    kitfile.code = [{"path": "src"}]  # a valid assignment afterwards still works
    assert [c.path for c in kitfile.code] == ["src"]


def test_nested_changes_are_checked_before_anything_is_written(tmp_path: Path) -> None:
    """No setter sees ``kitfile.model.path = …`` or ``kitfile.code.append(…)``: to_yaml and save run kit's checks."""
    kitfile = Kitfile(model={"path": "m"})
    kitfile.model.path = "/etc/passwd"
    for suppress in (True, False):
        with pytest.raises(KitfileValidationError, match="absolute paths are not supported") as info:
            kitfile.to_yaml(suppress_empty_values=suppress)
        assert isinstance(info.value, ValueError)
    target = tmp_path / "Kitfile"
    with pytest.raises(KitfileValidationError, match="absolute paths"):
        kitfile.save(str(target), print=False)
    assert not target.exists()
    kitfile.model.path = "m"
    kitfile.code.append(CodeEntry(path="./m"))
    with pytest.raises(KitfileValidationError, match="use the same path"):
        kitfile.to_yaml()
    kitfile.code.clear()
    assert kitfile.to_yaml() == "manifestVersion: 1.0.0\nmodel:\n  path: m\n"


# ---- attribute access and output --------------------------------------------------------------


@pytest.mark.parametrize("name", SECTION_FIXTURES)
def test_sections_equal_the_yaml(fixtures: dict[str, Path], name: str) -> None:
    data = _yaml(fixtures[name])
    kitfile = Kitfile(path=str(fixtures[name]))
    assert kitfile.manifestVersion == data["manifestVersion"]
    dumped = kitfile.model_dump(exclude_unset=True)
    for section in ("package", "code", "datasets", "docs", "prompts", "model"):
        if section in data:
            assert dumped[section] == data[section], section
    assert kitfile == Kitfile(**data)


def test_full_output_fields(full: Kitfile) -> None:
    assert full.prompts == [
        PromptEntry(path="prompts/", description="System and user prompts for validation")
    ]
    assert [p.path for p in full.model.parts or []] == [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    assert full.model.parts and full.model.parts[0] == ModelPart(
        path="config.json", name="config", type="config"
    )
    assert full.model.parameters == {
        "param1": "val1",
        "param2": "val2",
        "items": ["list item 1", "list item 2"],
    }
    assert full.model.version == "1.0"


def test_to_yaml_is_stable_after_mutation(full: Kitfile) -> None:
    full.package.name = "changed"
    first = full.to_yaml()
    assert full.to_yaml() == first
    assert Kitfile(**yaml.safe_load(first)) == full


@pytest.mark.parametrize("name", SECTION_FIXTURES)
@pytest.mark.parametrize("suppress", [True, False])
def test_to_yaml_is_accepted_by_the_strict_loader(
    fixtures: dict[str, Path], name: str, suppress: bool
) -> None:
    """What to_yaml writes loads with kit's strict decoding; no empty prompts/code/model sections."""
    kitfile = Kitfile(path=str(fixtures[name]))
    text = kitfile.to_yaml(suppress_empty_values=suppress)
    core = load_kitfile_text(text)
    assert core.to_config_dict() == kitfile.to_core().to_config_dict()
    if not kitfile.prompts:
        assert "prompts" not in yaml.safe_load(text)


def test_empty_kitfile_yaml() -> None:
    assert Kitfile().to_yaml() == "manifestVersion: 1.0.0\n"  # the reference wrote six empty sections


def test_to_yaml_is_what_kit_writes(full: Kitfile) -> None:
    assert full.to_yaml() == full.to_core().to_yaml()
    assert full.to_yaml().startswith(
        'manifestVersion: "1.0"\npackage:\n  name: Titanic-Survivability-Predictor\n'
    )


# ---- what the reference dropped or mis-read -------------------------------------------------------


KIT_FIELDS = """\
manifestVersion: 1.0.0
package:
  name: demo
  version: 1.10
  license: Apache-2.0
  authors: [me]
model:
  path: model.bin
  format: gguf
  parts:
    - path: lora.bin
      license: MIT
      type: lora
datasets:
  - path: data.csv
    parameters:
      rows: 10
"""


def test_every_kit_field_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "Kitfile"
    path.write_text(KIT_FIELDS)
    kitfile = Kitfile(path)
    assert kitfile.package.license == "Apache-2.0"
    assert kitfile.package.version == "1.10"  # as written (the reference's YAML float gave "1.1")
    assert kitfile.model.format == "gguf"
    assert kitfile.model.parts and kitfile.model.parts[0].license == "MIT"
    assert kitfile.datasets[0].parameters == {"rows": 10}
    assert (
        load_kitfile_text(kitfile.to_yaml()).to_config_dict()
        == load_kitfile_text(KIT_FIELDS).to_config_dict()
    )


def test_unknown_keys_in_a_file_are_errors_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "Kitfile"
    path.write_text("manifestVersion: 1.0.0\npackage:\n  nmae: demo\n")
    with pytest.raises(KitfileValidationError) as info:
        Kitfile(path)
    assert isinstance(info.value, ValueError)
    assert "line 3" in str(info.value) and "did you mean 'name'" in str(info.value)


def test_unknown_keys_in_python_are_errors() -> None:
    with pytest.raises(ValidationError):
        Kitfile(manifestVersion="1", extra_section=[])
    with pytest.raises(ValidationError):
        Package(nmae="x")  # type: ignore[call-arg]


def test_yaml_syntax_error_has_position(tmp_path: Path) -> None:
    path = tmp_path / "Kitfile"
    path.write_text("manifestVersion: 1.0.0\npackage: [oops\n")
    with pytest.raises(yaml.YAMLError, match=r"Error parsing Kitfile at line \d+, column \d+"):
        Kitfile(path)


@pytest.mark.parametrize("text", ["", "# just a comment\n", "- a\n- list\n"])
def test_empty_or_non_mapping_files_are_value_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "Kitfile"
    path.write_text(text)
    with pytest.raises(ValueError):
        Kitfile(path)


def test_load_returns_the_data_and_updates_the_instance(fixtures: dict[str, Path]) -> None:
    kitfile = Kitfile()
    data = kitfile.load(fixtures["Kitfile_base"])
    assert data == _yaml(fixtures["Kitfile_base"])
    assert kitfile.package.name == "Titanic-Survivability-Predictor"  # the reference left self unchanged


def test_save_writes_the_given_path_and_print_is_deprecated(
    full: Kitfile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "Kitfile"
    target.parent.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full.save(str(target), print=False)
    assert Kitfile(target) == full
    with pytest.warns(DeprecationWarning):
        full.save(str(target))
    assert "Kitfile Contents..." in capsys.readouterr().out


def test_from_core_and_to_core_round_trip(full: Kitfile) -> None:
    assert Kitfile.from_core(full.to_core()) == full


def test_models_are_exported_from_kitops_modelkit() -> None:
    for model in (Package, CodeEntry, DatasetEntry, DocsEntry, ModelSection, PromptEntry, ModelPart):
        assert model.__module__ == "kitops.modelkit._pydantic_kit"
