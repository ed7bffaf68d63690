"""YAML as Go's gopkg.in/yaml.v3 reads and writes it (YAML 1.2 core schema; libyaml emitter rules).

Why: ``kit unpack`` compares an existing Kitfile byte for byte with the one it
would write, so our YAML output must equal yaml.v3's (``SetIndent(2)``), and our
typing of plain scalars must equal yaml.v3's decoding into ``interface{}``.
One deliberate exception: a float whose yaml.v3 text would read back as an int (``1.0``
written as ``1``) keeps a ``.0``, so its type survives a round trip (see ``_float_text``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
import unicodedata
from decimal import Decimal
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from kitops.oci.models import MAX_JSON_DEPTH

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_YAML_ALIASES",
    "MAX_YAML_DEPTH",
    "FlowList",
    "SortedMap",
    "YamlSyntaxError",
    "dump_yaml",
    "format_float_g",
    "is_null_node",
    "load_yaml",
    "load_yaml_document",
    "resolve_plain",
]


class YamlSyntaxError(Exception):
    """A document yaml.v3 would not decode, or one over a limit (``hint`` says what to do)."""

    def __init__(self, message: str, line: int | None = None, *, hint: str | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.message = message
        self.line = line
        self.hint = hint


class FlowList(list):  # type: ignore[type-arg]
    """A list dumped in flow style: ``authors: [A, B]``."""


class SortedMap(dict):  # type: ignore[type-arg]
    """A dict dumped with yaml.v3's natural key order (a Go ``map[string]interface{}``)."""


# ------------------------------------------------------------------------------------------------
# Loading
#
# Hostile documents are refused before they cost time or memory, each with a YamlSyntaxError that
# names the limit: a "billion laughs" (aliases that expand exponentially), an anchor that contains
# itself, nesting deep enough to exhaust Python's recursion, tags for types that yaml.v3 does not
# give (``!!set``, ``!!binary``, ``!!python/...``: never constructed) and keys that are not scalars.

# Collections nested deeper than this are refused. The config blob nests exactly as the Kitfile
# does and JSON read from a store is bounded by ``MAX_JSON_DEPTH``: a deeper Kitfile would pack into
# a ModelKit that could not be read back. (yaml.v3's own bound is 10000; real Kitfiles nest < 10.)
MAX_YAML_DEPTH = MAX_JSON_DEPTH
# Alias uses (``*name``) in one document: real Kitfiles use a handful.
MAX_YAML_ALIASES = 10_000
# Nodes that alias expansion may add to a document: each ``*a`` adds every node under ``&a`` again.
# A 545-byte "billion laughs" adds 10**9; real uses (a shared license, a merged block) add dozens.
MAX_ALIAS_EXPANSION = 100_000

_PLAIN_TAG = "tag:kitops,plain"
_CORE = "tag:yaml.org,2002:"
# The YAML 1.2 core schema (what yaml.v3 decodes into interface{}), with timestamps and merge keys.
_TYPED_TAGS = ("int", "float", "bool", "null", "timestamp")
_ALLOWED_TAGS = frozenset([_PLAIN_TAG, *(_CORE + t for t in ("str", "map", "seq", "merge", *_TYPED_TAGS))])
_LIMIT_HINT = "a Kitfile is a small, plain YAML document: write its values out rather than repeating anchors"
_TAG_HINT = "remove the tag: a Kitfile uses only plain YAML values (!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)"
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_TS_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?"
    r"(?:[ \t]*(Z|[-+]\d{1,2}(?::?\d{2})?))?)?$"
)
_INT64 = (-(1 << 63), (1 << 63) - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")
# Decimal digits of the largest uint64 (18446744073709551615): a longer decimal cannot be a Go
# int (and Python refuses to parse more than 4300 digits: ValueError, not a YAML error).
_MAX_DECIMAL_DIGITS = 20


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(s, 0, 64) / ParseUint after removing '_' (what yaml.v3 does)."""
    s = text.replace("_", "")
    m = re.fullmatch(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)", s)
    if not m:
        return None
    sign, body = m.groups()
    lower = body.lower()
    if lower.startswith("0x"):
        value = int(lower[2:], 16)
    elif lower.startswith("0o"):
        value = int(lower[2:], 8)
    elif lower.startswith("0b"):
        value = int(lower[2:], 2)
    elif len(body) > 1 and body.startswith("0"):
        value = int(body, 8)  # Go base-0 parsing: a leading 0 means octal
    elif len(body) > _MAX_DECIMAL_DIGITS:
        return None
    else:
        value = int(body)
    if sign == "-":
        value = -value
    if _INT64[0] <= value <= (1 << 64) - 1:
        return value
    return None


def resolve_plain(text: str) -> Any:
    """The value yaml.v3 gives a plain scalar decoded into ``interface{}``."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"):
        return math.inf
    if text in ("-.inf", "-.Inf", "-.INF"):
        return -math.inf
    if text in (".nan", ".NaN", ".NAN"):
        return math.nan
    first = text[0]
    if first.isdigit() or first in "+-.":
        ts = _parse_timestamp(text)
        if ts is not None:
            return ts
        as_int = _go_int(text)
        if as_int is not None:
            return as_int
        plain = text.replace("_", "")
        if _FLOAT_RE.fullmatch(plain):
            value = float(plain)
            # strconv.ParseFloat fails with ErrRange past float64 (1e999999, a 5000-digit
            # integer) and yaml.v3 then keeps the text as a string: so do we (not inf).
            if not math.isinf(value):
                return value
    return text


def _parse_timestamp(text: str) -> _dt.datetime | None:
    m = _TS_RE.match(text)
    if not m:
        return None
    year, month, day, hh, mm, ss, frac, zone = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        tz: _dt.tzinfo = _dt.timezone.utc
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            hours, minutes = (
                int(digits[:2] if len(digits) > 2 else digits),
                int(digits[2:] or 0) if len(digits) > 2 else 0,
            )
            tz = _dt.timezone(sign * _dt.timedelta(hours=hours, minutes=minutes))
        return _dt.datetime(
            int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), micro, tzinfo=tz
        )
    except ValueError:
        return None


def is_null_node(node: yaml.Node) -> bool:
    """A scalar node whose value is null, as :func:`load_yaml_document` composed it."""
    if not isinstance(node, yaml.ScalarNode):
        return False
    if node.tag == _CORE + "null":
        return True
    return node.tag == _PLAIN_TAG and not node.style and node.value in ("", "~", "null", "Null", "NULL")


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _line(node_or_event: Any) -> int | None:
    mark = getattr(node_or_event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _libyaml_parser() -> Any:
    """libyaml, which yaml.v3 was ported from: its scanner and parser, 6x faster than PyYAML's."""
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        return None
    return CParser


_CParser: Any = _libyaml_parser()


class _Parsing(Composer, *((_CParser,) if _CParser is not None else (Reader, Scanner, Parser))):  # type: ignore[misc]
    """Events from libyaml (else PyYAML), composed into nodes by PyYAML's composer (in Python,
    so that ``_Loader.compose_node`` bounds it: libyaml's own composer recurses in C, unbounded)."""

    def __init__(self, stream: str) -> None:
        if _CParser is not None:
            _CParser.__init__(self, stream)
        else:  # pragma: no cover
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
        Composer.__init__(self)


class _Loader(_Parsing, SafeConstructor, Resolver):
    """yaml.v3's (YAML 1.2 core) typing of plain scalars, with bounds: nesting
    (``MAX_YAML_DEPTH``), alias uses (``MAX_YAML_ALIASES``), no self-containing anchor."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.depth = 0
        self.aliases = 0
        self.open_anchors: set[str] = set()

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return "tag:yaml.org,2002:merge" if value == "<<" else _PLAIN_TAG
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise YamlSyntaxError(
                    f"document uses more than {MAX_YAML_ALIASES} aliases (MAX_YAML_ALIASES)",
                    _line(event),
                    hint=_LIMIT_HINT,
                )
            if event.anchor in self.open_anchors:  # yaml.v3's words
                raise YamlSyntaxError(
                    f"anchor '{event.anchor}' value contains itself",
                    _line(event),
                    hint="an alias cannot refer to the anchor it is inside of",
                )
            return super().compose_node(parent, index)
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise YamlSyntaxError(
                f"document is nested more than {MAX_YAML_DEPTH} levels deep (MAX_YAML_DEPTH)",
                _line(event),
                hint="a Kitfile nests a few levels: flatten the parameters",
            )
        opened: str | None = None
        if event.anchor is not None and event.anchor not in self.open_anchors:
            opened = str(event.anchor)
            self.open_anchors.add(opened)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if opened is not None:
                self.open_anchors.discard(opened)


def _construct_plain(loader: _Loader, node: yaml.ScalarNode) -> Any:
    return resolve_plain(str(node.value))


def _value_tag(value: Any) -> str:
    if value is None:
        return "!!null"
    if isinstance(value, bool):
        return "!!bool"
    if isinstance(value, int):
        return "!!int"
    if isinstance(value, float):
        return "!!float"
    if isinstance(value, _dt.datetime):
        return "!!timestamp"
    return "!!str"


def _construct_tagged(loader: _Loader, node: yaml.Node) -> Any:
    """A scalar with an explicit core tag (``!!int 3``), decoded as yaml.v3 ``resolve`` does: its
    text resolves as if plain and must give that type (an int is also a float)."""
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]  # refuses a collection
    want = "!!" + node.tag[len(_CORE) :]
    value = resolve_plain(text)
    got = _value_tag(value)
    if want == "!!float" and got == "!!int":
        return float(value)
    if got == want:
        return value
    raise YamlSyntaxError(
        f"cannot decode {got} `{_shown(text)}` as a {want}",
        _line(node),
        hint="remove the tag, or write a value of that type",
    )


_Loader.add_constructor(_PLAIN_TAG, _construct_plain)
_Loader.add_constructor(_CORE + "merge", _construct_plain)  # ``<<`` anywhere but as a key: the string
for _tag in _TYPED_TAGS:
    _Loader.add_constructor(_CORE + _tag, _construct_tagged)


def _check_graph(root: yaml.Node) -> None:
    """Refuse what composing allowed but yaml.v3 does not decode (other tags, keys that are not
    scalars, duplicate keys), and aliases that expand the document by more than
    ``MAX_ALIAS_EXPANSION`` nodes. Each node is visited once, without recursion: the expanded size
    of every node is computed from its children's (an alias is a shared node)."""
    size: dict[int, int] = {}  # expanded size by node id; 0 while the node's children are visited
    distinct = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            if size[key] - distinct > MAX_ALIAS_EXPANSION:
                raise YamlSyntaxError(
                    f"aliases expand the document by more than {MAX_ALIAS_EXPANSION} nodes (MAX_ALIAS_EXPANSION)",
                    _line(node),
                    hint=_LIMIT_HINT,
                )
            continue
        if key in size:
            continue
        distinct += 1
        _check_node(node)
        if isinstance(node, yaml.ScalarNode):
            size[key] = 1
            continue
        size[key] = 0
        stack.append((node, True))
        for child in _children(node):
            child_key = id(child)
            if child_key in size:
                continue
            if isinstance(child, yaml.ScalarNode):  # most nodes: checked here, never stacked
                if child.tag not in _ALLOWED_TAGS:
                    _check_node(child)
                size[child_key] = 1
                distinct += 1
            else:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


_KINDS = {yaml.MappingNode: "mapping", yaml.SequenceNode: "list", yaml.ScalarNode: "value"}


def _check_node(node: yaml.Node) -> None:
    if node.tag not in _ALLOWED_TAGS:
        raise YamlSyntaxError(f"unsupported tag {_shown(_short_tag(node.tag))}", _line(node), hint=_TAG_HINT)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key_node, _value in node.value:
        line = _line(key_node) or 0
        if not isinstance(key_node, yaml.ScalarNode):
            raise YamlSyntaxError(
                f"a {_KINDS.get(type(key_node), 'node')} cannot be a mapping key",
                line,
                hint="a mapping key is a single value, such as a name",
            )
        if key_node.tag == _CORE + "merge":
            continue
        # yaml.v3 compares keys as written (kind and text), before typing them: "1" and 1 are
        # the same key, 1 and 0x1 are not
        text = str(key_node.value)
        if text in seen:
            raise YamlSyntaxError(
                f'mapping key "{_shown(text)}" already defined at line {seen[text]}',
                line,
                hint="remove or rename one of the two keys",
            )
        seen[text] = line


def _collect_lines(
    node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int], loader: _Loader
) -> None:
    """The line of every mapping key by its path (the graph is checked: bounded and acyclic)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == _CORE + "merge":
                _collect_lines(value_node, path, lines, loader)
                continue
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                lines[path + (key,)] = key_node.start_mark.line + 1
            _collect_lines(value_node, path + (key,), lines, loader)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_lines(item, path + (i,), lines, loader)


def _reader_error(exc: yaml.reader.ReaderError, text: str) -> YamlSyntaxError:
    """The reader's "control characters are not allowed ... position 39" as a line and a code point."""
    char = exc.character if isinstance(exc.character, int) else 0
    pos = text.find(chr(char))  # the reader's position counts bytes (libyaml) or characters
    line = text.count("\n", 0, pos) + 1 if pos >= 0 else None
    return YamlSyntaxError(
        f"control character U+{char:04X} is not allowed in YAML",
        line,
        hint="a Kitfile is UTF-8 text: remove the control characters (or binary content)",
    )


def load_yaml(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse the first YAML document; return (value, line of every mapping key by its path).

    Every failure is a :class:`YamlSyntaxError` (with a line when there is one), never a
    RecursionError or ValueError: see the limits above.
    """
    value, _node, lines = load_yaml_document(text)
    return value, lines


def load_yaml_document(text: str) -> tuple[Any, yaml.Node, dict[tuple[Any, ...], int]]:
    """:func:`load_yaml`, with the document's checked node graph (merge keys flattened)."""
    bad = _SURROGATE.search(text)
    if bad:  # only a str from Python code can hold one; libyaml fails to encode it
        raise YamlSyntaxError(
            f"lone surrogate U+{ord(bad.group()):04X} is not a character",
            text.count("\n", 0, bad.start()) + 1,
            hint="a Kitfile is UTF-8 text",
        )
    try:
        loader = _Loader(text)  # PyYAML's reader checks for control characters here
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text) from None
    try:
        if not loader.check_node():
            raise YamlSyntaxError("EOF")
        node = loader.get_node()
        if node is None:
            raise YamlSyntaxError("EOF")
        _check_graph(node)
        lines: dict[tuple[Any, ...], int] = {}
        _collect_lines(node, (), lines, loader)
        value = loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(
            str(exc.problem or exc.context or "invalid YAML"), mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc)) from None
    except RecursionError:  # not reachable within MAX_YAML_DEPTH; a last guard
        raise YamlSyntaxError("document is nested too deeply", hint="flatten the parameters") from None
    finally:
        loader.dispose()
    return value, node, lines


# ------------------------------------------------------------------------------------------------
# Dumping


def _is_printable(ch: str) -> bool:
    """libyaml's IS_PRINTABLE on UTF-8 bytes (4-byte sequences are *not* printable)."""
    c = ord(ch)
    return c == 0x0A or 0x20 <= c <= 0x7E or 0xA0 <= c <= 0xD7FF or (0xE000 <= c <= 0xFFFD and c != 0xFEFF)


_BREAKS = "\r\n\x85\u2028\u2029"


@functools.lru_cache(maxsize=4096)
def _analyze(value: str) -> tuple[bool, bool, bool, bool]:
    """(flow_plain, block_plain, single_quoted, block) allowed, per yaml_emitter_analyze_scalar."""
    if not value:
        return False, True, True, False
    block_ind = flow_ind = False
    if value.startswith(("---", "...")) and (len(value) == 3 or value[3] in " \t" + _BREAKS):
        block_ind = flow_ind = True
    line_breaks = special = False
    leading_space = leading_break = trailing_space = trailing_break = False
    break_space = space_break = previous_space = previous_break = False
    preceded_ws = True
    n = len(value)
    for i, ch in enumerate(value):
        followed_ws = i + 1 >= n or value[i + 1] in " \t" + _BREAKS
        if i == 0:
            if ch in "#,[]{}&*!|>'\"%@`":
                flow_ind = block_ind = True
            if ch in "?:":
                flow_ind = True
                if followed_ws:
                    block_ind = True
            if ch == "-" and followed_ws:
                flow_ind = block_ind = True
        else:
            if ch in ",?[]{}":
                flow_ind = True
            if ch == ":":
                flow_ind = True
                if followed_ws:
                    block_ind = True
            if ch == "#" and preceded_ws:
                flow_ind = block_ind = True
        if not _is_printable(ch):
            special = True
        if ch in _BREAKS:
            line_breaks = True
        if ch == " ":
            if i == 0:
                leading_space = True
            if i == n - 1:
                trailing_space = True
            if previous_break:
                break_space = True
            previous_space, previous_break = True, False
        elif ch in _BREAKS:
            if i == 0:
                leading_break = True
            if i == n - 1:
                trailing_break = True
            if previous_space:
                space_break = True
            previous_break, previous_space = True, False
        else:
            previous_space = previous_break = False
        preceded_ws = ch in " \t" + _BREAKS
    flow_plain = block_plain = single = block = True
    if leading_space or leading_break or trailing_space or trailing_break:
        flow_plain = block_plain = False
    if trailing_space:
        block = False
    if break_space:
        flow_plain = block_plain = single = False
    if space_break or special:
        flow_plain = block_plain = single = block = False
    if line_breaks:
        flow_plain = block_plain = False
        if any(c in value for c in "\r\x85\u2028\u2029"):
            single = False  # yaml.v3 writes these escaped in double quotes ("\L")
    if flow_ind:
        flow_plain = False
    if block_ind:
        block_plain = False
    return flow_plain, block_plain, single, block


_OLD_BOOLS = {
    "y",
    "Y",
    "yes",
    "Yes",
    "YES",
    "on",
    "On",
    "ON",
    "n",
    "N",
    "no",
    "No",
    "NO",
    "off",
    "Off",
    "OFF",
}
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_DQ_ESCAPES = {
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def _double_quoted(value: str) -> str:
    out = []
    for ch in value:
        if ch in _DQ_ESCAPES:
            out.append(_DQ_ESCAPES[ch])
        elif not _is_printable(ch) or ch == "\ufeff":
            c = ord(ch)
            out.append(f"\\x{c:02X}" if c <= 0xFF else (f"\\u{c:04X}" if c <= 0xFFFF else f"\\U{c:08X}"))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _scalar_text(value: Any) -> str | None:
    """Text of a non-string scalar as yaml.v3 writes it (None when ``value`` is a string)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, _dt.datetime):
        return _rfc3339nano(value)
    if isinstance(value, _dt.date):
        return _rfc3339nano(_dt.datetime(value.year, value.month, value.day, tzinfo=_dt.timezone.utc))
    return None


def _rfc3339nano(t: _dt.datetime) -> str:
    from kitops.oci.gojson import format_go_time

    return format_go_time(t)


_INT_TEXT = re.compile(r"^-?[0-9]+$")


def _float_text(f: float) -> str:
    """A float as we write it: yaml.v3's text, except that a float never reads back as an int.

    yaml.v3 writes ``1.0`` as ``1`` (and ``1200.0`` as ``1200``), so ``C: 1.0`` came back as
    the int ``1`` (deliberate deviation: we write ``1.0``, ``1200.0``, ``-0.0``). Go reads both
    spellings as the same float64, so kit sees the same value. Exponent forms (``1e+06``,
    ``1e-05``) are kept as yaml.v3 writes them: YAML 1.2 (yaml.v3, our loader) reads them as
    floats, and Kitfiles unpacked by kit from the same config stay byte-identical.
    """
    text = format_float_g(f)
    return text + ".0" if _INT_TEXT.fullmatch(text) else text


def format_float_g(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64) with yaml.v3's .inf/.nan spellings.

    Shortest digits; exponent form when the exponent is < -4 or >= 6 (Go's rule for
    the shortest precision), with at least two exponent digits: 1e+06, 1.5e-05.
    """
    if math.isnan(f):
        return ".nan"
    if math.isinf(f):
        return ".inf" if f > 0 else "-.inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    sign, digits, exp = Decimal(repr(f)).as_tuple()
    assert isinstance(exp, int)
    ds = "".join(map(str, digits))
    stripped = ds.rstrip("0")
    exp += len(ds) - len(stripped)
    ds = stripped or "0"
    dp = len(ds) + exp  # decimal point position relative to the digit string
    x = dp - 1
    neg = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * (-dp)}{ds}"
    if dp >= len(ds):
        return f"{neg}{ds}{'0' * (dp - len(ds))}"
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def _natural_less(a: str, b: str) -> bool:
    """yaml.v3 keyList.Less for two string keys (digit runs compared as numbers)."""
    ar, br = list(a), list(b)
    digits = False
    for i in range(min(len(ar), len(br))):
        if ar[i] == br[i]:
            digits = ar[i].isdigit()
            continue
        al, bl = ar[i].isalpha(), br[i].isalpha()
        if al and bl:
            return ar[i] < br[i]
        if al or bl:
            return al if digits else bl
        an = bn = 0
        if ar[i] == "0" or br[i] == "0":
            j = i - 1
            while j >= 0 and ar[j].isdigit():
                if ar[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(ar) and ar[ai].isdigit():
            an = an * 10 + int(unicodedata.digit(ar[ai], 0))
            ai += 1
        bi = i
        while bi < len(br) and br[bi].isdigit():
            bn = bn * 10 + int(unicodedata.digit(br[bi], 0))
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ar[i] < br[i]
    return len(ar) < len(br)


def _sorted_keys(keys: list[Any]) -> list[Any]:
    def cmp(x: Any, y: Any) -> int:
        if isinstance(x, str) and isinstance(y, str):
            return -1 if _natural_less(x, y) else (1 if _natural_less(y, x) else 0)
        fx = isinstance(x, (int, float)) and not isinstance(x, bool)
        fy = isinstance(y, (int, float)) and not isinstance(y, bool)
        if fx and fy:
            return -1 if x < y else (1 if x > y else 0)
        return -1 if fx else (1 if fy else 0)

    return sorted(keys, key=functools.cmp_to_key(cmp))


class _Emitter:
    def __init__(self) -> None:
        self.out: list[str] = []

    def scalar(self, value: Any, *, flow: bool, key: bool) -> str:
        text = _scalar_text(value)
        if text is not None:
            return text
        s = str(value)
        if "\n" in s and not flow and not key:
            flow_plain, block_plain, single, block = _analyze(s)
            if block:
                return "\0LITERAL"  # handled by the caller (needs indentation)
            return _double_quoted(s)
        resolved = resolve_plain(s) if s else None
        # yaml.v3 quotes what would not read back as this string: "1", "true", its YAML 1.1
        # bools and base-60 numbers, and "<<" (the merge key)
        can_plain = (
            isinstance(resolved, str)
            and resolved == s
            and s not in _OLD_BOOLS
            and s != "<<"
            and not _BASE60.fullmatch(s)
        )
        if not s:
            can_plain = False
        if "\n" in s:
            return _double_quoted(s)
        if not can_plain:
            return _double_quoted(s)
        flow_plain, block_plain, single, _block = _analyze(s)
        if (flow and not flow_plain) or (not flow and not block_plain) or (key and not s):
            return "'" + s.replace("'", "''") + "'" if single else _double_quoted(s)
        return s

    def literal(self, s: str, indent: int) -> str:
        chomp = "-" if not s.endswith("\n") else ("+" if s.endswith("\n\n") or s == "\n" else "")
        hint = "2" if s[:1] in (" ", "\n") else ""
        body = s[:-1] if s.endswith("\n") else s
        lines = body.split("\n")
        pad = " " * indent
        return f"|{hint}{chomp}\n" + "".join((pad + ln if ln else "") + "\n" for ln in lines)

    def flow_seq(self, items: list[Any]) -> str:
        parts = []
        for it in items:
            if isinstance(it, (list, dict)):
                parts.append(self.flow_node(it))
            else:
                parts.append(self.scalar(it, flow=True, key=False))
        return "[" + ", ".join(parts) + "]"

    def flow_node(self, value: Any) -> str:
        if isinstance(value, dict):
            keys = _sorted_keys(list(value)) if isinstance(value, SortedMap) else list(value)
            return (
                "{"
                + ", ".join(
                    f"{self.scalar(k, flow=True, key=True)}: {self.flow_node(value[k])}" for k in keys
                )
                + "}"
            )
        if isinstance(value, list):
            return self.flow_seq(value)
        return self.scalar(value, flow=True, key=False)

    def value_after(self, value: Any, indent: int) -> str:
        """Text after ``key:`` or ``-`` for ``value`` whose block content goes at ``indent``."""
        if isinstance(value, FlowList):
            return " " + self.flow_seq(value) + "\n"
        if isinstance(value, dict):
            if not value:
                return " {}\n"
            return "\n" + self.mapping(value, indent)
        if isinstance(value, list):
            if not value:
                return " []\n"
            return "\n" + self.sequence(value, indent)
        text = self.scalar(value, flow=False, key=False)
        if text == "\0LITERAL":
            return " " + self.literal(str(value), indent)
        return " " + text + "\n"

    def mapping(self, value: dict[Any, Any], indent: int, first_prefix: str | None = None) -> str:
        keys = _sorted_keys(list(value)) if isinstance(value, SortedMap) else list(value)
        out = []
        for i, k in enumerate(keys):
            prefix = first_prefix if (i == 0 and first_prefix is not None) else " " * indent
            out.append(
                prefix + self.scalar(k, flow=False, key=True) + ":" + self.value_after(value[k], indent + 2)
            )
        return "".join(out)

    def sequence(self, items: list[Any], indent: int) -> str:
        out = []
        pad = " " * indent
        for it in items:
            if isinstance(it, dict) and it and not isinstance(it, FlowList):
                out.append(self.mapping(it, indent + 2, first_prefix=pad + "- "))
            elif isinstance(it, list) and it and not isinstance(it, FlowList):
                inner = self.sequence(it, indent + 2)
                out.append(pad + "- " + inner[indent + 2 :])
            else:
                out.append(pad + "-" + self.value_after(it, indent + 2))
        return "".join(out)


def dump_yaml(value: Any) -> str:
    """yaml.v3 ``Encoder`` with ``SetIndent(2)``: one document, ending in a single newline."""
    em = _Emitter()
    if isinstance(value, dict):
        return em.mapping(value, 0) if value else "{}\n"
    if isinstance(value, list) and not isinstance(value, FlowList):
        return em.sequence(value, 0) if value else "[]\n"
    if isinstance(value, FlowList):
        return em.flow_seq(value) + "\n"
    text = em.scalar(value, flow=False, key=False)
    if text == "\0LITERAL":
        return em.literal(str(value), 0)
    return text + "\n"
