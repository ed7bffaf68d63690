"""``kit init``: a Kitfile from what a directory holds (the reference heuristics, spec §4.12).

Improvements over the reference (spec §7 #13): files are also recognised by their
first bytes when the extension says nothing (GGUF, safetensors, ONNX, pickle/torch
zip, parquet); OS and tool junk (``.git``, ``__pycache__``, ``.DS_Store``...) and a
root ``.kitignore`` never force a catch-all ``code: .``; the licence file is read
from the directory itself; ``--author`` alone works; a directory holding an MLflow
``MLmodel`` file is the model (framework from its flavor), not code.
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

MODEL_SUFFIXES = (".safetensors", ".pkl", ".joblib", ".bin", ".pth", ".pt", ".mar", ".pt2", ".ptl", ".pb", ".ckpt",
                  ".tflite", ".tfrecords", ".npy", ".npz", ".keras", ".h5", ".caffemodel", ".pmml", ".coreml", ".gguf",
                  ".ggml", ".ggmf", ".llamafile", ".onnx")
METADATA_SUFFIXES = (".json", ".yaml", ".xml", ".txt")
DOCS_SUFFIXES = (".md", ".adoc", ".html", ".pdf")
DATASET_SUFFIXES = (".tar", ".zip", ".parquet", ".csv")
JUNK = {".DS_Store", "Thumbs.db", "__pycache__", ".git", ".hg", ".svn", ".ipynb_checkpoints", ".venv", "venv",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".vscode", ".kitignore", ".gitignore", ".gitattributes"}
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
    for kind, suffixes in (("model", MODEL_SUFFIXES), ("metadata", METADATA_SUFFIXES), ("docs", DOCS_SUFFIXES),
                           ("dataset", DATASET_SUFFIXES)):
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


def generate_kitfile(directory: str | os.PathLike[str], *, name: str = "", description: str = "", author: str = "") -> Kitfile:
    root = Path(directory)
    kf = Kitfile(manifest_version="1.0.0")
    if name or description or author:
        kf.package = Package(name=name, description=description, authors=[author] if author else [])
    model_files: list[tuple[str, int]] = []
    metadata: list[str] = []
    unprocessed: list[str] = []
    special_code: list[CodeEntry] = []
    mlflow_models: list[Model] = []
    catch_all = False
    license_id = ""
    for entry in _entries(root):
        if entry.is_symlink():
            continue
        if entry.is_file():
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
            kind = detect_file_type(Path(entry.path))
            if kind == "model":
                model_files.append((entry.name, entry.stat().st_size))
            elif kind == "metadata":
                metadata.append(entry.name)
            elif kind == "docs":
                kf.docs.append(DocsEntry(path=entry.name))
            elif kind == "dataset":
                kf.datasets.append(DatasetEntry(name=Path(entry.name).stem, path=entry.name))
            else:
                catch_all = True
        elif entry.is_dir():
            if entry.name == "docs":
                kf.docs.append(DocsEntry(path=entry.name))
                continue
            if entry.name in CODE_DIRS:
                special_code.append(CodeEntry(path=entry.name))
                continue
            found = _mlflow_model(Path(entry.path))
            if found is not None:
                mlflow_models.append(found)
                continue
            kinds, files = set(), []
            for child in _entries(Path(entry.path)):
                if child.is_dir() and not child.is_symlink():
                    kinds.add("unknown")
                elif child.is_file() and not child.is_symlink():
                    k = detect_file_type(Path(child.path))
                    if k == "metadata":
                        files.append((f"{entry.name}/{child.name}", child.stat().st_size, k))
                        continue
                    kinds.add(k)
                    files.append((f"{entry.name}/{child.name}", child.stat().st_size, k))
            if kinds == {"model"}:
                model_files.extend((p, s) for p, s, k in files if k == "model")
                metadata.extend(p for p, _s, k in files if k == "metadata")
            elif kinds == {"dataset"}:
                kf.datasets.append(DatasetEntry(name=entry.name, path=entry.name))
            elif kinds == {"docs"}:
                kf.docs.append(DocsEntry(path=entry.name))
            else:
                model_files.extend((p, s) for p, s, k in files if k == "model")
                unprocessed.append(entry.name)
    if mlflow_models:  # an MLflow model directory is the model; other models become its parts
        kf.model = mlflow_models[0]
        kf.model.parts = [ModelPart(name=m.name, path=m.path) for m in mlflow_models[1:]]
        kf.model.parts += [ModelPart(path=p) for p, _s in model_files]
    elif model_files:
        sizes = [s for _p, s in model_files]
        largest = max(model_files, key=lambda x: x[1])
        if len(model_files) == 1 or largest[1] > 1.5 * (sum(sizes) / len(sizes)):
            main = largest if len(model_files) > 1 else model_files[0]
            kf.model = Model(name=os.path.splitext(main[0])[0], path=main[0])
            rest = [p for p, _s in model_files if p != main[0]]
        else:
            kf.model = Model(path=model_files[0][0])
            rest = [p for p, _s in model_files[1:]]
        kf.model.parts = [ModelPart(path=p) for p in rest]
    for meta in metadata:
        if kf.model is not None:
            kf.model.parts.append(ModelPart(path=meta))
        else:
            kf.datasets.append(DatasetEntry(path=meta))
    kf.code = special_code
    if catch_all or len(unprocessed) > 5:
        kf.code = [CodeEntry(path=".")]
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
