"""YAML typing (yaml.v3 decoding into interface{}) and yaml.v3-identical output."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from kitops.kitfile.yamlio import FlowList, SortedMap, YamlSyntaxError, dump_yaml, format_float_g, load_yaml


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0xFF", 255),
        ("0o17", 15),
        ("1.2e+3", 1200.0),
        ("12.3", 12.3),
        ("-123", -123),
        ("true", True),
        ("False", False),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("~", None),
        ("null", None),
        ("", None),
        ("1_000", 1000),
        ("0b101", 5),
        ("0777", 511),
        ('"true"', "true"),
        ("'3'", "3"),
        ("123456789012345678901234567890", 1.2345678901234568e29),
        (".5", 0.5),
    ],
)
def test_plain_scalar_typing(text: str, expected: object) -> None:
    value, _ = load_yaml(f"v: {text}\n")
    assert value["v"] == expected and type(value["v"]) is type(expected)


def test_special_values_timestamps_and_lines() -> None:
    value, lines = load_yaml(
        "a: .inf\nb: .nan\nc: 2001-12-14\nd:\n  - x: 1\n    y: 2\ne: 2001-12-14T21:59:43.10-05:00\n"
    )
    assert value["a"] == math.inf and math.isnan(value["b"])
    assert value["c"] == dt.datetime(2001, 12, 14, tzinfo=dt.timezone.utc)
    assert value["e"].utcoffset() == dt.timedelta(hours=-5)
    assert lines[("d", 0, "y")] == 6 and lines[("a",)] == 1


def test_errors_eof_duplicates_syntax() -> None:
    for empty in ("", "   \n", "# only a comment\n"):
        with pytest.raises(YamlSyntaxError, match="EOF"):
            load_yaml(empty)
    with pytest.raises(YamlSyntaxError, match=r'line 3: mapping key "a" already defined at line 1'):
        load_yaml("a: 1\nb: 2\na: 3\n")
    with pytest.raises(YamlSyntaxError) as err:
        load_yaml("a: [1, 2\nb: 3\n")
    assert err.value.line is not None
    value, _ = load_yaml("a: 1\n---\nb: 2\n")  # only the first document
    assert value == {"a": 1}


def test_anchors_and_merge_keys() -> None:
    value, _ = load_yaml("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n")
    assert value["derived"] == {"x": 1, "y": 3}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.0", '"1.0"'),
        ("true", '"true"'),
        ("yes", '"yes"'),
        ("Off", '"Off"'),
        ("3", '"3"'),
        ("", '""'),
        ("null", '"null"'),
        ("1:20", '"1:20"'),
        (".", "."),
        ("x: y", "'x: y'"),
        ("- x", "'- x'"),
        ("#c", "'#c'"),
        ("*star", "'*star'"),
        ("a #b", "'a #b'"),
        ("trail ", "'trail '"),
        (" lead", "' lead'"),
        ("it's", "it's"),
        ("'q: x'", "'''q: x'''"),
        ("模型", "模型"),
        ("a\u2028b", '"a\\Lb"'),
        ("tab\there", '"tab\\there"'),
        ("emoji😀", '"emoji\\U0001F600"'),
        ("a: 'b'", "'a: ''b'''"),
        ("path/with spaces.bin", "path/with spaces.bin"),
    ],
)
def test_string_quoting(value: str, expected: str) -> None:
    assert dump_yaml({"k": value}) == f"k: {expected}\n"


def test_literal_blocks() -> None:
    assert dump_yaml({"k": "a\nb"}) == "k: |-\n  a\n  b\n"
    assert dump_yaml({"k": "a\nb\n"}) == "k: |\n  a\n  b\n"
    assert dump_yaml({"k": "a\n\n"}) == "k: |+\n  a\n\n"
    assert dump_yaml({"k": "a\n\nb\n"}) == "k: |\n  a\n\n  b\n"
    assert dump_yaml({"k": " lead\nx\n"}) == "k: |2\n   lead\n  x\n"
    assert dump_yaml({"k": "trailing \nx"}) == 'k: "trailing \\nx"\n'
    assert dump_yaml({"l": ["a\nb\n"]}) == "l:\n  - |\n    a\n    b\n"


def test_structures_and_flow() -> None:
    doc = {
        "manifestVersion": "1.0.0",
        "package": {"name": "demo", "authors": FlowList(["Jane", "Doe, J", "yes"])},
        "code": [{"path": ".", "description": "all"}, {"path": "src"}],
        "empty_list": [],
        "empty_map": {},
        "nested": [[1, 2], ["a"]],
        "params": SortedMap({"b": None, "a10": 1.5, "a2": [1, {"z": True}], "A": 1200.0}),
    }
    assert dump_yaml(doc) == (
        "manifestVersion: 1.0.0\n"
        "package:\n  name: demo\n  authors: [Jane, 'Doe, J', \"yes\"]\n"
        "code:\n  - path: .\n    description: all\n  - path: src\n"
        "empty_list: []\n"
        "empty_map: {}\n"
        "nested:\n  - - 1\n    - 2\n  - - a\n"
        "params:\n  A: 1200.0\n  a2:\n    - 1\n    - z: true\n  a10: 1.5\n  b: null\n"
    )


def test_natural_key_order_like_yaml_v3() -> None:
    keys = ["a10", "a2", "b", "B", "a", "x1y", "x01y", "10", "9"]
    out = dump_yaml(SortedMap(dict.fromkeys(keys, 0)))
    assert [line.split(":")[0].strip('"') for line in out.splitlines()] == [
        "9",
        "10",
        "B",
        "a",
        "a2",
        "a10",
        "b",
        "x1y",
        "x01y",
    ]


def test_scalar_documents_and_floats() -> None:
    assert dump_yaml("demo") == "demo\n"
    assert dump_yaml([1, "x"]) == "- 1\n- x\n"
    assert dump_yaml(None) == "null\n"
    assert dump_yaml(dt.datetime(2001, 12, 14, tzinfo=dt.timezone.utc)) == "2001-12-14T00:00:00Z\n"
    assert [
        format_float_g(x)
        for x in (1200.0, 1234567.0, 1e21, 1e-5, 1e-4, 0.1, -2.5, float("inf"), float("-inf"))
    ] == ["1200", "1.234567e+06", "1e+21", "1e-05", "0.0001", "0.1", "-2.5", ".inf", "-.inf"]
    assert format_float_g(float("nan")) == ".nan"


def test_round_trip_of_a_kitfile_shaped_document() -> None:
    text = (
        "manifestVersion: 1.0.0\npackage:\n  name: x\n  authors: [A, B]\nmodel:\n  name: m\n  path: m.bin\n"
        '  parameters:\n    alpha: 0.5\n    layers:\n      - 1\n      - 2\n    name: "3"\n'
    )
    value, _ = load_yaml(text)
    value["package"]["authors"] = FlowList(value["package"]["authors"])
    assert dump_yaml(value) == text.replace(
        "model:\n  name: m\n  path: m.bin", "model:\n  name: m\n  path: m.bin"
    )


# ------------------------------------------------------------------------------------------------
# Floats keep their type through our YAML (a deliberate deviation from yaml.v3, which writes 1.0 as 1)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (-3.0, "-3.0"),
        (1200.0, "1200.0"),
        (100000.0, "100000.0"),
        (1e6, "1e+06"),
        (1e-5, "1e-05"),
        (2.5, "2.5"),
        (1e21, "1e+21"),
        (float("inf"), ".inf"),
    ],
)
def test_floats_are_written_so_that_they_read_back_as_floats(value: float, text: str) -> None:
    out = dump_yaml({"v": value})
    assert out == f"v: {text}\n"
    back = load_yaml(out)[0]["v"]
    assert isinstance(back, float)
    assert back == value
    assert math.copysign(1, back) == math.copysign(1, value)


def test_integers_are_still_integers() -> None:
    assert dump_yaml({"k": 3, "big": 1 << 70}) == "k: 3\nbig: 1180591620717411303424\n"


def test_core_kitfile_keeps_a_float_parameter_and_the_config_json_follows_go() -> None:
    """``C: 1.0`` survives a YAML round trip of the core Kitfile; the config JSON is written as Go's
    encoding/json writes a float64 (``1200.0`` prints as ``1200``), so it holds ``1``."""
    from kitops.kitfile.config import kitfile_from_config
    from kitops.kitfile.load import load_kitfile_text

    text = "manifestVersion: 1.0.0\nmodel:\n  path: m.pkl\n  parameters:\n    C: 1.0\n    alpha: 1.2e+3\n    n: 3\n"
    kf = load_kitfile_text(text)
    assert kf.model is not None
    assert kf.model.parameters == {"C": 1.0, "alpha": 1200.0, "n": 3}
    assert isinstance(kf.model.parameters["C"], float)
    written = kf.to_yaml()
    assert '    C: 1.0\n    alpha: 1200.0\n    "n": 3\n' in written
    again = load_kitfile_text(written)
    assert again.model is not None
    assert again.model.parameters == kf.model.parameters
    assert all(type(again.model.parameters[k]) is type(v) for k, v in kf.model.parameters.items())
    config = kf.to_config_bytes()
    assert b'"parameters":{"C":1,"alpha":1200,"n":3}' in config
    # JSON cannot tell 1 from 1.0 (neither can kit's config); what comes back from a config is 1
    from_config = kitfile_from_config(config)
    assert from_config.model is not None
    assert from_config.model.parameters == {"C": 1, "alpha": 1200, "n": 3}
