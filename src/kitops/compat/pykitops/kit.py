"""PyKitOps' ``kit`` functions (served at ``kitops.cli.kit``): one function per ``kit`` command.

Same names, signatures, defaults and return values as PyKitOps 1.5.0, so ``from kitops.cli
import kit`` code keeps working. Each function calls :mod:`kitops.api` directly: nothing is
spawned, nothing is printed, no prompt can hang. Options are keyword arguments
(:mod:`kitops.compat.pykitops.options`): the reference's raw CLI names, snake_case aliases, and
options the reference could not express (``tls_verify=False``, ``ignore_existing=True``,
``format="json"``, ``concurrency=3``, ``home=``, ``network=``).

Every call logs the equivalent ``% kit …`` command line at INFO on the ``kitops.cli.kit``
logger (the values of password and token options masked, never ANSI codes), then the command's
result lines. Failures raise :class:`KitCommandError`, both a
:class:`subprocess.CalledProcessError` (so existing ``except CalledProcessError`` handlers work)
and a :class:`kitops.errors.KitError`, whose ``stderr`` and ``str()`` carry the real message (the
registry's text included) and the hint. Only :func:`_run`, which runs a whole ``kit`` command
line, starts a process: kitops' own ``kit`` command.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kitops.compat.pykitops.errors import KitCommandError
from kitops.compat.pykitops.options import (
    NETWORK,
    command_line,
    network_kwargs,
    parse_options,
    require_str,
)
from kitops.compat.pykitops.options import masked as _masked
from kitops.compat.pykitops.run import _run
from kitops.errors import KitError, UsageError

if TYPE_CHECKING:
    from kitops.compat.pykitops.kitfile import Kitfile

__all__ = [
    "LOG",
    "KitCommandError",
    "_masked",
    "_run",
    "import_from_hf",
    "info",
    "init",
    "inspect",
    "list",
    "login",
    "logout",
    "pack",
    "pull",
    "push",
    "remove",
    "tag",
    "unpack",
    "version",
]

# Named by PyKitOps' import path, where users configure it.
LOG = logging.getLogger("kitops.cli.kit")

_StrList = builtins.list[str]  # ``list`` is a function of this module (the reference's name)


@contextlib.contextmanager
def _running(cmd: _StrList, context: str = "") -> Iterator[None]:
    """Log the command, run the body, and turn its failures into :class:`KitCommandError`."""
    LOG.info("%s", "% " + " ".join(cmd))
    try:
        yield
    except KitCommandError:
        raise
    except (KitError, OSError) as exc:
        raise KitCommandError.from_exception(exc, cmd, context) from exc


def _output(text: str) -> None:
    text = text.strip()
    if text:
        LOG.info("%s", text)


# ---------------------------------------------------------------------------------------------
# the commands


def import_from_hf(repo_path_without_tag: str, **kwargs: Any) -> None:
    """Import a Hugging Face repository (``org/name``, ``hf://…``, a Hub URL) as a ModelKit in
    local storage (``kit import``).

    Options: ``tag``/``t`` (default ``org/name:latest``), ``token`` (default: ``$HF_TOKEN`` or the
    saved login; never put on a command line, in a log or in an error), ``ref``, ``file``/``f`` (a
    Kitfile to use instead of the generated one), ``tool`` (``hf`` or ``git``), ``repo_type``
    (``model`` or ``dataset``), ``include`` / ``exclude`` (globs, comma-separated), ``concurrency``.
    The reference's network options are accepted and do not apply (no registry is involved).
    Needs ``pip install 'kitops[hf]'``.
    """
    from kitops.api import import_hf

    spec = {
        "tag": ("tag", "t"),
        "token": ("token",),
        "ref": ("ref",),
        "file": ("file", "f"),
        "tool": ("tool",),
        "repo_type": ("repo-type", "repo_type"),
        "include": ("include",),
        "exclude": ("exclude",),
        **NETWORK,
    }
    repo = require_str("import_from_hf", "repo_path_without_tag", repo_path_without_tag)
    opts = parse_options("import_from_hf", kwargs, spec)
    cmd = command_line("import", [repo], opts, spec)

    def globs(key: str) -> _StrList:
        return [g.strip() for g in str(opts.get(key) or "").split(",") if g.strip()]

    with _running(cmd, "Failed to import model"):
        result = import_hf(
            repo,
            tag=opts.get("tag"),
            token=opts.get("token"),
            ref=opts.get("ref"),
            kitfile=opts.get("file"),
            tool=opts.get("tool"),
            repo_type=opts.get("repo_type"),
            include=globs("include"),
            exclude=globs("exclude"),
            concurrency=opts.get("concurrency", 5),
            home=opts.get("home"),
        )
    _output(f"Model is packed as {result.ref}\nModel saved: {result.digest}")


def info(
    repo_path_with_tag: str,
    filters: _StrList | None = None,
    remote: bool | None = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """The Kitfile of a ModelKit (``kit info``), local or with ``remote=True`` from its registry.

    Returns the Kitfile as a dict. With ``filters`` (dot paths such as ``.model.name``)
    the value of that node instead (a scalar, list or dict, as in the reference); with
    several filters, a dict from each filter to its value (the reference kept only the last).
    """
    from kitops import api

    spec = {"remote": ("remote", "r"), **NETWORK}
    ref = require_str("info", "repo_path_with_tag", repo_path_with_tag)
    opts = parse_options("info", kwargs, spec)
    use_remote = bool(remote or opts.get("remote"))
    opts["remote"] = use_remote
    chosen = builtins.list(filters or [])
    cmd = command_line("info", [ref, *[a for f in chosen for a in ("--filter", f)]], opts, spec)
    with _running(cmd):
        kitfile = api.info(ref, home=opts.get("home"), remote=use_remote, **network_kwargs(opts))
        texts = [api.filter_kitfile_yaml(kitfile, f) for f in chosen] if chosen else [kitfile.to_yaml()]
    from kitops.kitfile.yamlio import load_yaml

    for text in texts:
        _output(text)
    # typed as kit types YAML (1.2 core schema): PyYAML's safe_load read 1e-05 as a string
    values = [load_yaml(t)[0] for t in texts]
    if len(chosen) > 1:
        return dict(zip(chosen, values, strict=True))
    result: Any = values[0]
    return result  # type: ignore[no-any-return]


def init(directory: str, name: str, description: str = " ", author: str = " ", **kwargs: Any) -> Kitfile:
    """Write ``directory/Kitfile`` from the directory's contents (``kit init``) and return it.

    ``directory`` may be a path or a ``file://`` URI (``mlflow.get_artifact_uri()``). Without
    ``force=True`` an existing Kitfile is an error. The reference's ``" "`` defaults existed to
    stop kit's prompts; nothing prompts here, and blank values are not written into the Kitfile.
    Every field kit writes (``package.license`` included) is in the returned :class:`Kitfile`.
    """
    from kitops import api
    from kitops.compat.pykitops.kitfile import Kitfile
    from kitops.compat.pykitops.utils import local_path

    spec = {"force": ("force", "f")}
    opts = parse_options("init", kwargs, spec)
    directory = require_str("init", "directory", directory)
    name = require_str("init", "name", name)
    description = require_str("init", "description", description)
    author = require_str("init", "author", author)
    path = local_path(directory)
    cmd = command_line("init", [path, "--name", name, "--desc", description, "--author", author], opts, spec)
    with _running(cmd):
        _kitfile, written = api.init(
            path,
            name=name.strip(),
            description=description.strip(),
            author=author.strip(),
            force=bool(opts.get("force")),
        )
    _output(f"Saved to path '{written}'")
    return Kitfile(written)


def inspect(repo_path_with_tag: str, remote: bool | None = False, **kwargs: Any) -> dict[str, Any]:
    """``{"digest", "cliVersion", "kitfile", "manifest"}`` of a ModelKit (``kit inspect``)."""
    from kitops import api

    spec = {"remote": ("remote", "r"), **NETWORK}
    ref = require_str("inspect", "repo_path_with_tag", repo_path_with_tag)
    opts = parse_options("inspect", kwargs, spec)
    use_remote = bool(remote or opts.get("remote"))
    opts["remote"] = use_remote
    cmd = command_line("inspect", [ref], opts, spec)
    with _running(cmd, "Error resolving modelkit"):
        text = api.inspect(ref, home=opts.get("home"), remote=use_remote, **network_kwargs(opts)).to_json()
    _output(text)
    result: dict[str, Any] = json.loads(text)
    return result


def list(repo_path_without_tag: str | None = None, **kwargs: Any) -> str:  # the reference's name
    """The ModelKits in local storage, or of a registry repository (``kit list``), as text.

    ``format="table"`` (default, the reference's output) or ``format="json"`` (not possible
    with the reference; the same text as ``kit list --format json``, whose entries have the Go
    kit's keys and ``sizeBytes``). A repository that names a registry is listed from the registry.
    """
    from kitops import api
    from kitops.cli.text import list_json, list_table
    from kitops.oci.reference import parse_reference

    spec = {"format": ("format",), **NETWORK}
    opts = parse_options("list", kwargs, spec)
    fmt = opts.get("format", "table")
    args = (
        []
        if repo_path_without_tag is None
        else [require_str("list", "repo_path_without_tag", repo_path_without_tag)]
    )
    cmd = command_line("list", args, opts, spec)
    with _running(cmd):
        if fmt not in ("table", "json"):
            raise UsageError(f"invalid format {fmt!r}", hint="use format='table' or format='json'")
        repo = args[0] if args else None
        if repo and parse_reference(repo)[0].registry != "localhost":
            items = api.list_remote(repo, home=opts.get("home"), **network_kwargs(opts))
        else:
            items = api.list_modelkits(repo, home=opts.get("home"))
    text = list_table(items) if fmt == "table" else list_json(items)
    _output(text)
    return text.strip()


def login(user: str, passwd: str, registry: str | None = "jozu.ml", **kwargs: Any) -> None:
    """Check the credentials against ``registry`` and store them (``kit login``).

    The password is never logged or put on a command line.
    """
    from kitops import api

    spec = dict(NETWORK)
    user = require_str("login", "user", user)
    passwd = require_str("login", "passwd", passwd)
    registry = require_str("login", "registry", registry)
    opts = parse_options("login", kwargs, spec)
    cmd = command_line("login", [registry, "--username", user, "--password-stdin"], opts, spec)
    with _running(cmd):
        api.login(registry, username=user, password=passwd, home=opts.get("home"), **network_kwargs(opts))
    _output("Log in successful")


def logout(registry: str | None = "jozu.ml", **kwargs: Any) -> None:
    """Forget the stored credentials for ``registry`` (``kit logout``); an error if there are none."""
    from kitops import api

    registry = require_str("logout", "registry", registry)
    opts = parse_options("logout", kwargs, {})
    cmd = command_line("logout", [registry], opts, {})
    with _running(cmd):
        if not api.logout(registry, home=opts.get("home")):
            raise UsageError(f"not logged in to {registry}")
    _output(f"Successfully logged out from {registry}")


def pack(repo_path_with_tag: str, working_directory: str | None = ".", **kwargs: Any) -> None:
    """Pack ``working_directory`` into a ModelKit tagged ``repo_path_with_tag`` (``kit pack``).

    Options: ``file``/``f`` (a Kitfile elsewhere), ``compression``. ``working_directory``
    may be a ``file://`` URI.
    """
    from kitops import api
    from kitops.compat.pykitops.utils import local_path

    spec = {"file": ("file", "f"), "compression": ("compression",)}
    ref = require_str("pack", "repo_path_with_tag", repo_path_with_tag)
    opts = parse_options("pack", kwargs, spec)
    directory = local_path(require_str("pack", "working_directory", working_directory or "."))
    cmd = command_line("pack", [directory, "--tag", ref] if ref else [directory], opts, spec)
    with _running(cmd, "Failed to pack model kit"):
        result = api.pack(
            directory,
            kitfile=opts.get("file"),
            tag=ref or None,
            compression=opts.get("compression", "none"),
            home=opts.get("home"),
        )
    _output(f"Model saved: {result.descriptor.digest}")


def pull(repo_path_with_tag: str, **kwargs: Any) -> None:
    """Download a ModelKit into local storage (``kit pull``)."""
    from kitops import api

    spec = dict(NETWORK)
    ref = require_str("pull", "repo_path_with_tag", repo_path_with_tag)
    opts = parse_options("pull", kwargs, spec)
    cmd = command_line("pull", [ref], opts, spec)
    with _running(cmd, "Failed to pull"):
        result = api.pull(ref, home=opts.get("home"), **network_kwargs(opts))
    _output(f"Pulled {result.descriptor.digest}")


def push(repo_path_with_tag: str, **kwargs: Any) -> None:
    """Upload a ModelKit from local storage to its registry (``kit push``).

    ``destination=`` pushes to another reference (kit's optional second argument).
    """
    from kitops import api

    spec = {"destination": ("destination",), **NETWORK}
    ref = require_str("push", "repo_path_with_tag", repo_path_with_tag)
    opts = parse_options("push", kwargs, spec)
    destination = opts.pop("destination", None)
    cmd = command_line("push", [ref, *([destination] if destination else [])], opts, spec)
    with _running(cmd, "Failed to push"):
        result = api.push(ref, destination, home=opts.get("home"), **network_kwargs(opts))
    _output(f"Pushed {result.descriptor.digest}")


def remove(repo_path_with_tag: str, remote: bool | None = False, **kwargs: Any) -> None:
    """Remove a ModelKit or tag from local storage, or with ``remote=True`` from its registry (``kit remove``).

    Options: ``force``/``f``, ``all``/``a``. As with kit, ``remote`` cannot be combined with them.
    """
    from kitops import api

    spec = {"remote": ("remote", "r"), "force": ("force", "f"), "all": ("all", "a"), **NETWORK}
    ref = require_str("remove", "repo_path_with_tag", repo_path_with_tag)
    opts = parse_options("remove", kwargs, spec)
    use_remote = bool(remote or opts.get("remote"))
    opts["remote"] = use_remote
    cmd = command_line("remove", [ref] if ref else [], opts, spec)
    lines = []
    with _running(cmd, "Failed to remove"):
        if use_remote:
            if opts.get("all") or opts.get("force"):
                raise UsageError("cannot use --all or --force with --remote")
            desc = api.remove_remote(ref, home=opts.get("home"), **network_kwargs(opts))
            lines.append(f"Removed {ref} (digest {desc.digest})")
        else:
            for r in api.remove(
                ref or None, all=bool(opts.get("all")), force=bool(opts.get("force")), home=opts.get("home")
            ):
                lines.append(
                    f"Untagged {r.reference}"
                    if r.untagged_only
                    else f"Removed {r.reference} (digest {r.digest})"
                )
    _output("\n".join(lines))


def tag(repo_path_with_tag: str, repo_path_with_new_tag: str, **kwargs: Any) -> None:
    """Give a ModelKit another reference (``kit tag``): in local storage, or on its registry when it
    is only there (or with ``remote=True``), without downloading it."""
    from kitops import api

    spec = {"remote": ("remote", "r"), **NETWORK}
    src = require_str("tag", "repo_path_with_tag", repo_path_with_tag)
    dst = require_str("tag", "repo_path_with_new_tag", repo_path_with_new_tag)
    opts = parse_options("tag", kwargs, spec)
    cmd = command_line("tag", [src, dst], opts, spec)
    with _running(cmd):
        s, d = api.tag(src, dst, home=opts.get("home"), remote=opts.get("remote"), **network_kwargs(opts))
    _output(f"Modelkit {s} tagged as {d}")


def unpack(repo_path_with_tag: str, dir: str, filters: _StrList | None = None, **kwargs: Any) -> None:
    """Extract a ModelKit into ``dir`` (``kit unpack``), from local storage or straight from its registry.

    ``filters`` use kit's ``types[:names]`` syntax (``model``, ``datasets:train``, ``kitfile``)
    and may repeat. Options: ``overwrite``/``o``, ``ignore_existing``/``ignore-existing``/``i``.
    """
    from kitops import api
    from kitops.compat.pykitops.utils import local_path

    spec = {
        "overwrite": ("overwrite", "o"),
        "ignore_existing": ("ignore-existing", "ignore_existing", "i"),
        **NETWORK,
    }
    ref = require_str("unpack", "repo_path_with_tag", repo_path_with_tag)
    target = local_path(require_str("unpack", "dir", dir))
    opts = parse_options("unpack", kwargs, spec)
    chosen = builtins.list(filters or [])
    cmd = command_line(
        "unpack", [ref, "--dir", target, *[a for f in chosen for a in ("--filter", f)]], opts, spec
    )
    with _running(cmd, "Failed to unpack"):
        result = api.unpack(
            ref,
            target_dir=target,
            filters=chosen,
            overwrite=bool(opts.get("overwrite")),
            ignore_existing=bool(opts.get("ignore_existing")),
            home=opts.get("home"),
            **network_kwargs(opts),
        )
    _output(
        f"Unpacked {result.files} files" + (f" ({result.skipped} existing kept)" if result.skipped else "")
    )


def version(**kwargs: Any) -> str:
    """The ``kit version`` text: ``Version: …`` and the Python implementation's details."""
    from kitops.cli.text import version_text

    parse_options("version", kwargs, {})
    with _running(["kit", "version"]):
        text = version_text()
    _output(text)
    return text
