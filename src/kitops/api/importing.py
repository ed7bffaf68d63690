"""``kit import`` from the Hugging Face Hub and git hosts: staged by :mod:`kitops.importers`, packed here."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kitops.api._common import Home, log
from kitops.api.kitfiles import load_kitfile
from kitops.api.packing import pack
from kitops.errors import KitError
from kitops.kitfile.model import Kitfile
from kitops.oci.reference import parse_single
from kitops.progress import Cancel, Progress

if TYPE_CHECKING:  # types only: httpx, the registry client and the pack/unpack code load when a command runs
    from kitops.importers.staging import ImportedModelKit, StagedImport


def import_hf(
    source: str,
    *,
    tag: str | None = None,
    ref: str | None = None,
    token: str | None = None,
    kitfile: str | os.PathLike[str] | Kitfile | None = None,
    kitfile_text: str | None = None,
    tool: str | None = None,
    repo_type: str | None = None,
    concurrency: int = 5,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    edit_kitfile: Callable[[Path], None] | None = None,
) -> ImportedModelKit:
    """``kit import``: pack a Hugging Face repository (or, with ``tool="git"`` or a non-Hub URL, any
    git + LFS repository) into local storage as ``tag`` (default: ``org/name:latest``).

    ``source`` is ``org/name``, ``hf://[datasets/]org/name``, ``https://huggingface.co/org/name``
    or a git URL. ``ref`` is a branch, tag or commit (default ``main``); ``token`` defaults to
    huggingface_hub's (``$HF_TOKEN`` or the saved login) and is never logged or put on a command
    line. ``include`` / ``exclude`` are globs on repository paths (``*.safetensors``,
    ``*Q4_K_M.gguf``, ``onnx/``). ``kitfile`` (a path or a :class:`Kitfile`) or ``kitfile_text``
    replaces the generated Kitfile and limits the download to its paths. Files already in the
    Hugging Face cache are reused once verified.

    ``edit_kitfile`` is called with the path of a generated Kitfile before packing (a front end's
    chance to let the user edit it); the file is then re-read and validated. When the hook fails
    or leaves an invalid Kitfile, nothing is packed, the file is kept, and the error's hint is
    the ``kit import ... -f <path>`` command that resumes.
    """
    from kitops.importers.staging import ImportedModelKit, stage_import

    with stage_import(
        source, tag=tag, ref=ref, token=token, kitfile=kitfile, kitfile_text=kitfile_text, tool=tool,
        repo_type=repo_type, concurrency=concurrency, include=include, exclude=exclude, home=home,
        progress=progress, cancel=cancel,
    ) as staged:  # fmt: skip
        kf = staged.kitfile
        if staged.generated and edit_kitfile is not None:
            resume = _import_command(source, staged, ref, tool, repo_type, include, exclude, token)
            kf = _edited_kitfile(staged, edit_kitfile, resume)
        log.info("Packing model to %s", staged.tag)
        packed = pack(
            staged.tree,
            kitfile=kf,
            tag=staged.tag,
            compression="none",
            home=home,
            progress=progress,
            cancel=cancel,
            annotations=staged.annotations,
        )
    return ImportedModelKit(
        parse_single(staged.tag).display(),
        packed.descriptor.digest,
        packed.kitfile,
        staged.source,
        staged.revision,
        staged.files,
    )


def _import_command(
    source: str,
    staged: StagedImport,
    ref: str | None,
    tool: str | None,
    repo_type: str | None,
    include: Sequence[str],
    exclude: Sequence[str],
    token: str | None,
) -> str:
    """The ``kit import`` command that packs ``staged`` with its kept Kitfile (never the token)."""
    import shlex

    argv = ["kit", "import", source, "-t", staged.tag]
    for flag, value in (("--ref", ref), ("--tool", tool), ("--repo-type", repo_type)):
        if value:
            argv += [flag, value]
    argv += [a for glob in include for a in ("--include", glob)]
    argv += [a for glob in exclude for a in ("--exclude", glob)]
    argv += ["-f", str(staged.kitfile_path)]
    command = shlex.join(argv)
    return command + (" (with --token or HF_TOKEN again)" if token else "")


def _edited_kitfile(staged: StagedImport, edit: Callable[[Path], None], resume: str) -> Kitfile:
    """``staged``'s Kitfile written out, handed to ``edit``, read back and validated against the
    staged tree; on any failure the file is kept and the error says how to resume."""
    from kitops.errors import KitfileError
    from kitops.kitfile.validate import config_problems, find_problems
    from kitops.store.layout import atomic_write

    path = staged.kitfile_path
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, staged.kitfile.to_yaml().encode("utf-8"))
    try:
        edit(path)
        edited = load_kitfile(path)
        problems = find_problems(edited, staged.tree) + config_problems(edited)
        if problems:
            raise KitfileError("the Kitfile is not valid", problems=problems)
    except KitError as exc:
        raise KitfileError(
            f"Kitfile {path} not used: {exc.message}",
            hint=f"the file is kept; fix it, then run: {resume}",
        ) from None
    return edited
