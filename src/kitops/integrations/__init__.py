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
- :mod:`kitops.integrations.kubernetes`: the ``kit init-container`` and ``kit kserve-storage``
  entrypoints (environment -> a verified unpack).

:func:`import_uri` is what ``kit import URI`` runs: it picks the importer by the URI's scheme.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kitops.errors import UsageError

if TYPE_CHECKING:
    from kitops.integrations.mlflow import MLflowModelKit

SUPPORTED_IMPORTS = "mlflow://runs/<run_id>[/<artifact_path>], mlflow://models/<name>/<version>"


def import_uri(
    uri: str,
    *,
    tag: str | None = None,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    force: bool = False,
) -> MLflowModelKit:
    """Import ``uri`` into local storage as a ModelKit tagged ``tag``.

    Only ``mlflow://`` sources are supported so far (see
    :func:`kitops.integrations.mlflow.import_mlflow`); anything else is a
    :class:`~kitops.errors.UsageError` with a hint.
    """
    scheme, sep, _rest = uri.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme == "mlflow":
        from kitops.integrations.mlflow import import_mlflow

        return import_mlflow(uri, tag=tag, home=home, tracking_uri=tracking_uri, force=force)
    if (
        scheme in ("hf", "huggingface")
        or "huggingface.co" in uri
        or (not sep and uri.strip("/").count("/") == 1)
    ):
        raise UsageError(
            f"importing from Hugging Face is not supported yet: {uri}",
            hint="download the files, then run 'kit init DIR' and 'kit pack DIR -t TAG' "
            f"(supported sources: {SUPPORTED_IMPORTS})",
        )
    raise UsageError(f"unsupported import source: {uri}", hint=f"supported sources: {SUPPORTED_IMPORTS}")
