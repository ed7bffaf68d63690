"""``kit import --tool git``: a git (+ git LFS) repository -> ModelKit, for hosts that are not the Hub.

``git clone --depth 1`` with LFS smudging off, then ``git lfs pull`` (git and git LFS verify
what they fetch: objects by their ids, LFS files by their sha256). The token never appears on a
command line or in a log: it is handed to git in the environment (``KIT_IMPORT_TOKEN``), through
a credential helper configured with ``GIT_CONFIG_*`` for the repository's own origin only, so a
redirect to another host does not get it. Commands are argument lists, never a shell string.
The clone's ``.git``, ``.gitattributes`` and ``.gitignore`` are removed before packing, and a
symlink that points outside the clone refuses the import (the pack would read what it points at).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from kitops import api
from kitops.errors import IntegrityError, TransferError, UsageError
from kitops.integrations.hfsource import SKIPPED, ImportSource, RemoteFile, select
from kitops.kitfile.model import Kitfile
from kitops.oci.reference import parse_single

if TYPE_CHECKING:
    from kitops.integrations.huggingface import Home, ImportedModelKit
    from kitops.progress import Cancel, Progress

log = logging.getLogger(__name__)

TOKEN_ENV = "KIT_IMPORT_TOKEN"
# git runs this helper for the repository's origin: it prints the token from the environment
_HELPER = '!f() { test "$1" = get && echo "password=${KIT_IMPORT_TOKEN}"; }; f'


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""


def git_env(url: str, token: str | None) -> dict[str, str]:
    """The environment git runs in: no prompts, LFS files left for ``git lfs pull``, and the token
    (when given) only through a credential helper scoped to ``url``'s origin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_")}
    env.update({"GIT_LFS_SKIP_SMUDGE": "1", "GIT_TERMINAL_PROMPT": "0"})
    origin = _origin(url)
    if token and origin:
        env.update(
            {
                TOKEN_ENV: token,
                "GIT_CONFIG_COUNT": "2",
                "GIT_CONFIG_KEY_0": f"credential.{origin}.username",
                "GIT_CONFIG_VALUE_0": "token",
                "GIT_CONFIG_KEY_1": f"credential.{origin}.helper",
                "GIT_CONFIG_VALUE_1": _HELPER,
            }
        )
    else:
        env.pop(TOKEN_ENV, None)
        env["GIT_ASKPASS"] = "true"
    return env


def clone_argv(url: str, dest: Path, ref: str | None) -> list[str]:
    argv = ["git", "-c", "advice.detachedHead=false", "clone", "--depth", "1"]
    if ref and ref != "main":
        argv += ["--branch", ref]
    return [*argv, "--", url, str(dest)]


def _run(argv: Sequence[str], *, cwd: Path | None, env: dict[str, str], token: str | None) -> str:
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise UsageError(f"cannot run {argv[0]}: {exc.strerror}", hint="install git and git-lfs") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip()
        if token:
            message = message.replace(token, "***")
        raise TransferError(f"{' '.join(argv[:4])} failed: {message or f'exit {done.returncode}'}")
    return done.stdout


def _check_tools(env: dict[str, str]) -> None:
    if shutil.which("git") is None:
        raise UsageError("git is not installed", hint="install git and git-lfs, or use --tool hf")
    probe = subprocess.run(
        ["git", "lfs", "version"], env=env, capture_output=True, stdin=subprocess.DEVNULL, check=False
    )
    if probe.returncode != 0:
        raise UsageError("git-lfs is not installed", hint="install git-lfs (apt-get install git-lfs)")


def _clean_and_list(root: Path) -> list[str]:
    """Remove git's files from the clone; refuse symlinks that leave it; the remaining file paths."""
    real_root = os.path.realpath(root)
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        if ".git" in dirnames:
            shutil.rmtree(Path(dirpath) / ".git")
            dirnames.remove(".git")
        for name in [*filenames, *dirnames]:
            path = Path(dirpath) / name
            if path.is_symlink():
                target = os.path.realpath(path)
                if os.path.commonpath([target, real_root]) != real_root:
                    raise IntegrityError(
                        f"refusing repository: {path.relative_to(root)} is a symlink to outside the repository"
                    )
        for name in filenames:
            path = Path(dirpath) / name
            if name in SKIPPED or name == ".git":
                path.unlink()
                continue
            files.append(path.relative_to(root).as_posix())
    return sorted(files)


def import_git(
    src: ImportSource,
    *,
    tag: str,
    ref: str | None,
    token: str | None,
    kitfile: Kitfile | None,
    include: Sequence[str],
    exclude: Sequence[str],
    home: Home,
    progress: Progress | None,
    cancel: Cancel | None,
) -> ImportedModelKit:
    """Clone ``src.url`` at ``ref`` (default branch: ``main``), fetch its LFS files and pack it."""
    from kitops.integrations.huggingface import ImportedModelKit, build_kitfile, card_metadata, staging_root

    parts = urlsplit(src.url)
    if parts.password:
        raise UsageError("refusing a URL with a password in it", hint="pass the token with --token")
    if token is None:
        token = os.environ.get("HF_TOKEN") or None
    env = git_env(src.url, token)
    _check_tools(env)
    base = staging_root(home)
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kitops_import_", dir=base))
    try:
        clone = tmp / "repo"
        log.info("Cloning %s", src.url)
        _run(clone_argv(src.url, clone, ref), cwd=None, env=env, token=token)
        revision = _run(["git", "rev-parse", "HEAD"], cwd=clone, env=env, token=token).strip()
        lfs = ["git", "lfs", "pull"]
        if include:
            lfs.append("--include=" + ",".join(include))
        if exclude:
            lfs.append("--exclude=" + ",".join(exclude))
        _run(lfs, cwd=clone, env=env, token=token)
        if cancel is not None:
            cancel.check()
        paths = _clean_and_list(clone)
        chosen = {f.path for f in select([RemoteFile(p, 0, "0" * 40, None) for p in paths], include, exclude)}
        for p in paths:
            if p not in chosen and p not in ("Kitfile", "kitfile", ".kitfile"):
                (clone / p).unlink()
        own = next((clone / n for n in ("Kitfile", "kitfile", ".kitfile") if (clone / n).is_file()), None)
        if kitfile is None and own is not None:
            kitfile = api.load_kitfile(own)
        kf = kitfile or build_kitfile(clone, src, revision, card_metadata(clone / "README.md"))
        log.info("Packing model to %s", tag)
        packed = api.pack(
            clone, kitfile=kf, tag=tag, compression="none", home=home, progress=progress, cancel=cancel
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ImportedModelKit(
        parse_single(tag).display(),
        packed.descriptor.digest,
        packed.kitfile,
        src.url,
        revision,
        sorted(chosen),
    )
