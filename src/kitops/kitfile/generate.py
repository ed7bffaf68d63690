"""``kit init``: a Kitfile from what a directory holds (the reference's heuristics).

Same output as the Go generator (``kitops: pkg/lib/kitfile/generate/generate.go``, v1.7) for
the same directory: files before subdirectories, no ``name`` on datasets, the reference's
1.5x-average rule with integer sizes, metadata of a model directory counted as model files,
``package`` only when a name, description or author is given. Improvements:

* files are also recognised by their first bytes when the extension says nothing (GGUF,
  safetensors, ONNX, pickle/torch zip, parquet);
* OS and tool junk (``.git``, ``__pycache__``, ``.DS_Store``...) and a root ``.kitignore``
  never force a catch-all ``code: .``;
* the licence file is read from the directory itself (the reference reads it relative to the cwd);
* ``--author`` alone works (kit v1.7 panics);
* a generic ``.bin`` is never the model while a real weights format is there (the reference
  took the largest file, so a big ``.bin`` beat a smaller ``.gguf``);
* ``requirements*.txt`` is a code entry, not a model part or a dataset;
* a directory holding an MLflow ``MLmodel`` file is the model (framework from its flavor), not code.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from kitops.kitfile.model import CodeEntry, DatasetEntry, DocsEntry, Kitfile, Model, ModelPart, Package

log = logging.getLogger(__name__)

MODEL_SUFFIXES = (
    ".safetensors",
    ".pkl",
    ".joblib",
    ".bin",
    ".pth",
    ".pt",
    ".mar",
    ".pt2",
    ".ptl",
    ".pb",
    ".ckpt",
    ".tflite",
    ".tfrecords",
    ".npy",
    ".npz",
    ".keras",
    ".h5",
    ".caffemodel",
    ".pmml",
    ".coreml",
    ".gguf",
    ".ggml",
    ".ggmf",
    ".llamafile",
    ".onnx",
)
METADATA_SUFFIXES = (".json", ".yaml", ".xml", ".txt")
DOCS_SUFFIXES = (".md", ".adoc", ".html", ".pdf")
DATASET_SUFFIXES = (".tar", ".zip", ".parquet", ".csv")
JUNK = {
    ".DS_Store",
    "Thumbs.db",
    "__pycache__",
    ".git",
    ".hg",
    ".svn",
    ".ipynb_checkpoints",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".idea",
    ".vscode",
    ".kitignore",
    ".gitignore",
    ".gitattributes",
}
KITFILES = {"Kitfile", "kitfile", ".kitfile"}
CODE_DIRS = ("src", "pkg", "lib", "build")
LICENSES = [
    ("Apache-2.0", [r"Apache License", r"Version 2\.0"]),
    ("MIT", [r"Permission is hereby granted, free of charge"]),
    ("BSD-3-Clause", [r"Redistribution and use in source and binary forms", r"Neither the name"]),
    ("GPL-3.0", [r"GNU GENERAL PUBLIC LICENSE", r"Version 3"]),
    ("LGPL-3.0", [r"GNU LESSER GENERAL PUBLIC LICENSE", r"Version 3"]),
    ("MPL-2.0", [r"Mozilla Public License", r"2\.0"]),
    ("CC-BY-4.0", [r"Creative Commons Attribution 4\.0"]),
]


def _sniff(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return "unknown"
    if head.startswith(b"GGUF"):
        return "model"
    if len(head) > 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000:
        return "model"  # safetensors: u64 header length, then a JSON header
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return "model"  # pickle / joblib
    if head.startswith(b"PK\x03\x04") and b"data.pkl" in head[:1024]:
        return "model"  # torch zip
    if head[:1] == b"\x08" and (b"onnx" in head or b"pytorch" in head or b"tf2onnx" in head):
        return "model"
    if head.startswith(b"PAR1"):
        return "dataset"
    return "unknown"


def detect_file_type(path: Path) -> str:
    """model | metadata | docs | dataset | unknown: by suffix (as the reference), then by content."""
    name = path.name
    for kind, suffixes in (
        ("model", MODEL_SUFFIXES),
        ("metadata", METADATA_SUFFIXES),
        ("docs", DOCS_SUFFIXES),
        ("dataset", DATASET_SUFFIXES),
    ):
        if name.endswith(suffixes):
            return kind
    return _sniff(path)


def _detect_license(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")[:20000]
    except OSError:
        return ""
    found = [spdx for spdx, patterns in LICENSES if all(re.search(p, text, re.I) for p in patterns)]
    if len(found) == 1:
        return found[0]
    log.warning("Unable to determine license type")
    return ""


MLFLOW_PYFUNC = "python_function"


def mlflow_framework(mlmodel: Mapping[str, Any]) -> str:
    """The framework of an MLflow model: its flavor other than ``python_function`` (``sklearn``,
    ``pytorch``...), else ``python_function``; "" without flavors."""
    flavors = mlmodel.get("flavors")
    names = list(flavors) if isinstance(flavors, dict) else []
    others = [n for n in names if n != MLFLOW_PYFUNC]
    return others[0] if others else (MLFLOW_PYFUNC if names else "")


def _mlflow_model(directory: Path) -> Model | None:
    """A directory holding an ``MLmodel`` file is one MLflow model, whatever files it holds
    (``model.skops``, ``conda.yaml``…): it is the model, with the flavor as its framework."""
    mlmodel = directory / "MLmodel"
    if not mlmodel.is_file():
        return None
    try:
        with open(mlmodel, encoding="utf-8", errors="replace") as fh:
            meta = yaml.safe_load(fh.read(1 << 20))
    except (OSError, yaml.YAMLError):
        meta = None
    framework = mlflow_framework(meta) if isinstance(meta, dict) else ""
    return Model(name=directory.name, path=directory.name, framework=framework)


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    return sorted((e for e in os.scandir(directory) if e.name not in JUNK), key=lambda e: e.name)


def _split(directory: Path) -> tuple[list[os.DirEntry[str]], list[os.DirEntry[str]]]:
    """(regular files, directories) of ``directory``, each sorted by name, junk and symlinks left out.

    The reference lists a directory's files first and its subdirectories after them, whatever
    their names: its docs, datasets and model files keep that order.
    """
    files: list[os.DirEntry[str]] = []
    dirs: list[os.DirEntry[str]] = []
    for entry in _entries(directory):
        if entry.is_symlink():
            continue
        if entry.is_file():
            files.append(entry)
        elif entry.is_dir():
            dirs.append(entry)
    return files, dirs


_REQUIREMENTS = re.compile(r"^requirements[-_.\w]*\.txt$", re.IGNORECASE)


def is_requirements_file(name: str) -> bool:
    """``requirements.txt`` and its variants (``requirements-dev.txt``...): code, not metadata.

    The reference types every ``.txt`` as metadata, so a pip requirements file became a model
    part (or a dataset); it describes how to run the code, so we make it a code entry.
    """
    return bool(_REQUIREMENTS.match(name))


def _go_ext(name: str) -> str:
    """Go's ``filepath.Ext`` of a base name: from the last dot (``.hidden`` -> ``.hidden``)."""
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


def _model_name(path: str) -> str:
    """The reference's model name: the path without the file's extension (``dir/model``)."""
    ext = _go_ext(path.rsplit("/", 1)[-1])
    return path[: len(path) - len(ext)] if ext else path


# How strongly a collected file looks like the model itself: a weights format (2), a generic
# ``.bin`` (1), a metadata file collected from a model directory (0).
_REAL, _BIN, _META = 2, 1, 0


def _go_pick(files: list[tuple[str, int, int]]) -> tuple[int, bool]:
    """The reference's choice among model files (in collection order): index of the model, named?

    One file: it, named. Otherwise the largest (first of equals) when it is more than 1.5x the
    integer average, named; else the first file, without a name.
    """
    if len(files) == 1:
        return 0, True
    largest, largest_size, total = -1, 0, 0
    for i, (_path, size, _rank) in enumerate(files):
        if size > largest_size:
            largest, largest_size = i, size
        total += size
    average = total // len(files)
    if largest >= 0 and largest_size > average + average // 2:
        return largest, True
    return 0, False


def _choose_model(files: list[tuple[str, int, int]]) -> Model:
    """The reference heuristic, except that a generic ``.bin`` (or a metadata file) is never the
    model while a file in a real weights format (``.safetensors``, ``.gguf``, ``.joblib``...) is
    there: the reference took the largest file, so a big ``.bin`` beat a smaller ``.gguf``."""
    index, named = _go_pick(files)
    best = max(rank for _p, _s, rank in files)
    if files[index][2] < best:
        candidates = [i for i, f in enumerate(files) if f[2] == best]
        sub, named = _go_pick([files[i] for i in candidates])
        index = candidates[sub]
    path = files[index][0]
    model = Model(name=_model_name(path) if named else "", path=path)
    model.parts = [ModelPart(path=p) for i, (p, _s, _r) in enumerate(files) if i != index]
    return model


def _rank(name: str) -> int:
    return _BIN if name.endswith(".bin") else _REAL


def generate_kitfile(
    directory: str | os.PathLike[str], *, name: str = "", description: str = "", author: str = ""
) -> Kitfile:
    """The Kitfile ``kit init`` writes for ``directory`` (the reference's heuristics).

    The package section holds the name, description and author given (none is derived from the
    directory, as upstream); it is written only when one of them is set.
    """
    root = Path(directory)
    kf = Kitfile(manifest_version="1.0.0")
    if name or description or author:
        kf.package = Package(name=name, description=description, authors=[author] if author else [])
    model_files: list[tuple[str, int, int]] = []  # (path, size, rank) in the reference's order
    metadata: list[str] = []
    unprocessed: list[str] = []
    mlflow_models: list[Model] = []
    catch_all = False
    license_id = ""
    files, dirs = _split(root)
    for entry in files:
        if entry.name in KITFILES:
            continue
        lower = entry.name.lower()
        if lower.startswith("readme"):
            kf.docs.append(DocsEntry(path=entry.name, description="Readme file"))
            continue
        if lower.startswith("license"):
            kf.docs.append(DocsEntry(path=entry.name, description="License file"))
            license_id = _detect_license(Path(entry.path))
            continue
        if is_requirements_file(entry.name):
            kf.code.append(CodeEntry(path=entry.name))
            continue
        kind = detect_file_type(Path(entry.path))
        if kind == "model":
            model_files.append((entry.name, entry.stat().st_size, _rank(entry.name)))
        elif kind == "metadata":
            metadata.append(entry.name)
        elif kind == "docs":
            kf.docs.append(DocsEntry(path=entry.name))
        elif kind == "dataset":
            kf.datasets.append(DatasetEntry(path=entry.name))
        else:
            catch_all = True
    for entry in dirs:
        if entry.name == "docs":
            kf.docs.append(DocsEntry(path=entry.name))
            continue
        if entry.name in CODE_DIRS:
            kf.code.append(CodeEntry(path=entry.name))
            continue
        found = _mlflow_model(Path(entry.path))
        if found is not None:
            mlflow_models.append(found)
            continue
        kinds: set[str] = set()
        dir_models: list[tuple[str, int, int]] = []
        dir_metadata: list[tuple[str, int, int]] = []
        requirements: list[str] = []
        child_files, child_dirs = _split(Path(entry.path))
        if child_dirs:
            kinds.add("unknown")  # the reference does not look deeper
        for child in child_files:
            path = f"{entry.name}/{child.name}"
            if is_requirements_file(child.name):
                requirements.append(path)
                continue
            k = detect_file_type(Path(child.path))
            if k == "model":
                dir_models.append((path, child.stat().st_size, _rank(child.name)))
            elif k == "metadata":
                dir_metadata.append((path, child.stat().st_size, _META))
            if k != "metadata":
                kinds.add(k)
        if kinds == {"model"}:
            # a model directory: its metadata files count as model files (parts), as upstream
            model_files.extend(dir_models + dir_metadata)
            kf.code.extend(CodeEntry(path=r) for r in requirements)
        elif kinds == {"dataset"}:
            kf.datasets.append(DatasetEntry(path=entry.name))
        elif kinds == {"docs"}:
            kf.docs.append(DocsEntry(path=entry.name))
        else:  # mixed, unknown, only metadata, or empty: code, but its model files are still models
            model_files.extend(dir_models)
            unprocessed.append(entry.name)
    if mlflow_models:  # an MLflow model directory is the model; other models become its parts
        kf.model = mlflow_models[0]
        kf.model.parts = [ModelPart(name=m.name, path=m.path) for m in mlflow_models[1:]]
        kf.model.parts += [ModelPart(path=p) for p, _s, _r in model_files]
    elif model_files:
        kf.model = _choose_model(model_files)
    for meta in metadata:
        if kf.model is not None:
            kf.model.parts.append(ModelPart(path=meta))
        else:
            kf.datasets.append(DatasetEntry(path=meta))
    if catch_all or len(unprocessed) > 5:
        kf.code = [CodeEntry(path=".")]  # replaces the code entries found so far, as upstream
    else:
        kf.code += [CodeEntry(path=d) for d in unprocessed]
    if license_id:
        if kf.model is not None:
            kf.model.license = license_id
        elif len(kf.datasets) == 1:
            kf.datasets[0].license = license_id
        elif len(kf.code) == 1:
            kf.code[0].license = license_id
        else:
            kf.package.license = license_id
    return kf
