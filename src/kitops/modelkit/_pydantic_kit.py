"""The Pydantic models of the PyKitOps Kitfile (``kitops.modelkit._pydantic_kit``).

Same names, fields, defaults, aliases and dump shape as PyKitOps 1.5.0, so code
written against it keeps working. What is deliberately different:

* **Nothing is dropped.** Every field kit supports is modelled: ``package.license``,
  ``model.format``, ``model.parts[].license``, ``datasets[].parameters``. Unknown keys are
  errors, in files (reported by our strict loader with their line) and in Python.
* **Validation does not stop at construction.** ``validate_assignment`` is on, list
  items of every type are validated (not only dicts), ``Path`` values become strings, and
  kit's own checks (absolute or duplicate paths, model-part types) run on the whole
  Kitfile, through :func:`kitops.kitfile.validate.find_problems`: one validator, not two.
  An assignment kit's checks refuse leaves the Kitfile as it was, and ``to_yaml``/``save``
  run the checks again, so changes inside a section (``kitfile.model.path = "/abs"``) are
  caught before anything is written.
* **One source of truth.** A Kitfile file is parsed by :mod:`kitops.kitfile.load`, the
  parser ``kit pack`` uses; YAML is written by converting to :class:`kitops.kitfile.model.Kitfile`
  (:meth:`PydanticKitfile.to_core`), so what ``to_yaml`` writes is what kit writes. The
  models' fields are not declared here: they are built from the field declarations of
  :mod:`kitops.kitfile.model`, so a field added there is in these models too.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import PurePath
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    create_model,
    field_validator,
    model_validator,
)

from kitops.errors import KitfileError
from kitops.kitfile import fields as kf
from kitops.kitfile import model as core
from kitops.kitfile.fields import FieldSpec, Kind

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
_M = TypeVar("_M", bound=BaseModel)


class KitfileValidationError(KitfileError, ValueError):
    """A Kitfile that kit would refuse; a ``ValueError`` too, as the reference's errors were."""


class _Section(BaseModel):
    """A Kitfile section."""

    model_config = _STRICT


class BasePathModel(_Section):
    """An entry that has a ``path`` (relative to the directory that is packed)."""

    path: str

    @field_validator("path", mode="before")
    @classmethod
    def _path_to_str(cls, value: Any) -> Any:
        # The reference accepted Path objects and then failed in to_yaml: store text.
        if isinstance(value, PurePath):
            return value.as_posix()
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        return value


# ---- models built from the field declarations ---------------------------------------------
_MIRRORS: dict[type, type[BaseModel]] = {}


def mirror_of(section: type) -> type[BaseModel]:
    """The Pydantic model of core section class ``section``: its public class below (``ModelSection``…)
    or, for a section that has none (a subclass declaring more fields), one built from its fields."""
    found = _MIRRORS.get(section)
    if found is None:
        found = _MIRRORS[section] = section_model(section, section.__name__)
    return found


def _mirrors(section: type) -> Callable[[type[_M]], type[_M]]:
    """Record the decorated class as the Pydantic model of core section class ``section``."""

    def record(cls: type[_M]) -> type[_M]:
        _MIRRORS[section] = cls
        return cls

    return record


def section_model(section: type, name: str) -> type[BaseModel]:
    """A model with a field per Kitfile field of ``section``, in PyKitOps order. A section with a
    ``path`` is a :class:`BasePathModel`, whose ``path`` is required (as in PyKitOps)."""
    specs = kf.sdk_order(section)
    base: type[_Section] = BasePathModel if any(s.key == "path" for s in specs) else _Section
    fields: dict[str, Any] = {s.key: _section_field(s) for s in specs if s.key != "path" or base is _Section}
    return create_model(name, __base__=base, __module__=__name__, **fields)


def _section_field(spec: FieldSpec) -> tuple[Any, Any]:
    """(annotation, Field) of one field inside a section: None is accepted and reads as empty."""
    extra: dict[str, Any] = {}
    if spec.examples:
        extra["examples"] = list(spec.examples)
    if spec.numbers_as_text:
        extra["coerce_numbers_to_str"] = True
    if spec.doc:
        extra["description"] = spec.doc
    if spec.kind is Kind.TEXT:
        return str | None, Field(default="", **extra)
    if spec.kind is Kind.TEXTS:
        return list[str] | None, Field(default=[], **extra)
    if spec.kind is Kind.VALUE:
        return Any, Field(default=None, **extra)
    nested = mirror_of(spec.nested)
    if spec.kind is Kind.SECTION:
        return nested | None, Field(default=None, **extra)
    return list[nested] | None, Field(default=[], **extra)  # type: ignore[valid-type]


def _empty(model: type[BaseModel]) -> BaseModel:
    """A section with nothing set but its required ``path`` (``''``)."""
    return model.model_validate({"path": ""} if "path" in model.model_fields else {})


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
        else:  # the reference stored such items unvalidated
            raise TypeError(f"Expected list of {item_type.__name__} or dict, got an item of {type(item)}")
    return out


def kitfile_model(kitfile: type, name: str) -> type[BaseModel]:
    """A model with, per top-level Kitfile field, a storage field ``prop_<key>`` (aliased to the key,
    left out of dumps) behind a validated computed property named as the key, in PyKitOps order:
    ``model_dump`` has exactly the Kitfile's keys, as in PyKitOps 1.5.0."""
    fields: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for spec in kf.sdk_order(kitfile):
        storage = "prop_" + spec.key
        annotation, default = _storage(spec)
        fields[storage] = (annotation, Field(alias=spec.key, exclude=True, **default))
        prop = property(_getter(storage), _setter(spec, storage))
        properties[spec.key] = computed_field(prop, return_type=annotation)  # type: ignore[call-overload]
    return create_model(name, __base__=_Section, __module__=__name__, __namespace__=properties, **fields)


def _storage(spec: FieldSpec) -> tuple[Any, dict[str, Any]]:
    """(annotation, default arguments) of a top-level storage field: never None; sections start empty."""
    if spec.kind is Kind.TEXT:
        coerce = {"coerce_numbers_to_str": True} if spec.numbers_as_text else {}
        return str, {"default": spec.sdk_default or "", **coerce}
    if spec.kind is Kind.TEXTS:
        return list[str], {"default_factory": list}
    if spec.kind is Kind.VALUE:
        return Any, {"default": None}
    nested = mirror_of(spec.nested)
    if spec.kind is Kind.SECTION:
        return nested, {"default_factory": lambda: _empty(nested)}
    return list[nested], {"default_factory": list}  # type: ignore[valid-type]


def _getter(storage: str) -> Callable[[Any], Any]:
    return lambda self: getattr(self, storage)


def _setter(spec: FieldSpec, storage: str) -> Callable[[Any, Any], None]:
    """The property's setter: a wrong type is a TypeError (as in PyKitOps), then the storage field
    is assigned, which Pydantic validates."""
    if spec.kind is Kind.TEXT:
        kinds: tuple[type, ...] = (str, int, float) if spec.numbers_as_text else (str,)

        def set_text(self: Any, value: Any) -> None:
            if not isinstance(value, kinds):
                raise TypeError(f"Expected str, got {type(value)}")
            setattr(self, storage, str(value))

        return set_text
    if spec.kind is Kind.SECTION:
        nested = mirror_of(spec.nested)

        def set_section(self: Any, value: Any) -> None:
            if not isinstance(value, (dict, nested)):  # the reference named ModelSection for package too
                raise TypeError(f"Expected dict or {nested.__name__}, got {type(value)}")
            setattr(self, storage, nested.model_validate(value))

        return set_section
    if spec.kind is Kind.ENTRIES:
        item = mirror_of(spec.nested)
        return lambda self, value: setattr(self, storage, _validated_items(value, item))
    return lambda self, value: setattr(self, storage, value)


# ---- the public models ------------------------------------------------------------------
# Each is a class statement (a name for type annotations and the docs) over the fields built
# from its core section; nested models come first, so that their parents use them.


@_mirrors(core.Package)
class Package(section_model(core.Package, "PackageFields")):  # type: ignore[misc]
    """General information about the project: ``package`` in the Kitfile."""


@_mirrors(core.CodeEntry)
class CodeEntry(section_model(core.CodeEntry, "CodeEntryFields")):  # type: ignore[misc]
    """One ``code`` entry."""


@_mirrors(core.DatasetEntry)
class DatasetEntry(section_model(core.DatasetEntry, "DatasetEntryFields")):  # type: ignore[misc]
    """One ``datasets`` entry; ``parameters`` is any YAML value (dropped by the reference)."""


@_mirrors(core.DocsEntry)
class DocsEntry(section_model(core.DocsEntry, "DocsEntryFields")):  # type: ignore[misc]
    """One ``docs`` entry."""


@_mirrors(core.PromptEntry)
class PromptEntry(section_model(core.PromptEntry, "PromptEntryFields")):  # type: ignore[misc]
    """One ``prompts`` entry (packed as a code layer with the prompt subtype)."""


@_mirrors(core.ModelPart)
class ModelPart(section_model(core.ModelPart, "ModelPartFields")):  # type: ignore[misc]
    """One ``model.parts`` entry (e.g. LoRA weights); ``license`` was dropped by the reference."""


@_mirrors(core.Model)
class ModelSection(section_model(core.Model, "ModelSectionFields")):  # type: ignore[misc]
    """The ``model`` section. ``path`` may also be a ModelKit reference (``registry/repo:tag``)."""


class PydanticKitfile(kitfile_model(core.Kitfile, "KitfileFields")):  # type: ignore[misc]
    """Storage fields (``prop_*``, aliased to the Kitfile keys) behind seven validated properties.

    The public properties ``manifestVersion``, ``package``, ``code``, ``datasets``, ``docs``,
    ``prompts`` and ``model`` are computed fields, so ``model_dump`` always has these seven
    keys, in this order, as in PyKitOps 1.5.0.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

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

    # ---- conversion to and from the core Kitfile ----------------------------------------
    def to_core(self) -> core.Kitfile:
        """This Kitfile as :class:`kitops.kitfile.model.Kitfile`, what ``api.pack`` and the YAML writer use.

        An untouched ``model`` (``path: ''`` and nothing else) means "no model section",
        so a Kitfile built from ``package`` alone does not pack the whole directory as its model.
        """
        kitfile = to_core(self, core.Kitfile)
        assert isinstance(kitfile, core.Kitfile)
        return kitfile

    @classmethod
    def from_core(cls, kitfile: core.Kitfile) -> Any:
        """Build from a core Kitfile (e.g. ``kitops.api.info(...)``); only non-empty values count as set."""
        return cls.model_validate(core_to_data(kitfile))


def to_core(obj: Any, section: type) -> Any:
    """Core section class ``section`` built from its Pydantic model ``obj`` (None reads as empty)."""
    kwargs: dict[str, Any] = {}
    for spec in kf.kitfile_fields(section):
        v = getattr(obj, spec.key)
        if spec.kind is Kind.TEXT:
            kwargs[spec.attr] = v or ""
        elif spec.kind is Kind.TEXTS:
            kwargs[spec.attr] = [a for a in v or [] if a is not None]
        elif spec.kind is Kind.VALUE:
            kwargs[spec.attr] = copy.deepcopy(v)
            if spec.presence:
                kwargs[spec.presence] = v is not None
        elif spec.kind is Kind.SECTION:
            if v is not None and not (spec.optional and _is_empty(v, spec.nested)):
                kwargs[spec.attr] = to_core(v, spec.nested)
            elif not spec.optional:
                kwargs[spec.attr] = spec.nested()
        else:
            kwargs[spec.attr] = [
                to_core(x, spec.nested) for x in _validated_items(v or [], mirror_of(spec.nested))
            ]
    return section(**kwargs)


def _is_empty(obj: Any, section: type) -> bool:
    """Whether the Pydantic model ``obj`` of ``section`` holds nothing (an untouched ``model``)."""
    for spec in kf.kitfile_fields(section):
        v = getattr(obj, spec.key)
        if spec.kind is Kind.VALUE or spec.kind is Kind.SECTION:
            if v is not None and not (spec.kind is Kind.SECTION and _is_empty(v, spec.nested)):
                return False
        elif v:
            return False
    return True


def core_to_data(kitfile: core.Kitfile) -> dict[str, Any]:
    """A core Kitfile as the alias-keyed dict the Pydantic models validate (empty values left out)."""
    return _data(kitfile)


def _data(obj: Any) -> dict[str, Any]:
    """One core section as data for its Pydantic model: what is empty is left out (unset), except
    a required ``path`` and a field written even when empty (``manifestVersion``)."""
    data: dict[str, Any] = {}
    for spec in kf.sdk_order(type(obj)):
        v = getattr(obj, spec.attr)
        if spec.kind is Kind.SECTION:
            sub = None if v is None else _data(v)
            if sub:
                data[spec.key] = sub
        elif spec.kind is Kind.ENTRIES:
            if v:
                data[spec.key] = [_data(item) for item in v]
        elif spec.kind is Kind.VALUE:
            if v is not None:
                data[spec.key] = copy.deepcopy(v)
        elif v or not spec.omitempty or spec.key == "path":
            data[spec.key] = list(v) if spec.kind is Kind.TEXTS else v
    return data
