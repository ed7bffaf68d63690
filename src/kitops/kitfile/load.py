"""Strict Kitfile loading: YAML 1.2 (as yaml.v3), unknown keys rejected with a suggestion and a line.

Every structural problem in the file is reported at once, each with its YAML line,
rather than stopping at the first. Whatever the bytes (binary, another encoding, over
the size limit, a hostile YAML document), the failure is a :class:`KitfileError` with a hint.
"""

from __future__ import annotations

import codecs
import difflib
import os
from typing import IO, Any

import yaml

from kitops.errors import KitfileError
from kitops.kitfile import fields as kf
from kitops.kitfile.fields import Kind
from kitops.kitfile.model import Kitfile
from kitops.kitfile.yamlio import YamlSyntaxError, is_null_node, load_yaml_document
from kitops.oci.models import MAX_MANIFEST_BYTES

# The largest Kitfile read, in bytes (UTF-8). Its config blob is refused when read back past
# the metadata limit (``read_blob_bytes``): a larger Kitfile cannot make a readable ModelKit.
MAX_KITFILE_BYTES = MAX_MANIFEST_BYTES
_NL = b"\n"
_ENCODING_HINT = "save the Kitfile as UTF-8 text (UTF-16 with a byte-order mark is read too)"
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
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
            if is_null_node(node):
                return ""
            return str(node.value)
        self.problem(node, f"{where} must be a single value, not {_describe(node)}")
        return ""

    def struct(self, node: yaml.Node, cls: type, where: str, path: tuple[Any, ...]) -> Any:
        """An instance of section class ``cls`` from ``node``; each problem is recorded, not raised."""
        obj = cls()
        if is_null_node(node):
            return obj
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{where} must be a mapping, not {_describe(node)}")
            return obj
        specs = {spec.key: spec for spec in kf.kitfile_fields(cls)}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
            spec = specs.get(key)
            if spec is None:
                guess = difflib.get_close_matches(str(key), list(specs), n=1)
                hint = f" (did you mean '{guess[0]}'?)" if guess else f" (known: {', '.join(specs)})"
                self.problem(key_node, f"unknown field '{key}' in {where}{hint}")
                continue
            sub = f"{where}.{key}" if where != "Kitfile" else key
            setattr(obj, spec.attr, self.field(spec, value_node, sub, (*path, key)))
            if spec.presence:
                setattr(obj, spec.presence, True)
        return obj

    def field(self, spec: kf.FieldSpec, node: yaml.Node, where: str, path: tuple[Any, ...]) -> Any:
        """The value of one declared field."""
        if spec.kind is Kind.TEXT:
            return self.scalar(node, where)
        if spec.kind is Kind.VALUE:
            return self.typed_at(path)
        if spec.kind is Kind.SECTION:
            return self.struct(node, spec.nested, where, path)
        if isinstance(node, yaml.SequenceNode):
            if spec.kind is Kind.TEXTS:
                return [self.scalar(v, f"{where}[{i}]") for i, v in enumerate(node.value)]
            return [
                self.struct(item, spec.nested, f"{where}[{i}]", (*path, i))
                for i, item in enumerate(node.value)
            ]
        if not is_null_node(node):
            self.problem(node, f"{where} must be a list, not {_describe(node)}")
        return []


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return f"the value {node.value!r}"
    return _KIND_NAMES.get(node.tag, "a " + type(node).__name__.replace("Node", "").lower())


def _too_large(source: str, size: int | None = None) -> KitfileError:
    known = f" ({size} bytes)" if size is not None else ""
    return KitfileError(
        f"{source} is larger than {MAX_KITFILE_BYTES} bytes{known}, the limit for a Kitfile",
        hint=f"a ModelKit's metadata is at most {MAX_KITFILE_BYTES} bytes: keep large data in files the Kitfile names",
    )


def decode_kitfile(data: bytes, *, source: str = "Kitfile") -> str:
    """The text of Kitfile bytes, read as yaml.v3 reads them: UTF-8, or UTF-16 with a byte-order
    mark (a UTF-8 one is dropped). Refuses more than ``MAX_KITFILE_BYTES`` and undecodable bytes."""
    if len(data) > MAX_KITFILE_BYTES:
        raise _too_large(source, len(data) if len(data) > MAX_KITFILE_BYTES + 1 else None)
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            data, encoding = data[len(bom) :], name
            break
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        if encoding == "utf-8":
            what = f"UTF-8 text: invalid byte 0x{data[exc.start]:02x} at line {data.count(_NL, 0, exc.start) + 1}"
        else:
            what = (
                f"UTF-16 text: invalid bytes at line {data[: exc.start].decode(encoding).count(chr(10)) + 1}"
            )
        raise KitfileError(
            f"{source} is not valid {what} (byte offset {exc.start})",
            hint=_ENCODING_HINT,
        ) from None


def read_kitfile(path: str | os.PathLike[str]) -> str:
    """The text of the Kitfile at ``path``, reading at most ``MAX_KITFILE_BYTES`` + 1 bytes (the
    path may be ``/dev/zero`` or a pipe: nothing larger than a Kitfile is ever read)."""
    with open(path, "rb") as fh:
        data = fh.read(MAX_KITFILE_BYTES + 1)
    return decode_kitfile(data, source=str(path))


def read_kitfile_stream(stream: IO[Any], *, source: str = "<stdin>") -> str:
    """A Kitfile from a binary or text stream (``-f -``), reading at most ``MAX_KITFILE_BYTES`` + 1
    bytes, or characters from a text stream without a binary buffer (a character is >= 1 byte)."""
    binary = getattr(stream, "buffer", None)
    if binary is not None:
        stream = binary
    data = stream.read(MAX_KITFILE_BYTES + 1)
    if isinstance(data, str):
        if len(data) > MAX_KITFILE_BYTES:
            raise _too_large(source)
        return data
    return decode_kitfile(bytes(data), source=source)


def _check_text_size(text: str, source: str) -> None:
    if len(text) > MAX_KITFILE_BYTES:
        raise _too_large(source)
    if len(text) * 4 > MAX_KITFILE_BYTES:  # only then can its UTF-8 form be over the limit
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_KITFILE_BYTES:
            raise _too_large(source, size)


def load_kitfile_text(text: str, *, source: str = "Kitfile", into: type[Kitfile] = Kitfile) -> Kitfile:
    """Parse a Kitfile strictly; raise KitfileError listing every problem with its line.

    ``into`` is the class built: a subclass may declare more fields.
    """
    _check_text_size(text, source)
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        _typed, node, _lines = load_yaml_document(text)
    except YamlSyntaxError as exc:
        if str(exc) == "EOF" or exc.message == "EOF":
            raise KitfileError(
                f"{source} is empty (EOF)", hint="write a Kitfile, or generate one with 'kit init'"
            ) from None
        raise KitfileError(
            f"{source} is not valid YAML: {exc}",
            hint=exc.hint or "check indentation and quoting at that line",
        ) from None
    walker = _Walker(_typed)
    kitfile = walker.struct(node, into, "Kitfile", ())
    if walker.problems:
        raise KitfileError(
            f"{source} has {len(walker.problems)} problem{'s' if len(walker.problems) > 1 else ''}",
            problems=walker.problems,
            hint="fix the lines listed above; 'kit init DIR' writes a valid Kitfile to start from",
        )
    assert isinstance(kitfile, Kitfile)
    return kitfile
