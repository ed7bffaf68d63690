"""JSON bytes exactly as Go's ``encoding/json`` writes them.

ModelKit configs and manifests are content-addressed, so the Python CLI must emit
the very bytes the Go CLI emits: compact output, struct keys in declaration order,
map keys sorted bytewise, HTML-safe escaping and Go's float formatting. Plain
``dict`` means "struct" (insertion order kept); :class:`GoMap` means "Go map"
(keys sorted on output).
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any


class GoMap(dict):  # type: ignore[type-arg]
    """A mapping that Go encodes as ``map[string]T``: keys sorted by their UTF-8 bytes."""


class UnsupportedValueError(ValueError):
    """A value Go's encoder refuses too (``json: unsupported value: +Inf``)."""


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _escape_char(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    if code < 0x20:
        return f"\\u{code:04x}"
    if 0xD800 <= code <= 0xDFFF:  # lone surrogate: Go writes U+FFFD for invalid UTF-8
        return "\ufffd"
    return ch


def encode_string(s: str) -> str:
    """Quote ``s`` as Go does (HTML-safe, raw UTF-8 for other non-ASCII)."""
    if s.isascii() and s.isprintable() and not any(c in s for c in '"\\<>&'):
        return '"' + s + '"'
    return '"' + "".join(_escape_char(c) for c in s) + '"'


def format_float(f: float) -> str:
    """Go's ``encoding/json`` float64 formatting: shortest round-trip digits."""
    if math.isinf(f) or math.isnan(f):
        raise UnsupportedValueError(
            f"json: unsupported value: {'NaN' if math.isnan(f) else ('+Inf' if f > 0 else '-Inf')}"
        )
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    a = abs(f)
    if 1e-6 <= a < 1e21:
        from decimal import Decimal  # only floats need it; most documents have none

        text = format(Decimal(repr(f)), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    text = repr(f)  # Python's repr is the shortest round-trip form too; fix the exponent shape
    mantissa, _, exp = text.partition("e")
    sign = exp[0] if exp[0] in "+-" else "+"
    digits = exp.lstrip("+-")
    if sign == "-" and len(digits) == 2 and digits[0] == "0":
        digits = digits[1]
    return f"{mantissa}e{sign}{digits}"


def _encode(value: Any, out: list[str], indent: str | None, level: int) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_float(value))
    elif isinstance(value, str):
        out.append(encode_string(value))
    elif isinstance(value, _dt.datetime):
        out.append(encode_string(format_go_time(value)))
    elif isinstance(value, dict):
        items = list(value.items())
        if isinstance(value, GoMap):
            for k, _ in items:
                if not isinstance(k, str):
                    raise UnsupportedValueError("json: unsupported type: map[interface {}]interface {}")
            items.sort(key=lambda kv: kv[0].encode("utf-8", "surrogatepass"))
        if not items:
            out.append("{}")
            return
        out.append("{")
        for i, (k, v) in enumerate(items):
            if i:
                out.append(",")
            if indent is not None:
                out.append("\n" + indent * (level + 1))
            out.append(encode_string(str(k)))
            out.append(": " if indent is not None else ":")
            _encode(v, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + indent * level)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            if indent is not None:
                out.append("\n" + indent * (level + 1))
            _encode(v, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + indent * level)
        out.append("]")
    else:
        raise UnsupportedValueError(f"json: unsupported type: {type(value).__name__}")


def dumps(value: Any, *, indent: str | None = None) -> str:
    """``json.Marshal`` (indent None) or ``json.MarshalIndent(v, "", indent)``."""
    out: list[str] = []
    _encode(value, out, indent, 0)
    return "".join(out)


def dump_bytes(value: Any) -> bytes:
    """Compact Go JSON as UTF-8 bytes: what gets hashed for configs and manifests."""
    return dumps(value).encode("utf-8")


def format_go_time(t: _dt.datetime) -> str:
    """RFC 3339 with nanosecond precision trimmed, like Go's ``time.Time`` JSON form."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        base += ("." + f"{t.microsecond:06d}").rstrip("0")
    off = t.utcoffset()
    if not off:
        return base + "Z"
    total = int(off.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{base}{sign}{total // 3600:02d}:{(total % 3600) // 60:02d}"
