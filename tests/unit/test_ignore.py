"""`.kitignore` reading and matching (moby patternmatcher semantics) and layer exclusion.

The matcher tables were cross-checked against Go's github.com/moby/patternmatcher
(``MatchesOrParentMatches``); the LayerIgnore tests pin the deliberate fix of the
reference's string-prefix layer test (``data2/x`` is not inside ``data``).
"""

from __future__ import annotations

import pytest

from kitops.errors import KitError
from kitops.kitfile.ignore import (
    DEFAULT_IGNORES,
    IgnorePatternError,
    LayerIgnore,
    PatternMatcher,
    go_clean,
    matcher_with_defaults,
    read_ignore_file,
)

# (patterns, path, ignored)
MATCH_CASES: list[tuple[list[str], str, bool]] = [
    # '*' matches within one path component only
    (["*.md"], "README.md", True),
    (["*.md"], "docs/README.md", False),
    (["a*c"], "abc", True),
    (["a*c"], "ab/c", False),
    (["a/*"], "a/b", True),
    (["a/*"], "a/b/c", True),  # via the parent a/b
    (["*"], "anything/below", True),
    # '?' is one character other than '/'
    (["?.txt"], "a.txt", True),
    (["?.txt"], "ab.txt", False),
    (["?.txt"], ".txt", False),
    (["a?b"], "a/b", False),
    (["é?"], "éx", True),
    # character classes
    (["[abc].txt"], "b.txt", True),
    (["[abc].txt"], "d.txt", False),
    (["[a-c]x"], "bx", True),
    (["[a-c]x"], "dx", False),
    (["[^a]x"], "ax", False),
    (["[^a]x"], "bx", True),
    (["[!a]x"], "!x", True),  # '!' does not negate: RE2 class {!, a}
    (["[!a]x"], "bx", False),
    (["a[b-d]e"], "ace", True),
    (["a[b-d]e"], "ae", False),
    (["[^/]"], "x", True),
    # backslash escapes
    (["\\*"], "*", True),
    (["\\*"], "a", False),
    (["a\\?b"], "a?b", True),
    (["a\\?b"], "axb", False),
    (["\\[x\\]"], "[x]", True),
    (["a\\*b"], "a*b", True),
    (["a\\\\"], "a\\", True),
    # regexp metacharacters in a glob are literal
    (["a.b"], "a.b", True),
    (["a.b"], "axb", False),
    (["a.*"], "a.txt", True),
    (["a.*"], "abtxt", False),
    (["a+b"], "a+b", True),
    (["(x)"], "(x)", True),
    (["a(b)c/*"], "a(b)c/d", True),
    (["$x*"], "$xy", True),
    (["a.|)$(}+{bc"], "a.|)$(}+{bc", True),
    # '**/x' at any depth, including the root
    (["**/x"], "x", True),
    (["**/x"], "a/x", True),
    (["**/x"], "a/b/x", True),
    (["**/x"], "x/y", True),
    (["**/x"], "ax", False),
    (["**/x"], "a/xy", False),
    (["**/*.pyc"], "m.pyc", True),
    (["**/*.pyc"], "a/b/m.pyc", True),
    (["**/*.pyc"], "a/b/m.py", False),
    # 'dir/**' is everything below dir, not dir itself
    (["dir/**"], "dir/a", True),
    (["dir/**"], "dir/a/b", True),
    (["dir/**"], "dir", False),
    (["dir/**"], "dirx/a", False),
    # '**' alone matches everything
    (["**"], "a", True),
    (["**"], "a/b/c", True),
    (["**"], ".hidden", True),
    # 'a/**/b': zero or more directories in between
    (["a/**/b"], "a/b", True),
    (["a/**/b"], "a/x/b", True),
    (["a/**/b"], "a/x/y/b", True),
    (["a/**/b"], "a/b/c", True),
    (["a/**/b"], "a/xb", False),
    (["a/**/b"], "ab", False),
    (["a/**/b"], "x/a/b", False),
    # anchoring at the context root
    (["docs"], "docs", True),
    (["docs"], "x/docs", False),
    (["logs/*.log"], "logs/a.log", True),
    (["logs/*.log"], "x/logs/a.log", False),
    # a pattern matching a parent directory ignores everything below it
    (["dir"], "dir/a/b", True),
    (["dir"], "dirx/a", False),
    (["dir/sub"], "dir/sub/a/b", True),
    (["dir/sub"], "dir/other", False),
    # last match wins; '!' re-includes
    (["dir", "!dir/keep"], "dir/keep", False),
    (["dir", "!dir/keep"], "dir/keep/deep", False),
    (["dir", "!dir/keep"], "dir/other", True),
    (["dir", "!dir/keep"], "dir", True),
    (["!dir/keep", "dir"], "dir/keep", True),
    (["data", "!data/important.csv"], "data/important.csv", False),
    (["data", "!data/important.csv"], "data/other.csv", True),
    (["*.log", "!keep.log"], "keep.log", False),
    (["*.log", "!keep.log"], "drop.log", True),
    (["*.log", "!keep.log", "keep*"], "keep.log", True),
    (["**", "!util/web"], "util/web/foo", False),
    (["**", "!util/web", "util/web/foo"], "util/web/foo", True),
    (["!a"], "a", False),
    # patterns are trimmed and path-cleaned by the matcher itself
    (["  ./a/  "], "a", True),
    (["a//b/"], "a/b", True),
    (["."], "a", False),
    # Kitfile defaults are anchored at the root
    (DEFAULT_IGNORES, "Kitfile", True),
    (DEFAULT_IGNORES, "kitfile", True),
    (DEFAULT_IGNORES, ".kitfile", True),
    (DEFAULT_IGNORES, ".kitignore", True),
    (DEFAULT_IGNORES, "Kitfile/inside", True),
    (DEFAULT_IGNORES, "sub/Kitfile", False),
    (DEFAULT_IGNORES, "sub/.kitignore", False),
    (DEFAULT_IGNORES, "KITFILE", False),
    (DEFAULT_IGNORES, "Kitfile.bak", False),
]

# moby's own TestMatches table (trailing-slash variants dropped: our paths are cleaned).
MOBY_CASES: list[tuple[str, str, bool]] = [
    ("**", "file", True),
    ("**/", "file", True),
    ("**", "dir/file", True),
    ("**/**", "dir/file", True),
    ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt**", "a/file.txt", True),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
]

# Odd corners of moby's glob-to-regexp translation, kept on purpose for compatibility.
QUIRK_CASES: list[tuple[str, str, bool]] = [
    ("a**b", "ab", True),  # '**' not followed by '/' still becomes "(.*/)?"
    ("a**b", "axb", False),
    ("a**b", "ax/b", True),
    ("dir**", "directory", True),  # trailing '**' after literals is a plain prefix test
    ("**foo", "barfoo", True),  # leading '**' without '/' is a plain suffix test
    ("[*]", "*", False),  # '*' inside brackets is still rewritten to "[^/]*"
    ("[*]", "]", True),
    ("\\d", "7", True),  # an escaped letter is an RE2 escape, not the letter
    ("\\d", "d", False),
    ("*.py|*.txt", "a.pyc", True),  # '|', '{' and '}' reach the regexp unescaped
    ("*.py|*.txt", "b.txt", True),
    ("*.py|*.txt", "c.md", False),
    ("x{2}*", "xx", True),
    ("x{2}*", "x{2}", False),
    ("x{2}", "x{2}", True),  # no '*', '?', '[' or '\\': an exact string compare
    ("[[:digit:]]*", "9lives", True),
    ("a^*", "a^", False),  # '^' is a text anchor inside a regexp
]

BAD_PATTERNS = [
    "[",
    "a[",
    "[]",
    "[a-]",
    "[-a]",
    "[^]",
    "a\\",
    "*[",
    "a*b[",  # Go >= 1.20 validates the whole pattern, not just up to the first mismatch
    "ok/**/[x",
    "[z-a]",  # glob-valid, but RE2 rejects the range
    "\\1",  # RE2 backreference
    "\\q",  # RE2 unknown escape
    "[[:nope:]]",
    "*{1001}",
]


@pytest.mark.parametrize(("patterns", "path", "ignored"), MATCH_CASES)
def test_matches(patterns: list[str], path: str, ignored: bool) -> None:
    assert PatternMatcher(patterns).matches(path) is ignored


@pytest.mark.parametrize(("pattern", "path", "ignored"), MOBY_CASES)
def test_matches_moby_table(pattern: str, path: str, ignored: bool) -> None:
    assert PatternMatcher([pattern]).matches(path) is ignored


@pytest.mark.parametrize(("pattern", "path", "ignored"), QUIRK_CASES)
def test_matches_moby_quirks(pattern: str, path: str, ignored: bool) -> None:
    assert PatternMatcher([pattern]).matches(path) is ignored


def test_matches_repeated_calls_use_consistent_cache() -> None:
    pm = PatternMatcher(["a/b", "!a/b/keep", "**/tmp"])
    paths = ["a/b/x", "a/b/keep/y", "a/c", "q/tmp/z", "a/b/keep", "a/b", "x/y/z"]
    first = [pm.matches(p) for p in paths]
    again = [pm.matches(p) for p in reversed(paths)][::-1]
    assert first == again == [True, False, False, True, False, True, False]


def test_matches_cleans_the_path() -> None:
    pm = PatternMatcher(["a/b"])
    assert pm.matches("./a/b")
    assert pm.matches("a//b/")
    assert pm.matches("x/../a/b/c")
    assert not pm.matches("a/x/../c")


def test_no_patterns_match_nothing() -> None:
    pm = PatternMatcher(["", "   ", "\t"])
    assert not pm.matches("a")
    assert not pm.has_exclusions
    assert pm.patterns == []


def test_deep_stars_do_not_backtrack_exponentially() -> None:
    pm = PatternMatcher(["**/**/**/**/**/**/x*y"])
    assert not pm.matches("a/" * 200 + "x" + "z" * 50)
    assert pm.matches("a/" * 200 + "xzy")


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
def test_bad_pattern_raises(pattern: str) -> None:
    with pytest.raises(IgnorePatternError) as info:
        PatternMatcher(["ok", pattern])
    assert str(info.value) == "syntax error in pattern"
    assert info.value.pattern == pattern
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, KitError)


def test_bad_exclusion_pattern_raises() -> None:
    with pytest.raises(IgnorePatternError, match="syntax error in pattern"):
        PatternMatcher(["!["])


@pytest.mark.parametrize("pattern", ["!", " ! ", "!/"])
def test_lone_exclamation_raises(pattern: str) -> None:
    with pytest.raises(IgnorePatternError) as info:
        PatternMatcher([pattern])
    assert str(info.value) == 'illegal exclusion pattern: "!"'


def test_lone_exclamation_line_in_file_is_an_error() -> None:
    patterns = read_ignore_file("a\n! \n")
    assert patterns == ["a", "!"]
    with pytest.raises(IgnorePatternError):
        PatternMatcher(patterns)


def test_unicode_class_escape_is_rejected_explicitly() -> None:
    with pytest.raises(IgnorePatternError, match="not supported"):
        PatternMatcher(["\\pL*"])


def test_has_exclusions_and_patterns() -> None:
    assert not PatternMatcher(["a", "b/**"]).has_exclusions
    pm = PatternMatcher(["a", " !./b/ "])
    assert pm.has_exclusions
    # Like patternmatcher.New, the matcher cleans before peeling '!' ("!." is a name);
    # read_ignore_file peels first, which is why .kitignore lines come out clean.
    assert pm.patterns == ["a", "!./b"]
    assert PatternMatcher(read_ignore_file(" !./b/ ")).patterns == ["!b"]


# (file text, patterns)
READ_CASES: list[tuple[str, list[str]]] = [
    ("", []),
    ("a\nb", ["a", "b"]),
    ("a\r\nb\r\n", ["a", "b"]),
    ("\n\n  \t \n", []),
    ("  spaced  \n", ["spaced"]),
    # comments: only a '#' in the very first column, checked before trimming
    ("# comment\nx", ["x"]),
    (" # not a comment", ["# not a comment"]),
    ("\t#tab", ["#tab"]),
    ("\\#hash", ["\\#hash"]),
    ("x # trailing", ["x # trailing"]),
    # BOM: stripped from the first line only
    ("\ufeffa\n", ["a"]),
    ("\ufeff# comment\nb", ["b"]),
    ("a\n\ufeffb", ["a", "\ufeffb"]),
    # leading '/': one is removed after cleaning; '/' alone stays
    ("/a", ["a"]),
    ("/a/b/", ["a/b"]),
    ("//a", ["a"]),
    ("/", ["/"]),
    # path cleaning
    ("./a/../b", ["b"]),
    ("a//b/./c/", ["a/b/c"]),
    ("../x", ["../x"]),
    ("a/..", ["."]),
    # exclusions: '!' peeled, rest trimmed and cleaned, '!' put back
    ("!keep", ["!keep"]),
    ("! /inverted/abs/path", ["!inverted/abs/path"]),
    ("!./a/", ["!a"]),
    ("!", ["!"]),
    ("! ", ["!"]),
    ("!!x", ["!!x"]),
    # moby's ignorefile test vector
    (
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ",
        ["test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "!", "!"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), READ_CASES)
def test_read_ignore_file(text: str, expected: list[str]) -> None:
    assert read_ignore_file(text) == expected


def test_escaped_hash_matches_a_hash_file() -> None:
    pm = PatternMatcher(read_ignore_file("# comment\n\\#notes\n"))
    assert pm.matches("#notes")
    assert not pm.matches("# comment")
    assert not pm.matches("notes")


def test_comment_after_whitespace_is_a_pattern() -> None:
    pm = PatternMatcher(read_ignore_file("  #draft\n"))
    assert pm.matches("#draft")


def test_read_then_match_end_to_end() -> None:
    text = "\ufeff# build outputs\n/build/\n*.pyc\n**/__pycache__\n\ndata/\n!data/keep.csv\n"
    pm = PatternMatcher(read_ignore_file(text))
    assert pm.matches("build/lib/x.so")
    assert pm.matches("top.pyc")
    assert not pm.matches("pkg/mod.pyc")
    assert pm.matches("pkg/__pycache__/mod.cpython-311.pyc")
    assert pm.matches("data/raw.csv")
    assert not pm.matches("data/keep.csv")
    assert not pm.matches("src/main.py")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "."),
        (".", "."),
        ("./a/", "a"),
        ("a/../..", ".."),
        ("/../a", "/a"),
        ("//a//b", "/a/b"),
        ("a..b", "a..b"),
    ],
)
def test_go_clean(path: str, expected: str) -> None:
    assert go_clean(path) == expected


def test_default_ignores_come_last() -> None:
    assert DEFAULT_IGNORES == ["Kitfile", "kitfile", ".kitfile", ".kitignore"]
    pm = matcher_with_defaults(["!Kitfile", "*.tmp"])
    assert pm.matches("Kitfile")  # the defaults win over a user '!Kitfile', as in kit
    assert pm.matches("x.tmp")
    assert not pm.matches("sub/Kitfile")


# --- LayerIgnore -----------------------------------------------------------


def _layers(*paths: str, patterns: tuple[str, ...] = ()) -> LayerIgnore:
    return LayerIgnore(PatternMatcher(list(patterns)), list(paths))


def test_root_layer_keeps_sibling_with_common_prefix() -> None:
    li = _layers(".", "main-dir")
    assert not li.is_ignored("main-dir2/x", ".")  # the reference loses this file
    assert not li.is_ignored("main-dir2", ".")
    assert li.is_ignored("main-dir", ".")
    assert li.is_ignored("main-dir/x", ".")
    assert not li.is_ignored("main-dir/x", "main-dir")


def test_nested_dataset_does_not_steal_prefix_named_files() -> None:
    li = _layers("data", "data/train")
    assert not li.is_ignored("data/training.csv", "data")  # the reference loses this file
    assert li.is_ignored("data/train", "data")
    assert li.is_ignored("data/train/x", "data")
    assert not li.is_ignored("data/train/x", "data/train")


def test_layer_paths_are_compared_cleaned() -> None:
    li = _layers("./data/", " data/train/ ")
    assert li.layer_paths == ("data", "data/train")
    for layer in ("data", "./data/", "data/."):
        assert not li.is_ignored("data/training.csv", layer)
        assert li.is_ignored("data/train/x", layer)
    assert not li.is_ignored("./data/train/x", "./data/train")


def test_current_layer_and_ancestors_are_not_nested() -> None:
    li = _layers("main-dir", "main-dir/subdir")
    assert not li.is_ignored("main-dir/subdir/f", "main-dir/subdir")
    assert li.is_ignored("main-dir/subdir/f", "main-dir")
    assert not li.is_ignored("main-dir/other", "main-dir")


def test_root_layer_path_contains_everything_but_never_excludes() -> None:
    li = _layers(".", "code", "")
    assert li.layer_paths == (".", "code")
    assert not li.is_ignored("code/a.py", "code")
    assert li.is_ignored("code/a.py", ".")
    assert li.is_ignored("code/a.py", "")
    assert not li.is_ignored(".hidden", "code")


def test_dotdot_inside_a_name_is_a_normal_name() -> None:
    li = _layers(".", "a")
    assert not li.is_ignored("a..b/x", ".")
    assert not li.is_ignored("a..b", ".")
    li = _layers(".", "a..b")
    assert li.is_ignored("a..b/f", ".")
    assert not li.is_ignored("a..b/f", "a..b")
    assert not li.is_ignored("a..bc/f", ".")


def test_sibling_layer_owns_its_files() -> None:
    li = _layers("code", "data")
    assert li.is_ignored("data/x", "code")
    assert not li.is_ignored("code/x", "code")


def test_kitignore_applies_inside_layers() -> None:
    li = _layers(".", "data", patterns=("*.tmp", "data/cache", "!data/cache/keep"))
    assert li.is_ignored("x.tmp", ".")
    assert not li.is_ignored("data/x.tmp", "data")  # '*.tmp' is anchored at the root
    assert li.is_ignored("data/cache/blob", "data")
    assert not li.is_ignored("data/cache/keep", "data")
    assert li.has_exclusions
    assert li.matcher.matches("x.tmp")


def test_owned_by_other_layer() -> None:
    li = _layers(".", "data", "data/train")
    assert li.owned_by_other_layer("data/train/x", "data")
    assert not li.owned_by_other_layer("data/training.csv", "data")
    assert li.owned_by_other_layer("data", ".")


def test_can_prune() -> None:
    li = _layers(".", "models", patterns=("build", "!build/keep"))
    assert li.can_prune("models", ".")  # another layer owns it: nothing below can return
    assert not li.can_prune("build", ".")  # a '!' pattern may re-include something below
    assert not li.can_prune("src", ".")
    li = _layers(".", patterns=("build",))
    assert li.can_prune("build", ".")
    assert not li.can_prune("buildx", ".")
