"""PyKitOps' ``kitops.cli.kit``: one function per ``kit`` command, run natively (no ``kit`` binary).

Same names, signatures, defaults and return values as PyKitOps 1.5.0 (spec §3.3), so
``from kitops.cli import kit`` code keeps working. Each function calls :mod:`kitops.api`
directly; nothing is spawned, nothing is printed, no prompt can hang (W1, W23).

Options are keyword arguments, as in the reference (spec §3.2): the raw CLI names
(``**{"plain-http": True}``, ``t="repo:v1"``, ``f=True``, ``o=True``) keep working, and so do
snake_case aliases (``plain_http=True``, ``tag=``, ``force=``, ``overwrite=``) and options the
reference could not express (``tls_verify=False``, ``ignore_existing=True``, ``format="json"``,
``concurrency=3``, ``home=``, ``network=``). ``None`` means "not given", and so does a falsy
``plain_http`` (the reference's rule: loopback registries then still get plain HTTP). Unlike the
reference, an unknown keyword is a ``TypeError`` (it was silently ignored: W4), and other
``False``/``0`` values are real values (``concurrency=0`` is refused, ``tls_verify=False`` works).

Every call logs ``% kit …`` at INFO on the ``kitops.cli.kit`` logger (the values of password
and token options masked, never ANSI codes: W6, W25), then the command's result lines. Failures raise
:class:`KitCommandError`, which is both a :class:`subprocess.CalledProcessError` (so existing
``except CalledProcessError`` handlers work) and a :class:`kitops.errors.KitError`; its
``stderr`` and ``str()`` carry the real message (the registry's text included) and the hint (W2).
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import logging
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from kitops.errors import Cancelled, KitError

if TYPE_CHECKING:
    from kitops.modelkit.kitfile import Kitfile

__all__ = [
    "KitCommandError",
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

LOG = logging.getLogger(__name__)

_StrList = builtins.list[str]  # ``list`` is a function of this module (the reference's name)


class KitCommandError(subprocess.CalledProcessError, KitError):
    """A ``kit`` command failed: a ``CalledProcessError`` with a useful ``stderr`` and message.

    ``returncode`` is what the ``kit`` CLI would exit with (1, or 130 when cancelled),
    ``cmd`` the equivalent command line (the values of password and token options masked as
    ``***``), ``stderr`` the CLI's ``error: … / hint: …`` text,
    ``message``/``hint`` as on every :class:`KitError`, and ``error`` the original exception.
    """

    def __init__(
        self,
        returncode: int,
        cmd: builtins.list[str],
        output: str = "",
        stderr: str = "",
        *,
        message: str = "",
        hint: str | None = None,
        error: BaseException | None = None,
    ) -> None:
        if isinstance(cmd, builtins.list | tuple):  # never keep a secret, whoever builds the error
            cmd = _masked([str(c) for c in cmd])[0]
        subprocess.CalledProcessError.__init__(self, returncode, cmd, output, stderr)
        self.message = message or (stderr.strip() or f"exit status {returncode}")
        self.hint = hint
        self.error = error

    def __str__(self) -> str:
        text = f"Command '{' '.join(str(c) for c in self.cmd)}' failed (exit status {self.returncode}): {self.message}"
        return f"{text}\nhint: {self.hint}" if self.hint else text

    def __reduce__(self) -> tuple[Any, ...]:  # picklable although __init__ takes keywords
        return (_rebuild_error, (self.returncode, self.cmd, self.output, self.stderr, self.message, self.hint))

    @classmethod
    def from_exception(cls, exc: BaseException, cmd: builtins.list[str], context: str = "") -> KitCommandError:
        message, hint = _describe(exc)
        text = f"{context}: {message}" if context else message
        stderr = f"error: {text}\n" + (f"hint: {hint}\n" if hint else "")
        return cls(130 if isinstance(exc, Cancelled) else 1, cmd, "", stderr, message=text, hint=hint, error=exc)


def _rebuild_error(returncode: int, cmd: builtins.list[str], output: str, stderr: str, message: str,
                   hint: str | None) -> KitCommandError:
    return KitCommandError(returncode, cmd, output, stderr, message=message, hint=hint)


def _describe(exc: BaseException) -> tuple[str, str | None]:
    if isinstance(exc, KitError):
        return exc.message, exc.hint
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", None
    return str(exc), None


# ---------------------------------------------------------------------------------------------
# keyword options

# destination -> accepted keys. The first key is the CLI spelling used in the logged command.
_NETWORK: dict[str, tuple[str, ...]] = {
    "plain_http": ("plain-http", "plain_http"),
    "tls_verify": ("tls-verify", "tls_verify"),
    "ca_file": ("ca-file", "ca_file"),
    "cert": ("cert",),
    "key": ("key",),
    "proxy": ("proxy",),
    "concurrency": ("concurrency",),
    "network": ("network",),
}
_GLOBAL: dict[str, tuple[str, ...]] = {"home": ("config", "home")}
# Accepted for compatibility and ignored: verbosity and help only change what kit printed.
_IGNORED = frozenset({"h", "help", "v", "vv", "vvv", "verbose", "log-level", "log_level", "progress",
                      "show-update-notifications", "show_update_notifications"})
_FLAGS = frozenset({"plain_http", "tls_verify", "force", "all", "remote", "overwrite", "ignore_existing"})

# ---------------------------------------------------------------------------------------------
# secrets on command lines

#: Long options whose value is a secret: --password, --token, --hf-token, --client-secret, --api-key …
#: (not --password-stdin, a flag).
# Any long option whose name looks like it carries a secret, typos included (``--passwrd``,
# ``--pasword``, ``--access-tokn``): better to mask a harmless value than to log a password.
_SECRET_LONG = re.compile(r"--(?!password-stdin\Z)[\w-]*(?:pass|pasw|pswd|pwd|tok|secret|api[-_]?key|credential)[\w-]*",
                          re.IGNORECASE)
#: Short options whose value is a secret (``-p S3CRET`` and ``-pS3CRET``).
_SECRET_SHORT = ("-p",)
_MASK = "***"
_MIN_SCRUB = 4  # shorter secrets are not searched for in output (it would mangle ordinary text)


def _masked(args: Sequence[str]) -> tuple[builtins.list[str], builtins.list[str]]:
    """``args`` with the value of every password- or token-like option replaced by ``***``, and
    the values replaced. Handles ``--password S``, ``--password=S``, ``-p S`` and ``-pS``.

    The only masker: every logged command line and every :class:`KitCommandError` ``cmd`` goes through it.
    """
    out: builtins.list[str] = []
    secrets: builtins.list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            hide_next = False
            out.append(_MASK)
            secrets.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if arg.startswith("--") and _SECRET_LONG.fullmatch(name):
            if eq:
                out.append(f"{name}={_MASK}")
                secrets.append(value)
            else:
                out.append(arg)
                hide_next = True
            continue
        short = next((s for s in _SECRET_SHORT if arg.startswith(s)), None)
        if short is not None and arg == short:
            out.append(arg)
            hide_next = True
        elif short is not None:
            out.append(short + _MASK)
            secrets.append(arg[len(short):])
        else:
            out.append(arg)
    return out, secrets


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every occurrence of a secret replaced by ``***`` (defence in depth for output)."""
    for secret in sorted({s for s in secrets if len(s) >= _MIN_SCRUB}, key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return text


def _options(func: str, kwargs: Mapping[str, Any], spec: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """Map keyword arguments to option values, validating names and types."""
    allowed = {**spec, **_GLOBAL}
    by_key = {k: dest for dest, keys in allowed.items() for k in keys}
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in _IGNORED or value is None:
            continue
        dest = by_key.get(key)
        if dest is None:
            known = sorted({*by_key, *_IGNORED})
            raise TypeError(f"{func}() got an unexpected keyword argument {key!r}; accepted: {', '.join(known)}")
        value = _coerce(func, dest, key, value)
        if value is None:
            continue
        if dest in out and out[dest] != value:
            raise TypeError(f"{func}() got conflicting values for {dest!r} (from {key!r})")
        out[dest] = value
    return out


def _coerce(func: str, dest: str, key: str, value: Any) -> Any:
    if dest == "plain_http":
        # Falsy means "not given" (spec §3.2 rule 2): the default then applies, which is plain HTTP
        # for loopback registries. (tls_verify=False, in contrast, really means "do not verify".)
        return True if value else None
    if dest in _FLAGS:
        return bool(value)
    if dest == "network":
        return value
    if dest == "concurrency":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"{func}(): {key} must be an integer, got {type(value).__name__}")
        try:
            return int(value)
        except ValueError:
            raise TypeError(f"{func}(): {key} must be an integer, got {value!r}") from None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"{func}(): {key} must be a string, got {type(value).__name__}")
    return value or None  # "" means not given, as in the reference


def _network(opts: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the network options for ``kitops.api`` functions."""
    return {k: opts[k] for k in _NETWORK if k in opts}


def _command(name: str, args: builtins.list[str], opts: Mapping[str, Any],
             spec: Mapping[str, tuple[str, ...]]) -> builtins.list[str]:
    """The ``kit`` command line equivalent to a call (for the log line and ``KitCommandError.cmd``)."""
    cmd = ["kit", name, *args]
    for dest, value in opts.items():
        keys = spec.get(dest) or _GLOBAL.get(dest)
        if not keys or dest == "network":
            continue
        flag = "--" + (keys[0] if len(keys[0]) > 1 else dest.replace("_", "-"))
        if dest in _FLAGS:
            if value:
                cmd.append(flag)
            elif dest == "tls_verify":
                cmd.append(f"{flag}=false")
        else:
            cmd += [flag, str(value)]
    return _masked(cmd)[0]


@contextlib.contextmanager
def _running(cmd: builtins.list[str], context: str = "") -> Iterator[None]:
    """Log the command, run the body, and turn failures into :class:`KitCommandError`."""
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


def _require_str(func: str, name: str, value: Any) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"{func}(): {name} must be a string, got {type(value).__name__}")
    return value


# ---------------------------------------------------------------------------------------------
# the commands


def import_from_hf(repo_path_without_tag: str, **kwargs: Any) -> None:
    """Import a Hugging Face repository (``org/name``) as a ModelKit (``kit import``): **not
    implemented in this version**.

    The arguments are checked as the reference's are (``tag``/``t``, ``token``, the network
    options; an unknown keyword is a ``TypeError``), then this always raises
    :class:`KitCommandError` saying that Hugging Face import is not implemented, with a hint:
    download the repository with ``huggingface_hub``, then :func:`init` and :func:`pack` it.
    ``token`` is never put on a command line, in a log or in the error (W6).
    """
    spec = {"tag": ("tag", "t"), "token": ("token",), **_NETWORK}
    repo = _require_str("import_from_hf", "repo_path_without_tag", repo_path_without_tag)
    opts = _options("import_from_hf", kwargs, spec)
    cmd = _command("import", [repo], opts, spec)
    ref = opts.get("tag") or "<name>:<tag>"
    with _running(cmd, "Failed to import model"):
        raise KitError(
            f"importing from Hugging Face ({repo}) is not implemented in this version of kitops",
            hint=(f"download the repository with huggingface_hub (huggingface_hub.snapshot_download({repo!r}, "
                  f"local_dir='model'), passing your token there for gated or private repositories), then "
                  f"run 'kit init model' and 'kit pack model -t {ref}' (kit.init('model', ...), kit.pack({ref!r}, 'model'))"),
        )


def info(
    repo_path_with_tag: str,
    filters: _StrList | None = None,
    remote: bool | None = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """The Kitfile of a ModelKit (``kit info``), local or with ``remote=True`` from its registry.

    Returns the Kitfile as a dict. With ``filters`` (dot paths such as ``.model.name``)
    the value of that node instead (a scalar, list or dict, as in the reference); with
    several filters, a dict from each filter to its value (the reference kept only the last: W5).
    """
    from kitops import api

    spec = {"remote": ("remote", "r"), **_NETWORK}
    ref = _require_str("info", "repo_path_with_tag", repo_path_with_tag)
    opts = _options("info", kwargs, spec)
    use_remote = bool(remote or opts.get("remote"))
    opts["remote"] = use_remote
    chosen = builtins.list(filters or [])
    cmd = _command("info", [ref, *[a for f in chosen for a in ("--filter", f)]], opts, spec)
    with _running(cmd):
        kitfile = api.info(ref, home=opts.get("home"), remote=use_remote, **_network(opts))
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
    from kitops.modelkit.kitfile import Kitfile
    from kitops.modelkit.utils import local_path

    spec = {"force": ("force", "f")}
    opts = _options("init", kwargs, spec)
    directory = _require_str("init", "directory", directory)
    name = _require_str("init", "name", name)
    description = _require_str("init", "description", description)
    author = _require_str("init", "author", author)
    path = local_path(directory)
    cmd = _command("init", [path, "--name", name, "--desc", description, "--author", author], opts, spec)
    with _running(cmd):
        _kitfile, written = api.init(path, name=name.strip(), description=description.strip(),
                                     author=author.strip(), force=bool(opts.get("force")))
    _output(f"Saved to path '{written}'")
    return Kitfile(written)


def inspect(repo_path_with_tag: str, remote: bool | None = False, **kwargs: Any) -> dict[str, Any]:
    """``{"digest", "cliVersion", "kitfile", "manifest"}`` of a ModelKit (``kit inspect``)."""
    from kitops import api

    spec = {"remote": ("remote", "r"), **_NETWORK}
    ref = _require_str("inspect", "repo_path_with_tag", repo_path_with_tag)
    opts = _options("inspect", kwargs, spec)
    use_remote = bool(remote or opts.get("remote"))
    opts["remote"] = use_remote
    cmd = _command("inspect", [ref], opts, spec)
    with _running(cmd, "Error resolving modelkit"):
        text = api.inspect(ref, home=opts.get("home"), remote=use_remote, **_network(opts)).to_json()
    _output(text)
    result: dict[str, Any] = json.loads(text)
    return result


def list(repo_path_without_tag: str | None = None, **kwargs: Any) -> str:  # the reference's name
    """The ModelKits in local storage, or of a registry repository (``kit list``), as text.

    ``format="table"`` (default, the reference's output) or ``format="json"`` (not possible
    with the reference). A repository that names a registry is listed from the registry.
    """
    from kitops import api
    from kitops.modelkit.listing import list_table
    from kitops.oci import gojson
    from kitops.oci.reference import parse_reference

    spec = {"format": ("format",), **_NETWORK}
    opts = _options("list", kwargs, spec)
    fmt = opts.get("format", "table")
    args = [] if repo_path_without_tag is None else [_require_str("list", "repo_path_without_tag", repo_path_without_tag)]
    cmd = _command("list", args, opts, spec)
    with _running(cmd):
        if fmt not in ("table", "json"):
            from kitops.errors import UsageError

            raise UsageError(f"invalid format {fmt!r}", hint="use format='table' or format='json'")
        repo = args[0] if args else None
        if repo and parse_reference(repo)[0].registry != "localhost":
            items = api.list_remote(repo, home=opts.get("home"), **_network(opts))
        else:
            items = api.list_modelkits(repo, home=opts.get("home"))
    text = list_table(items) if fmt == "table" else gojson.dumps([i.to_go() for i in items], indent="  ")
    _output(text)
    return text.strip()


def login(user: str, passwd: str, registry: str | None = "jozu.ml", **kwargs: Any) -> None:
    """Check the credentials against ``registry`` and store them (``kit login``).

    The password is never logged or put on a command line.
    """
    from kitops import api

    spec = dict(_NETWORK)
    user = _require_str("login", "user", user)
    passwd = _require_str("login", "passwd", passwd)
    registry = _require_str("login", "registry", registry)
    opts = _options("login", kwargs, spec)
    cmd = _command("login", [registry, "--username", user, "--password-stdin"], opts, spec)
    with _running(cmd):
        api.login(registry, username=user, password=passwd, home=opts.get("home"), **_network(opts))
    _output("Log in successful")


def logout(registry: str | None = "jozu.ml", **kwargs: Any) -> None:
    """Forget the stored credentials for ``registry`` (``kit logout``); an error if there are none."""
    from kitops import api
    from kitops.errors import UsageError

    registry = _require_str("logout", "registry", registry)
    opts = _options("logout", kwargs, {})
    cmd = _command("logout", [registry], opts, {})
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
    from kitops.modelkit.utils import local_path

    spec = {"file": ("file", "f"), "compression": ("compression",)}
    ref = _require_str("pack", "repo_path_with_tag", repo_path_with_tag)
    opts = _options("pack", kwargs, spec)
    directory = local_path(_require_str("pack", "working_directory", working_directory or "."))
    cmd = _command("pack", [directory, "--tag", ref] if ref else [directory], opts, spec)
    with _running(cmd, "Failed to pack model kit"):
        result = api.pack(directory, kitfile=opts.get("file"), tag=ref or None,
                          compression=opts.get("compression", "none"), home=opts.get("home"))
    _output(f"Model saved: {result.descriptor.digest}")


def pull(repo_path_with_tag: str, **kwargs: Any) -> None:
    """Download a ModelKit into local storage (``kit pull``)."""
    from kitops import api

    spec = dict(_NETWORK)
    ref = _require_str("pull", "repo_path_with_tag", repo_path_with_tag)
    opts = _options("pull", kwargs, spec)
    cmd = _command("pull", [ref], opts, spec)
    with _running(cmd, "Failed to pull"):
        result = api.pull(ref, home=opts.get("home"), **_network(opts))
    _output(f"Pulled {result.descriptor.digest}")


def push(repo_path_with_tag: str, **kwargs: Any) -> None:
    """Upload a ModelKit from local storage to its registry (``kit push``).

    ``destination=`` pushes to another reference (kit's optional second argument).
    """
    from kitops import api

    spec = {"destination": ("destination",), **_NETWORK}
    ref = _require_str("push", "repo_path_with_tag", repo_path_with_tag)
    opts = _options("push", kwargs, spec)
    destination = opts.pop("destination", None)
    cmd = _command("push", [ref, *([destination] if destination else [])], opts, spec)
    with _running(cmd, "Failed to push"):
        result = api.push(ref, destination, home=opts.get("home"), **_network(opts))
    _output(f"Pushed {result.descriptor.digest}")


def remove(repo_path_with_tag: str, remote: bool | None = False, **kwargs: Any) -> None:
    """Remove a ModelKit or tag from local storage, or with ``remote=True`` from its registry (``kit remove``).

    Options: ``force``/``f``, ``all``/``a``. As with kit, ``remote`` cannot be combined with them.
    """
    from kitops import api
    from kitops.errors import UsageError

    spec = {"remote": ("remote", "r"), "force": ("force", "f"), "all": ("all", "a"), **_NETWORK}
    ref = _require_str("remove", "repo_path_with_tag", repo_path_with_tag)
    opts = _options("remove", kwargs, spec)
    use_remote = bool(remote or opts.get("remote"))
    opts["remote"] = use_remote
    cmd = _command("remove", [ref] if ref else [], opts, spec)
    lines = []
    with _running(cmd, "Failed to remove"):
        if use_remote:
            if opts.get("all") or opts.get("force"):
                raise UsageError("cannot use --all or --force with --remote")
            desc = api.remove_remote(ref, home=opts.get("home"), **_network(opts))
            lines.append(f"Removed {ref} (digest {desc.digest})")
        else:
            for r in api.remove(ref or None, all=bool(opts.get("all")), force=bool(opts.get("force")),
                                home=opts.get("home")):
                lines.append(f"Untagged {r.reference}" if r.untagged_only else f"Removed {r.reference} (digest {r.digest})")
    _output("\n".join(lines))


def tag(repo_path_with_tag: str, repo_path_with_new_tag: str, **kwargs: Any) -> None:
    """Give a ModelKit another reference (``kit tag``): in local storage, or on its registry when it
    is only there (or with ``remote=True``), without downloading it."""
    from kitops import api

    spec = {"remote": ("remote", "r"), **_NETWORK}
    src = _require_str("tag", "repo_path_with_tag", repo_path_with_tag)
    dst = _require_str("tag", "repo_path_with_new_tag", repo_path_with_new_tag)
    opts = _options("tag", kwargs, spec)
    cmd = _command("tag", [src, dst], opts, spec)
    with _running(cmd):
        s, d = api.tag(src, dst, home=opts.get("home"), remote=opts.get("remote"), **_network(opts))
    _output(f"Modelkit {s} tagged as {d}")


def unpack(repo_path_with_tag: str, dir: str, filters: _StrList | None = None, **kwargs: Any) -> None:
    """Extract a ModelKit into ``dir`` (``kit unpack``), from local storage or straight from its registry.

    ``filters`` use kit's ``types[:names]`` syntax (``model``, ``datasets:train``, ``kitfile``)
    and may repeat. Options: ``overwrite``/``o``, ``ignore_existing``/``ignore-existing``/``i``.
    """
    from kitops import api
    from kitops.modelkit.utils import local_path

    spec = {"overwrite": ("overwrite", "o"), "ignore_existing": ("ignore-existing", "ignore_existing", "i"),
            **_NETWORK}
    ref = _require_str("unpack", "repo_path_with_tag", repo_path_with_tag)
    target = local_path(_require_str("unpack", "dir", dir))
    opts = _options("unpack", kwargs, spec)
    chosen = builtins.list(filters or [])
    cmd = _command("unpack", [ref, "--dir", target, *[a for f in chosen for a in ("--filter", f)]], opts, spec)
    with _running(cmd, "Failed to unpack"):
        result = api.unpack(ref, target_dir=target, filters=chosen, overwrite=bool(opts.get("overwrite")),
                            ignore_existing=bool(opts.get("ignore_existing")), home=opts.get("home"),
                            **_network(opts))
    _output(f"Unpacked {result.files} files" + (f" ({result.skipped} existing kept)" if result.skipped else ""))


def version(**kwargs: Any) -> str:
    """The ``kit version`` text: ``Version: …`` and the Python implementation's details."""
    _options("version", kwargs, {})
    return str(_run(["kit", "version"]).stdout).strip()


# ---------------------------------------------------------------------------------------------
# _run: a whole kit command line, in process


def _run(command: builtins.list[Any], input: str | None = None, verbose: bool = True,
         **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a ``kit`` command line (``["kit", "list", "--format", "json"]``) in this process.

    Kept from the reference for code that builds command lines itself. The command runs
    through :mod:`kitops.cli.main` with its own stdout, stderr and stdin (``input``), carried
    on the click context: nothing reaches the terminal, and nothing process-wide is swapped
    (``sys.stdout``/``sys.stderr``/``sys.stdin`` and the ``kitops`` logger's handlers and
    ``propagate`` are left alone), so calls may run concurrently with each other and with
    other threads' output. The CLI's log lines of the calling thread are written to the
    captured stderr by a handler that exists only for the call. A non-zero exit raises
    :class:`KitCommandError`. The values of password and token options (``--password S``,
    ``--password=S``, ``-pS``, ``--token S`` …) are masked in ``cmd``, the result's ``args``,
    the error and every log line. ``**kwargs`` is ignored, as in the reference.
    """
    args = []
    for i, part in enumerate(command):
        if not isinstance(part, str):  # the reference's TypeError (from " ".join), raised before running
            raise TypeError(f"sequence item {i}: expected str instance, {type(part).__name__} found")
        args.append(part)
    masked, secrets = _masked(args)
    if not args or os.path.basename(args[0]) not in ("kit", "kit.exe"):
        raise ValueError(f"not a kit command line: {masked!r}")
    if input and "--password-stdin" in args:
        secrets += [input, input.strip()]
    if verbose:
        LOG.info("%s", "% " + " ".join(masked))
    code, out, err = _invoke_cli(args[1:], input)
    out, err = _scrub(out, secrets), _scrub(err, secrets)
    if code != 0:
        lines = [line for line in err.splitlines() if line.strip()]
        message = next((line.removeprefix("error: ") for line in lines if line.startswith("error: ")), "")
        hint = next((line.removeprefix("hint: ") for line in lines if line.startswith("hint: ")), None)
        raise KitCommandError(code, masked, out, err, message=message or err.strip(), hint=hint)
    if verbose:
        _output(out)
    return subprocess.CompletedProcess(masked, code, out, err)


def _invoke_cli(argv: builtins.list[str], stdin: str | None) -> tuple[int, str, str]:
    import click

    from kitops.cli.main import cli
    from kitops.cli.output import Streams

    out, err = io.StringIO(), io.StringIO()
    run_log = _RunLog(err)
    streams = Streams(stdin=io.StringIO(stdin or ""), stdout=out, stderr=err, logging=run_log.start)
    code = 0
    try:
        result = cli.main(args=argv, prog_name="kit", standalone_mode=False, obj=streams)
        code = result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show(file=err)
        code = exc.exit_code
    except click.exceptions.Abort:
        code = 1
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        run_log.stop()
    return code, out.getvalue(), err.getvalue()


class _ThisThread(logging.Filter):
    """Passes only records logged by the thread that created it."""

    def __init__(self) -> None:
        super().__init__()
        self.ident = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return threading.get_ident() == self.ident


class _RunLog:
    """The CLI's logging for one :func:`_run` call, in place of ``setup_logging``.

    :meth:`start` (called by the CLI with the run's level) adds a handler to the ``kitops``
    logger that writes the calling thread's records, formatted as the CLI formats them, to
    the call's stderr; :meth:`stop` removes it. The logger's handlers, ``propagate`` and
    other threads' output are untouched. Only its level may be lowered for the call's
    duration (when it would drop the run's records), and is put back by the last call to end.
    Records logged by worker threads of the command (layer lines of ``pack``) are not
    captured: they go wherever the process's logging configuration sends them.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.handler: logging.Handler | None = None

    def start(self, level: int) -> None:
        from kitops.cli.output import TRACE, KitLogFormatter

        logging.addLevelName(TRACE, "TRACE")
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(KitLogFormatter(level))
        handler.setLevel(level)
        handler.addFilter(_ThisThread())
        self.stop()
        self.handler = handler
        _LEVELS.hold(id(self), level)
        logging.getLogger("kitops").addHandler(handler)

    def stop(self) -> None:
        handler, self.handler = self.handler, None
        if handler is not None:
            logging.getLogger("kitops").removeHandler(handler)
            _LEVELS.release(id(self))


class _LevelHolds:
    """The ``kitops`` logger's level while :func:`_run` calls are active: low enough for the
    lowest level any of them asked for, and restored when the last one ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, int] = {}
        self._saved = logging.NOTSET  # the logger's own level before the first hold
        self._set: int | None = None  # the level the holds set, to notice a change made meanwhile

    def hold(self, key: int, level: int) -> None:
        logger = logging.getLogger("kitops")
        with self._lock:
            if not self._held:
                self._saved, self._set = logger.level, None
            self._held[key] = level
            self._apply(logger)

    def release(self, key: int) -> None:
        logger = logging.getLogger("kitops")
        with self._lock:
            if self._held.pop(key, None) is None:
                return
            if self._held:
                self._apply(logger)
            else:
                if self._set is not None and logger.level == self._set:
                    logger.setLevel(self._saved)
                self._set = None

    def _apply(self, logger: logging.Logger) -> None:
        if self._set is not None and logger.level != self._set:  # changed by someone else: adopt it
            self._saved = logger.level
        configured = self._saved or (logger.parent.getEffectiveLevel() if logger.parent else logging.WARNING)
        wanted = min(self._held.values())
        target = wanted if wanted < configured else self._saved
        if logger.level != target:
            logger.setLevel(target)
        self._set = target


_LEVELS = _LevelHolds()
