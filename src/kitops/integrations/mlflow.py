"""MLflow <-> ModelKit: pack a run (or a registered model version) as a ModelKit, load one back.

- :func:`log_modelkit` packs an MLflow run (the active one by default), optionally pushes
  it, and writes the result back to the run (tags ``kitops.modelkit.ref`` and
  ``kitops.modelkit.digest``, the Kitfile as the artifact ``kitops/Kitfile``).
- :func:`load_model` unpacks only the model of a ModelKit (from local storage, else
  straight from its registry) and returns ``mlflow.pyfunc.load_model`` of it;
  :func:`download_model` returns the directory instead.
- :func:`import_mlflow` is ``kit import mlflow://…``: a run or a registered model version
  into local storage, read-only on the MLflow side.

Artifacts are always downloaded with ``mlflow.artifacts.download_artifacts(…, dst_path=…)``
into a temporary directory under ``$KITOPS_HOME/cache/import``, so nothing is ever written
into the MLflow store (local or remote) except the tags and the Kitfile artifact of
:func:`log_modelkit`.

The Kitfile is derived from MLflow's metadata:

- ``model``: the directory holding ``MLmodel``; ``framework`` = its flavor other than
  ``python_function`` (e.g. ``sklearn``); for a registered version ``name``/``version``
  are the registry's.
- ``model.parameters.mlflow`` (the kitops#366 convention): run id and name, experiment id
  and name, status, start/end time (RFC 3339 UTC), user, source, git commit/repo/branch,
  ``params``, ``metrics`` (latest values), user ``tags`` (``mlflow.*`` and ``kitops.*``
  tags left out), ``model_uri``, ``model_id``, flavors and their versions, the signature,
  the registered model, and the input datasets whose files are not among the artifacts.
- ``code``: the model's ``requirements.txt``, ``conda.yaml`` and ``python_env.yaml`` (as
  paths inside the model directory, so a full unpack gives the MLflow model back byte
  for byte) plus other run artifacts that are neither data nor docs.
- ``datasets``: inputs logged with ``mlflow.log_input`` whose file is among the run's
  artifacts (matched by path suffix), and other data files (kit init's heuristics).
- ``package``: ``name`` (default: the last part of the ModelKit's repository, or the
  registered model's name), ``description`` (default: the run's description),
  ``authors`` (default: the ``mlflow.user`` tag).

MLflow itself is imported inside the functions (it takes seconds to import); without it
every function raises :class:`~kitops.errors.UsageError` with the hint
``pip install 'kitops[mlflow]'``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from kitops import api
from kitops.errors import KitError, NotFoundError, UsageError
from kitops.kitfile.generate import MLFLOW_PYFUNC as PYFUNC
from kitops.kitfile.generate import mlflow_framework
from kitops.kitfile.model import CodeEntry, DatasetEntry, DocsEntry, Kitfile, Model, ModelPart, Package
from kitops.netopts import check_keywords
from kitops.oci.reference import parse_single
from kitops.settings import cache_dir, kitops_home

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it

    from kitops.modelkit._pydantic_kit import PydanticKitfile
    from kitops.modelkit.pack import PackResult
    from kitops.netopts import NetworkKeywords
    from kitops.progress import Cancel, Progress

log = logging.getLogger(__name__)

Home = str | os.PathLike[str] | None

INSTALL_HINT = "pip install 'kitops[mlflow]'"
TAG_REF = "kitops.modelkit.ref"
TAG_DIGEST = "kitops.modelkit.digest"
KITFILE_ARTIFACT_DIR = "kitops"  # where log_modelkit logs the Kitfile; never packed itself
ANNOTATION_PREFIX = "ml.kitops.mlflow."
ANNOTATION_RUN_ID = ANNOTATION_PREFIX + "run-id"
ANNOTATION_EXPERIMENT_ID = ANNOTATION_PREFIX + "experiment-id"
ANNOTATION_TRACKING_URI = ANNOTATION_PREFIX + "tracking-uri"
ANNOTATION_MODEL_URI = ANNOTATION_PREFIX + "model-uri"
ANNOTATION_MODEL_ID = ANNOTATION_PREFIX + "model-id"
ANNOTATION_REGISTERED_MODEL = ANNOTATION_PREFIX + "registered-model"
ENV_FILES = ("requirements.txt", "conda.yaml", "python_env.yaml")
FINISHED = "FINISHED"


class MLflowError(KitError):
    """MLflow (its tracking server, store or artifact repository) reported an error."""


@dataclass(frozen=True)
class MLflowModelKit:
    """What :func:`log_modelkit` and :func:`import_mlflow` made."""

    ref: str  # the reference the ModelKit is stored (and, when pushed, pushed) under
    digest: str  # manifest digest
    kitfile: Kitfile
    run_id: str | None
    model_uri: str | None  # MLflow URI of the packed model; None when the run has no model
    pushed: bool = False
    annotations: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# MLflow, lazily


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing and missing != "mlflow":  # MLflow is there, one of its optional dependencies is not
            raise UsageError(
                f"{name} needs the Python package {missing}, which is not installed",
                hint=f"pip install {missing}",
            ) from None
        raise UsageError(f"MLflow is not installed ({exc})", hint=INSTALL_HINT) from None


def _mlflow() -> Any:
    mlflow = _import("mlflow")
    _import("mlflow.artifacts")
    return mlflow


@contextlib.contextmanager
def _mlflow_errors(what: str, tracking_uri: str) -> Iterator[None]:
    """MlflowException -> NotFoundError (missing resource) or MLflowError, with a hint."""
    mlflow_exception = _import("mlflow.exceptions").MlflowException
    try:
        yield
    except mlflow_exception as exc:
        code = str(getattr(exc, "error_code", ""))
        message = getattr(exc, "message", None) or str(exc)
        hint = (
            f"check the id and the tracking URI ({redact_uri(tracking_uri)}; set it with MLFLOW_TRACKING_URI)"
        )
        if code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "ENDPOINT_NOT_FOUND"):
            raise NotFoundError(f"{what}: {message}", hint=hint) from None
        raise MLflowError(f"{what}: {message}", hint=hint) from None


def redact_uri(uri: str) -> str:
    """The URI without user name or password (``https://u:p@host`` -> ``https://host``)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


# ---------------------------------------------------------------------------------------------
# What to fetch


@dataclass
class _Registered:
    name: str
    version: str
    description: str = ""
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    source: str = ""


@dataclass
class _FoundModel:
    rel: str  # directory holding MLmodel, relative to the context ("." for the root)
    name: str
    uri: str
    model_id: str | None = None
    mlmodel: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class _Staged:
    context: Path
    run: Any | None
    experiment_name: str
    model: _FoundModel | None
    registered: _Registered | None = None
    tracking_uri: str = ""


def _logged_models(client: Any, run: Any, tracking_uri: str) -> list[Any]:
    """The run's logged models (MLflow 3): made in the run, or logged as its outputs; READY only."""
    found: dict[str, Any] = {}
    try:
        with _mlflow_errors("listing the run's logged models", tracking_uri):
            for lm in client.search_logged_models(
                experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
            ):
                found[lm.model_id] = lm
            outputs = getattr(getattr(run, "outputs", None), "model_outputs", None) or []
            for out in outputs:
                if out.model_id not in found:
                    found[out.model_id] = client.get_logged_model(out.model_id)
    except (MLflowError, NotFoundError) as exc:  # a tracking server older than MLflow 3
        log.debug("no logged models for run %s: %s", run.info.run_id, exc)
        return []
    out = []
    for lm in found.values():
        status = str(getattr(lm.status, "value", lm.status) or "")
        if status not in ("", "READY", "UNSPECIFIED"):
            log.warning("skipping logged model %s (%s): status %s", lm.name, lm.model_id, status)
            continue
        out.append(lm)
    return sorted(out, key=lambda m: (m.creation_timestamp or 0, m.model_id))


def _safe_name(name: str, fallback: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")
    return clean or fallback


def _download_run_path(mlflow: Any, run_id: str, path: str, dest: Path, tracking_uri: str) -> None:
    with _mlflow_errors(f"downloading artifact {path!r} of run {run_id}", tracking_uri):
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=path, dst_path=str(dest), tracking_uri=tracking_uri
        )


def _download_logged(mlflow: Any, lm: Any, dest: Path, tracking_uri: str) -> _FoundModel:
    base = _safe_name(lm.name or "", lm.model_id)
    rel = base if not (dest / base).exists() else f"{base}-{lm.model_id}"
    # the artifact location, not models:/<id>: MLflow 3.17 resolves that with the global tracking URI
    location = getattr(lm, "artifact_location", None) or f"models:/{lm.model_id}"
    _download_uri(mlflow, location, dest / rel, tracking_uri, what=f"downloading logged model {lm.model_id}")
    return _FoundModel(rel, lm.name or base, f"models:/{lm.model_id}", lm.model_id, tags=dict(lm.tags or {}))


def _download_uri(mlflow: Any, uri: str, target: Path, tracking_uri: str, *, what: str) -> None:
    """Download artifact ``uri`` so that its content is ``target`` (MLflow puts a directory URI's
    last component under ``dst_path``; ``models:/`` URIs it puts right there)."""
    tmp = target.parent / f".download-{target.name}"
    try:
        with _mlflow_errors(what, tracking_uri):
            got = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=str(tmp), tracking_uri=tracking_uri
                )
            )
        if got.resolve().is_relative_to(tmp.resolve()):
            os.replace(got, target)
        elif got.is_dir():  # an artifact repository that handed back its own files: copy, never move
            shutil.copytree(got, target, symlinks=True)
        else:
            shutil.copy2(got, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _scan_models(root: Path) -> list[str]:
    """Directories (relative, sorted) holding an ``MLmodel`` file; not descending into them."""
    found: list[str] = []
    for dirpath, dirs, files in os.walk(root):
        if "MLmodel" in files:
            found.append(Path(dirpath).relative_to(root).as_posix())
            dirs[:] = []
            continue
        dirs.sort()
    return sorted(found)


def _read_mlmodel(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        log.warning("could not read %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _stage_run(
    mlflow: Any,
    client: Any,
    run: Any,
    dest: Path,
    tracking_uri: str,
    *,
    artifact_path: str | None,
    model_id: str | None,
) -> _FoundModel | None:
    """Download what gets packed into ``dest``; return the model chosen as the Kitfile's model."""
    run_id = run.info.run_id
    if model_id is not None:
        with _mlflow_errors(f"reading logged model {model_id}", tracking_uri):
            lm = client.get_logged_model(model_id)
        return _finish_model(dest, _download_logged(mlflow, lm, dest, tracking_uri))
    logged = _logged_models(client, run, tracking_uri)
    if artifact_path:
        path = artifact_path.strip("/")
        matches = [lm for lm in logged if path in (lm.name, lm.model_id)]
        if matches:  # several checkpoints under one name: the newest
            return _finish_model(dest, _download_logged(mlflow, matches[-1], dest, tracking_uri))
        with _mlflow_errors(f"listing artifacts of run {run_id}", tracking_uri):
            listed = client.list_artifacts(run_id, path)
            parent = path.rsplit("/", 1)[0] if "/" in path else None
            is_file = any(fi.path == path and not fi.is_dir for fi in client.list_artifacts(run_id, parent))
        if not listed and not is_file:
            names = sorted({lm.name for lm in logged})
            raise NotFoundError(
                f"run {run_id} has no artifact or logged model {path!r}",
                hint=f"logged models: {', '.join(names)}"
                if names
                else "list the run's artifacts in the MLflow UI",
            )
        _download_run_path(mlflow, run_id, path, dest, tracking_uri)
        scanned = _scan_models(dest)
        if len(scanned) > 1:
            raise UsageError(
                f"artifact {path!r} of run {run_id} holds several MLflow models: {', '.join(scanned)}",
                hint="name the one to pack",
            )
        return _finish_model(dest, _run_model(run_id, scanned[0])) if scanned else None
    with _mlflow_errors(f"listing artifacts of run {run_id}", tracking_uri):
        top = client.list_artifacts(run_id)
    for fi in top:
        if fi.path.strip("/") != KITFILE_ARTIFACT_DIR:
            _download_run_path(mlflow, run_id, fi.path, dest, tracking_uri)
    scanned = _scan_models(dest)
    names = sorted({lm.name for lm in logged})
    candidates = [*scanned, *names]
    if len(candidates) > 1:
        raise UsageError(
            f"run {run_id} has several MLflow models: {', '.join(candidates)}",
            hint=f"choose one: kit import mlflow://runs/{run_id}/NAME (in Python: artifact_path=NAME)",
        )
    if scanned:
        return _finish_model(dest, _run_model(run_id, scanned[0]))
    if logged:  # one name; with checkpoints, the newest
        return _finish_model(dest, _download_logged(mlflow, logged[-1], dest, tracking_uri))
    return None


def _run_model(run_id: str, rel: str) -> _FoundModel:
    name = Path(rel).name if rel != "." else "model"
    return _FoundModel(rel, name, f"runs:/{run_id}/{rel}" if rel != "." else f"runs:/{run_id}")


def _finish_model(dest: Path, found: _FoundModel) -> _FoundModel:
    mlmodel = dest / found.rel / "MLmodel"
    if not mlmodel.is_file():
        raise NotFoundError(f"MLflow model {found.uri} has no MLmodel file", hint="is it an MLflow model?")
    found.mlmodel = _read_mlmodel(mlmodel)
    return found


# ---------------------------------------------------------------------------------------------
# The Kitfile


def _iso(ms: int | None) -> str | None:
    if not ms:
        return None
    when = _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: Any) -> Any:
    """Metrics as numbers; NaN and infinities (which JSON cannot hold) as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _json_or_text(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _clean(value: Any) -> Any:
    """Drop None and empty values (recursively) so the Kitfile stays readable; JSON-safe floats."""
    if isinstance(value, dict):
        out = {str(k): _clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != [] and v != ""}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return _number(value)


def _signature(mlmodel: Mapping[str, Any]) -> dict[str, Any] | None:
    sig = mlmodel.get("signature")
    if not isinstance(sig, dict):
        return None
    return {k: _json_or_text(sig[k]) for k in ("inputs", "outputs", "params") if sig.get(k)}


def _flavors(mlmodel: Mapping[str, Any]) -> dict[str, Any]:
    flavors = mlmodel.get("flavors")
    return flavors if isinstance(flavors, dict) else {}


def _dataset_source(ds: Any) -> Any:
    return _json_or_text(getattr(ds, "source", None))


def _source_path(source: Any) -> str | None:
    """The path part of a dataset source (``{"uri": "/data/train.csv"}``, a URL, a path)."""
    text = None
    if isinstance(source, dict):
        for key in ("uri", "url", "path", "file", "location"):
            if isinstance(source.get(key), str):
                text = source[key]
                break
    elif isinstance(source, str):
        text = source
    if not text:
        return None
    if "://" in text or text.startswith("file:"):
        text = urlsplit(text).path
    return text.replace("\\", "/").rstrip("/") or None


def _match_dataset(source_path: str, files: Sequence[str]) -> str | None:
    """The artifact whose path is the longest suffix of ``source_path`` (by whole components)."""
    parts = [p for p in source_path.split("/") if p]
    best: list[tuple[int, str]] = []
    for rel in files:
        rparts = rel.split("/")
        n = 0
        while n < min(len(parts), len(rparts)) and parts[-1 - n] == rparts[-1 - n]:
            n += 1
        if n:
            best.append((n, rel))
    if not best:
        return None
    best.sort(key=lambda t: -t[0])
    if len(best) > 1 and best[0][0] == best[1][0]:
        return None  # ambiguous: record it as metadata instead
    return best[0][1]


def _files(root: Path, skip: Sequence[str]) -> list[str]:
    out: list[str] = []
    for dirpath, dirs, files in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        dirs[:] = sorted(d for d in dirs if _join(rel_dir, d) not in skip)
        out.extend(_join(rel_dir, f) for f in sorted(files) if _join(rel_dir, f) not in skip)
    return out


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{rel_dir}/{name}"


def _contains(parent: str, child: str) -> bool:
    return parent == "." or child == parent or child.startswith(parent + "/")


def _classify(root: Path, claimed: Sequence[str]) -> list[tuple[str, str]]:
    """(kind, path) for what is left of the context: whole entries where nothing inside is claimed."""
    from kitops.kitfile.generate import detect_file_type

    out: list[tuple[str, str]] = []

    def kind_of(path: Path) -> str:
        if path.is_file():
            k = detect_file_type(path)
            return k if k in ("model", "docs", "dataset") else "code"
        kinds = {kind_of(Path(dp) / f) for dp, _d, fs in os.walk(path) for f in fs}
        return kinds.pop() if len(kinds) == 1 else "code"

    def visit(rel_dir: str) -> None:
        for child in sorted(os.listdir(root / rel_dir)):
            rel = _join(rel_dir, child)
            if rel in claimed:
                continue
            if any(_contains(rel, c) for c in claimed):
                visit(rel)
                continue
            out.append((kind_of(root / rel), rel))

    if "." not in claimed:
        visit(".")
    return out


def build_kitfile(
    staged: _Staged,
    *,
    package_name: str,
    name: str | None = None,
    description: str | None = None,
    authors: Sequence[str] | None = None,
) -> Kitfile:
    """The Kitfile for what was staged (see the module docstring for the mapping)."""
    run, found, reg, root = staged.run, staged.model, staged.registered, staged.context
    tags: dict[str, str] = dict(run.data.tags) if run is not None else {}
    meta: dict[str, Any] = {}
    if run is not None:
        info = run.info
        meta.update(
            {
                "run_id": info.run_id,
                "run_name": getattr(info, "run_name", None) or tags.get("mlflow.runName"),
                "experiment_id": info.experiment_id,
                "experiment_name": staged.experiment_name,
                "status": info.status,
                "start_time": _iso(info.start_time),
                "end_time": _iso(info.end_time),
                "user": tags.get("mlflow.user"),
                "source": {"name": tags.get("mlflow.source.name"), "type": tags.get("mlflow.source.type")},
                "parent_run_id": tags.get("mlflow.parentRunId"),
                "params": dict(run.data.params),
                "metrics": {k: _number(v) for k, v in run.data.metrics.items()},
                "tags": {k: v for k, v in tags.items() if not k.startswith(("mlflow.", "kitops."))},
            }
        )
    model_tags = found.tags if found is not None else {}
    for key, tag in (
        ("git_commit", "mlflow.source.git.commit"),
        ("git_repo", "mlflow.source.git.repoURL"),
        ("git_branch", "mlflow.source.git.branch"),
    ):
        meta[key] = tags.get(tag) or model_tags.get(tag)

    # datasets logged with mlflow.log_input: a layer when the file is among the artifacts
    claimed: list[str] = [found.rel] if found is not None else []
    datasets: list[DatasetEntry] = []
    unmatched: list[dict[str, Any]] = []
    inputs = (getattr(getattr(run, "inputs", None), "dataset_inputs", None) or []) if run is not None else []
    candidates = [] if "." in claimed else _files(root, claimed)
    for di in inputs:
        ds = di.dataset
        source = _dataset_source(ds)
        context = next((t.value for t in (di.tags or []) if t.key == "mlflow.data.context"), None)
        record = {
            "name": ds.name,
            "digest": ds.digest,
            "source_type": ds.source_type,
            "source": source,
            "context": context,
        }
        spath = _source_path(source)
        rel = _match_dataset(spath, [c for c in candidates if c not in claimed]) if spath else None
        if rel is None:
            unmatched.append(record)
            continue
        claimed.append(rel)
        datasets.append(
            DatasetEntry(
                name=ds.name or Path(rel).stem,
                path=rel,
                description=f"MLflow {context} dataset" if context else "MLflow dataset",
                parameters=_clean({"mlflow": {k: v for k, v in record.items() if k != "name"}}),
                has_parameters=True,
            )
        )
    meta["datasets"] = unmatched

    code: list[CodeEntry] = []
    parts: list[ModelPart] = []
    docs: list[DocsEntry] = []
    model: Model | None = None
    if found is not None:
        mm = found.mlmodel
        flavors = _flavors(mm)
        framework = mlflow_framework(mm)
        fl = flavors.get(framework) if isinstance(flavors.get(framework), dict) else {}
        pyfunc = flavors.get(PYFUNC) if isinstance(flavors.get(PYFUNC), dict) else {}
        meta.update(
            {
                "model_uri": found.uri,
                "model_id": found.model_id or mm.get("model_id"),
                "flavors": list(flavors),
                "framework_version": next((v for k, v in (fl or {}).items() if k.endswith("_version")), None),
                "python_version": (pyfunc or {}).get("python_version"),
                "mlflow_version": mm.get("mlflow_version"),
                "signature": _signature(mm),
            }
        )
        if reg is not None:
            meta["registered_model"] = {
                "name": reg.name,
                "version": reg.version,
                "aliases": reg.aliases,
                "tags": reg.tags,
                "source": reg.source,
            }
        model = Model(
            name=reg.name if reg is not None else found.name,
            path=found.rel,
            framework=framework,
            version=reg.version if reg is not None else "",
            description=reg.description if reg is not None else "",
            parameters={"mlflow": _clean(meta)},
            has_parameters=True,
        )
        for env in ENV_FILES:
            if (root / found.rel / env).is_file():
                code.append(
                    CodeEntry(path=_join(found.rel, env), description=f"MLflow model environment ({env})")
                )
    for kind, rel in _classify(root, claimed):
        if kind == "docs":
            docs.append(DocsEntry(path=rel))
        elif kind == "dataset":
            datasets.append(DatasetEntry(name=Path(rel).stem or rel, path=rel))
        elif kind == "model" and model is None:
            model = Model(
                name=Path(rel).stem, path=rel, parameters={"mlflow": _clean(meta)}, has_parameters=True
            )
        elif kind == "model":
            parts.append(ModelPart(name=Path(rel).stem, path=rel))
        else:
            code.append(CodeEntry(path=rel))
    if model is not None:
        model.parts = parts
    elif meta:
        log.warning("run has no model: its MLflow metadata is kept only in the manifest annotations")

    user = tags.get("mlflow.user")
    default_description = tags.get("mlflow.note.content") or (reg.description if reg is not None else "")
    package = Package(
        name=name if name is not None else (reg.name if reg is not None else package_name),
        version=reg.version if reg is not None else "",
        description=description if description is not None else default_description,
        authors=list(authors) if authors is not None else ([user] if user else []),
    )
    return Kitfile(
        manifest_version="1.0.0", package=package, model=model, code=code, datasets=datasets, docs=docs
    )


def _merge_user_kitfile(kitfile: Kitfile, generated: Kitfile) -> Kitfile:
    """A caller's Kitfile wins; only ``model.parameters.mlflow`` is filled in when it has none."""
    import copy

    kf = copy.deepcopy(kitfile)
    if kf.model is not None and generated.model is not None and generated.model.parameters:
        params = kf.model.parameters
        if params is None:
            kf.model.parameters, kf.model.has_parameters = dict(generated.model.parameters), True
        elif isinstance(params, dict) and "mlflow" not in params:
            kf.model.parameters = {**params, **generated.model.parameters}
    return kf


def _annotations(staged: _Staged) -> dict[str, str]:
    out: dict[str, str] = (
        {ANNOTATION_TRACKING_URI: redact_uri(staged.tracking_uri)} if staged.tracking_uri else {}
    )
    if staged.run is not None:
        out[ANNOTATION_RUN_ID] = staged.run.info.run_id
        out[ANNOTATION_EXPERIMENT_ID] = str(staged.run.info.experiment_id)
    if staged.model is not None:
        out[ANNOTATION_MODEL_URI] = staged.model.uri
        if staged.model.model_id:
            out[ANNOTATION_MODEL_ID] = staged.model.model_id
    if staged.registered is not None:
        out[ANNOTATION_REGISTERED_MODEL] = f"{staged.registered.name}/{staged.registered.version}"
    return out


# ---------------------------------------------------------------------------------------------
# Staging and packing


@contextlib.contextmanager
def _staging_dir(home: Home) -> Iterator[Path]:
    base = cache_dir(kitops_home(home)) / "import"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="kitops_import_", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _client(mlflow: Any, tracking_uri: str | None) -> tuple[Any, str]:
    uri = tracking_uri or mlflow.get_tracking_uri()
    return mlflow.MlflowClient(tracking_uri=uri), uri


def _get_run(client: Any, run_id: str, tracking_uri: str) -> Any:
    with _mlflow_errors(f"MLflow run {run_id} not found", tracking_uri):
        try:
            run = client.get_run(run_id)
        except Exception as exc:
            if str(getattr(exc, "error_code", "")) == "INVALID_PARAMETER_VALUE":
                raise NotFoundError(
                    f"MLflow run {run_id} not found: {getattr(exc, 'message', exc)}", hint="check the run id"
                ) from None
            raise
    if getattr(run.info, "lifecycle_stage", "active") == "deleted":
        raise NotFoundError(f"MLflow run {run_id} is deleted", hint="restore it first (mlflow runs restore)")
    return run


def _check_finished(run: Any, *, active: bool, force: bool) -> None:
    status = run.info.status
    if status != FINISHED and not active and not force:
        raise UsageError(
            f"MLflow run {run.info.run_id} is {status}, not {FINISHED}",
            hint="let the run finish (or log from inside it), or pass force=True (kit import --force)",
        )


def _experiment_name(client: Any, experiment_id: str) -> str:
    """The experiment's name for the Kitfile's metadata, or "" when MLflow will not give it (the
    experiment deleted, or not readable with these credentials): the run itself is what counts."""
    mlflow_exception = _import("mlflow.exceptions").MlflowException
    try:
        return str(client.get_experiment(experiment_id).name)
    except mlflow_exception as exc:
        log.debug("experiment %s: no name: %s", experiment_id, getattr(exc, "message", None) or exc)
        return ""


def _pack(
    staged: _Staged,
    kitfile: Kitfile,
    ref: str,
    *,
    home: Home,
    compression: str,
    progress: Progress | None,
    cancel: Cancel | None,
) -> tuple[PackResult, dict[str, str]]:
    annotations = _annotations(staged)
    result = api.pack(
        staged.context,
        kitfile=kitfile,
        tag=ref,
        compression=compression,
        home=home,
        progress=progress,
        cancel=cancel,
        annotations=annotations,
    )
    return result, annotations


def _repo_name(ref: str) -> str:
    return parse_single(ref).repository.rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------------------------
# Public API


def log_modelkit(
    ref: str,
    *,
    run_id: str | None = None,
    artifact_path: str | None = None,
    push: bool = True,
    name: str | None = None,
    description: str | None = None,
    authors: Sequence[str] | None = None,
    kitfile: Kitfile | PydanticKitfile | None = None,
    force: bool = False,
    compression: str = "none",
    home: Home = None,
    tracking_uri: str | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    **net: Unpack[NetworkKeywords],
) -> MLflowModelKit:
    """Pack an MLflow run as the ModelKit ``ref``, push it, and record it on the run.

    ``run_id`` defaults to the active run (inside ``with mlflow.start_run():``), which is
    allowed although it is still ``RUNNING``; only what it logged so far is packed. Any
    other run must be ``FINISHED`` unless ``force``. ``artifact_path`` picks the model when
    the run has several (a logged model's name or id, or a run-artifact directory holding
    ``MLmodel``); only that is packed then.

    ``name``/``description``/``authors`` override the package fields derived from the run;
    ``kitfile`` (ours or PyKitOps' model) replaces the generated Kitfile altogether (its paths are relative to the
    run's downloaded artifacts; its ``model.parameters`` gets the ``mlflow`` metadata when
    it has none).

    With ``push`` (the default) ``ref`` must name a registry and the ModelKit is pushed
    with the network keywords of :func:`kitops.push` (``plain_http``, ``concurrency``, ...,
    ``network``); without, it only goes to local storage. Afterwards the run gets the
    tags ``kitops.modelkit.ref`` and ``kitops.modelkit.digest`` and the artifact
    ``kitops/Kitfile`` (through ``MlflowClient``, so finished runs work too).
    """
    check_keywords("log_modelkit", net)  # a misspelt keyword fails now, not after the packing
    mlflow = _mlflow()
    target = parse_single(ref, what="ModelKit reference")
    if push and target.is_local_only:
        raise UsageError(
            f"cannot push {ref}: the reference names no registry",
            hint="use registry/repository:tag, or pass push=False to pack locally only",
        )
    client, uri = _client(mlflow, tracking_uri)
    active = mlflow.active_run()
    if run_id is None:
        if active is None:
            raise UsageError(
                "no active MLflow run",
                hint="call log_modelkit inside 'with mlflow.start_run():', or pass run_id=",
            )
        run_id = str(active.info.run_id)
    run = _get_run(client, run_id, uri)
    _check_finished(run, active=active is not None and active.info.run_id == run_id, force=force)
    with _staging_dir(home) as context:
        found = _stage_run(mlflow, client, run, context, uri, artifact_path=artifact_path, model_id=None)
        staged = _Staged(
            context, run, _experiment_name(client, run.info.experiment_id), found, tracking_uri=uri
        )
        generated = build_kitfile(
            staged, package_name=_repo_name(ref), name=name, description=description, authors=authors
        )
        if kitfile is not None and not isinstance(kitfile, Kitfile):  # the PyKitOps model (kit.init's)
            kitfile = kitfile.to_core()
        kf = _merge_user_kitfile(kitfile, generated) if kitfile is not None else generated
        packed, annotations = _pack(
            staged, kf, ref, home=home, compression=compression, progress=progress, cancel=cancel
        )
    digest = packed.descriptor.digest
    if push:
        api.push(ref, home=home, progress=progress, cancel=cancel, **net)
    shown = target.display()
    with (
        _mlflow_errors(f"recording the ModelKit on run {run_id}", uri),
        tempfile.TemporaryDirectory(prefix="kitops-kitfile-") as tmp,
    ):
        client.set_tag(run_id, TAG_REF, shown)
        client.set_tag(run_id, TAG_DIGEST, digest)
        kitfile_path = Path(tmp) / "Kitfile"
        kitfile_path.write_text(packed.kitfile.to_yaml(), encoding="utf-8")
        client.log_artifact(run_id, str(kitfile_path), artifact_path=KITFILE_ARTIFACT_DIR)
    return MLflowModelKit(
        shown, digest, packed.kitfile, run_id, found.uri if found else None, push, annotations
    )


def download_model(
    ref: str,
    *,
    target_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> Path:
    """Unpack only the model of ModelKit ``ref`` (and its MLflow environment files) and
    return the directory holding ``MLmodel``.

    From local storage when the ModelKit is there, else straight from its registry (only
    the model layers are fetched). Without ``target_dir`` the files go to
    ``$KITOPS_HOME/cache/mlflow/<digest>`` and are reused by later calls for the same
    digest (``kit cache clear`` removes them). The network keywords are :func:`kitops.unpack`'s.
    """
    check_keywords("download_model", net)
    # local storage first, then the registry the reference names, with the caller's network options
    inspected = api.inspect(ref, home=home, **net)
    kitfile, digest = inspected.kitfile, inspected.digest
    model = kitfile.model
    if model is None or not model.path:
        raise NotFoundError(
            f"ModelKit {ref} has no model", hint="pack it with log_modelkit or kit import mlflow://…"
        )
    from kitops.oci.reference import is_modelkit_reference

    if is_modelkit_reference(model.path):
        raise UsageError(
            f"the model of {ref} is the ModelKit {model.path}", hint=f"load {model.path} instead"
        )
    env = [c.path for c in kitfile.code if _contains(model.path, c.path) and Path(c.path).name in ENV_FILES]
    filters = ["model", *(["code:" + ",".join(env)] if env else [])]
    pinned = parse_single(ref).with_digest(digest).display()
    if target_dir is not None:
        api.unpack(pinned, target_dir=target_dir, filters=filters, overwrite=overwrite, home=home, **net)
        return _mlmodel_dir(Path(target_dir), model.path, ref)
    cache = cache_dir(kitops_home(home)) / "mlflow"
    final = cache / digest.replace(":", "-")
    if (final / ".complete").is_file():
        return _mlmodel_dir(final, model.path, ref)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache))
    try:
        api.unpack(pinned, target_dir=tmp, filters=filters, home=home, **net)
        (tmp / ".complete").write_text(digest + "\n", encoding="utf-8")
        if (final / ".complete").is_file():
            return _mlmodel_dir(final, model.path, ref)  # a concurrent loader finished first: use its copy
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)  # an interrupted earlier attempt (no .complete)
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / ".complete").is_file():  # not a concurrent loader's complete copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _mlmodel_dir(final, model.path, ref)


def _mlmodel_dir(root: Path, model_path: str, ref: str) -> Path:
    path = root / model_path
    if path.is_file() and path.name == "MLmodel":
        path = path.parent
    if not (path / "MLmodel").is_file():
        raise NotFoundError(
            f"the model of {ref} ({model_path}) is not an MLflow model: no MLmodel file",
            hint="load it with its framework's own loader (see kit unpack)",
        )
    return path


def load_model(
    ref: str,
    *,
    target_dir: str | os.PathLike[str] | None = None,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> Any:
    """``mlflow.pyfunc.load_model`` of the model in ModelKit ``ref`` (see :func:`download_model`)."""
    check_keywords("load_model", net)
    _mlflow()
    pyfunc = _import("mlflow.pyfunc")
    path = download_model(ref, target_dir=target_dir, home=home, **net)
    return pyfunc.load_model(str(path))


@dataclass(frozen=True)
class MLflowSource:
    """A parsed ``mlflow://`` URI."""

    run_id: str | None = None
    experiment_id: str | None = None
    artifact_path: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    model_alias: str | None = None


def parse_mlflow_uri(uri: str) -> MLflowSource:
    """``mlflow://runs/<run_id>[/<artifact_path>]``, ``mlflow://experiments/<id>/runs/<run_id>[/…]``,
    ``mlflow://models/<name>/<version>`` or ``mlflow://models/<name>@<alias>``."""
    hint = "use mlflow://runs/<run_id>[/<artifact_path>] or mlflow://models/<name>/<version>"
    if not uri.startswith("mlflow://"):
        raise UsageError(f"not an mlflow:// URI: {uri}", hint=hint)
    parts = [p for p in uri[len("mlflow://") :].split("/") if p]
    experiment_id = None
    if len(parts) >= 2 and parts[0] == "experiments":
        experiment_id, parts = parts[1], parts[2:]
    if len(parts) >= 2 and parts[0] == "runs":
        return MLflowSource(
            run_id=parts[1], experiment_id=experiment_id, artifact_path="/".join(parts[2:]) or None
        )
    if experiment_id is None and len(parts) >= 2 and parts[0] == "models":
        rest = parts[1:]
        if len(rest) == 1 and "@" in rest[0]:
            name, _, alias = rest[0].partition("@")
            if name and alias:
                return MLflowSource(model_name=name, model_alias=alias)
        if len(rest) >= 2 and rest[-1].isdigit():
            return MLflowSource(model_name="/".join(rest[:-1]), model_version=rest[-1])
    raise UsageError(f"invalid MLflow URI: {uri}", hint=hint)


def import_mlflow(
    uri: str,
    *,
    tag: str | None = None,
    home: Home = None,
    tracking_uri: str | None = None,
    force: bool = False,
    name: str | None = None,
    description: str | None = None,
    authors: Sequence[str] | None = None,
    compression: str = "none",
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> MLflowModelKit:
    """``kit import mlflow://…``: pack an MLflow run or registered model version into local storage.

    Runs must be ``FINISHED`` unless ``force``. A registered version is resolved to its
    logged model (MLflow 3) or its source run's artifact; one registered without a run is
    downloaded from the registry alone. Read-only on the MLflow side: nothing is tagged or
    logged. ``tag`` defaults to ``<name>:<version>`` (or ``<name>:<alias>``) for registered
    models; runs need one.
    """
    source = parse_mlflow_uri(uri)
    mlflow = _mlflow()
    client, turi = _client(mlflow, tracking_uri)
    registered: _Registered | None = None
    model_id: str | None = None
    artifact_path = source.artifact_path
    run_id = source.run_id
    run_less_uri: str | None = None
    if source.model_name is not None:
        what = f"registered model {source.model_name} " + (
            f"version {source.model_version}" if source.model_version else f"alias {source.model_alias}"
        )
        with _mlflow_errors(what, turi):
            if source.model_alias:
                mv = client.get_model_version_by_alias(source.model_name, source.model_alias)
            else:
                mv = client.get_model_version(source.model_name, source.model_version)
        registered = _Registered(
            str(mv.name),
            str(mv.version),
            mv.description or "",
            list(mv.aliases or []),
            dict(mv.tags or {}),
            str(mv.source or ""),
        )
        model_id = getattr(mv, "model_id", None) or None
        run_id = mv.run_id or None
        src = str(mv.source or "")
        if model_id is None and run_id and src.startswith(f"runs:/{run_id}/"):
            artifact_path = src[len(f"runs:/{run_id}/") :]
        elif model_id is None and src.startswith("models:/m-"):
            model_id = src[len("models:/") :]
        elif model_id is None:
            run_less_uri = f"models:/{registered.name}/{registered.version}"
            run_id = None
        if tag is None:
            tag = f"{_safe_name(registered.name.lower(), 'model')}:{source.model_alias or registered.version}"
    if tag is None:
        raise UsageError(
            "use flag --tag to set a tag for ModelKit",
            hint="e.g. kit import mlflow://runs/<id> -t my-model:v1",
        )
    parse_single(tag, what="tag")
    run = None
    if run_id is not None:
        run = _get_run(client, run_id, turi)
        if source.experiment_id is not None and str(run.info.experiment_id) != source.experiment_id:
            raise NotFoundError(
                f"MLflow run {run_id} is not in experiment {source.experiment_id}",
                hint=f"it is in experiment {run.info.experiment_id}",
            )
        if registered is None:
            _check_finished(run, active=False, force=force)
    with _staging_dir(home) as context:
        if run is not None:
            found = _stage_run(
                mlflow, client, run, context, turi, artifact_path=artifact_path, model_id=model_id
            )
        else:
            assert registered is not None and run_less_uri is not None
            rel = _safe_name(registered.name, "model")
            _download_uri(mlflow, run_less_uri, context / rel, turi, what=f"downloading {run_less_uri}")
            found = _finish_model(context, _FoundModel(rel, registered.name, run_less_uri))
        exp = _experiment_name(client, run.info.experiment_id) if run is not None else ""
        staged = _Staged(context, run, exp, found, registered, turi)
        kf = build_kitfile(
            staged, package_name=_repo_name(tag), name=name, description=description, authors=authors
        )
        packed, annotations = _pack(
            staged, kf, tag, home=home, compression=compression, progress=progress, cancel=cancel
        )
    return MLflowModelKit(
        parse_single(tag).display(),
        packed.descriptor.digest,
        packed.kitfile,
        run.info.run_id if run is not None else None,
        found.uri if found else None,
        False,
        annotations,
    )
