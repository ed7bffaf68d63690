"""Kubeflow Pipelines: push a training step's output as a ModelKit, unpack one in a later step.

- :func:`push_modelkit` / :func:`unpack_modelkit` (:mod:`.core`) do the work; they return what
  the next step needs (:class:`PushOutputs`: ``ref``, ``digest``, ``full_ref``; the model path).
- :mod:`.cli`: the ``push-modelkit`` and ``unpack-modelkit`` console scripts, drop-in for the
  upstream component scripts (same arguments, ``/tmp/outputs`` files, JSON log lines).
- :mod:`.components`: the KFP v2 components (needs ``pip install 'kitops[kubeflow]'``).

Nothing is imported until a name is used: ``import kitops.integrations.kubeflow`` stays cheap and
never loads ``kfp``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitops._lazy import lazy_exports

if TYPE_CHECKING:
    from kitops.integrations.kubeflow.core import (
        KITOPS_ATTESTATION,
        PushOutputs,
        StepFailed,
        push_modelkit,
        unpack_modelkit,
    )

__all__ = ["KITOPS_ATTESTATION", "PushOutputs", "StepFailed", "push_modelkit", "unpack_modelkit"]

__getattr__, __dir__ = lazy_exports(
    __name__, dict.fromkeys(__all__, "kitops.integrations.kubeflow.core"), globals()
)
