""".kitignore reading and matching with exactly Docker's ``.dockerignore`` semantics.

The Go ``kit`` CLI uses github.com/moby/patternmatcher (v0.6.0) and its ``ignorefile``
reader, so a ``.kitignore`` must mean the same thing here, including the odd corners:

* ``ignorefile.ReadAll`` rules live in :func:`read_ignore_file`.
* ``patternmatcher.New`` trims and path-cleans each pattern, peels a leading ``!`` and
  rejects bad globs with ``filepath.Match``'s syntax check (Go >= 1.20 checks the whole
  pattern); :class:`PatternMatcher` does the same.
* ``Pattern.compile`` sorts each pattern into exact / prefix / suffix / regexp matching and
  builds a Go (RE2) regular expression from the glob. The RE2 text is rebuilt here
  character for character and then transpiled to an equivalent Python ``re`` expression,
  so quirks such as ``[*]`` (the ``*`` is turned into ``[^/]*`` even inside brackets) or
  ``\\d`` (an RE2 digit class, not a literal ``d``) behave as in Go.
* ``MatchesOrParentMatches``: a path is ignored when a pattern matches the path or any of
  its parent directories; the last pattern that applies wins and ``!`` re-includes.

:class:`LayerIgnore` adds the packer's "another layer owns this path" rule with
path-component containment, where the reference compared string prefixes (so a layer that nests
``data`` also lost ``data2/``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from kitops.errors import KitError

__all__ = [
    "DEFAULT_IGNORES",
    "IgnorePatternError",
    "LayerIgnore",
    "PatternMatcher",
    "go_clean",
    "matcher_with_defaults",
    "read_ignore_file",
]

#: Patterns the reference appends after the user's ``.kitignore`` patterns. Having no
#: ``/`` they are exact matches anchored at the context root: ``sub/Kitfile`` is packed.
DEFAULT_IGNORES: list[str] = ["Kitfile", "kitfile", ".kitfile", ".kitignore"]

# Go's filepath.ErrBadPattern text.
_BAD_PATTERN = "syntax error in pattern"

# unicode.IsSpace, which Go's strings.TrimSpace uses (Python's str.strip() differs: it
# also strips U+001C..U+001F).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

_MAX_RUNE = 0x10FFFF


class IgnorePatternError(KitError, ValueError):
    """A ``.kitignore`` pattern that moby's patternmatcher would reject.

    ``str(err)`` is Go's text (``syntax error in pattern`` or ``illegal exclusion
    pattern: "!"``) so that CLI messages match the reference; ``pattern`` names the
    offending pattern for a better hint.
    """

    def __init__(self, message: str, *, pattern: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.pattern = pattern


def _go_trim_space(s: str) -> str:
    return s.strip(_GO_SPACE)


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` for ``/``-separated paths (``''`` -> ``'.'``, ``//a`` -> ``/a``).

    ``posixpath.normpath`` is close but keeps a leading ``//``, so it is not used.
    """
    if path == "":
        return "."
    rooted = path[0] == "/"
    out: list[str] = []
    for comp in path.split("/"):
        if comp == "" or comp == ".":
            continue
        if comp == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(comp)
    joined = "/".join(out)
    if rooted:
        return "/" + joined
    return joined or "."


def _clean_fast(path: str) -> str:
    """``go_clean`` with a cheap exit for the common already-clean path (called per file)."""
    wrapped = f"/{path}/"
    if path and "//" not in wrapped and "/./" not in wrapped and "/../" not in wrapped:
        return path
    return go_clean(path)


def read_ignore_file(text: str) -> list[str]:
    """Parse ``.kitignore`` text like moby's ``ignorefile.ReadAll``.

    Lines are split as ``bufio.ScanLines`` does (on ``\\n``, one trailing ``\\r`` dropped).
    A UTF-8 BOM is removed from the first line only. A line whose first character is
    ``#`` is a comment -- checked before trimming, so `` #x`` is a pattern and ``\\#x``
    matches a file named ``#x``. Each pattern is trimmed, a leading ``!`` is peeled and the
    rest trimmed again, then path-cleaned with one leading ``/`` removed; ``!`` is put back.
    A lone ``!`` is kept (``PatternMatcher`` rejects it, as Go does).
    """
    patterns: list[str] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # ScanLines yields no token after a final newline
    for lineno, raw in enumerate(lines):
        line = raw[:-1] if raw.endswith("\r") else raw
        if lineno == 0 and line.startswith("\ufeff"):
            line = line[1:]
        if line.startswith("#"):
            continue
        pattern = _go_trim_space(line)
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = _go_trim_space(pattern[1:])
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        if invert:
            pattern = "!" + pattern
        patterns.append(pattern)
    return patterns


# ---------------------------------------------------------------------------
# Go filepath.Match syntax check (Unix, Go >= 1.20: the whole pattern is validated).
# ---------------------------------------------------------------------------


def _scan_chunk(pattern: str) -> tuple[str, str]:
    """filepath.scanChunk: skip leading stars, return (chunk, rest)."""
    pattern = pattern.lstrip("*")
    in_range = False
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < n:
                i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        i += 1
    return pattern[:i], pattern[i:]


def _glob_esc_ok(chunk: str, i: int) -> int:
    """filepath.getEsc: index after one class character, or -1 on a syntax error."""
    n = len(chunk)
    if i >= n or chunk[i] in "-]":
        return -1
    if chunk[i] == "\\":
        i += 1
        if i >= n:
            return -1
    i += 1
    if i >= n:  # the class must still be closed
        return -1
    return i


def _glob_chunk_ok(chunk: str) -> bool:
    """The syntax part of filepath.matchChunk."""
    i = 0
    n = len(chunk)
    while i < n:
        ch = chunk[i]
        if ch == "[":
            i += 1
            if i < n and chunk[i] == "^":
                i += 1
            nrange = 0
            while True:
                if i < n and chunk[i] == "]" and nrange > 0:
                    i += 1
                    break
                i = _glob_esc_ok(chunk, i)
                if i < 0:
                    return False
                if chunk[i] == "-":
                    i = _glob_esc_ok(chunk, i + 1)
                    if i < 0:
                        return False
                nrange += 1
        elif ch == "\\":
            i += 1
            if i >= n:
                return False
            i += 1
        else:
            i += 1
    return True


def _glob_syntax_ok(pattern: str) -> bool:
    """Whether ``filepath.Match(pattern, ".")`` returns no error."""
    rest = pattern
    while rest:
        chunk, rest = _scan_chunk(rest)
        if not _glob_chunk_ok(chunk):
            return False
    return True


# ---------------------------------------------------------------------------
# RE2 (Go regexp, syntax.Perl flags) -> Python re, for the regexps patternmatcher builds.
# ---------------------------------------------------------------------------

_Ranges = list[tuple[int, int]]

_PERL_GROUPS: dict[str, tuple[bool, _Ranges]] = {
    "d": (False, [(0x30, 0x39)]),
    "D": (True, [(0x30, 0x39)]),
    "s": (False, [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)]),
    "S": (True, [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)]),
    "w": (False, [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]),
    "W": (True, [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]),
}

_POSIX_BASE: dict[str, _Ranges] = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x00, 0x7F)],
    "blank": [(0x09, 0x09), (0x20, 0x20)],
    "cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "digit": [(0x30, 0x39)],
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x09, 0x0D), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
_POSIX_GROUPS: dict[str, tuple[bool, _Ranges]] = {
    f"[:{neg}{name}:]": (neg == "^", ranges) for name, ranges in _POSIX_BASE.items() for neg in ("", "^")
}

_C_ESCAPES = {"a": 0x07, "f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B}
_OCTAL = "01234567"
_ATOM, _ASSERT, _REPEAT, _MARK = range(4)


class _Re2Error(Exception):
    """The Go regexp package would refuse this expression."""


class _UnsupportedError(Exception):
    """Valid RE2 that has no Python ``re`` equivalent here (Unicode classes ``\\p``)."""


def _normalize(ranges: _Ranges) -> _Ranges:
    out: _Ranges = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _negate(ranges: _Ranges) -> _Ranges:
    out: _Ranges = []
    nxt = 0
    for lo, hi in _normalize(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_RUNE:
        out.append((nxt, _MAX_RUNE))
    return out


def _class_regex(ranges: _Ranges, negated: bool) -> str:
    final = _negate(ranges) if negated else _normalize(ranges)
    if not final:
        return "[^\\x00-\\U0010ffff]"  # matches nothing, yet may be repeated
    parts = [f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in final]
    return "[" + "".join(parts) + "]"


def _unhex(c: str) -> int:
    if "0" <= c <= "9":
        return ord(c) - 0x30
    if "a" <= c <= "f":
        return ord(c) - 0x61 + 10
    if "A" <= c <= "F":
        return ord(c) - 0x41 + 10
    return -1


def _is_ascii_alnum(c: str) -> bool:
    return ("0" <= c <= "9") or ("a" <= c <= "z") or ("A" <= c <= "Z")


class _Re2Translator:
    """Parses the RE2 text patternmatcher builds and emits the same language for Python ``re``.

    Only what the Go parser does with ``syntax.Perl`` flags matters: ``^``/``$`` are text
    anchors, ``.`` excludes ``\\n``, classes may hold POSIX and Perl groups, ``\\Q..\\E``
    quotes, octal/hex/C escapes, and stacked repetition operators are errors.
    """

    def __init__(self, src: str) -> None:
        self.s = src
        self.n = len(src)
        #: A raw '|' was seen (then the anchors do not cover the whole expression).
        self.alternation = False
        #: After translate(): the expression can only match at the start of the path.
        self.anchored = False

    # -- escapes and classes -------------------------------------------------

    def _escape(self, i: int) -> tuple[int, int]:
        """syntax.parseEscape at ``s[i] == '\\\\'``; returns (rune, next index)."""
        s, n = self.s, self.n
        j = i + 1
        if j >= n:
            raise _Re2Error("trailing backslash")
        c = s[j]
        j += 1
        if c in "1234567" and (j >= n or s[j] not in _OCTAL):
            raise _Re2Error("backreference")
        if c in _OCTAL:
            r = ord(c) - 0x30
            for _ in range(2):
                if j >= n or s[j] not in _OCTAL:
                    break
                r = r * 8 + ord(s[j]) - 0x30
                j += 1
            return r, j
        if c == "x":
            return self._hex_escape(j)
        if c in _C_ESCAPES:
            return _C_ESCAPES[c], j
        if ord(c) < 0x80 and not _is_ascii_alnum(c):
            return ord(c), j
        raise _Re2Error("invalid escape")

    def _hex_escape(self, j: int) -> tuple[int, int]:
        s, n = self.s, self.n
        if j >= n:
            raise _Re2Error("invalid escape")
        c = s[j]
        j += 1
        if c == "{":
            r = 0
            nhex = 0
            while True:
                if j >= n:
                    raise _Re2Error("invalid escape")
                c = s[j]
                j += 1
                if c == "}":
                    break
                v = _unhex(c)
                if v < 0:
                    raise _Re2Error("invalid escape")
                r = r * 16 + v
                if r > _MAX_RUNE:
                    raise _Re2Error("invalid escape")
                nhex += 1
            if nhex == 0:
                raise _Re2Error("invalid escape")
            return r, j
        x = _unhex(c)
        y = -1
        if j < n:
            y = _unhex(s[j])
            j += 1
        if x < 0 or y < 0:
            raise _Re2Error("invalid escape")
        return x * 16 + y, j

    def _class_char(self, i: int) -> tuple[int, int]:
        if i >= self.n:
            raise _Re2Error("missing closing ]")
        if self.s[i] == "\\":
            return self._escape(i)
        return ord(self.s[i]), i + 1

    def _class(self, i: int) -> tuple[str, int]:
        """syntax.parseClass at ``s[i] == '['``; returns (python class, next index)."""
        s, n = self.s, self.n
        i += 1
        negated = False
        if i < n and s[i] == "^":
            negated = True
            i += 1
        ranges: _Ranges = []
        first = True
        while i >= n or s[i] != "]" or first:
            first = False
            if n - i > 2 and s[i] == "[" and s[i + 1] == ":":
                end = s.find(":]", i + 2)
                if end >= 0:
                    group = _POSIX_GROUPS.get(s[i : end + 2])
                    if group is None:
                        raise _Re2Error("invalid character class range")
                    ranges.extend(_negate(group[1]) if group[0] else group[1])
                    i = end + 2
                    continue
            if n - i >= 2 and s[i] == "\\":
                if s[i + 1] in "pP":
                    raise _UnsupportedError
                perl = _PERL_GROUPS.get(s[i + 1])
                if perl is not None:
                    ranges.extend(_negate(perl[1]) if perl[0] else perl[1])
                    i += 2
                    continue
            lo, i = self._class_char(i)
            hi = lo
            if n - i >= 2 and s[i] == "-" and s[i + 1] != "]":
                hi, i = self._class_char(i + 1)
                if hi < lo:
                    raise _Re2Error("invalid character class range")
            ranges.append((lo, hi))
        return _class_regex(ranges, negated), i + 1

    # -- top level -------------------------------------------------------------

    def translate(self) -> str:
        s, n = self.s, self.n
        stack: list[list[tuple[str, int]]] = [[]]
        i = 0
        while i < n:
            c = s[i]
            seq = stack[-1]
            if c == "(":
                stack.append([])
                i += 1
            elif c == ")":
                if len(stack) == 1:
                    raise _Re2Error("unexpected )")
                inner = stack.pop()
                stack[-1].append(("(?:" + "".join(t for t, _ in inner) + ")", _ATOM))
                i += 1
            elif c == "|":
                seq.append(("|", _MARK))
                self.alternation = True
                i += 1
            elif c in "*+?":
                i = self._repeat(seq, c, i + 1)
            elif c == "{":
                bounds = self._repeat_bounds(i)
                if bounds is None:
                    seq.append((re.escape(c), _ATOM))  # not a valid {n,m}: a literal '{'
                    i += 1
                else:
                    text, i = bounds
                    i = self._repeat(seq, text, i)
            elif c == "^":
                seq.append((r"\A", _ASSERT))
                i += 1
            elif c == "$":
                seq.append((r"\Z", _ASSERT))
                i += 1
            elif c == ".":
                seq.append((".", _ATOM))
                i += 1
            elif c == "[":
                text, i = self._class(i)
                seq.append((text, _ATOM))
            elif c == "\\":
                i = self._top_escape(i, seq)
            else:
                seq.append((re.escape(c), _ATOM))
                i += 1
        if len(stack) != 1:
            raise _Re2Error("missing )")
        top = stack[0]
        # Go's MatchString searches. A plain leading \A makes that a match, but a raw '|'
        # or a repeated '^' ("^{0}", "^?") frees the expression from the start.
        self.anchored = not self.alternation and bool(top) and top[0] == (r"\A", _ASSERT)
        return "".join(t for t, _ in top)

    def _repeat(self, seq: list[tuple[str, int]], op: str, i: int) -> int:
        """Apply a repetition operator (``*``, ``+``, ``?`` or ``{n,m}``) to the last atom."""
        if i < self.n and self.s[i] == "?":
            op += "?"  # Perl non-greedy form
            i += 1
        if seq and seq[-1][1] == _REPEAT:
            raise _Re2Error("invalid nested repetition operator")
        if not seq or seq[-1][1] == _MARK:
            raise _Re2Error("missing argument to repetition operator")
        text, kind = seq[-1]
        if kind == _ASSERT:
            text = "(?:" + text + ")"
        seq[-1] = (text + op, _REPEAT)
        return i

    def _int(self, i: int) -> tuple[int, int] | None:
        """syntax.parseInt: (value or -1 when huge, next index); None when not a number."""
        s, n = self.s, self.n
        if i >= n or not "0" <= s[i] <= "9":
            return None
        if s[i] == "0" and i + 1 < n and "0" <= s[i + 1] <= "9":
            return None  # leading zeros are not a number
        j = i
        while j < n and "0" <= s[j] <= "9":
            j += 1
        # Go gives up (-1) once a tenth digit would follow a nine-digit prefix.
        return (int(s[i:j]) if j - i <= 9 else -1), j

    def _repeat_bounds(self, i: int) -> tuple[str, int] | None:
        """syntax.parseRepeat at ``s[i] == '{'``: (python operator, next index), or None."""
        s, n = self.s, self.n
        got = self._int(i + 1)
        if got is None:
            return None
        lo, j = got
        if j >= n:
            return None
        if s[j] != ",":
            hi = lo
        else:
            j += 1
            if j >= n:
                return None
            if s[j] == "}":
                hi = -1
            else:
                got = self._int(j)
                if got is None:
                    return None
                hi, j = got
                if hi < 0:
                    lo = -1
        if j >= n or s[j] != "}":
            return None
        if lo < 0 or lo > 1000 or hi > 1000 or (hi >= 0 and lo > hi):
            raise _Re2Error("invalid repeat count")
        op = f"{{{lo}}}" if hi == lo else (f"{{{lo},}}" if hi < 0 else f"{{{lo},{hi}}}")
        return op, j + 1

    def _top_escape(self, i: int, seq: list[tuple[str, int]]) -> int:
        s, n = self.s, self.n
        if n - i >= 2:
            c = s[i + 1]
            if c == "A":
                seq.append((r"\A", _ASSERT))
                return i + 2
            if c in "bB":
                seq.append(("\\" + c, _ASSERT))  # ASCII word boundary: compiled with re.ASCII
                return i + 2
            if c == "C":
                raise _Re2Error("invalid escape")
            if c == "z":
                seq.append((r"\Z", _ASSERT))
                return i + 2
            if c == "Q":
                end = s.find("\\E", i + 2)
                lit = s[i + 2 :] if end < 0 else s[i + 2 : end]
                seq.extend((re.escape(ch), _ATOM) for ch in lit)
                return n if end < 0 else end + 2
            if c in "pP":
                raise _UnsupportedError
            perl = _PERL_GROUPS.get(c)
            if perl is not None:
                seq.append((_class_regex(perl[1], perl[0]), _ATOM))
                return i + 2
        r, j = self._escape(i)
        seq.append((re.escape(chr(r)), _ATOM))
        return j


# ---------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------

_Matcher = Callable[[str], object]


def _go_regexp(pattern: str) -> tuple[str, str]:
    """Rebuild ``Pattern.compile``: returns (match type, RE2 text)."""
    reg = ["^"]
    kind = "exact"
    n = len(pattern)
    # text/scanner skips a leading BOM; the exact/prefix/suffix forms still use the raw text.
    k = 1 if pattern.startswith("\ufeff") else 0
    first = True
    while k < n:
        ch = pattern[k]
        k += 1
        if ch == "*":
            if k < n and pattern[k] == "*":
                k += 1
                if k < n and pattern[k] == "/":
                    k += 1
                if k >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        reg.append(".*")
                        kind = "regexp"
                else:
                    reg.append("(.*/)?")
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                reg.append("[^/]*")
                kind = "regexp"
        elif ch == "?":
            reg.append("[^/]")
            kind = "regexp"
        elif ch in ".+()$":
            # Go's escape bitmap is meant to cover ".+()|{}$", but its byte-sized rows drop
            # every character >= 64, so '|', '{' and '}' reach the regexp raw.
            reg.append("\\" + ch)
        elif ch == "\\":
            if k < n:
                reg.append("\\" + pattern[k])
                k += 1
                kind = "regexp"
            else:
                reg.append("\\")
        elif ch in "[]":
            reg.append(ch)
            kind = "regexp"
        else:
            reg.append(ch)
        first = False
    reg.append("$")
    return kind, "".join(reg)


def _compile(pattern: str) -> _Matcher:
    """Build the per-path predicate for one cleaned pattern (without its ``!``)."""
    kind, go_re = _go_regexp(pattern)
    if kind == "exact":
        return pattern.__eq__
    if kind == "prefix":
        return _prefix_matcher(pattern[:-2])
    if kind == "suffix":
        return _suffix_matcher(pattern[2:])
    try:
        translator = _Re2Translator(go_re)
        py_re = translator.translate()
        # Merge runs of "**/" groups: same language, avoids exponential backtracking.
        py_re = re.sub(r"(?:\(\?:\.\*/\)\?){2,}", "(?:.*/)?", py_re)
        compiled = re.compile(py_re, re.ASCII)
        return compiled.match if translator.anchored else compiled.search
    except _UnsupportedError:
        raise IgnorePatternError(
            "unsupported pattern: Unicode class escapes (\\p, \\P) are not supported",
            pattern=pattern,
        ) from None
    except (_Re2Error, re.error):
        raise IgnorePatternError(_BAD_PATTERN, pattern=pattern) from None


def _prefix_matcher(prefix: str) -> _Matcher:
    def match(path: str) -> bool:
        return path.startswith(prefix)

    return match


def _suffix_matcher(suffix: str) -> _Matcher:
    bare = suffix[1:] if suffix.startswith("/") else None  # "**/foo" also matches "foo"

    def match(path: str) -> bool:
        return path.endswith(suffix) or path == bare

    return match


class PatternMatcher:
    """moby ``patternmatcher.PatternMatcher`` with ``MatchesOrParentMatches`` semantics.

    Patterns are compiled once. Per-directory results are cached (as bitmasks of the
    patterns that match the directory or one of its ancestors), so matching a file costs
    one evaluation per pattern plus a dict lookup, even in trees of 100k files.
    """

    _CACHE_LIMIT = 200_000

    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns: list[str] = []
        self._exclusion: list[bool] = []
        self._matchers: list[_Matcher] = []
        for raw in patterns:
            p = _go_trim_space(raw)
            if not p:
                continue
            p = go_clean(p)
            exclusion = p[0] == "!"
            if exclusion:
                if len(p) == 1:
                    raise IgnorePatternError('illegal exclusion pattern: "!"', pattern=raw)
                p = p[1:]
            if not _glob_syntax_ok(p):
                raise IgnorePatternError(_BAD_PATTERN, pattern=raw)
            try:
                self._matchers.append(_compile(p))
            except IgnorePatternError as err:
                err.pattern = raw
                raise
            self._patterns.append(p)
            self._exclusion.append(exclusion)
        self._has_exclusions = any(self._exclusion)
        self._dir_cache: dict[str, int] = {}

    @property
    def has_exclusions(self) -> bool:
        """Whether any ``!`` pattern exists (then an ignored directory cannot be pruned)."""
        return self._has_exclusions

    @property
    def patterns(self) -> list[str]:
        """The cleaned patterns, ``!`` restored for exclusions (for display and debugging)."""
        return [("!" + p) if ex else p for p, ex in zip(self._patterns, self._exclusion, strict=True)]

    def _dir_hits(self, directory: str) -> int:
        """Bitmask of patterns matching ``directory`` or any ancestor of it (Go's parent loop)."""
        cache = self._dir_cache
        hit = cache.get(directory)
        if hit is not None:
            return hit
        # Walk up to the nearest cached ancestor, then fill the cache on the way down.
        chain = [directory]
        base = 0
        d = directory
        while True:
            cut = d.rfind("/")
            if cut < 0:
                break
            d = d[:cut]
            cached = cache.get(d)
            if cached is not None:
                base = cached
                break
            chain.append(d)
        if len(cache) > self._CACHE_LIMIT:
            cache.clear()
        for d in reversed(chain):
            mask = base
            for idx, m in enumerate(self._matchers):
                if not mask >> idx & 1 and m(d):
                    mask |= 1 << idx
            cache[d] = mask
            base = mask
        return base

    def matches(self, path: str) -> bool:
        """Whether ``path`` (context-relative, ``/``-separated) is ignored.

        A pattern applies when it matches the path or one of its parent directories;
        patterns are evaluated in order, the last one that applies wins, and ``!``
        patterns re-include. Like the Go method (not the package function), ``'.'`` is
        matched like any other path.
        """
        return self._matches_clean(_clean_fast(path))

    def _matches_clean(self, path: str) -> bool:
        if not self._matchers:
            return False
        cut = path.rfind("/")
        # filepath.Dir; a rooted path's parents are "" and "/"-prefixed, as in Go.
        parents = 0 if cut < 0 else self._dir_hits(path[:cut] if cut > 0 else "/")
        matched = False
        for idx, m in enumerate(self._matchers):
            exclusion = self._exclusion[idx]
            if exclusion != matched:
                continue
            if parents >> idx & 1 or m(path):
                matched = not exclusion
        return matched


def matcher_with_defaults(kitignore_patterns: Sequence[str]) -> PatternMatcher:
    """The matcher ``kit pack`` uses: the ``.kitignore`` patterns, then :data:`DEFAULT_IGNORES`.

    The defaults come last, as in the reference, so ``!Kitfile`` cannot re-include the
    root Kitfile.
    """
    return PatternMatcher([*kitignore_patterns, *DEFAULT_IGNORES])


def _clean_layer_path(path: str) -> str:
    # The reference's cleanPath: TrimSpace, then Clean.
    return go_clean(_go_trim_space(path))


def _is_ancestor_or_self(ancestor: str, path: str) -> bool:
    return ancestor == "." or ancestor == path or path.startswith(ancestor + "/")


class LayerIgnore:
    """Decides, per file, whether it belongs in a given layer (the packer's ``Matches``).

    A path is left out of the layer rooted at ``layer_path`` when the kitignore matcher
    ignores it, or when another Kitfile layer nested inside this one owns it. Containment
    is by whole path components (``data2/x`` is not inside ``data``), unlike the reference.
    """

    def __init__(self, matcher: PatternMatcher, layer_paths: Sequence[str]) -> None:
        self._matcher = matcher
        self._layers: tuple[str, ...] = tuple(dict.fromkeys(_clean_layer_path(p) for p in layer_paths))
        self._owners: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}

    @property
    def matcher(self) -> PatternMatcher:
        """The kitignore matcher (e.g. to warn that a layer path itself is ignored)."""
        return self._matcher

    @property
    def layer_paths(self) -> tuple[str, ...]:
        """The cleaned, de-duplicated layer paths."""
        return self._layers

    @property
    def has_exclusions(self) -> bool:
        """Whether the kitignore has ``!`` patterns (see :meth:`can_prune`)."""
        return self._matcher.has_exclusions

    def _nested(self, layer_path: str) -> tuple[frozenset[str], tuple[str, ...]]:
        """The layers that are not ``layer_path`` or its ancestors: (exact set, prefixes)."""
        found = self._owners.get(layer_path)
        if found is None:
            current = _clean_layer_path(layer_path)
            others = [lp for lp in self._layers if not _is_ancestor_or_self(lp, current)]
            found = (frozenset(others), tuple(lp + "/" for lp in others))
            self._owners[layer_path] = found
        return found

    def _owned(self, path: str, layer_path: str) -> bool:
        exact, prefixes = self._nested(layer_path)
        return path in exact or path.startswith(prefixes)

    def owned_by_other_layer(self, path: str, layer_path: str) -> bool:
        """Whether ``path`` is, or lies inside, a layer path other than ``layer_path`` and its ancestors."""
        return self._owned(_clean_fast(path), layer_path)

    def is_ignored(self, path: str, layer_path: str) -> bool:
        """True when ``path`` must not go into the layer rooted at ``layer_path`` (``'.'`` = root)."""
        path = _clean_fast(path)
        return self._owned(path, layer_path) or self._matcher._matches_clean(path)

    def can_prune(self, directory: str, layer_path: str) -> bool:
        """Whether the walk may skip ``directory`` and its whole subtree.

        True when another layer owns it (nothing below can come back), or when the
        kitignore ignores it and has no ``!`` patterns that could re-include something.
        """
        directory = _clean_fast(directory)
        if self._owned(directory, layer_path):
            return True
        return not self._matcher.has_exclusions and self._matcher._matches_clean(directory)
