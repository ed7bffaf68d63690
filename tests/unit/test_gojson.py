"""Go encoding/json compatibility: the bytes that become config and manifest digests."""

from __future__ import annotations

import datetime as dt

import pytest

from kitops.oci import gojson


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1200.0, "1200"),
        (12.3, "12.3"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (1e20, "100000000000000000000"),
        (1.2345678901234568e29, "1.2345678901234568e+29"),
        (0.1, "0.1"),
        (-0.5, "-0.5"),
        (0.0, "0"),
    ],
)
def test_float_formatting_matches_go(value: float, expected: str) -> None:
    assert gojson.format_float(value) == expected


def test_html_safe_escaping_and_raw_unicode() -> None:
    assert gojson.dumps("<a & b>") == '"\\u003ca \\u0026 b\\u003e"'
    assert gojson.dumps("é模型") == '"é模型"'
    assert gojson.dumps("a\u2028b\u2029") == '"a\\u2028b\\u2029"'
    assert gojson.dumps("\n\r\t\b\f\x01\x1f") == '"\\n\\r\\t\\b\\f\\u0001\\u001f"'
    assert gojson.dumps('q"\\') == '"q\\"\\\\"'


def test_struct_order_kept_map_keys_sorted_bytewise() -> None:
    value = {"z": 1, "a": gojson.GoMap({"b": 1, "B": 2, "a": 3, "é": 4})}
    assert gojson.dumps(value) == '{"z":1,"a":{"B":2,"a":3,"b":1,"é":4}}'


def test_indent_like_marshal_indent() -> None:
    assert gojson.dumps({"a": [1, {"b": None}], "c": {}, "d": []}, indent="  ") == (
        '{\n  "a": [\n    1,\n    {\n      "b": null\n    }\n  ],\n  "c": {},\n  "d": []\n}'
    )


def test_unsupported_values_fail_like_go() -> None:
    with pytest.raises(gojson.UnsupportedValueError, match=r"\+Inf"):
        gojson.dumps(float("inf"))
    with pytest.raises(gojson.UnsupportedValueError, match="map\\[interface"):
        gojson.dumps(gojson.GoMap({1: "a"}))


def test_time_is_rfc3339() -> None:
    assert gojson.dumps(dt.datetime(2001, 12, 14, tzinfo=dt.timezone.utc)) == '"2001-12-14T00:00:00Z"'
    tz = dt.timezone(dt.timedelta(hours=-5))
    assert (
        gojson.dumps(dt.datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=tz))
        == '"2001-12-14T21:59:43.1-05:00"'
    )
