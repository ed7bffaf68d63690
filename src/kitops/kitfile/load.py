"""Strict Kitfile loading: YAML 1.2 (as yaml.v3), unknown keys rejected with a suggestion and a line.

Every structural problem in the file is reported at once, each with its YAML line,
rather than stopping at the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import yaml

from kitops.errors import KitfileError
from kitops.kitfile.model import (
    CodeEntry,
    DatasetEntry,
    DocsEntry,
    Kitfile,
    Model,
    ModelPart,
    Package,
    PromptEntry,
)
from kitops.kitfile.yamlio import YamlSyntaxError, load_yaml

# Field name -> kind. Kinds: "str", "strlist", "any", or (factory, schema) for nested structs,
# or ("list", factory, schema) for lists of structs.
Schema = dict[str, Any]
PART: Schema = {"name": "str", "path": "str", "license": "str", "type": "str"}
PACKAGE: Schema = {"name": "str", "version": "str", "description": "str", "license": "str", "authors": "strlist"}
MODEL: Schema = {
    "name": "str", "path": "str", "license": "str", "framework": "str", "format": "str", "version": "str",
    "description": "str", "parts": ("list", ModelPart, PART), "parameters": "any",
}
CODE: Schema = {"path": "str", "description": "str", "license": "str"}
DATASET: Schema = {"name": "str", "path": "str", "description": "str", "license": "str", "parameters": "any"}
DOCS: Schema = {"path": "str", "description": "str"}
PROMPT: Schema = {"path": "str", "description": "str"}
KITFILE: Schema = {
    "manifestVersion": "str",
    "package": (Package, PACKAGE),
    "model": (Model, MODEL),
    "code": ("list", CodeEntry, CODE),
    "datasets": ("list", DatasetEntry, DATASET),
    "docs": ("list", DocsEntry, DOCS),
    "prompts": ("list", PromptEntry, PROMPT),
}
_ATTR = {"manifestVersion": "manifest_version"}
_KIND_NAMES = {"tag:yaml.org,2002:seq": "a list", "tag:yaml.org,2002:map": "a mapping"}


class _Walker:
    def __init__(self, typed: Any) -> None:
        self.typed = typed
        self.problems: list[str] = []

    def problem(self, node: yaml.Node, text: str) -> None:
        self.problems.append(f"line {node.start_mark.line + 1}: {text}")

    def typed_at(self, path: tuple[Any, ...]) -> Any:
        value = self.typed
        for key in path:
            value = value[key]
        return value

    def scalar(self, node: yaml.Node, where: str) -> str:
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:null" and node.style is None and node.value in ("", "~", "null", "Null", "NULL"):
                return ""
            return str(node.value)
        self.problem(node, f"{where} must be a single value, not {_describe(node)}")
        return ""

    def struct(self, node: yaml.Node, factory: Callable[[], Any], schema: Schema, where: str, path: tuple[Any, ...]) -> Any:
        obj = factory()
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return obj
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{where} must be a mapping, not {_describe(node)}")
            return obj
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
            if key not in schema:
                guess = difflib.get_close_matches(str(key), list(schema), n=1)
                hint = f" (did you mean '{guess[0]}'?)" if guess else f" (known: {', '.join(schema)})"
                self.problem(key_node, f"unknown field '{key}' in {where}{hint}")
                continue
            kind = schema[key]
            attr = _ATTR.get(key, key)
            sub = f"{where}.{key}" if where != "Kitfile" else key
            if kind == "str":
                setattr(obj, attr, self.scalar(value_node, sub))
            elif kind == "strlist":
                if isinstance(value_node, yaml.SequenceNode):
                    setattr(obj, attr, [self.scalar(v, f"{sub}[{i}]") for i, v in enumerate(value_node.value)])
                elif not (isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith("null")):
                    self.problem(value_node, f"{sub} must be a list, not {_describe(value_node)}")
            elif kind == "any":
                value = self.typed_at((*path, key))
                setattr(obj, attr, value)
                obj.has_parameters = True
            elif kind[0] == "list":
                _l, item_factory, item_schema = kind
                items = []
                if isinstance(value_node, yaml.SequenceNode):
                    for i, item in enumerate(value_node.value):
                        items.append(self.struct(item, item_factory, item_schema, f"{sub}[{i}]", (*path, key, i)))
                elif not (isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith("null")):
                    self.problem(value_node, f"{sub} must be a list, not {_describe(value_node)}")
                setattr(obj, attr, items)
            else:
                struct_factory, struct_schema = kind
                setattr(obj, attr, self.struct(value_node, struct_factory, struct_schema, sub, (*path, key)))
        return obj


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return f"the value {node.value!r}"
    return _KIND_NAMES.get(node.tag, "a " + type(node).__name__.replace("Node", "").lower())


def load_kitfile_text(text: str, *, source: str = "Kitfile") -> Kitfile:
    """Parse a Kitfile strictly; raise KitfileError listing every problem with its line."""
    try:
        typed, _lines = load_yaml(text)
    except YamlSyntaxError as exc:
        if str(exc) == "EOF" or exc.message == "EOF":
            raise KitfileError(f"{source} is empty (EOF)", hint="write a Kitfile, or generate one with 'kit init'") from None
        raise KitfileError(f"{source} is not valid YAML: {exc}", hint="check indentation and quoting at that line") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_node() if loader.check_node() else None
    finally:
        loader.dispose()
    if node is None:
        raise KitfileError(f"{source} is empty (EOF)")
    walker = _Walker(typed)
    kitfile = walker.struct(node, Kitfile, KITFILE, "Kitfile", ())
    if walker.problems:
        raise KitfileError(
            f"{source} has {len(walker.problems)} problem{'s' if len(walker.problems) > 1 else ''}",
            problems=walker.problems,
            hint="fix the lines listed above; 'kit init DIR' writes a valid Kitfile to start from",
        )
    assert isinstance(kitfile, Kitfile)
    return kitfile
