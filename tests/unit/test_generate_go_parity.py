"""``kit init`` golden tests: the exact Kitfile text for small trees, against the Go generator.

Each ``GO_*`` text is what kit v1.7 writes for the tree, derived by reading
``kitops: pkg/lib/kitfile/generate/generate.go`` (``GenerateKitfile``, ``addDirToKitfile``,
``addModelToKitfile``, ``determineFileType``), ``filesystem.go`` (``os.ReadDir`` order: a
directory's files first, then its subdirectories) and ``pkg/artifact/kitfile.go`` (yaml.v3,
indent 2, omitempty everywhere but ``docs[].path``; an all-empty ``package`` is left out).
The package section follows ``pkg/cmd/kitinit/cmd.go`` / ``pkg/kit/init.go`` (``BuildPackage``):
name, description and author as given, nothing derived from a local directory.

Where our output differs it is on purpose, and the test says so by building our text from the
Go text with the documented change:

* ``requirements*.txt`` is a code entry, not a model part (or a dataset);
* a generic ``.bin`` is never the model while a real weights format is there;
* the licence file is read from the directory itself (kit reads it relative to the cwd, so its
  detection usually fails);
* ``--author`` alone works (kit v1.7 panics; newer kit writes the authors, as we do).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from kitops import api
from kitops.kitfile.generate import generate_kitfile
from tests.helpers import write_tree

PICKLE = b"\x80\x04\x95" + b"\x00" * 61  # 64 bytes
GGUF = b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 992  # 1000 bytes
ONNX = b"\x08\x07\x12\x07pytorch" + b"\x00" * 1984  # 2000 bytes
_HEADER = b'{"__metadata__":{"format":"pt"}}'
APACHE = (
    "                                 Apache License\n                           Version 2.0, January 2004\n"
)
MIT = "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"


def safetensors(size: int) -> bytes:
    head = struct.pack("<Q", len(_HEADER)) + _HEADER
    return head + b"\x00" * (size - len(head))


def init_text(root: Path, **package: str) -> str:
    """What ``kit init`` writes: the generated Kitfile (and the bytes of ``root/Kitfile``)."""
    text = generate_kitfile(root, **package).to_yaml()
    _kitfile, written = api.init(root, force=True, **package)
    assert written.read_text() == text
    return text


# ---- an sklearn project ------------------------------------------------------------------------

SKLEARN: dict[str, str | bytes] = {
    "model.joblib": PICKLE,
    "requirements.txt": "scikit-learn==1.5.0\npandas\n",
    "data.csv": "x,y\n1,2\n",
    "README.md": "# Iris classifier\n",
}

# Files in os.ReadDir order: README.md, data.csv, model.joblib, requirements.txt (.txt = metadata).
GO_SKLEARN = """\
manifestVersion: 1.0.0
model:
  name: model
  path: model.joblib
  parts:
    - path: requirements.txt
datasets:
  - path: data.csv
docs:
  - path: README.md
    description: Readme file
"""


def test_sklearn_project(tmp_path: Path) -> None:
    write_tree(tmp_path, SKLEARN)
    ours = GO_SKLEARN.replace("  parts:\n    - path: requirements.txt\n", "").replace(
        "datasets:", "code:\n  - path: requirements.txt\ndatasets:"
    )  # deviation: requirements are code
    assert init_text(tmp_path) == ours
    assert (
        ours
        == """\
manifestVersion: 1.0.0
model:
  name: model
  path: model.joblib
code:
  - path: requirements.txt
datasets:
  - path: data.csv
docs:
  - path: README.md
    description: Readme file
"""
    )


def test_sklearn_project_with_package_flags(tmp_path: Path) -> None:
    write_tree(tmp_path, SKLEARN)
    text = init_text(tmp_path, name="iris", description="An iris classifier", author="Ada")
    assert text.startswith(
        "manifestVersion: 1.0.0\npackage:\n  name: iris\n  description: An iris classifier\n  authors: [Ada]\nmodel:\n"
    )


def test_sklearn_project_with_a_script_gets_the_catch_all_code_layer(tmp_path: Path) -> None:
    write_tree(tmp_path, {**SKLEARN, "train.py": "print('fit')\n", "src/util.py": "x = 1\n"})
    # Go: train.py is of unknown type -> code: [{path: .}] replaces the src entry.
    go = GO_SKLEARN.replace("datasets:", "code:\n  - path: .\ndatasets:")
    ours = go.replace("  parts:\n    - path: requirements.txt\n", "")  # the '.' layer holds it
    assert init_text(tmp_path) == ours


# ---- an LLM checkpoint ---------------------------------------------------------------------------

LLM: dict[str, str | bytes] = {
    "model-00001-of-00002.safetensors": safetensors(4000),
    "model-00002-of-00002.safetensors": safetensors(1500),
    "config.json": '{"architectures": ["LlamaForCausalLM"]}' + " " * 61,  # 100 bytes
    "generation_config.json": "{}",
    "tokenizer.json": "{" + " " * 398 + "}",  # 400 bytes
    "README.md": "# tiny llama\n",
}

# Two model files: 4000 is not > 2750 + 1375, so the first is the model, unnamed; top-level
# metadata files follow the model files as parts.
GO_LLM = """\
manifestVersion: 1.0.0
model:
  path: model-00001-of-00002.safetensors
  parts:
    - path: model-00002-of-00002.safetensors
    - path: config.json
    - path: generation_config.json
    - path: tokenizer.json
docs:
  - path: README.md
    description: Readme file
"""


def test_llm_checkpoint(tmp_path: Path) -> None:
    write_tree(tmp_path, LLM)
    assert init_text(tmp_path) == GO_LLM


# In a subdirectory the metadata files are model files too (addDirToKitfile appends them), so
# they count in the average: 6000 // 4 = 1500, and 4000 > 2250 makes the first shard the named
# model ("llm/" + name minus extension).
GO_LLM_IN_SUBDIR = """\
manifestVersion: 1.0.0
model:
  name: llm/model-00001-of-00002
  path: llm/model-00001-of-00002.safetensors
  parts:
    - path: llm/model-00002-of-00002.safetensors
    - path: llm/config.json
    - path: llm/tokenizer.json
docs:
  - path: README.md
    description: Readme file
"""


def test_llm_checkpoint_in_a_subdirectory(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "README.md": "# tiny llama\n",
            **{f"llm/{k}": v for k, v in LLM.items() if k not in ("README.md", "generation_config.json")},
        },
    )
    assert init_text(tmp_path) == GO_LLM_IN_SUBDIR


# ---- a large .bin next to a real weights file ------------------------------------------------

BIN_AND_GGUF: dict[str, str | bytes] = {
    "weights.bin": b"\x00" * 5000,
    "model.gguf": GGUF,
    "README.md": "# q4\n",
}

# 5000 > 3000 + 1500: Go makes the largest file, weights.bin, the model.
GO_BIN_AND_GGUF = """\
manifestVersion: 1.0.0
model:
  name: weights
  path: weights.bin
  parts:
    - path: model.gguf
docs:
  - path: README.md
    description: Readme file
"""


def test_real_weights_format_beats_a_larger_bin(tmp_path: Path) -> None:
    write_tree(tmp_path, BIN_AND_GGUF)
    ours = GO_BIN_AND_GGUF.replace(
        "name: weights\n  path: weights.bin", "name: model\n  path: model.gguf"
    ).replace("- path: model.gguf", "- path: weights.bin")  # deviation: the .gguf is the model
    assert init_text(tmp_path) == ours


def test_bin_only_checkpoint_is_unchanged(tmp_path: Path) -> None:
    write_tree(
        tmp_path, {"pytorch_model.bin": b"\x00" * 3000, "adapter.bin": b"\x00" * 100, "config.json": "{}"}
    )
    assert (
        init_text(tmp_path)
        == """\
manifestVersion: 1.0.0
model:
  name: pytorch_model
  path: pytorch_model.bin
  parts:
    - path: adapter.bin
    - path: config.json
"""
    )


def test_bin_listed_first_with_equal_sizes_is_not_the_model(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"a.bin": b"\x00" * 100, "b.safetensors": safetensors(1000), "c.safetensors": safetensors(1000)},
    )
    # Go: 1000 is not > 700 + 350, so files[0] (a.bin) is the model. Ours: the first real file.
    assert (
        init_text(tmp_path)
        == """\
manifestVersion: 1.0.0
model:
  path: b.safetensors
  parts:
    - path: a.bin
    - path: c.safetensors
"""
    )


# ---- nested docs / src / other directories ----------------------------------------------------

NESTED: dict[str, str | bytes] = {
    "model.onnx": ONNX,
    "notes.md": "notes\n",
    "docs/guide.md": "guide\n",
    "docs/img/arch.png": b"\x89PNG",
    "src/train.py": "print(1)\n",
    "src/utils/io.py": "x = 1\n",
    "assets/lora.safetensors": safetensors(100),
    "assets/logo.png": b"\x89PNG",
    "examples/request.json": "{}",
    "scripts/run.sh": "#!/bin/sh\n",
    "zdata/a.csv": "1\n",
    "zdata/b.csv": "2\n",
}

# Files first (model.onnx, notes.md), then the directories in name order: assets (mixed: code, but
# its model file is collected), docs, examples (only metadata: code), scripts (code), src (code
# by name), zdata (datasets). Code: the named directories first, then the unprocessed ones.
GO_NESTED = """\
manifestVersion: 1.0.0
model:
  name: model
  path: model.onnx
  parts:
    - path: assets/lora.safetensors
code:
  - path: src
  - path: assets
  - path: examples
  - path: scripts
datasets:
  - path: zdata
docs:
  - path: notes.md
  - path: docs
"""


def test_nested_docs_src_and_other_directories(tmp_path: Path) -> None:
    write_tree(tmp_path, NESTED)
    assert init_text(tmp_path) == GO_NESTED


def test_top_level_files_come_before_directories(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "adapters/a.pt": b"\x00" * 100,
            "weights.pt": b"\x00" * 100,
            "a-notes.md": "n\n",
            "docs/x.md": "x\n",
        },
    )
    # Equal sizes: the first collected model file is the model, and top-level files are collected
    # before any directory's (os.ReadDir lists files, then subdirectories).
    assert (
        init_text(tmp_path)
        == """\
manifestVersion: 1.0.0
model:
  path: weights.pt
  parts:
    - path: adapters/a.pt
docs:
  - path: a-notes.md
  - path: docs
"""
    )


def test_more_than_five_unprocessed_directories_give_one_catch_all_layer(tmp_path: Path) -> None:
    write_tree(
        tmp_path, {**{f"tool{i}/x.sh": "#!/bin/sh\n" for i in range(6)}, "lib/a.py": "", "m.pkl": PICKLE}
    )
    assert (
        init_text(tmp_path)
        == "manifestVersion: 1.0.0\nmodel:\n  name: m\n  path: m.pkl\ncode:\n  - path: .\n"
    )


# ---- a dataset directory --------------------------------------------------------------------

DATASET: dict[str, str | bytes] = {
    "train.csv": "x\n1\n",
    "test.csv": "x\n2\n",
    "schema.json": "{}",
    "data/part-0.parquet": b"PAR1" + b"\x00" * 8,
    "data/part-1.parquet": b"PAR1" + b"\x00" * 8,
    "README.md": "# dataset\n",
}

# No model: dataset files as listed, then the dataset directory, then metadata files as datasets.
# No dataset entry gets a name.
GO_DATASET = """\
manifestVersion: 1.0.0
datasets:
  - path: test.csv
  - path: train.csv
  - path: data
  - path: schema.json
docs:
  - path: README.md
    description: Readme file
"""


def test_dataset_directory(tmp_path: Path) -> None:
    write_tree(tmp_path, DATASET)
    assert init_text(tmp_path) == GO_DATASET


def test_requirements_are_never_a_dataset(tmp_path: Path) -> None:
    write_tree(tmp_path, {"data.csv": "1\n", "requirements.txt": "pandas\n", "labels.txt": "a\nb\n"})
    # Go: both .txt files are metadata and, with no model, datasets.
    go = "manifestVersion: 1.0.0\ndatasets:\n  - path: data.csv\n  - path: labels.txt\n  - path: requirements.txt\n"
    ours = go.replace("  - path: requirements.txt\n", "").replace(
        "datasets:", "code:\n  - path: requirements.txt\ndatasets:"
    )
    assert init_text(tmp_path) == ours


def test_requirements_inside_a_model_directory_are_code(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"model/clf.pkl": PICKLE, "model/requirements.txt": "sklearn\n", "model/meta.yaml": "a: 1\n"},
    )
    # Go: model/requirements.txt would be a model part (metadata of a model directory).
    assert (
        init_text(tmp_path)
        == """\
manifestVersion: 1.0.0
model:
  name: model/clf
  path: model/clf.pkl
  parts:
    - path: model/meta.yaml
code:
  - path: model/requirements.txt
"""
    )


# ---- package section and licence -------------------------------------------------------------


@pytest.mark.parametrize(
    ("package", "section"),
    [
        ({}, ""),  # nothing given (or every prompt left empty): no package section, as upstream
        ({"name": "iris"}, "package:\n  name: iris\n"),
        ({"description": "d"}, "package:\n  description: d\n"),
        ({"author": "solo"}, "package:\n  authors: [solo]\n"),  # kit v1.7 panics here
        (
            {"name": "iris", "description": "d: x", "author": "A"},
            "package:\n  name: iris\n  description: 'd: x'\n  authors: [A]\n",
        ),
    ],
)
def test_package_section(tmp_path: Path, package: dict[str, str], section: str) -> None:
    write_tree(tmp_path, {"model.gguf": GGUF})
    assert (
        init_text(tmp_path, **package)
        == f"manifestVersion: 1.0.0\n{section}model:\n  name: model\n  path: model.gguf\n"
    )


def test_licence_goes_to_the_model(tmp_path: Path) -> None:
    write_tree(tmp_path, {"LICENSE": APACHE, "model.gguf": GGUF})
    # Go reads LICENSE relative to the cwd (usually failing: no licence); we read it in the directory.
    go = "manifestVersion: 1.0.0\nmodel:\n  name: model\n  path: model.gguf\ndocs:\n  - path: LICENSE\n    description: License file\n"
    assert init_text(tmp_path) == go.replace(
        "path: model.gguf\n", "path: model.gguf\n  license: Apache-2.0\n"
    )


def test_licence_goes_to_the_only_dataset(tmp_path: Path) -> None:
    write_tree(tmp_path, {"LICENSE.txt": MIT, "data.csv": "1\n"})
    assert init_text(tmp_path) == (
        "manifestVersion: 1.0.0\ndatasets:\n  - path: data.csv\n    license: MIT\n"
        "docs:\n  - path: LICENSE.txt\n    description: License file\n"
    )
