"""The Pydantic models of the PyKitOps Kitfile (``kitops.modelkit._pydantic_kit``).

Same names, fields, defaults, aliases and dump shape as PyKitOps 1.5.0 (spec §4), so code
written against it keeps working. What is deliberately different (spec §10):

* **Nothing is dropped (W17).** Every field kit supports is modelled: ``package.license``,
  ``model.format``, ``model.parts[].license``, ``datasets[].parameters``. Unknown keys are
  errors, in files (reported by our strict loader with their line) and in Python.
* **Validation does not stop at construction (W19).** ``validate_assignment`` is on, list
  items of every type are validated (not only dicts), ``Path`` values become strings, and
  kit's own checks (absolute or duplicate paths, model-part types) run on the whole
  Kitfile, through :func:`kitops.kitfile.validate.find_problems`: one validator, not two.
  An assignment kit's checks refuse leaves the Kitfile as it was, and ``to_yaml``/``save``
  run the checks again, so changes inside a section (``kitfile.model.path = "/abs"``) are
  caught before anything is written.
* **One source of truth.** A Kitfile file is parsed by :mod:`kitops.kitfile.load`, the
  parser ``kit pack`` uses; YAML is written by converting to :class:`kitops.kitfile.model.Kitfile`
  (:meth:`PydanticKitfile.to_core`), so what ``to_yaml`` writes is what kit writes.
"""

from __future__ import annotations

import copy
import os
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from kitops.errors import KitfileError

if TYPE_CHECKING:
    from kitops.kitfile import model as core

__all__ = [
    "BasePathModel",
    "CodeEntry",
    "DatasetEntry",
    "DocsEntry",
    "KitfileValidationError",
    "ModelPart",
    "ModelSection",
    "Package",
    "PromptEntry",
    "PydanticKitfile",
]

# Unknown keys are errors (kit decodes Kitfiles strictly); assignments are validated too.
_STRICT = ConfigDict(extra="forbid", validate_assignment=True)


class KitfileValidationError(KitfileError, ValueError):
    """A Kitfile that kit would refuse; a ``ValueError`` too, as the reference's errors were."""


class BasePathModel(BaseModel):
    """An entry that has a ``path`` (relative to the directory that is packed)."""

    model_config = _STRICT

    path: str

    @field_validator("path", mode="before")
    @classmethod
    def _path_to_str(cls, value: Any) -> Any:
        # The reference accepted Path objects and then failed in to_yaml (W19): store text.
        if isinstance(value, PurePath):
            return value.as_posix()
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        return value


class Package(BaseModel):
    """General information about the project: ``package`` in the Kitfile."""

    model_config = _STRICT

    name: str | None = ""
    version: str | None = Field(default="", examples=["1.2.3", "0.13a"], coerce_numbers_to_str=True)
    description: str | None = ""
    license: str | None = ""  # kit's package.license (dropped by the reference)
    authors: list[str] | None = []


class CodeEntry(BasePathModel):
    """One ``code`` entry."""

    description: str | None = ""
    license: str | None = ""


class DatasetEntry(BasePathModel):
    """One ``datasets`` entry; ``parameters`` is any YAML value (dropped by the reference)."""

    name: str | None = ""
    description: str | None = ""
    license: str | None = ""
    parameters: Any = None


class DocsEntry(BasePathModel):
    """One ``docs`` entry."""

    description: str | None = ""


class PromptEntry(BasePathModel):
    """One ``prompts`` entry (packed as a code layer with the prompt subtype)."""

    description: str | None = ""


class ModelPart(BasePathModel):
    """One ``model.parts`` entry (e.g. LoRA weights); ``license`` was dropped by the reference."""

    name: str | None = ""
    type: str | None = ""
    license: str | None = ""


class ModelSection(BasePathModel):
    """The ``model`` section. ``path`` may also be a ModelKit reference (``registry/repo:tag``)."""

    name: str | None = ""
    framework: str | None = Field(default="", examples=["tensorflow", "pytorch", "onnx", "TensorRT"])
    format: str | None = ""  # kit's model.format (dropped by the reference)
    version: str | None = Field(default="", examples=["0.0a13", "1.8.0"], coerce_numbers_to_str=True)
    description: str | None = ""
    license: str | None = ""
    parts: list[ModelPart] | None = []
    parameters: Any = Field(
        default=None,
        description=(
            "Any YAML value. kit stores a JSON-compatible form: numbers in decimal (0xFF -> 255), "
            "maps sorted by key."
        ),
    )


def _empty_model() -> ModelSection:
    return ModelSection(path="")


def _validated_items(value: Any, item_type: type[BaseModel]) -> list[Any]:
    """A list whose items are ``item_type`` instances or dicts (validated); anything else is a TypeError."""
    if not isinstance(value, list):
        raise TypeError(f"Expected list of {item_type.__name__} or dict, got {type(value)}")
    out = []
    for item in value:
        if isinstance(item, item_type):
            out.append(item)
        elif isinstance(item, dict):
            out.append(item_type.model_validate(item))
        else:  # the reference stored such items unvalidated (W19)
            raise TypeError(f"Expected list of {item_type.__name__} or dict, got an item of {type(item)}")
    return out


class PydanticKitfile(BaseModel):
    """Storage fields (``prop_*``, aliased to the Kitfile keys) behind seven validated properties.

    The public properties ``manifestVersion``, ``package``, ``code``, ``datasets``, ``docs``,
    ``prompts`` and ``model`` are computed fields, so ``model_dump`` always has these seven
    keys, in this order, as in PyKitOps 1.5.0.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    prop_manifestVersion: str = Field(default="1.0.0", alias="manifestVersion", exclude=True,
                                      coerce_numbers_to_str=True)
    prop_package: Package = Field(default_factory=Package, alias="package", exclude=True)
    prop_code: list[CodeEntry] = Field(default_factory=list, alias="code", exclude=True)
    prop_datasets: list[DatasetEntry] = Field(default_factory=list, alias="datasets", exclude=True)
    prop_docs: list[DocsEntry] = Field(default_factory=list, alias="docs", exclude=True)
    prop_prompts: list[PromptEntry] = Field(default_factory=list, alias="prompts", exclude=True)
    prop_model: ModelSection = Field(default_factory=_empty_model, alias="model", exclude=True)

    @model_validator(mode="after")
    def _kit_checks(self) -> PydanticKitfile:
        """kit's own Kitfile checks (absolute/duplicate paths, part types), from the one validator."""
        from kitops.kitfile.validate import find_problems

        problems = find_problems(self.to_core())
        if problems:
            raise ValueError("errors while validating Kitfile: " + "; ".join(problems))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        cls = type(self)
        if name in cls.model_fields:
            self._assign(name, value)
            return
        if not name.startswith("_") and not isinstance(getattr(cls, name, None), property):
            raise ValueError(f'"{cls.__name__}" object has no field "{name}"')
        super().__setattr__(name, value)

    def _assign(self, name: str, value: Any) -> None:
        """Validate and store one storage field; a failed assignment leaves the Kitfile as it was.

        Pydantic stores the new value before the model's after-validator (:meth:`_kit_checks`)
        runs, so when kit's checks refuse it the previous state is put back.
        """
        saved_dict = dict(self.__dict__)
        saved_fields_set = set(self.__pydantic_fields_set__)
        try:
            super().__setattr__(name, value)
        except BaseException:
            object.__setattr__(self, "__dict__", saved_dict)
            object.__setattr__(self, "__pydantic_fields_set__", saved_fields_set)
            raise

    def _raise_for_kit_problems(self) -> None:
        """Run kit's checks on the whole Kitfile as it is now (nested changes included).

        Raises :class:`KitfileValidationError` listing every problem. ``to_yaml`` and ``save``
        call this, so a Kitfile kit would refuse is never written.
        """
        from kitops.kitfile.validate import find_problems

        problems = find_problems(self.to_core())
        if problems:
            raise KitfileValidationError("errors while validating Kitfile", problems=problems)

    # ---- the seven properties -----------------------------------------------------------
    @computed_field  # type: ignore[prop-decorator]
    @property
    def manifestVersion(self) -> str:  # the Kitfile key
        return self.prop_manifestVersion

    @manifestVersion.setter
    def manifestVersion(self, value: Any) -> None:
        if not isinstance(value, str | int | float):
            raise TypeError(f"Expected str, got {type(value)}")
        self.prop_manifestVersion = str(value)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def package(self) -> Package:
        return self.prop_package

    @package.setter
    def package(self, value: Any) -> None:
        if not isinstance(value, dict | Package):
            raise TypeError(f"Expected dict or Package, got {type(value)}")  # the reference said ModelSection (W20)
        self.prop_package = Package.model_validate(value)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def code(self) -> list[CodeEntry]:
        return self.prop_code

    @code.setter
    def code(self, value: Any) -> None:
        self.prop_code = _validated_items(value, CodeEntry)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def datasets(self) -> list[DatasetEntry]:
        return self.prop_datasets

    @datasets.setter
    def datasets(self, value: Any) -> None:
        self.prop_datasets = _validated_items(value, DatasetEntry)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def docs(self) -> list[DocsEntry]:
        return self.prop_docs

    @docs.setter
    def docs(self, value: Any) -> None:
        self.prop_docs = _validated_items(value, DocsEntry)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def prompts(self) -> list[PromptEntry]:
        return self.prop_prompts

    @prompts.setter
    def prompts(self, value: Any) -> None:
        self.prop_prompts = _validated_items(value, PromptEntry)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def model(self) -> ModelSection:
        return self.prop_model

    @model.setter
    def model(self, value: Any) -> None:
        if not isinstance(value, dict | ModelSection):
            raise TypeError(f"Expected dict or ModelSection, got {type(value)}")
        self.prop_model = ModelSection.model_validate(value)

    # ---- conversion to and from the core Kitfile ----------------------------------------
    def to_core(self) -> core.Kitfile:
        """This Kitfile as :class:`kitops.kitfile.model.Kitfile`, what ``api.pack`` and the YAML writer use.

        An untouched ``model`` (``path: ''`` and nothing else) means "no model section",
        so a Kitfile built from ``package`` alone does not pack the whole directory as its model.
        """
        from kitops.kitfile import model as core

        p = self.prop_package
        out = core.Kitfile(
            manifest_version=self.prop_manifestVersion,
            package=core.Package(name=p.name or "", version=p.version or "", description=p.description or "",
                                 license=p.license or "", authors=[a for a in p.authors or [] if a is not None]),
        )
        m = self.prop_model
        if not _is_empty_model(m):
            out.model = core.Model(
                name=m.name or "", path=m.path, license=m.license or "", framework=m.framework or "",
                format=m.format or "", version=m.version or "", description=m.description or "",
                parts=[core.ModelPart(name=x.name or "", path=x.path, license=x.license or "", type=x.type or "")
                       for x in _validated_items(m.parts or [], ModelPart)],
                parameters=copy.deepcopy(m.parameters), has_parameters=m.parameters is not None,
            )
        out.code = [core.CodeEntry(path=c.path, description=c.description or "", license=c.license or "")
                    for c in _validated_items(self.prop_code, CodeEntry)]
        out.datasets = [
            core.DatasetEntry(name=d.name or "", path=d.path, description=d.description or "",
                              license=d.license or "", parameters=copy.deepcopy(d.parameters),
                              has_parameters=d.parameters is not None)
            for d in _validated_items(self.prop_datasets, DatasetEntry)
        ]
        out.docs = [core.DocsEntry(path=d.path, description=d.description or "")
                    for d in _validated_items(self.prop_docs, DocsEntry)]
        out.prompts = [core.PromptEntry(path=x.path, description=x.description or "")
                       for x in _validated_items(self.prop_prompts, PromptEntry)]
        return out

    @classmethod
    def from_core(cls, kitfile: core.Kitfile) -> Any:
        """Build from a core Kitfile (e.g. ``kitops.api.info(...)``); only non-empty values count as set."""
        return cls.model_validate(core_to_data(kitfile))


def _is_empty_model(m: ModelSection) -> bool:
    return not (m.path or m.name or m.framework or m.format or m.version or m.description or m.license
                or m.parts or m.parameters is not None)


def _non_empty(obj: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k in keys if (v := getattr(obj, k))}


def core_to_data(kitfile: core.Kitfile) -> dict[str, Any]:
    """A core Kitfile as the alias-keyed dict the Pydantic models validate (empty values left out)."""
    data: dict[str, Any] = {"manifestVersion": kitfile.manifest_version}
    pkg = _non_empty(kitfile.package, ("name", "version", "description", "license"))
    if kitfile.package.authors:
        pkg["authors"] = list(kitfile.package.authors)
    if pkg:
        data["package"] = pkg
    if kitfile.code:
        data["code"] = [{"path": c.path, **_non_empty(c, ("description", "license"))} for c in kitfile.code]
    if kitfile.datasets:
        data["datasets"] = [
            {"path": d.path, **_non_empty(d, ("name", "description", "license")),
             **({"parameters": copy.deepcopy(d.parameters)} if d.parameters is not None else {})}
            for d in kitfile.datasets
        ]
    if kitfile.docs:
        data["docs"] = [{"path": d.path, **_non_empty(d, ("description",))} for d in kitfile.docs]
    if kitfile.prompts:
        data["prompts"] = [{"path": p.path, **_non_empty(p, ("description",))} for p in kitfile.prompts]
    if kitfile.model is not None:
        m = kitfile.model
        md: dict[str, Any] = {"path": m.path,
                              **_non_empty(m, ("name", "framework", "format", "version", "description", "license"))}
        if m.parts:
            md["parts"] = [{"path": x.path, **_non_empty(x, ("name", "type", "license"))} for x in m.parts]
        if m.parameters is not None:
            md["parameters"] = copy.deepcopy(m.parameters)
        data["model"] = md
    return data
