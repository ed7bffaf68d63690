"""kit init heuristics (the Go generator's) plus content sniffing and junk skipping."""

from __future__ import annotations

import struct
from pathlib import Path

from kitops.kitfile.generate import detect_file_type, generate_kitfile
from tests.helpers import write_tree


def test_single_model_readme_license_dataset(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "model.safetensors": b"x" * 10,
            "README.md": "# readme",
            "LICENSE": "Apache License\nVersion 2.0, January 2004\n",
            "train.csv": "a\n1\n",
            "config.json": "{}",
            ".DS_Store": b"junk",
            ".kitignore": "*.log\n",
            "__pycache__/x.pyc": b"junk",
        },
    )
    kf = generate_kitfile(tmp_path, name="demo", description="d", author="me")
    assert kf.manifest_version == "1.0.0"
    assert kf.package.name == "demo" and kf.package.authors == ["me"]
    assert kf.model is not None and kf.model.path == "model.safetensors" and kf.model.name == "model"
    assert kf.model.license == "Apache-2.0"
    assert [p.path for p in kf.model.parts] == ["config.json"]
    assert [(d.path, d.description) for d in kf.docs] == [
        ("LICENSE", "License file"),
        ("README.md", "Readme file"),
    ]
    assert [d.path for d in kf.datasets] == ["train.csv"]
    assert kf.code == []  # junk and .kitignore do not force a catch-all


def test_largest_model_file_wins_and_rest_are_parts(tmp_path: Path) -> None:
    write_tree(tmp_path, {"big.gguf": b"G" * 1000, "a.bin": b"a" * 10, "b.bin": b"b" * 10})
    kf = generate_kitfile(tmp_path)
    assert kf.model is not None and kf.model.path == "big.gguf" and kf.model.name == "big"
    assert [p.path for p in kf.model.parts] == ["a.bin", "b.bin"]
    assert kf.package.is_empty()


def test_equal_sizes_first_is_model_without_name(tmp_path: Path) -> None:
    write_tree(tmp_path, {"models/a.pt": b"a" * 10, "models/b.pt": b"b" * 10})
    kf = generate_kitfile(tmp_path)
    assert kf.model is not None and kf.model.path == "models/a.pt" and kf.model.name == ""
    assert [p.path for p in kf.model.parts] == ["models/b.pt"]


def test_directories_and_catch_all(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"src/main.py": "x", "docs/guide.md": "g", "data/a.csv": "1", "mixed/x.py": "x", "mixed/y.csv": "1"},
    )
    kf = generate_kitfile(tmp_path)
    assert [c.path for c in kf.code] == ["src", "mixed"]
    assert [d.path for d in kf.docs] == ["docs"]
    assert [d.path for d in kf.datasets] == ["data"]
    write_tree(tmp_path, {"run.sh": "#!/bin/sh"})
    assert [c.path for c in generate_kitfile(tmp_path).code] == ["."]


def test_more_than_five_unprocessed_dirs_give_catch_all(tmp_path: Path) -> None:
    write_tree(tmp_path, {f"d{i}/x.py": "x" for i in range(6)})
    assert [c.path for c in generate_kitfile(tmp_path).code] == ["."]


def test_content_sniffing(tmp_path: Path) -> None:
    header = b'{"__metadata__":{}}'
    write_tree(
        tmp_path,
        {
            "weights.data": b"GGUF" + b"\0" * 20,
            "tensors.raw": struct.pack("<Q", len(header)) + header,
            "table.dat": b"PAR1" + b"\0" * 20,
            "notes.xyz": b"plain text",
        },
    )
    assert detect_file_type(tmp_path / "weights.data") == "model"
    assert detect_file_type(tmp_path / "tensors.raw") == "model"
    assert detect_file_type(tmp_path / "table.dat") == "dataset"
    assert detect_file_type(tmp_path / "notes.xyz") == "unknown"


def test_author_alone_does_not_crash(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.onnx": b"\x08\x07" + b"onnx"})
    kf = generate_kitfile(tmp_path, author="solo")
    assert kf.package.authors == ["solo"] and kf.package.name == ""


MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
  sklearn:
    sklearn_version: 1.5.0
"""


def test_mlflow_model_directory_is_the_model_with_its_flavor(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "model/MLmodel": MLMODEL,
            "model/model.skops": b"\x00weights",  # no model suffix: without MLmodel this dir would be code
            "model/conda.yaml": "name: env\n",
            "model/requirements.txt": "scikit-learn\n",
            "other/MLmodel": "flavors:\n  python_function: {}\n",
            "other/model.pkl": b"\x80\x04x",
            "extra.onnx": b"\x08onnx",
            "src/train.py": "print(1)\n",
        },
    )
    kf = generate_kitfile(tmp_path)
    assert kf.model is not None
    assert (kf.model.name, kf.model.path, kf.model.framework) == ("model", "model", "sklearn")
    assert [(p.name, p.path) for p in kf.model.parts] == [("other", "other"), ("", "extra.onnx")]
    assert [c.path for c in kf.code] == ["src"]  # the MLflow directories are not code


def test_unreadable_mlmodel_still_marks_the_model_directory(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m/MLmodel": ": : not yaml [", "m/weights": b"\x00"})
    kf = generate_kitfile(tmp_path)
    assert kf.model is not None and (kf.model.path, kf.model.framework) == ("m", "")
