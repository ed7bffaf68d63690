"""What ``kit list`` lists: one summary per stored manifest. The text forms are in :mod:`kitops.cli.text`."""

from __future__ import annotations

from dataclasses import dataclass

from kitops.oci.reference import display_form

NONE = "<none>"


@dataclass(frozen=True)
class ModelKitSummary:
    """One stored manifest with its tags; ``size`` is the layers' total in bytes."""

    repo: str
    digest: str
    tags: tuple[str, ...] | None
    model_name: str
    size: int
    author: str


def repo_display(repo_key: str) -> str:
    """A repository as ``kit list`` names it (the registry left out for local storage), or ``<none>``."""
    return display_form(repo_key) or NONE
