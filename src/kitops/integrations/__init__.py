"""Integrations of kitops with other ML tools.

Each integration lives in its own module and imports its tool lazily, inside the
functions that need it: ``import kitops`` (and ``import kitops.integrations``) never
loads MLflow or any other heavy dependency. A missing tool is a
:class:`kitops.errors.UsageError` whose hint names the extra to install.

- :mod:`kitops.integrations.mlflow`: :func:`~kitops.integrations.mlflow.log_modelkit`,
  :func:`~kitops.integrations.mlflow.load_model`,
  :func:`~kitops.integrations.mlflow.import_mlflow`.
- :mod:`kitops.integrations.kubeflow`: the ``push-modelkit`` / ``unpack-modelkit`` steps (console
  scripts and KFP v2 components, extra ``kitops[kubeflow]``).
- :mod:`kitops.integrations.dev`: ``kit dev start|stop|logs`` (a GGUF model served locally, extra
  ``kitops[devserver]``).
- :mod:`kitops.integrations.kubernetes`: the ``kit init-container`` and ``kit kserve-storage``
  entrypoints (environment -> a verified unpack).
- ``kit import`` of a Hugging Face repository (or, with ``tool="git"``, any git + LFS repository)
  is :func:`kitops.api.import_hf` (extra ``kitops[hf]``); :mod:`kitops.integrations.huggingface`
  keeps its earlier import path.

:func:`import_uri` is what ``kit import URI`` runs: it picks the importer by the URI's scheme.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kitops.errors import UsageError

if TYPE_CHECKING:
    from kitops.importers.staging import ImportedModelKit
    from kitops.integrations.mlflow import MLflowModelKit
    from kitops.kitfile.model import Kitfile
    from kitops.progress import Cancel, Progress

SUPPORTED_IMPORTS = (
    "mlflow://runs/<run_id>[/<artifact_path>], mlflow://models/<name>/<version>, "
    "org/name, hf://[datasets/]org/name, https://huggingface.co/org/name, a git URL (--tool git)"
)


def import_uri(
    uri: str,
    *,
    tag: str | None = None,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    force: bool = False,
    ref: str | None = None,
    token: str | None = None,
    kitfile: str | os.PathLike[str] | Kitfile | None = None,
    kitfile_text: str | None = None,
    tool: str | None = None,
    repo_type: str | None = None,
    concurrency: int = 5,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    edit_kitfile: Callable[[Path], None] | None = None,
) -> MLflowModelKit | ImportedModelKit:
    """Import ``uri`` into local storage as a ModelKit tagged ``tag``.

    ``mlflow://`` sources go to :func:`kitops.integrations.mlflow.import_mlflow` (``tracking_uri``,
    ``force``); everything else is a Hugging Face repository or a git URL for
    :func:`kitops.api.import_hf` (``ref``, ``token``, ``kitfile``, ``tool``, ``repo_type``,
    ``concurrency``, ``include``, ``exclude``, ``edit_kitfile``). An option given to the importer that
    does not take it is a :class:`~kitops.errors.UsageError`, not silently ignored.
    """
    scheme, sep, _rest = uri.partition("://")
    scheme = scheme.lower() if sep else ""
    hf_options = {
        "--ref": ref,
        "--token": token,
        "--file": kitfile if kitfile is not None else kitfile_text,
        "--tool": tool,
        "--repo-type": repo_type,
        "--include": list(include) or None,
        "--exclude": list(exclude) or None,
    }
    if scheme == "mlflow":
        from kitops.integrations.mlflow import import_mlflow

        given = [flag for flag, value in hf_options.items() if value is not None]
        if given:
            raise UsageError(f"{given[0]} does not apply to mlflow:// sources")
        return import_mlflow(
            uri, tag=tag, home=home, tracking_uri=tracking_uri, force=force, progress=progress, cancel=cancel
        )
    if tracking_uri is not None or force:
        raise UsageError(
            f"{'--tracking-uri' if tracking_uri is not None else '--force'} applies only to mlflow:// sources"
        )
    if sep and scheme not in ("hf", "huggingface", "http", "https", "ssh", "git", "file"):
        raise UsageError(f"unsupported import source: {uri}", hint=f"supported sources: {SUPPORTED_IMPORTS}")
    from kitops.api import import_hf

    return import_hf(
        uri,
        tag=tag,
        ref=ref,
        token=token,
        kitfile=kitfile,
        kitfile_text=kitfile_text,
        tool=tool,
        repo_type=repo_type,
        concurrency=concurrency,
        include=include,
        exclude=exclude,
        home=home,
        progress=progress,
        cancel=cancel,
        edit_kitfile=edit_kitfile,
    )
