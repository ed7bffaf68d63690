"""``Kitfile``: the PyKitOps Kitfile class, served at ``kitops.modelkit.kitfile``, on Pydantic v2.

Construction, loading and serialisation keep the PyKitOps 1.5.0 API, with these deliberate changes:

* Files are parsed by kitops' strict loader (:mod:`kitops.kitfile.load`), the one ``kit
  pack`` uses: unknown keys and wrong shapes are reported with their line, as
  :class:`KitfileValidationError` (a ``ValueError``). Scalars keep the text written in the
  file, so ``version: 1.10`` stays ``"1.10"`` (the reference gave ``"1.1"``) and
  ``name: 123`` is ``"123"``, as kit reads it; explicit ``null`` stays ``None``.
* ``to_yaml()`` writes what kit writes (:meth:`kitops.kitfile.model.Kitfile.to_yaml`):
  empty sections are left out, so kit v1.7 can read the result (the reference always wrote
  ``prompts: []``, which kit v1.7 rejects).
* ``load()`` also updates the instance (the reference only returned a dict); an empty file is a ``ValueError``, not a ``TypeError``.
"""

from __future__ import annotations

import builtins
import os
import warnings
from pathlib import Path
from typing import Any

import yaml

from kitops.compat.pykitops.utils import IS_A_TTY, Color
from kitops.errors import KitfileError
from kitops.kitfile import model as core
from kitops.kitfile.fields import Kind, kitfile_fields
from kitops.modelkit._pydantic_kit import KitfileValidationError, PydanticKitfile

__all__ = ["Kitfile", "KitfileValidationError"]


class Kitfile(PydanticKitfile):
    """A Kitfile: loaded from ``path``, built from keyword arguments (the Kitfile keys), or empty.

    Examples:
        >>> kitfile = Kitfile(manifestVersion="1.0.0", package={"name": "demo"}, model={"path": "model.bin"})
        >>> kitfile.model.path
        'model.bin'
        >>> print(kitfile.to_yaml(), end="")
        manifestVersion: 1.0.0
        package:
          name: demo
        model:
          path: model.bin
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        if path and kwargs:
            raise ValueError("Only provide 'path' or keyword arguments, not both.")
        if path:
            super().__init__(**read_kitfile_data(path))
        else:
            super().__init__(**kwargs)

    def load(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Load ``path`` into this Kitfile and return the parsed data (keyed as in the file)."""
        data = read_kitfile_data(path)
        loaded = type(self).model_validate(data)
        for name in type(self).model_fields:
            object.__setattr__(self, name, getattr(loaded, name))  # the properties' storage fields
        object.__setattr__(self, "__pydantic_fields_set__", set(loaded.model_fields_set))
        return data

    def to_yaml(self, suppress_empty_values: bool = True) -> str:
        """The Kitfile as YAML that kit (v1.7 and later) and kitops' strict loader accept.

        With ``suppress_empty_values`` (the default) the output is byte for byte what kit
        writes (``kit info``, ``kit init``). Without it every field appears with its default
        value, except an empty ``prompts`` list and an untouched ``model`` section, which
        kit v1.7 would refuse or pack as the whole directory.

        kit's checks run first, on the whole Kitfile as it is now, so changes made inside a
        section (``kitfile.model.path = "/abs"``, which no setter sees) raise
        :class:`KitfileValidationError` here instead of producing a Kitfile kit refuses.
        """
        self._raise_for_kit_problems()  # nested changes (kitfile.model.path = "/abs") are caught here
        if suppress_empty_values:
            return self.to_core().to_yaml()
        data = self.model_dump()
        if not data["prompts"]:
            del data["prompts"]
        if self.to_core().model is None:
            del data["model"]
        return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True))

    def print(self) -> None:
        """Deprecated (as in the reference): write the Kitfile to stdout; use ``print(kitfile.to_yaml())``."""
        warnings.warn(
            "Kitfile.print() is going to be deprecated. To print the Kitfile, use print(kitfile.to_yaml()) "
            "instead; date=2025-02-21",
            DeprecationWarning,
            stacklevel=2,
        )
        builtins.print("\n\nKitfile Contents...")
        builtins.print("===================\n")
        output = self.to_yaml()
        if IS_A_TTY:
            output = f"{Color.GREEN.value}{output}{Color.RESET.value}"
        builtins.print(output)

    def save(self, path: str = "Kitfile", print: bool = True) -> None:
        """Write the Kitfile to ``path`` (relative paths are relative to the current directory).

        kit's checks run first, on the whole Kitfile (nested changes such as
        ``kitfile.code[0].path = "/abs"`` are caught here). ``print`` is deprecated, as in the reference.
        """
        text = self.to_yaml()  # runs kit's checks first: nothing is written when they fail
        Path(path).write_text(text, encoding="utf-8")
        if print:
            warnings.warn(
                "print argument is going to be deprecated; use print(kitfile.to_yaml()) instead",
                DeprecationWarning,
                stacklevel=2,
            )
            self.print()


def read_kitfile_data(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a Kitfile strictly and return the alias-keyed data for the Pydantic models.

    Errors: a missing path is ``ValueError("Path '…' does not exist.")``; a YAML syntax error
    is ``yaml.YAMLError("Error parsing Kitfile at line L, column C: …")``; anything kit would
    reject (unknown keys, wrong shapes, empty file) is :class:`KitfileValidationError`.
    """
    from kitops.kitfile.load import load_kitfile_text
    from kitops.kitfile.yamlio import YamlSyntaxError, load_yaml

    file = Path(path)
    if not file.exists():
        raise ValueError(f"Path '{path}' does not exist.")
    text = file.read_text(encoding="utf-8")
    _check_syntax(text)
    try:
        loaded = load_kitfile_text(text, source=str(path))
        typed, _lines = load_yaml(text)
    except KitfileError as exc:
        raise KitfileValidationError(exc.message, hint=exc.hint) from exc
    except YamlSyntaxError as exc:
        raise KitfileValidationError(f"{path} is not valid YAML: {exc}") from exc
    data: dict[str, Any] = _as_written(typed, loaded, core.Kitfile)
    return data


def _check_syntax(text: str) -> None:
    loader = yaml.SafeLoader(text)
    try:
        if loader.check_node():
            loader.get_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise yaml.YAMLError(f"Error parsing Kitfile{where}: {exc.problem or exc.context}.") from exc
    finally:
        loader.dispose()


def _as_written(typed: Any, core_obj: Any, cls: type) -> Any:
    """The YAML value with each string field as written in the file (kit's reading of scalars).

    ``typed`` is the file's value (YAML 1.2 typing, as kit decodes ``parameters``);
    ``core_obj`` is the strict loader's result for the same node, an instance of section class
    ``cls``, which holds every string field as text. Explicit nulls stay ``None`` so that
    required fields (``manifestVersion``, ``path``) fail as in the reference; a null section
    counts as absent, as for kit.
    """
    if not isinstance(typed, dict):
        return typed
    specs = {spec.key: spec for spec in kitfile_fields(cls)}
    out: dict[str, Any] = {}
    for key, value in typed.items():
        spec = specs[key]  # the strict loader has refused any other key
        loaded = getattr(core_obj, spec.attr)
        if spec.kind is Kind.TEXT:
            out[key] = value if value is None or isinstance(value, str) else loaded
        elif spec.kind is Kind.TEXTS:
            out[key] = None if value is None else list(loaded)
        elif spec.kind is Kind.VALUE:
            out[key] = value
        elif value is None:
            continue
        elif spec.kind is Kind.ENTRIES:
            items = zip(value, loaded, strict=True) if isinstance(value, list) else None
            out[key] = value if items is None else [_as_written(v, c, spec.nested) for v, c in items]
        else:
            out[key] = _as_written(value, loaded, spec.nested)
    return out
