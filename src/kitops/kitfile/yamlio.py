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

__all__ = ["FlowList", "SortedMap", "YamlSyntaxError", "dump_yaml", "format_float_g", "load_yaml", "resolve_plain"]


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.message = message
        self.line = line


class FlowList(list):  # type: ignore[type-arg]
    """A list dumped in flow style: ``authors: [A, B]``."""


class SortedMap(dict):  # type: ignore[type-arg]
    """A dict dumped with yaml.v3's natural key order (a Go ``map[string]interface{}``)."""


# ------------------------------------------------------------------------------------------------
# Loading

_PLAIN_TAG = "tag:kitops,plain"
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_TS_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?"
    r"(?:[ \t]*(Z|[-+]\d{1,2}(?::?\d{2})?))?)?$"
)
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(s, 0, 64) / ParseUint after removing '_' (what yaml.v3 does)."""
    s = text.replace("_", "")
    m = re.match(r"^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$", s)
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
        if _FLOAT_RE.match(plain):
            return float(plain)
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
            hours, minutes = int(digits[:2] if len(digits) > 2 else digits), int(digits[2:] or 0) if len(digits) > 2 else 0
            tz = _dt.timezone(sign * _dt.timedelta(hours=hours, minutes=minutes))
        return _dt.datetime(int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), micro, tzinfo=tz)
    except ValueError:
        return None


class _Loader(yaml.SafeLoader):
    """PyYAML's parser with yaml.v3's (YAML 1.2 core) typing of plain scalars."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return "tag:yaml.org,2002:merge" if value == "<<" else _PLAIN_TAG
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]


def _construct_plain(loader: _Loader, node: yaml.ScalarNode) -> Any:
    return resolve_plain(str(node.value))


_Loader.add_constructor(_PLAIN_TAG, _construct_plain)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_plain)


def _check_and_collect(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int],
                       loader: _Loader) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                _check_and_collect(value_node, path, lines, loader)
                continue
            key = loader.construct_object(key_node, deep=True) if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen and key != "<<":
                    raise YamlSyntaxError(f'mapping key "{key}" already defined at line {seen[key]}', line)
                seen[key] = line
                lines[path + (key,)] = line
            _check_and_collect(value_node, path + (key,), lines, loader)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_and_collect(item, path + (i,), lines, loader)


def load_yaml(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse the first YAML document; return (value, line of every mapping key by its path)."""
    loader = _Loader(text)
    try:
        if not loader.check_node():
            raise YamlSyntaxError("EOF")
        node = loader.get_node()
        if node is None:
            raise YamlSyntaxError("EOF")
        lines: dict[tuple[Any, ...], int] = {}
        _check_and_collect(node, (), lines, loader)
        value = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(str(exc.problem or exc.context or "invalid YAML"), mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc)) from None
    finally:
        loader.dispose()
    return value, lines


# ------------------------------------------------------------------------------------------------
# Dumping


def _is_printable(ch: str) -> bool:
    """libyaml's IS_PRINTABLE on UTF-8 bytes (4-byte sequences are *not* printable)."""
    c = ord(ch)
    return (
        c == 0x0A
        or 0x20 <= c <= 0x7E
        or 0xA0 <= c <= 0xD7FF
        or (0xE000 <= c <= 0xFFFD and c != 0xFEFF)
    )


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


_OLD_BOOLS = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF"}
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_DQ_ESCAPES = {
    "\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r",
    "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P",
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
    return text + ".0" if _INT_TEXT.match(text) else text


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
        can_plain = isinstance(resolved, str) and resolved == s and s not in _OLD_BOOLS and not _BASE60.match(s)
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
            return "{" + ", ".join(
                f"{self.scalar(k, flow=True, key=True)}: {self.flow_node(value[k])}" for k in keys
            ) + "}"
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
            out.append(prefix + self.scalar(k, flow=False, key=True) + ":" + self.value_after(value[k], indent + 2))
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
