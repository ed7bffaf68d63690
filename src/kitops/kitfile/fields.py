"""The one declaration of every Kitfile field, and what readers and writers learn from it.

A Kitfile section is a dataclass whose Kitfile fields carry, as ``metadata``, one of
:func:`text`, :func:`texts`, :func:`value`, :func:`section` or :func:`entries`: each records
a :class:`FieldSpec` (key, kind, omitempty, nested class), and the field's default is the
kind's empty value (checked). Declaration order is the Go struct order, and so the key order
of the YAML and of the config JSON. The strict loader, the config JSON reader and writer, the YAML writer, reference
merging and the PyKitOps Pydantic mirror all walk these declarations, so a new field is one
line in its section, for example in ``Model``::

    quantization: str = field(default="", metadata=kf.text())

Attributes declared without this metadata (``layer``, ``has_parameters``) are bookkeeping,
never read from or written to a Kitfile.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldSpec",
    "Kind",
    "carries_layer",
    "entries",
    "is_empty",
    "is_empty_value",
    "kitfile_fields",
    "sdk_order",
    "section",
    "text",
    "texts",
    "value",
]

_META = "kitops.kitfile"


class Kind(enum.Enum):
    """What a field holds, which decides how every reader and writer treats it."""

    TEXT = "str"  # a string; any YAML scalar is read as its text
    TEXTS = "strlist"  # a list of strings (written as a flow list in YAML)
    VALUE = "any"  # any YAML value, kept as typed (``parameters``)
    SECTION = "section"  # one nested section
    ENTRIES = "entries"  # a list of nested sections


@dataclass(frozen=True)
class FieldSpec:
    """One Kitfile field. ``attr`` is the dataclass attribute, filled in by :func:`kitfile_fields`.

    ``sdk_after``, ``numbers_as_text``, ``examples``, ``doc`` and ``sdk_default`` only shape the
    PyKitOps Pydantic mirror, whose field order and quirks are those of PyKitOps 1.5.0:
    ``sdk_after`` moves the field right after another one in that order, ``numbers_as_text``
    accepts a number and keeps it as text, ``examples`` and ``doc`` end up in its JSON schema,
    and ``sdk_default`` replaces the empty default of a top-level string.
    """

    key: str
    kind: Kind
    omitempty: bool = True
    section: type | None = None  # the dataclass of a SECTION or of ENTRIES items
    optional: bool = False  # a SECTION whose default is None, absent when empty: a Go pointer
    presence: str = ""  # a VALUE's bool attribute recording that the key was written
    attr: str = ""
    sdk_after: str = ""
    numbers_as_text: bool = False
    examples: tuple[str, ...] = ()
    doc: str = ""
    sdk_default: str | None = None

    @property
    def nested(self) -> type:
        """The class of a SECTION's value or of an ENTRIES item."""
        if self.section is None:
            raise TypeError(f"the Kitfile field {self.key!r} holds no section")
        return self.section


def text(
    key: str = "",
    *,
    omitempty: bool = True,
    sdk_after: str = "",
    numbers_as_text: bool = False,
    examples: tuple[str, ...] = (),
    sdk_default: str | None = None,
) -> dict[str, FieldSpec]:
    """A string field (default ``""``); ``key`` defaults to the attribute name."""
    return {
        _META: FieldSpec(
            key,
            Kind.TEXT,
            omitempty,
            sdk_after=sdk_after,
            numbers_as_text=numbers_as_text,
            examples=examples,
            sdk_default=sdk_default,
        )
    }


def texts(key: str = "") -> dict[str, FieldSpec]:
    """A list of strings (``default_factory=list``)."""
    return {_META: FieldSpec(key, Kind.TEXTS)}


def value(key: str = "", *, presence: str = "", doc: str = "") -> dict[str, FieldSpec]:
    """Any YAML value (default None), kept as written: numbers, maps and lists keep their types."""
    return {_META: FieldSpec(key, Kind.VALUE, presence=presence, doc=doc)}


def section(cls: type, key: str = "", *, sdk_after: str = "") -> dict[str, FieldSpec]:
    """One nested section of class ``cls``: ``default=None`` when it may be absent (a Go pointer),
    else ``default_factory=cls`` (a Go struct value)."""
    return {_META: FieldSpec(key, Kind.SECTION, section=cls, sdk_after=sdk_after)}


def entries(cls: type, key: str = "", *, sdk_after: str = "") -> dict[str, FieldSpec]:
    """A list of nested sections of class ``cls`` (``default_factory=list``)."""
    return {_META: FieldSpec(key, Kind.ENTRIES, section=cls, sdk_after=sdk_after)}


def _checked(f: dataclasses.Field[Any], spec: FieldSpec) -> FieldSpec:
    """``spec`` completed from its dataclass field, whose default must be the kind's empty value."""
    factory: Any = f.default_factory
    if spec.kind is Kind.SECTION and f.default is None:
        return dataclasses.replace(spec, key=spec.key or f.name, attr=f.name, optional=True)
    expected = {
        Kind.TEXT: (f.default == "" and isinstance(f.default, str)),
        Kind.VALUE: f.default is None,
        Kind.TEXTS: factory is list,
        Kind.ENTRIES: factory is list,
        Kind.SECTION: factory is spec.section,
    }
    if not expected[spec.kind]:
        raise TypeError(
            f"Kitfile field {f.name!r}: the default of a {spec.kind.name} field is its empty value"
        )
    return dataclasses.replace(spec, key=spec.key or f.name, attr=f.name)


_FIELDS: dict[type, tuple[FieldSpec, ...]] = {}


def kitfile_fields(cls: type) -> tuple[FieldSpec, ...]:
    """The Kitfile fields of section class ``cls``, in declaration (Go struct) order."""
    found = _FIELDS.get(cls)
    if found is None:
        metadata = ((f, f.metadata.get(_META)) for f in dataclasses.fields(cls))
        found = _FIELDS[cls] = tuple(_checked(f, spec) for f, spec in metadata if isinstance(spec, FieldSpec))
    return found


def sdk_order(cls: type) -> tuple[FieldSpec, ...]:
    """The fields in the PyKitOps mirror's order: ``path`` first (PyKitOps' ``BasePathModel``
    declares it), then declaration order, each ``sdk_after`` field moved after the one it names."""
    specs = kitfile_fields(cls)
    order = [s for s in specs if s.key == "path"] + [s for s in specs if s.key != "path" and not s.sdk_after]
    for spec in specs:
        if spec.sdk_after:
            at = next(i for i, s in enumerate(order) if s.key == spec.sdk_after)
            order.insert(at + 1, spec)
    return tuple(order)


def carries_layer(cls: type) -> bool:
    """Whether entries of ``cls`` become layers: their digest and diffId follow their fields in the config."""
    return any(f.name == "layer" for f in dataclasses.fields(cls))


def is_empty_value(spec: FieldSpec, v: Any) -> bool:
    """Go's notion of empty for omitempty: "", an empty list, a nil value or pointer."""
    if spec.kind is Kind.VALUE or (spec.kind is Kind.SECTION and spec.optional):
        return v is None
    if spec.kind is Kind.SECTION:
        return is_empty(v)
    return not v


def is_empty(obj: Any) -> bool:
    """Whether every Kitfile field of section ``obj`` is empty (yaml.v3 then omits the section)."""
    return all(is_empty_value(s, getattr(obj, s.attr)) for s in kitfile_fields(type(obj)))
