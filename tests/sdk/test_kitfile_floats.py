"""A float parameter saved through the SDK Kitfile stays a float (``C: 1.0`` used to come back as ``1``).

yaml.v3 (kit) writes a float64 ``1.0`` as ``1``; our YAML writer keeps the ``.0`` so the value
reads back with its type (kit reads both as the same float64). The config JSON of a packed
ModelKit follows Go's encoding/json: ``1.0`` is stored as ``1``, exactly as kit
stores it, so a ModelKit read back from its config cannot tell ``1`` from ``1.0``.
"""

from __future__ import annotations

import json
from pathlib import Path

from kitops import api
from kitops.cli import kit
from kitops.modelkit.kitfile import Kitfile

PARAMS = {
    "C": 1.0,
    "alpha": 1200.0,
    "zero": -0.0,
    "lr": 1e-05,
    "big": 1e6,
    "max_iter": 100,
    "grid": [0.5, 1.0, 2],
    "nested": {"gamma": 10.0},
}


def _kitfile() -> Kitfile:
    kitfile = Kitfile(manifestVersion="1.0.0", package={"name": "demo"}, model={"path": "model.joblib"})
    kitfile.model.parameters = dict(PARAMS)
    return kitfile


def _assert_same_values_and_types(got: object, expected: object) -> None:
    assert type(got) is type(expected), (got, expected)
    if isinstance(expected, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(expected)  # kit writes maps sorted
        for key, value in expected.items():
            _assert_same_values_and_types(got[key], value)
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            _assert_same_values_and_types(g, e)
    else:
        assert got == expected
        if isinstance(expected, float):
            assert str(got) == str(expected)  # keeps the sign of -0.0


def test_to_yaml_writes_integral_floats_as_floats() -> None:
    text = _kitfile().to_yaml()
    assert "    C: 1.0\n" in text
    assert "    alpha: 1200.0\n" in text
    assert "    zero: -0.0\n" in text
    assert "    max_iter: 100\n" in text
    assert "      gamma: 10.0\n" in text


def test_save_and_load_keep_float_parameters(tmp_path: Path) -> None:
    path = tmp_path / "Kitfile"
    _kitfile().save(str(path), print=False)
    loaded = Kitfile(path)
    _assert_same_values_and_types(loaded.model.parameters, PARAMS)
    assert isinstance(loaded.model.parameters["C"], float) and loaded.model.parameters["C"] == 1.0

    other = Kitfile()
    other.load(path)  # the second loading path updates the instance
    _assert_same_values_and_types(other.model.parameters, PARAMS)

    # and a second save is byte-identical (nothing drifts on repeated round trips)
    again = tmp_path / "Kitfile2"
    loaded.save(str(again), print=False)
    assert again.read_text() == path.read_text()


def test_packed_config_follows_go_and_the_kitfile_is_read_back_with_its_values(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "model.joblib").write_bytes(b"\x80\x04weights")
    _kitfile().save(str(context / "Kitfile"), print=False)
    result = api.pack(context, tag="floats/demo:v1")
    assert result is not None

    kitfile = api.info("floats/demo:v1")
    assert kitfile.model is not None
    params = kitfile.model.parameters
    # Go's encoding/json writes float64 1.0 as 1, and so do we: the config holds C: 1.
    config = json.loads(kitfile.to_config_bytes())
    assert config["model"]["parameters"]["C"] == 1
    assert b'"C":1,' in kitfile.to_config_bytes()
    assert params == PARAMS  # equal values; 1 == 1.0
    assert isinstance(params["lr"], float) and params["lr"] == 1e-05  # non-integral floats stay floats

    # the PyKitOps-style kit.info types the YAML as kit does: 1e-05 is a float, not the string
    # PyYAML's safe_load made of it (YAML 1.1 wants a dot in the mantissa)
    info_params = kit.info("floats/demo:v1")["model"]["parameters"]
    assert info_params == PARAMS
    assert isinstance(info_params["lr"], float)  # (big: the config holds 1000000, as kit writes it)
    lr: object = kit.info("floats/demo:v1", filters=["model.parameters.lr"])
    assert lr == 1e-05

    # unpacking writes the Kitfile from that config: the values survive unchanged
    target = tmp_path / "out"
    api.unpack("floats/demo:v1", target_dir=target)
    unpacked = Kitfile(target / "Kitfile")
    assert unpacked.model.parameters == PARAMS
    assert isinstance(unpacked.model.parameters["lr"], float)
