"""``kit import --tool git``: a git (+ git LFS) repository -> a staged directory, for hosts that
are not the Hub (and ``file://`` repositories).

``git clone --depth 1`` with LFS smudging off, then ``git lfs pull`` (git and git LFS verify
what they fetch: objects by their ids, LFS files by their sha256). The token never appears on a
command line or in a log: it is handed to git in the environment (``KIT_IMPORT_TOKEN``), through
a credential helper configured with ``GIT_CONFIG_*`` for the repository's own origin only, so a
redirect to another host does not get it. Commands are argument lists, never a shell string, and
git may use only its network transports and ``file`` (not ``ext::``, which runs commands).
The clone's ``.git``, ``.gitattributes`` and ``.gitignore`` are removed before packing, and a
symlink that points outside the clone refuses the import (the pack would read what it points at).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from kitops.errors import IntegrityError, TransferError, UsageError
from kitops.importers.cards import KITFILE_NAMES, build_kitfile, card_metadata, own_kitfile
from kitops.importers.hfsource import SKIPPED, ImportSource, RemoteFile, select
from kitops.importers.staging import ANNOTATION_REVISION, ANNOTATION_SOURCE, StagedImport
from kitops.kitfile.model import Kitfile

if TYPE_CHECKING:
    from kitops.progress import Cancel

log = logging.getLogger(__name__)

TOKEN_ENV = "KIT_IMPORT_TOKEN"
_ENV_CONFIG = ("GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "GIT_CONFIG_PARAMETERS")
# the transports git may use: ext:: (runs a command) and the like are refused
ALLOWED_PROTOCOLS = "https:http:ssh:git:file"
# git runs this helper for the repository's origin: it prints the token from the environment
_HELPER = '!f() { test "$1" = get && echo "password=${KIT_IMPORT_TOKEN}"; }; f'


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""


def public_url(url: str) -> str:
    """``url`` without a user name (some hosts take a token there): what may be logged or recorded."""
    parts = urlsplit(url)
    if not parts.username:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def git_env(url: str, token: str | None) -> dict[str, str]:
    """The environment git runs in: no prompts, LFS files left for ``git lfs pull``, and the token
    (when given) only through a credential helper scoped to ``url``'s origin."""
    # config passed in the environment by a caller would be numbered over ours: dropped; the user's
    # own config files (GIT_CONFIG_GLOBAL and the like) stay
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_CONFIG)}
    env.update(
        {"GIT_LFS_SKIP_SMUDGE": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS}
    )
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


def _lfs_pointers(clone: Path, env: dict[str, str], token: str | None) -> set[str]:
    """The LFS files of the clone still in their pointer form (``git lfs ls-files`` marks them
    ``-``; fetched ones ``*``)."""
    listed = _run(["git", "lfs", "ls-files", "--long"], cwd=clone, env=env, token=token)
    pointers = set()
    for line in listed.splitlines():
        _oid, mark, path = (line.split(" ", 2) + ["", ""])[:3]
        if mark == "-" and path:
            pointers.add(path)
    return pointers


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


@contextlib.contextmanager
def stage_git(
    src: ImportSource,
    *,
    tag: str,
    ref: str | None,
    token: str | None,
    kitfile: Kitfile | None,
    include: Sequence[str],
    exclude: Sequence[str],
    root: Path,
    cancel: Cancel | None,
) -> Iterator[StagedImport]:
    """Clone ``src.url`` at ``ref`` (default branch: ``main``), fetch its LFS files, stage it; the
    clone goes when the block ends, however it ends."""
    parts = urlsplit(src.url)
    if parts.password:
        raise UsageError("refusing a URL with a password in it", hint="pass the token with --token")
    if token is None:
        token = os.environ.get("HF_TOKEN") or None
    env = git_env(src.url, token)
    _check_tools(env)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kitops_import_", dir=root))
    try:
        clone = tmp / "repo"
        shown = public_url(src.url)
        log.info("Cloning %s", shown)
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
        pointers = _lfs_pointers(clone, env, token)
        paths = _clean_and_list(clone)
        chosen = {f.path for f in select([RemoteFile(p, 0, "0" * 40, None) for p in paths], include, exclude)}
        missing = sorted(chosen & pointers)
        if missing:  # never pack an LFS pointer in place of the file it stands for
            raise IntegrityError(
                f"{public_url(src.url)}: git lfs did not fetch {', '.join(missing[:3])}"
                + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""),
                hint="check that the LFS server has these objects, or --exclude them",
            )
        for p in paths:
            if p not in chosen and p not in KITFILE_NAMES:
                (clone / p).unlink()
        own = own_kitfile(clone) if kitfile is None else None
        kf = kitfile or own or build_kitfile(clone, src, revision, card_metadata(clone / "README.md"))
        yield StagedImport(
            tree=clone,
            kitfile=kf,
            generated=kitfile is None and own is None,
            tag=tag,
            source=shown,
            revision=revision,
            files=sorted(chosen),
            kitfile_path=root / f"{tmp.name}.Kitfile",
            annotations={ANNOTATION_SOURCE: shown, ANNOTATION_REVISION: revision},
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
