"""Hostile Kitfiles: every one is a KitfileError with a hint, fast, never ``unexpected error``.

Billion laughs, self-containing anchors, nesting, size (a Kitfile over the metadata limit would
pack into a ModelKit that no command can read), endless inputs (``-f /dev/zero``, ``-f -`` from an
endless pipe), binary and mis-encoded bytes, control characters, tags, duplicate and non-scalar keys.
"""

from __future__ import annotations

import io
import math
import time
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import KitfileError
from kitops.kitfile.load import MAX_KITFILE_BYTES, load_kitfile_text, read_kitfile_stream
from kitops.kitfile.validate import MAX_CONFIG_BYTES, validate
from kitops.kitfile.yamlio import MAX_ALIAS_EXPANSION, MAX_YAML_ALIASES, MAX_YAML_DEPTH, load_yaml
from kitops.oci.models import MAX_MANIFEST_BYTES
from tests.helpers import kit

HEAD = b"manifestVersion: '1.0'\nmodel:\n  path: m\n  parameters:\n"


def _billion_laughs() -> bytes:
    """The classic, as a Kitfile: 9 levels, each a list of 10 aliases of the previous one (10**9 strings)."""
    lines = [
        "manifestVersion: '1.0'",
        "model:",
        "  path: m",
        "  parameters:",
        '    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    for level in "bcdefghi":
        prev = chr(ord(level) - 1)
        lines.append(f"    {level}: &{level} [" + ",".join(f"*{prev}" for _ in range(10)) + "]")
    return ("\n".join(lines) + "\n").encode()


def _params(text: str) -> bytes:
    return HEAD + b"    " + text.encode() + b"\n"


def _merge_laughs() -> bytes:
    """The same blow-up through merge keys: each level merges the previous mapping ten times."""
    lines = ["l0: &l0 {x: 1}"]
    for i in range(1, 10):
        lines.append(f"l{i}: &l{i} {{<<: [" + ", ".join(f"*l{i - 1}" for _ in range(10)) + "]}")
    return "\n".join(lines).encode() + b"\n"


TOO_MANY_ALIASES = b"a: &x 1\nb: [" + b", ".join([b"*x"] * (MAX_YAML_ALIASES + 1)) + b"]\n"

# (name, Kitfile bytes, message fragment). Each fails in load or in the config checks of pack.
HOSTILE: list[tuple[str, bytes, str]] = [
    ("billion-laughs", _billion_laughs(), f"more than {MAX_ALIAS_EXPANSION} nodes (MAX_ALIAS_EXPANSION)"),
    ("merge-laughs", _merge_laughs(), "MAX_ALIAS_EXPANSION"),
    ("too-many-aliases", TOO_MANY_ALIASES, f"more than {MAX_YAML_ALIASES} aliases"),
    ("recursive-alias", _params("&a [1, *a]"), "anchor 'a' value contains itself"),
    ("recursive-alias-map", _params("&a {x: *a}"), "anchor 'a' value contains itself"),
    ("undefined-alias", _params("*nope"), "undefined alias"),
    (
        "binary",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        "not valid UTF-8 text: invalid byte 0x89",
    ),
    ("nul-bytes", b"manifestVersion: '1.0'\x00\x00\x00\x00", "control character U+0000"),
    (
        "invalid-utf8",
        b"manifestVersion: '1.0'\npackage:\n  name: caf\xe9\n",
        "invalid byte 0xe9 at line 3 (byte offset 43)",
    ),
    ("utf8-surrogate", b"manifestVersion: '1.0'\npackage:\n  name: \xed\xa0\x80\n", "not valid UTF-8"),
    ("utf16-no-bom", "manifestVersion: '1.0'\n".encode("utf-16-le"), "control character U+0000"),
    (
        "utf16-bad",
        b"\xff\xfe" + "manifestVersion: '1.0'\n".encode("utf-16-le") + b"\x00\xd8",
        "not valid UTF-16",
    ),
    (
        "control-char",
        b"manifestVersion: '1.0'\npackage:\n  name: a\x07b\n",
        "line 3: control character U+0007",
    ),
    (
        "c1-control",
        "manifestVersion: '1.0'\npackage:\n  name: a\u009bb\n".encode(),
        "control character U+009B",
    ),
    (
        "escape-char",
        b"manifestVersion: '1.0'\npackage:\n  description: \x1b[31mred\n",
        "control character U+001B",
    ),
    ("deep-flow", _params("[" * 20_000 + "]" * 20_000), "nesting depth"),
    (
        "deep-block",
        HEAD + b"".join(b"  " * i + b"- \n" for i in range(3, 3 + 2 * MAX_YAML_DEPTH, 2)) + b"  x\n",
        f"nested more than {MAX_YAML_DEPTH} levels deep",
    ),
    (
        "deep-flow-just-over",
        _params("[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1)),
        f"nested more than {MAX_YAML_DEPTH} levels",
    ),
    ("int-tag-5000-digits", _params("!!int " + "9" * 5000), "cannot decode !!str `99999999"),
    ("float-tag-overflow", _params("!!float 1e999999"), "cannot decode !!str `1e999999` as a !!float"),
    ("int-tag-word", _params("!!int abc"), "cannot decode !!str `abc` as a !!int"),
    ("bool-tag-word", _params("!!bool abc"), "cannot decode !!str `abc` as a !!bool"),
    ("inf", _params("{lr: .inf}"), "json: unsupported value: +Inf"),
    ("nan", _params("[.nan]"), "json: unsupported value: NaN"),
    ("int-keys", _params("{1: a}"), "json: unsupported type"),
    ("set-tag", _params("!!set {a, b}"), "unsupported tag !!set"),
    ("omap-tag", _params("!!omap [a: 1]"), "unsupported tag !!omap"),
    ("binary-tag", _params("!!binary aGVsbG8="), "unsupported tag !!binary"),
    ("local-tag", _params("!secret x"), "unsupported tag !secret"),
    (
        "python-tag",
        _params("!!python/object/apply:os.system ['touch pwned']"),
        "unsupported tag !!python/object",
    ),
    ("python-name", b"manifestVersion: !!python/name:os.system\n", "unsupported tag !!python/name"),
    ("str-tag-on-map", _params("!!str {a: 1}"), "expected a scalar node"),
    (
        "duplicate-top",
        b"manifestVersion: '1.0'\nmanifestVersion: '2.0'\n",
        'line 2: mapping key "manifestVersion" already defined at line 1',
    ),
    ("duplicate-param", _params("{lr: 1, lr: 2}"), 'mapping key "lr" already defined'),
    (
        "duplicate-quoted",
        b"manifestVersion: '1.0'\n'package': {}\npackage: {}\n",
        'mapping key "package" already',
    ),
    ("mapping-key", _params("{{a: 1}: 2}"), "a mapping cannot be a mapping key"),
    (
        "mapping-key-block",
        b"manifestVersion: '1.0'\n? {a: 1}\n: 2\n",
        "line 2: a mapping cannot be a mapping key",
    ),
    ("sequence-key", _params("{[a]: 1}"), "a list cannot be a mapping key"),
    ("alias-map-key", b"x: &m {a: 1}\n*m : 2\n", "a mapping cannot be a mapping key"),
    (
        "over-size",
        b"manifestVersion: '1.0'\n#" + b"x" * MAX_KITFILE_BYTES + b"\n",
        f"larger than {MAX_KITFILE_BYTES} bytes",
    ),
    (
        "config-over-size",
        b"manifestVersion: '1.0'\npackage:\n  description: '" + b"<" * (MAX_CONFIG_BYTES // 5) + b"'\n",
        f"over the {MAX_CONFIG_BYTES}-byte limit",
    ),
    ("empty", b"", "is empty"),
    ("only-bom", b"\xef\xbb\xbf", "is empty"),
    ("not-a-mapping", b"- a\n- b\n", "Kitfile must be a mapping"),
    ("syntax", b"manifestVersion: [1.0\n", "not valid YAML"),
]


def _load_for_pack(path: Path) -> None:
    """What pack does with a Kitfile before a blob is written: load it, then validate it."""
    validate(api.load_kitfile(path))


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("data", "fragment"), [pytest.param(d, f, id=n) for n, d, f in HOSTILE])
def test_hostile_kitfile_is_a_kitfile_error(tmp_path: Path, data: bytes, fragment: str) -> None:
    path = tmp_path / "Kitfile"
    path.write_bytes(data)
    start = time.monotonic()
    with pytest.raises(KitfileError) as info:
        _load_for_pack(path)
    assert time.monotonic() - start < 5
    assert fragment in info.value.message
    assert info.value.hint


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("data", "fragment"), [pytest.param(d, f, id=n) for n, d, f in HOSTILE])
def test_cli_reports_hostile_kitfile_as_error_and_hint(tmp_path: Path, data: bytes, fragment: str) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "m").write_text("weights")
    (ctx / "Kitfile").write_bytes(data)
    home = tmp_path / "home"
    res = kit(home, "pack", str(ctx))
    assert res.exit_code == 1, res.output
    assert "unexpected error" not in res.output and "Traceback" not in res.output
    lines = res.output.splitlines()
    assert any(line.startswith("error: ") for line in lines), res.output
    assert any(line.startswith("hint: ") for line in lines), res.output
    assert fragment.splitlines()[0][:30] in res.output
    assert _blobs(home) == []  # refused before a layer was written


def _blobs(home: Path) -> list[Path]:
    return [p for p in (home / "storage").rglob("blobs/sha256/*") if p.is_file()]


def test_python_tags_never_construct_objects(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"manifestVersion: '1.0'\nx: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{marker}']]\n"
    with pytest.raises(KitfileError, match="unsupported tag"):
        load_kitfile_text(text)
    assert not marker.exists()


# -- size and endless inputs ----------------------------------------------------------------------


def test_kitfile_limit_is_the_metadata_limit_of_the_read_side() -> None:
    assert MAX_KITFILE_BYTES == MAX_CONFIG_BYTES == MAX_MANIFEST_BYTES == 4 << 20


def test_kitfile_at_the_limit_loads_and_one_byte_more_is_refused() -> None:
    head = "manifestVersion: '1.0'\n#"
    text = head + "x" * (MAX_KITFILE_BYTES - len(head) - 1) + "\n"
    assert len(text.encode()) == MAX_KITFILE_BYTES
    assert load_kitfile_text(text).manifest_version == "1.0"
    with pytest.raises(KitfileError, match=f"larger than {MAX_KITFILE_BYTES} bytes"):
        load_kitfile_text(text + "#")
    multibyte = "manifestVersion: '1.0'\n#" + "é" * (MAX_KITFILE_BYTES // 2) + "\n"  # fewer chars than bytes
    with pytest.raises(KitfileError, match=f"larger than {MAX_KITFILE_BYTES} bytes"):
        load_kitfile_text(multibyte)


@pytest.mark.timeout(20)
def test_pack_from_dev_zero_reads_a_bounded_amount(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    res = kit(tmp_path / "home", "pack", str(ctx), "-f", "/dev/zero")
    assert res.exit_code == 1
    assert f"larger than {MAX_KITFILE_BYTES} bytes" in res.output and "hint: " in res.output


class _Endless(io.RawIOBase):
    """An endless pipe that counts what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = len(buffer)
        buffer[:n] = b"#" * n
        self.read_bytes += n
        return n


@pytest.mark.timeout(20)
def test_pack_from_an_endless_pipe_reads_a_bounded_amount(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    pipe = _Endless()
    res = kit(tmp_path / "home", "pack", str(ctx), "-f", "-", input=io.BufferedReader(pipe))  # type: ignore[arg-type]
    assert res.exit_code == 1
    assert f"larger than {MAX_KITFILE_BYTES} bytes" in res.output and "hint: " in res.output
    assert pipe.read_bytes <= MAX_KITFILE_BYTES + 1 + io.DEFAULT_BUFFER_SIZE


def test_read_kitfile_stream_bounds_text_streams_too() -> None:
    with pytest.raises(KitfileError, match="larger than"):
        read_kitfile_stream(io.StringIO("#" * (MAX_KITFILE_BYTES + 10)))
    assert read_kitfile_stream(io.StringIO("manifestVersion: '1.0'\n")) == "manifestVersion: '1.0'\n"
    utf16 = io.BytesIO(b"\xfe\xff" + "manifestVersion: '1.0'\n".encode("utf-16-be"))
    assert read_kitfile_stream(utf16) == "manifestVersion: '1.0'\n"


def test_kitfile_over_the_limit_is_refused_before_a_blob_is_written(tmp_path: Path) -> None:
    """A config over the limit used to be packed, then refused by list/inspect/unpack."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "m").write_text("weights")
    big = "<" * (MAX_CONFIG_BYTES // 5)  # JSON writes '<' as \\u003c: the config is 6 times larger
    (ctx / "Kitfile").write_text(
        f"manifestVersion: '1.0'\npackage:\n  description: '{big}'\nmodel:\n  path: m\n"
    )
    home = tmp_path / "home"
    res = kit(home, "pack", str(ctx), "-t", "big:v1")
    assert res.exit_code == 1 and f"over the {MAX_CONFIG_BYTES}-byte limit" in res.output
    assert "big" not in kit(home, "list").output
    assert _blobs(home) == []


# -- encodings and values: decisions that follow Go's yaml.v3 --------------------------------------

PLAIN = "manifestVersion: '1.0'\npackage:\n  name: café ☕\nmodel:\n  path: m\n  parameters: {lr: 0.5}\n"


@pytest.mark.parametrize(
    "data",
    [
        PLAIN.encode(),
        b"\xef\xbb\xbf" + PLAIN.encode(),
        b"\xff\xfe" + PLAIN.encode("utf-16-le"),
        b"\xfe\xff" + PLAIN.encode("utf-16-be"),
    ],
    ids=["utf8", "utf8-bom", "utf16-le-bom", "utf16-be-bom"],
)
def test_utf8_and_utf16_with_bom_load_alike(tmp_path: Path, data: bytes) -> None:
    """yaml.v3 (libyaml's reader) accepts UTF-16 with a byte-order mark, so we decode it."""
    path = tmp_path / "Kitfile"
    path.write_bytes(data)
    kf = api.load_kitfile(path)
    assert kf.package.name == "café ☕" and kf.model is not None and kf.model.parameters == {"lr": 0.5}


def test_utf16_kitfile_packs(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "m").write_text("weights")
    (ctx / "Kitfile").write_bytes(b"\xff\xfe" + PLAIN.encode("utf-16-le"))
    res = kit(tmp_path / "home", "pack", str(ctx), "-t", "u16:v1")
    assert res.exit_code == 0, res.output
    assert "café ☕" in kit(tmp_path / "home", "info", "u16:v1").output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e999999", "1e999999"),  # strconv.ParseFloat: ErrRange, so yaml.v3 keeps the string
        ("-1e999999", "-1e999999"),
        ("9" * 5000, "9" * 5000),  # over Python's 4300-digit int limit and past float64: a string
        ("-" + "9" * 5000, "-" + "9" * 5000),
        ("1" + "0" * 300, 1e300),  # past uint64 but a float64: a float, as in Go
        ("18446744073709551615", 18446744073709551615),  # uint64 max stays an int
        ("18446744073709551616", 1.8446744073709552e19),
        ("0x" + "f" * 5000, "0x" + "f" * 5000),  # ParseInt/ParseUint range errors, no float form
        ("1e-999999", 0.0),  # underflow is not an error for ParseFloat
        (".inf", math.inf),  # decoded as Go does; pack then fails as Go's json.Marshal does
    ],
)
def test_out_of_range_numbers_type_as_yaml_v3(text: str, expected: object) -> None:
    value, _ = load_yaml(f"v: {text}\n")
    assert value["v"] == expected and type(value["v"]) is type(expected)


def test_out_of_range_number_round_trips_as_a_string() -> None:
    kf = load_kitfile_text("manifestVersion: '1.0'\nmodel:\n  path: m\n  parameters: {big: 1e999999}\n")
    assert kf.model is not None and kf.model.parameters == {"big": "1e999999"}
    validate(kf)  # packs: the config holds the string
    assert load_kitfile_text(kf.to_yaml()).to_config_dict() == kf.to_config_dict()


def test_explicit_core_tags_decode_as_yaml_v3() -> None:
    value, _ = load_yaml("a: !!int '12'\nb: !!float 3\nc: !!str 12\nd: !!bool 'true'\ne: !!null ~\n")
    assert value == {"a": 12, "b": 3.0, "c": "12", "d": True, "e": None}
    assert type(value["b"]) is float


def test_keys_duplicate_as_written_like_yaml_v3() -> None:
    """yaml.v3 compares keys by their text: "1" and 1 collide, 1 and 0x1 do not."""
    with pytest.raises(KitfileError, match='mapping key "1" already defined'):
        load_kitfile_text("manifestVersion: '1.0'\nmodel:\n  parameters: {'1': a, 1: b}\n")
    value, _ = load_yaml("a: {1: x, 0x1: y}\n")
    assert value == {"a": {1: "y"}}


def test_anchors_within_the_limits_still_work() -> None:
    text = (
        "manifestVersion: '1.0'\npackage:\n  license: &lic Apache-2.0\n"
        "model:\n  path: m\n  license: *lic\n  parameters: &p {lr: 0.1, layers: [1, 2]}\n"
        "datasets:\n  - path: d\n    license: *lic\n    parameters: {<<: *p, lr: 0.2}\n"
    )
    kf = load_kitfile_text(text)
    assert kf.model is not None and kf.model.license == "Apache-2.0"
    assert kf.datasets[0].parameters == {"lr": 0.2, "layers": [1, 2]}
    nested = (
        "manifestVersion: '1.0'\nmodel:\n  parameters: "
        + "[" * (MAX_YAML_DEPTH - 2)
        + "]" * (MAX_YAML_DEPTH - 2)
    )
    load_kitfile_text(nested + "\n")  # exactly at the limit: the config is MAX_YAML_DEPTH deep


def test_merge_keys_in_kitfile_sections() -> None:
    """yaml.v3 merges into structs too: a merged section's keys are the section's keys."""
    kf = load_kitfile_text("manifestVersion: '1.0'\npackage:\n  <<: {name: n, license: MIT}\n  name: mine\n")
    assert (kf.package.name, kf.package.license) == ("mine", "MIT")


def test_merge_key_text_as_a_value_is_a_string_and_is_quoted_when_written() -> None:
    """Found by the fuzz test: ``<<`` is the merge key only as a key. As a value yaml.v3 reads the
    string "<<", and writes it quoted (it does not resolve as a plain string)."""
    value, _ = load_yaml("a: <<\nb: [<<]\n")
    assert value == {"a": "<<", "b": ["<<"]}
    kf = load_kitfile_text("manifestVersion: '1.0'\nprompts:\n  - path: <<\n")
    assert kf.prompts[0].path == "<<"
    assert 'path: "<<"' in kf.to_yaml()
    assert load_kitfile_text(kf.to_yaml()) == kf


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["dev-zero-link", "fifo"])
def test_context_kitfile_that_is_not_a_regular_file_is_refused_not_read(tmp_path: Path, kind: str) -> None:
    import os

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    if kind == "fifo":
        os.mkfifo(ctx / "Kitfile")  # reading it would block until a writer came
    else:
        (ctx / "Kitfile").symlink_to("/dev/zero")
    with pytest.raises(KitfileError, match="is not a regular file"):
        api.find_kitfile(ctx)
    res = kit(tmp_path / "home", "pack", str(ctx))
    assert res.exit_code == 1 and "is not a regular file" in res.output and "hint: " in res.output
