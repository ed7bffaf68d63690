"""The ``kit`` command line: a thin click layer over :mod:`kitops.api`."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from kitops import __version__
from kitops.cli.errors import EXIT_CANCELLED, help_hint, report
from kitops.cli.output import LEVELS, PlainProgress, RichProgress, setup_logging
from kitops.errors import KitError, UsageError
from kitops.progress import Cancel, Progress

if TYPE_CHECKING:  # the API is imported inside each command: kit --help stays fast
    from pathlib import Path

    from kitops.api import ReferrerResult

log = logging.getLogger("kitops.cli")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Ctx:
    home: str | None
    progress_mode: str
    debug: bool
    quiet: bool = False  # --log-level warn/error without --progress: no plain progress lines either

    def echo(self, message: str, nl: bool = True) -> None:
        """A result line, on stdout."""
        click.echo(message, nl=nl)

    @contextlib.contextmanager
    def progress(self) -> Iterator[Progress | None]:
        """rich bars on a TTY, plain lines otherwise, nothing with --progress none; always on stderr."""
        if self.progress_mode in ("none", "false"):
            yield None
        elif sys.stderr.isatty():
            with RichProgress(fancy=self.progress_mode == "fancy") as bars:
                yield bars
        elif self.quiet:  # plain lines are log-like: a script asking for errors only gets errors only
            yield None
        else:
            with PlainProgress() as lines:
                yield lines


def run(ctx: Ctx, fn: Callable[[Cancel], Any], *, context: str = "") -> Any:
    """Run a command body; map errors to messages and exit codes; Ctrl-C cancels cleanly."""
    cancel = Cancel()
    try:
        return fn(cancel)
    except KeyboardInterrupt:
        cancel.cancel()
        report(KeyboardInterrupt(), debug=ctx.debug)
        sys.exit(EXIT_CANCELLED)
    except Exception as exc:
        usage = help_hint(click.get_current_context(silent=True))
        sys.exit(report(exc, debug=ctx.debug, context=context, usage_hint=usage))


def shown(text: str) -> str:
    """A command-line value as it may be echoed: control characters never reach the terminal raw."""
    return text if text.isprintable() else ascii(text)


def network_options(fn: F) -> F:
    """The network flags of the commands that talk to registries."""
    decorators = [
        click.option(
            "--plain-http/--no-plain-http",
            "plain_http",
            default=None,
            help="Use HTTP instead of HTTPS (default: HTTP only for localhost/127.0.0.1).",
        ),
        click.option(
            "--tls-verify/--no-tls-verify",
            "tls_verify",
            default=True,
            show_default=True,
            help="Verify the registry's TLS certificate.",
        ),
        click.option("--ca-file", metavar="PATH", help="Extra CA bundle to trust (also $SSL_CERT_FILE)."),
        click.option("--cert", metavar="PATH", help="Client TLS certificate (also $KITOPS_CLIENT_CERT)."),
        click.option("--key", metavar="PATH", help="Client TLS key (also $KITOPS_CLIENT_KEY)."),
        click.option(
            "--proxy", metavar="URL", help="Proxy for registry requests (default: $HTTPS_PROXY etc.)."
        ),
        click.option(
            "--concurrency", default=5, show_default=True, metavar="N", help="Blobs transferred in parallel."
        ),
    ]
    for deco in reversed(decorators):
        fn = deco(fn)
    return fn


def upload_options(fn: F) -> F:
    """The flags of the commands that upload blobs to a registry (push, and tag on a registry)."""
    decorators = [
        click.option(
            "--upload-mode",
            type=click.Choice(["auto", "monolithic", "chunked"]),
            default="auto",
            show_default=True,
            help="Blob upload strategy (auto picks per registry, with fallback).",
        ),
        click.option("--chunk-size", metavar="MiB", type=int, help="Chunk size for chunked uploads, in MiB."),
    ]
    for deco in reversed(decorators):
        fn = deco(fn)
    return fn


def make_network(kwargs: dict[str, Any]) -> Any:
    """The network flags (popped from ``kwargs``) as one NetworkOptions, built where the API builds it."""
    from kitops.api import network_options as build

    names = ("plain_http", "tls_verify", "ca_file", "cert", "key", "proxy", "concurrency", "upload_mode")
    given = {name: kwargs.pop(name) for name in names if name in kwargs}
    chunk = kwargs.pop("chunk_size", None)
    return build(**given, chunk_size=chunk * (1 << 20) if chunk else None)


def _refuse_network_flags(ctx: click.Context, given: Mapping[str, Any], *, needs: str) -> None:
    """A network flag given on the command line of a command that would not use it is an error,
    not silently ignored."""
    defaults = (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)
    for param in ctx.command.params:
        if param.name in given and ctx.get_parameter_source(param.name) not in defaults:
            flag = (
                param.opts[0] if given[param.name] is not False else (param.secondary_opts or param.opts)[0]
            )
            raise click.UsageError(f"{flag} applies only with {needs}", ctx=ctx)


def _obj() -> Ctx:
    return click.get_current_context().find_object(Ctx) or Ctx(None, "plain", False)


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """click's ``--version`` text, ``kit, version X``."""
    if value and not ctx.resilient_parsing:
        click.echo(f"kit, version {__version__}", color=ctx.color)
        ctx.exit()


class CommandLineError(click.UsageError):
    """A bad command line, shown as kit shows every error (``error: …`` then ``hint: …``); exit 2.

    kit's own checks of options raise it; every other click usage error of a kit command line
    becomes one (see :class:`KitGroup`), so click's and kit's look alike.
    """

    def __init__(self, message: str, ctx: click.Context | None = None, *, hint: str | None = None) -> None:
        super().__init__(message, ctx)
        self.hint = hint

    def show(self, file: IO[Any] | None = None) -> None:
        report(self, file=file)  # type: ignore[arg-type]


# click >= 8.2 shows a group's help as an error when it is given no arguments: that one is left as it is
_HELP_ERRORS: tuple[type[Exception], ...] = tuple(
    t for t in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if isinstance(t, type)
)
_KEPT_ERRORS: tuple[type[Exception], ...] = (CommandLineError, *_HELP_ERRORS)


@contextlib.contextmanager
def _kit_usage_errors() -> Iterator[None]:
    try:
        yield
    except _KEPT_ERRORS:
        raise
    except click.UsageError as exc:
        raise CommandLineError(exc.format_message(), exc.ctx, hint=getattr(exc, "hint", None)) from exc


# ---------------------------------------------------------------------------------------------
# global options: on every command and group, before or after any command word (cobra's
# persistent flags). Each command word's parser takes those given to it out of its params and
# appends them, in command-line order, to ``ctx.meta`` (shared by the whole invocation); the
# command that runs merges them (a later value wins, -v counts add up) before its body.

GLOBAL_OPTIONS = ("config", "log_level", "progress_mode", "verbose", "debug")
_GIVEN = "kitops.cli.global_options"


class GlobalOption(click.Option):
    """An option of every kit command, listed under "Global options" in each ``--help``."""


def _check_log_level(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    if isinstance(value, str) and value.lower() not in LEVELS:
        raise CommandLineError(
            f"Invalid log level '{value}'. Options are 'trace', 'debug', 'info', 'warn', 'error'",
            hint="use --log-level debug (or -v) for more detail, --log-level warn or error for less",
        )
    return value


def global_options() -> list[click.Parameter]:
    """The global flags and --debug, for one command. Not given: ``None``, 0 or False."""
    return [
        GlobalOption(["--config", "config"], metavar="DIR", help="Storage root ($KITOPS_HOME) to use."),
        GlobalOption(
            ["--log-level", "log_level"],
            metavar="LEVEL",
            callback=_check_log_level,
            help="trace, debug, info, warn or error.  [default: info]",
        ),
        GlobalOption(
            ["--progress", "progress_mode"],
            metavar="MODE",
            help="none, plain or fancy. Bars are drawn only when stderr is a terminal.  [default: plain]",
        ),
        GlobalOption(
            ["-v", "--verbose"],
            count=True,
            help="-v debug, -vv trace, -vvv trace without progress. Overrides --log-level.",
        ),
        GlobalOption(["--debug"], is_flag=True, envvar="KITOPS_DEBUG", help="Show tracebacks for errors."),
    ]


@dataclass(frozen=True)
class Settings:
    """What the global options given anywhere on a command line add up to."""

    config: str | None = None
    log_level: str = "info"
    progress_mode: str = "plain"
    verbose: int = 0
    debug: bool = False
    progress_given: bool = False  # --progress on the command line (else the default, quiet above info)

    @classmethod
    def merge(cls, given: Sequence[Mapping[str, Any]]) -> Settings:
        """The options given to each command word, in order: a later value wins, -v counts add up."""
        values: dict[str, Any] = {}
        verbose, debug = 0, False
        for options in given:
            values.update(
                {
                    k: v
                    for k, v in options.items()
                    if k in ("config", "log_level", "progress_mode") and v is not None
                }
            )
            verbose += options.get("verbose") or 0
            debug = debug or bool(options.get("debug"))
        return cls(**values, verbose=verbose, debug=debug, progress_given="progress_mode" in values)

    @property
    def level_name(self) -> str:
        """-v debug, -vv (and more) trace, else --log-level."""
        if self.verbose >= 2:
            return "trace"
        return "debug" if self.verbose == 1 else self.log_level.lower()

    @property
    def progress(self) -> str:
        return "none" if self.verbose >= 3 else self.progress_mode.lower()


def _storage(config: str | None) -> str:
    from kitops.settings import kitops_home

    try:
        return str(kitops_home(config))
    except KitError:
        return config or "(not set)"


def _begin(ctx: click.Context) -> None:
    """Set up the run of the command of ``ctx`` from the global options given on its command line."""
    settings = Settings.merge(ctx.meta.get(_GIVEN, ()))
    level = LEVELS[settings.level_name]
    setup_logging(level)
    ctx.obj = Ctx(
        settings.config,
        settings.progress,
        settings.debug,
        quiet=level > logging.INFO and not settings.progress_given,
    )
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "Settings: storage %s, log level %s, progress %s, tracebacks %s",
            _storage(settings.config),
            settings.level_name,
            settings.progress,
            "on" if settings.debug else "off",
        )


class _KitCommandBase(click.Command):
    """What kit's commands and groups share: the global options, and help that lists them under
    their own heading."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options())

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        given = {name: ctx.params.pop(name, None) for name in GLOBAL_OPTIONS}
        ctx.meta.setdefault(_GIVEN, []).append(given)
        return rest

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        own: list[tuple[str, str]] = []
        shared: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and not isinstance(param, click.Argument):
                (shared if isinstance(param, GlobalOption) else own).append(record)
        for title, records in (("Options", own), ("Global options", shared)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


class KitCommand(_KitCommandBase):
    """A kit command: global options anywhere on its command line take effect before its body runs."""

    def invoke(self, ctx: click.Context) -> Any:
        _begin(ctx)
        return super().invoke(ctx)


class KitGroup(_KitCommandBase, click.Group):
    """A kit group (``kit``, ``kit cache``): its commands and groups are kit's too, and every usage
    error of the command line under it is a :class:`CommandLineError`."""

    command_class = KitCommand
    group_class = type  # subgroups are KitGroups

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        with _kit_usage_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _kit_usage_errors():
            return super().invoke(ctx)


HELP = """kit: package ML projects as ModelKits (OCI artifacts) and move them through registries.

\b
Typical flow:
  kit init ./my-project            # write a Kitfile from what is in the folder
  kit pack ./my-project -t my-model:v1
  kit list                          # what is in local storage
  kit unpack my-model:v1 -d ./out   # get the files back (verified)

Local storage lives in $KITOPS_HOME (default ~/.local/share/kitops) and is shared
with the Go kit CLI.
"""


@click.group(
    cls=KitGroup,
    help=HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """The global options (--config, --log-level, --progress, -v, --debug) are every command's: see KitGroup."""


# ---------------------------------------------------------------------------------------------
# pack / unpack


@cli.command(short_help="Pack a directory into a ModelKit.")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "-f",
    "--file",
    "kitfile",
    metavar="PATH",
    help="Kitfile to use ('-' reads stdin). Default: DIRECTORY/Kitfile.",
)
@click.option(
    "-t", "--tag", metavar="REF", help="Reference to tag it with, e.g. registry/repo:v1 or repo:v1,latest."
)
@click.option(
    "--compression",
    default="none",
    show_default=True,
    type=click.Choice(["none", "gzip", "gzip-fastest", "zstd"]),
    help="Layer compression. 'none' gives digests identical to the Go kit.",
)
@click.option(
    "--use-model-pack",
    is_flag=True,
    help="Write the CNCF ModelPack format instead of the Kit format (the Kitfile travels in an annotation).",
)
@click.option(
    "--layer-format",
    default="tar",
    show_default=True,
    type=click.Choice(["tar", "raw", "native"]),
    help="tar: one archive per Kitfile entry (file or directory). raw: each entry is one file, "
    "stored as its own bytes. native (with --use-model-pack): weights directories become one raw "
    "layer per file, so a registry keeps unchanged shards between versions.",
)
@click.option(
    "--modelpack-config",
    "modelpack_config",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a ModelPack config value, e.g. config.paramSize=8B or descriptor.family=llama3 "
    "(lists comma-separated). Repeatable.",
)
@click.option("--legacy-manifest", is_flag=True, hidden=True, help="Write the kit v1.7 manifest form.")
@click.option(
    "--push",
    "push_to_registry",
    is_flag=True,
    help="Build the layers straight into the registry of --tag; nothing is stored locally. "
    "The network options below apply only with --push.",
)
@click.option(
    "--provenance",
    is_flag=True,
    help="Record SLSA provenance of this pack (Kitfile digest, git commit, kit version) as an "
    "unsigned in-toto statement referring to the ModelKit; push carries it. "
    "SOURCE_DATE_EPOCH fixes its times.",
)
@network_options
@upload_options
def pack(
    directory: str,
    kitfile: str | None,
    tag: str | None,
    compression: str,
    use_model_pack: bool,
    layer_format: str,
    modelpack_config: tuple[str, ...],
    legacy_manifest: bool,
    push_to_registry: bool,
    provenance: bool,
    **net: Any,
) -> None:
    """Pack DIRECTORY, described by its Kitfile, into a ModelKit in local storage.

    Layers are built in parallel and verified; re-packing unchanged content gives
    the same digests. Prints 'Model saved: <digest>' on success. With --push the
    ModelKit goes to the registry of --tag instead (blobs it has are skipped; an
    interrupted upload resumes on the next run), exactly as pack then push would.

    \b
    Examples:
      kit pack . -t my-model:v1
      kit pack . -t my-model:v1 --use-model-pack
      kit pack . -t my-model:v2 --use-model-pack --layer-format native
      kit pack . -t registry.example.com/team/my-model:v1 --push
    """
    from kitops import api

    ctx = _obj()
    if not push_to_registry:
        _refuse_network_flags(click.get_current_context(), net, needs="--push")
    config_values: dict[str, str] = {}
    for item in modelpack_config:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--modelpack-config")
        config_values[key.strip()] = value

    def body(cancel: Cancel) -> None:
        text = None
        path: str | None = kitfile
        if kitfile == "-":
            if sys.stdin.isatty():
                raise UsageError(
                    "No input file specified and no data piped",
                    hint="pipe a Kitfile: cat Kitfile | kit pack . -f -",
                )
            from kitops.kitfile.load import read_kitfile_stream

            text, path = read_kitfile_stream(sys.stdin), None  # at most the Kitfile limit + 1 byte
        remote: dict[str, Any] = {"push": True, "network": make_network(net)} if push_to_registry else {}
        with ctx.progress() as progress:
            result = api.pack(
                directory,
                kitfile=path,
                kitfile_text=text,
                tag=tag,
                compression=compression,
                legacy_manifest=legacy_manifest,
                home=ctx.home,
                progress=progress,
                cancel=cancel,
                model_format="modelpack" if use_model_pack else "kit",
                layer_format=layer_format,
                modelpack_config=config_values,
                provenance=provenance,
                **remote,
            )
        ctx.echo(f"Model saved: {result.descriptor.digest}")
        if result.pushed_to:
            ctx.echo(f"Pushed to {result.pushed_to}")

    run(ctx, body, context="Failed to pack model kit")


@cli.command(short_help="Extract a ModelKit's files.")
@click.argument("modelkit")
@click.option(
    "-d", "--dir", "target", default=".", metavar="DIR", help="Directory to unpack into (created if missing)."
)
@click.option("-o", "--overwrite", is_flag=True, help="Overwrite existing files and a differing Kitfile.")
@click.option("-i", "--ignore-existing", is_flag=True, help="Keep files that already exist, unpack the rest.")
@click.option(
    "-f",
    "--filter",
    "filters",
    multiple=True,
    metavar="FILTER",
    help="type1,type2[:name1,name2]; types: kitfile, model, datasets, code, docs. Repeatable (any match).",
)
@click.option("--kitfile", "d_kitfile", is_flag=True, hidden=True)
@click.option("--model", "d_model", is_flag=True, hidden=True)
@click.option("--code", "d_code", is_flag=True, hidden=True)
@click.option("--datasets", "d_datasets", is_flag=True, hidden=True)
@click.option("--docs", "d_docs", is_flag=True, hidden=True)
@click.option(
    "--verify-key",
    metavar="PATH",
    help="Public key (cosign.pub): refuse the ModelKit, writing nothing, unless it verifies a signature of it.",
)
@network_options
def unpack(
    modelkit: str,
    target: str,
    overwrite: bool,
    ignore_existing: bool,
    filters: tuple[str, ...],
    d_kitfile: bool,
    d_model: bool,
    d_code: bool,
    d_datasets: bool,
    d_docs: bool,
    verify_key: str | None,
    **net: Any,
) -> None:
    """Unpack MODELKIT ([registry/]repository[:tag|@digest]) into a directory.

    \b
    Examples:
      kit unpack my-model:v1 -d ./out
      kit unpack my-model:v1 --filter model           # only the model and its parts
      kit unpack my-model:v1 --filter datasets:train  # one dataset, by name or path

    Every layer is checked against its digest before its files get their final
    names; unsafe paths (absolute, '..', links leaving the directory, devices) are refused.
    A ModelKit that is not in local storage is read from its registry, fetching only
    the layers the filters select. With --verify-key, a ModelKit no signature of that
    key verifies (where it is read from) is refused before any file is written.
    """
    from kitops import api

    ctx = _obj()
    network = make_network(net)
    chosen = list(filters)
    if not chosen:
        legacy = [
            n
            for n, on in (
                ("kitfile", d_kitfile),
                ("model", d_model),
                ("code", d_code),
                ("datasets", d_datasets),
                ("docs", d_docs),
            )
            if on
        ]
        if legacy:
            log.warning(
                "the --kitfile/--model/--code/--datasets/--docs flags are deprecated; use --filter %s",
                ",".join(legacy),
            )
            chosen = [",".join(legacy)]

    def body(cancel: Cancel) -> None:
        log.info("Unpacking to %s", os.path.abspath(target))
        with ctx.progress() as progress:
            result = api.unpack(
                modelkit,
                target_dir=target,
                filters=chosen,
                overwrite=overwrite,
                ignore_existing=ignore_existing,
                home=ctx.home,
                progress=progress,
                cancel=cancel,
                network=network,
                verify_key=verify_key,
            )
        log.info(
            "Unpacked %d files%s",
            result.files,
            f" ({result.skipped} existing kept)" if result.skipped else "",
        )

    run(ctx, body, context="Failed to unpack")


# ---------------------------------------------------------------------------------------------
# list / inspect / info


_TEMPLATE_FIELDS = {
    "Repo": "repo",
    "Digest": "digest",
    "Tags": "tags",
    "ModelName": "modelName",
    "Size": "size",
    "SizeBytes": "sizeBytes",
    "Author": "author",
}
FORMAT_HINT = (
    "use --format table, --format json, or a Go template of the fields "
    + " ".join("{{." + name + "}}" for name in _TEMPLATE_FIELDS)
    + r", e.g. --format '{{.Repo}}:{{.Tags}}\t{{.Size}}' (escapes: \t \n \\ \xHH \uHHHH)"
)
_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "'": "'",
    '"': '"',
}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|.?)", re.DOTALL)
_FIELD_ACTION = re.compile(r"\s*\.(\w+)\s*")


def _unescape(text: str, offset: int) -> str:
    """Decode the backslash escapes of template text (``offset``: where ``text`` starts, for errors).

    The text is a str and stays one: the old ``text.encode().decode("unicode_escape")`` read the
    UTF-8 bytes of any non-ASCII character as Latin-1 (``→`` became ``â\x86\x92``)."""

    def one(m: re.Match[str]) -> str:
        seq = m.group(1)
        if len(seq) > 1 and seq[0] in "xuU":
            with contextlib.suppress(ValueError):
                return chr(int(seq[1:], 16))
        elif seq and seq[0] in "01234567":
            return chr(int(seq, 8))
        elif seq in _ESCAPES:
            return _ESCAPES[seq]
        raise UsageError(
            f"template: invalid escape sequence '\\{seq}' at character {offset + m.start() + 1}",
            hint=FORMAT_HINT,
        )

    return _ESCAPE.sub(one, text)


@dataclass(frozen=True)
class ListTemplate:
    """A ``kit list --format`` template: the Go text/template subset kit users write.

    Text with ``{{.Field}}`` actions (``{{- ``/`` -}}`` trim the white space beside them, as in Go);
    backslash escapes in the text are decoded. Anything else is refused when it is parsed, with
    a hint, before anything is listed.
    """

    parts: tuple[str, ...]  # text, field key, text, field key, ..., text

    @classmethod
    def parse(cls, template: str) -> ListTemplate:
        parts: list[str] = []
        pos, trim_left = 0, False
        while True:
            start = template.find("{{", pos)
            raw = template[pos:] if start < 0 else template[pos:start]
            end = -1 if start < 0 else template.find("}}", start + 2)
            if start >= 0 and end < 0:
                raise UsageError(
                    f"template: unclosed action at character {start + 1}: {template[start:]}",
                    hint=FORMAT_HINT,
                )
            action = "" if start < 0 else template[start + 2 : end]
            if trim_left:
                raw = raw.lstrip()
            if action[:1] == "-" and action[1:2].isspace():
                raw, action = raw.rstrip(), action[1:]
            trim_left = action[-1:] == "-" and action[-2:-1].isspace()
            if trim_left:
                action = action[:-1]
            parts.append(_unescape(raw, pos))
            if start < 0:
                return cls(tuple(parts))
            parts.append(cls._field(action))
            pos = end + 2

    @staticmethod
    def _field(action: str) -> str:
        m = _FIELD_ACTION.fullmatch(action)
        if m is None:
            raise UsageError(
                f"template: unsupported action {{{{{action}}}}}: only fields such as {{{{.Repo}}}} are",
                hint=FORMAT_HINT,
            )
        if m.group(1) not in _TEMPLATE_FIELDS:
            raise UsageError(f"template: can't evaluate field {m.group(1)}", hint=FORMAT_HINT)
        return _TEMPLATE_FIELDS[m.group(1)]

    def render(self, fields: Mapping[str, Any]) -> str:
        out = []
        for i, part in enumerate(self.parts):
            if i % 2 == 0:
                out.append(part)
                continue
            value = fields[part]
            if isinstance(value, list):
                out.append("[" + " ".join(value) + "]")
            else:
                out.append("<nil>" if value is None else str(value))
        return "".join(out)


def _list_format(ctx: click.Context, _param: click.Parameter, value: Any) -> str | ListTemplate:
    """``--format``: ``table``, ``json``, or a :class:`ListTemplate`; anything else is refused."""
    if isinstance(value, ListTemplate) or value in ("table", "json"):
        return value  # type: ignore[no-any-return]
    text = str(value)
    if "{{" not in text and "\\" not in text:  # a word (yaml, tabel...) is no template
        raise CommandLineError(
            f"unknown format {text!r}: not table, json or a template", ctx, hint=FORMAT_HINT
        )
    try:
        return ListTemplate.parse(text)
    except UsageError as exc:
        raise CommandLineError(exc.message, ctx, hint=exc.hint) from None


@cli.command("list", short_help="List ModelKits in local storage.")
@click.argument("repository", required=False)
@click.option(
    "--format",
    "fmt",
    callback=_list_format,
    default="table",
    show_default=True,
    metavar="FORMAT",
    help="table, json, or a Go template such as '{{.Repo}}:{{.Tags}}\\t{{.Size}}'. "
    "Fields: " + " ".join("." + name for name in _TEMPLATE_FIELDS) + ".",
)
@network_options
def list_cmd(repository: str | None, fmt: str | ListTemplate, **net: Any) -> None:
    """List ModelKits: repository, tag, maintainer, name, size (of layers) and digest.

    With REPOSITORY on a registry (e.g. ghcr.io/org/model), lists every tag there
    (all pages), or just the one given as REPOSITORY:TAG.
    """
    from kitops import api
    from kitops.cli.text import list_fields, list_json, list_table

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        from kitops.oci.reference import parse_reference

        if repository and parse_reference(repository)[0].registry != "localhost":
            items = api.list_remote(repository, home=ctx.home, network=make_network(net))
        else:
            items = api.list_modelkits(repository, home=ctx.home)
        if isinstance(fmt, ListTemplate):
            for it in items:
                out = fmt.render(list_fields(it))
                ctx.echo(out, nl=not out.endswith("\n"))
        elif fmt == "json":
            ctx.echo(list_json(items))
        else:
            ctx.echo(list_table(items), nl=False)

    run(ctx, body)


@cli.command(short_help="Show a ModelKit's manifest and config as JSON.")
@click.argument("modelkit")
@click.option("-r", "--remote", is_flag=True, help="Read from the registry instead of local storage.")
@network_options
def inspect(modelkit: str, remote: bool, **net: Any) -> None:
    """Print digest, CLI version, Kitfile (with layer digests) and manifest of MODELKIT as JSON."""
    from kitops import api

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        result = api.inspect(modelkit, home=ctx.home, remote=remote, network=make_network(net))
        ctx.echo(result.to_json())

    run(ctx, body, context="Error resolving modelkit")


@cli.command(short_help="Show a ModelKit's Kitfile.")
@click.argument("modelkit")
@click.option("-r", "--remote", is_flag=True, help="Read from the registry instead of local storage.")
@click.option(
    "-f", "--filter", "filter_", metavar="PATH", help="Print one node, e.g. package.name or model.parts."
)
@network_options
def info(modelkit: str, remote: bool, filter_: str | None, **net: Any) -> None:
    """Print the Kitfile of MODELKIT as YAML (optionally one node of it)."""
    from kitops import api

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        kitfile = api.info(modelkit, home=ctx.home, remote=remote, network=make_network(net))
        text = api.filter_kitfile_yaml(kitfile, filter_) if filter_ else kitfile.to_yaml()
        ctx.echo(text, nl=False)

    run(ctx, body)


# ---------------------------------------------------------------------------------------------
# tag / remove / diff


@cli.command(short_help="Give a ModelKit another tag (locally or on a registry).")
@click.argument("source")
@click.argument("target")
@click.option(
    "-r",
    "--remote",
    "remote",
    flag_value=True,
    default=None,
    help="Tag on the registry even when SOURCE is also in local storage.",
)
@network_options
@upload_options
def tag(source: str, target: str, remote: bool | None, **net: Any) -> None:
    """Tag SOURCE as TARGET (in the same or another repository; blobs are shared).

    \b
    A SOURCE in local storage is tagged there. One that is only on a registry (or with
    --remote) is tagged on the registries, with nothing downloaded:
      kit tag reg.example.com/team/model:dev reg.example.com/team/model:prod   # promote: one manifest PUT
      kit tag reg.example.com/dev/model:v1 reg.example.com/prod/model:v1       # blobs mounted
      kit tag a.example.com/team/model:v1 b.example.com/team/model:v1          # blobs streamed across
    """
    from kitops import api

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        src, dst = api.tag(source, target, home=ctx.home, remote=remote, network=make_network(net))
        ctx.echo(f"Modelkit {src} tagged as {dst}")

    run(ctx, body)


@cli.command(short_help="Remove ModelKits or tags from local storage.")
@click.argument("modelkit", required=False)
@click.option("-f", "--force", is_flag=True, help="Remove the ModelKit even if other tags point to it.")
@click.option(
    "-a", "--all", "all_", is_flag=True, help="Remove every untagged ModelKit (with --force: everything)."
)
@click.option("-r", "--remote", is_flag=True, help="Delete from the registry.")
@network_options
def remove(modelkit: str | None, force: bool, all_: bool, remote: bool, **net: Any) -> None:
    """Remove MODELKIT (tag, digest, or repo:t1,t2). Blobs nothing else uses are deleted too.

    Removing one of several tags only untags; the last tag removes the ModelKit.
    """
    from kitops import api

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        if remote:
            if all_ or force:
                raise UsageError("cannot use --all or --force with --remote")
            if not modelkit:
                raise UsageError("modelkit is required for remove --remote")
            desc = api.remove_remote(modelkit, home=ctx.home, network=make_network(net))
            ctx.echo(f"Removed {modelkit} (digest {desc.digest})")
            return
        for r in api.remove(modelkit, all=all_, force=force, home=ctx.home):
            if r.untagged_only:
                ctx.echo(f"Untagged {r.reference}")
            else:
                ctx.echo(f"Removed {r.reference} (digest {r.digest})")

    run(ctx, body, context="Failed to remove")


@cli.command(short_help="Compare two ModelKits.")
@click.argument("modelkit1")
@click.argument("modelkit2")
@network_options
def diff(modelkit1: str, modelkit2: str, **net: Any) -> None:
    """Compare configs, annotations and layers of two ModelKits.

    Each is looked up in local storage first, then on the registry its reference names;
    prefix local:// or remote:// to choose (e.g. kit diff local://model:v2 remote://reg.example.com/team/model:v1).

    Prints "ModelKits are identical" when both are the same manifest; otherwise the configs,
    annotations (with the keys that differ), shared and unique layers, and what differs in the
    Kitfiles. Only the manifests are needed: when a config cannot be read, the rest is still
    shown and a warning says so. The exit code is 0 whether or not the ModelKits differ
    (as the Go kit); it is non-zero only when a ModelKit's manifest cannot be read.
    """
    from kitops import api

    ctx = _obj()
    network = make_network(net)

    def body(_cancel: Cancel) -> None:
        result = api.diff(modelkit1, modelkit2, home=ctx.home, network=network)
        from kitops.cli.diff_text import diff_report  # on use: keeps every other command's start-up short

        ctx.echo(diff_report(result.a, result.b), nl=False)

    run(ctx, body)


# ---------------------------------------------------------------------------------------------
# push / pull / login / logout


@cli.command(short_help="Upload a ModelKit to a registry.")
@click.argument("source")
@click.argument("destination", required=False)
@click.option(
    "--no-referrers",
    is_flag=True,
    help="Leave its signatures, attestations and other referrers in local storage.",
)
@network_options
@upload_options
def push(source: str, destination: str | None, no_referrers: bool, **net: Any) -> None:
    """Push SOURCE from local storage to a registry (to DESTINATION if given).

    Blobs the registry already has are skipped; a blob known to another repository
    of the same registry is mounted; the manifest goes last. An interrupted push
    resumes where the registry stopped. Signatures, attestations and provenance stored
    with it go along (cosign's sha256-<hex>.sig tags, and OCI referrers: through the
    registry's referrers API or its tag-schema index).
    """
    from kitops import api

    ctx = _obj()

    def body(cancel: Cancel) -> None:
        log.info("Pushing %s%s", shown(source), f" to {shown(destination)}" if destination else "")
        with ctx.progress() as progress:
            result = api.push(
                source,
                destination,
                home=ctx.home,
                network=make_network(net),
                progress=progress,
                cancel=cancel,
                referrers=not no_referrers,
            )
        ctx.echo(f"Pushed {result.descriptor.digest}")

    run(ctx, body, context="Failed to push")


@cli.command(short_help="Download a ModelKit from a registry.")
@click.argument("modelkit")
@click.option(
    "--no-referrers",
    is_flag=True,
    help="Leave its signatures, attestations and other referrers on the registry.",
)
@click.option(
    "--verify-key",
    metavar="PATH",
    help="Public key (cosign.pub): refuse the ModelKit, fetching nothing, unless it verifies a signature of it.",
)
@network_options
def pull(modelkit: str, no_referrers: bool, verify_key: str | None, **net: Any) -> None:
    """Pull MODELKIT (registry/repository[:tag|@digest]) into local storage.

    Every blob is verified against its digest; an interrupted pull resumes. Its
    signatures, attestations and other referrers come along. With --verify-key, a
    ModelKit no signature of that key verifies is refused before anything is fetched.
    """
    from kitops import api

    ctx = _obj()

    def body(cancel: Cancel) -> None:
        log.info("Pulling %s", shown(modelkit))
        with ctx.progress() as progress:
            result = api.pull(
                modelkit,
                home=ctx.home,
                network=make_network(net),
                progress=progress,
                cancel=cancel,
                referrers=not no_referrers,
                verify_key=verify_key,
            )
        ctx.echo(f"Pulled {result.descriptor.digest}")

    run(ctx, body, context="Failed to pull")


@cli.command(short_help="Log in to a registry.")
@click.argument("registry")
@click.option("-u", "--username", default="", help="User name.")
@click.option("-p", "--password", default=None, help="Password (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@network_options
def login(registry: str, username: str, password: str | None, password_stdin: bool, **net: Any) -> None:
    """Check credentials for REGISTRY and store them in $KITOPS_HOME/credentials.json (mode 0600).

    \b
    Example:  echo "$TOKEN" | kit login ghcr.io -u me --password-stdin
    """
    from kitops import api
    from kitops.registry.credentials import require_password

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        nonlocal username
        stdin_value = sys.stdin.read() if password_stdin else None
        if password and username:
            log.warning("Using --password via CLI is insecure. Consider using --password-stdin instead")
        secret = require_password(password, stdin_value)
        if not secret:
            if not sys.stdin.isatty():
                raise UsageError("attempting to read input from non-terminal", hint="use --password-stdin")
            username = username or click.prompt("Username")
            secret = click.prompt("Password", hide_input=True)
        api.login(registry, username=username, password=secret, home=ctx.home, network=make_network(net))
        ctx.echo("Log in successful")

    run(ctx, body)


@cli.command(short_help="Forget the credentials for a registry.")
@click.argument("registry")
def logout(registry: str) -> None:
    """Remove the stored credentials for REGISTRY."""
    from kitops import api

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        if not api.logout(registry, home=ctx.home):
            raise UsageError(f"not logged in to {registry}")
        ctx.echo(f"Successfully logged out from {registry}")

    run(ctx, body)


# ---------------------------------------------------------------------------------------------
# save / load (air-gapped transfer)


def _archive_line(verb: str, name: str, digest: str) -> str:
    """``Saved my-model:v1 (sha256:…)``; a manifest named by its digest shows it once."""
    return f"{verb} {shown(name)}" if name.endswith(digest) else f"{verb} {shown(name)} ({digest})"


@cli.command(short_help="Save ModelKits to an archive, for a machine without registry access.")
@click.argument("modelkits", nargs=-1, required=True, metavar="MODELKIT...")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="PATH",
    help="The archive to write ('-': standard output); with --format oci-dir, the directory.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tar", "oci-dir"]),
    default="tar",
    show_default=True,
    help="tar: an OCI image layout in one archive (skopeo's oci-archive). oci-dir: a layout directory.",
)
def save(modelkits: tuple[str, ...], output: str, fmt: str) -> None:
    """Save MODELKITs from local storage into one OCI image layout, with their parents
    (model.path references) and their signatures and attestations. A blob shared by several
    ModelKits is written once. 'kit load' reads it back; skopeo, oras and containerd read it too.

    \b
    Examples:
      kit save my-model:v1 -o my-model.tar
      kit save my-model:v1 my-model:v2 --format oci-dir -o ./layout
      kit save my-model:v1 -o - | ssh airgapped-host kit load -i -
    """
    from kitops import api

    ctx = _obj()

    def body(cancel: Cancel) -> None:
        to_stdout = output == "-"
        if to_stdout and sys.stdout.isatty():
            raise UsageError(
                "refusing to write an archive to a terminal",
                hint="redirect it: kit save ... -o - > models.tar",
            )
        target = sys.stdout.buffer if to_stdout else output
        with ctx.progress() as progress:
            result = api.save(
                list(modelkits), target, format=fmt, home=ctx.home, progress=progress, cancel=cancel
            )
        for entry in result.entries:  # results go to stderr when stdout carries the archive
            click.echo(
                _archive_line("Saved", entry.reference.display(), entry.descriptor.digest), err=to_stdout
            )

    run(ctx, body, context="Failed to save")


@cli.command(short_help="Load ModelKits from an archive written by 'kit save'.")
@click.option(
    "-i",
    "--input",
    "input_",
    required=True,
    metavar="PATH",
    help="The archive or layout directory to read ('-': standard input).",
)
@click.option(
    "--ref",
    "refs",
    multiple=True,
    metavar="NAME",
    help="Load only this entry, named by its reference, tag or digest. Repeatable.",
)
@click.option(
    "--repository",
    metavar="REPO",
    help="Where entries named only by a tag go (layouts written by skopeo or oras).",
)
def load(input_: str, refs: tuple[str, ...], repository: str | None) -> None:
    """Load the ModelKits of an OCI image layout (an archive or a directory) into local
    storage, each under the name it was saved with. Every blob is verified against its
    digest and size; nothing is tagged unless everything arrived whole.

    \b
    Examples:
      kit load -i my-model.tar
      kit load -i models.tar --ref my-model:v2
      ssh build-host kit save my-model:v1 -o - | kit load -i -
      kit load -i ./layout --repository registry.example.com/team/model
    """
    from kitops import api

    ctx = _obj()

    def body(cancel: Cancel) -> None:
        from_stdin = input_ == "-"
        if from_stdin and sys.stdin.isatty():
            raise UsageError(
                "refusing to read an archive from a terminal", hint="pipe one in: kit load -i - < models.tar"
            )
        source = sys.stdin.buffer if from_stdin else input_
        with ctx.progress() as progress:
            result = api.load(
                source,
                refs=list(refs) or None,
                repository=repository,
                home=ctx.home,
                progress=progress,
                cancel=cancel,
            )
        for entry in result.entries:
            ctx.echo(_archive_line("Loaded", entry.reference.display(), entry.descriptor.digest))

    run(ctx, body, context="Failed to load")


# ---------------------------------------------------------------------------------------------
# init / cache / version


@cli.command(short_help="Write a Kitfile for a directory.")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--name", default="", help="ModelKit name (package.name).")
@click.option("--desc", default="", help="Short description.")
@click.option("--author", default="", help="Author.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing Kitfile.")
def init(path: str, name: str, desc: str, author: str, force: bool) -> None:
    """Look at the files in PATH and write PATH/Kitfile (models, datasets, code, docs detected
    by extension and by content). Prompts for missing values only on a terminal."""
    from kitops import api

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        nonlocal name, desc, author
        if sys.stdin.isatty() and sys.stdout.isatty():
            name = name or click.prompt("Enter a name for the ModelKit", default="", show_default=False)
            desc = desc or click.prompt(
                "Enter a short description for the ModelKit", default="", show_default=False
            )
            author = author or click.prompt(
                "Enter an author for the ModelKit", default="", show_default=False
            )
        kitfile, written = api.init(path, name=name, description=desc, author=author, force=force)
        log.info("Generated Kitfile:\n\n%s", kitfile.to_yaml())
        ctx.echo(f"Saved to path '{written}'")

    run(ctx, body)


def _interactive() -> bool:
    """Whether ``kit import`` may ask: both stdin and stdout are a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _offer_kitfile_edit(path: Path) -> None:
    """Before ``kit import`` packs a generated Kitfile: ask, and on "y" open it in ``$EDITOR`` (else
    nano or vi). The editor runs as an argument list (``$EDITOR`` split as a shell would, never run
    by one); the import re-reads and validates the file afterwards."""
    import shlex
    import shutil
    import subprocess

    answer = click.prompt(
        "Would you like to edit Kitfile before packing? (y/N)", default="", show_default=False
    )
    if answer.strip().lower() not in ("y", "yes"):
        return
    editor = shlex.split(os.environ.get("EDITOR", ""))
    if not editor:
        found = shutil.which("nano") or shutil.which("vi")
        editor = [found] if found else []
    if not editor:
        raise UsageError("no editor found", hint="set EDITOR")
    try:
        done = subprocess.run([*editor, str(path)], check=False)
    except OSError as exc:
        raise UsageError(f"cannot run the editor {editor[0]}: {exc.strerror}", hint="set EDITOR") from None
    if done.returncode != 0:
        raise UsageError(f"the editor {editor[0]} exited with status {done.returncode}")


def _kitfile_editor(progress: Progress | None) -> Callable[[Path], None]:
    """:func:`_offer_kitfile_edit` with the progress bars stopped meanwhile: their redraws would
    otherwise write over the prompt and the editor's screen."""

    def edit(path: Path) -> None:
        bars = progress if isinstance(progress, RichProgress) else None
        if bars is not None:
            bars.__exit__(None, None, None)
        try:
            _offer_kitfile_edit(path)
        finally:
            if bars is not None:
                bars.__enter__()

    return edit


@cli.command("import", short_help="Import a Hugging Face repository or an MLflow model as a ModelKit.")
@click.argument("source")
@click.option(
    "-t",
    "--tag",
    metavar="REF",
    help="Reference to store it under (default: org/name:latest; registered MLflow models: NAME:VERSION).",
)
@click.option("--ref", "git_ref", metavar="REV", help="Branch, tag or commit to import (default: main).")
@click.option(
    "--token", metavar="TOKEN", help="Hugging Face or git token (default: $HF_TOKEN or the saved login)."
)
@click.option(
    "-f",
    "--file",
    "kitfile",
    metavar="PATH",
    help="Use this Kitfile ('-' reads stdin) instead of generating one.",
)
@click.option(
    "--tool", type=click.Choice(["hf", "git"]), help="How to fetch (default: hf for the Hub, git otherwise)."
)
@click.option(
    "--repo-type", type=click.Choice(["model", "dataset"]), help="Hub repository type (default: model)."
)
@click.option("--include", multiple=True, metavar="GLOB", help="Import only matching files (repeatable).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave matching files out (repeatable).")
@click.option(
    "--concurrency", default=5, show_default=True, metavar="N", help="Files downloaded in parallel."
)
@click.option("--tracking-uri", metavar="URI", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI).")
@click.option("--force", is_flag=True, help="Import an MLflow run that is not FINISHED.")
def import_cmd(
    source: str,
    tag: str | None,
    git_ref: str | None,
    token: str | None,
    kitfile: str | None,
    tool: str | None,
    repo_type: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    concurrency: int,
    tracking_uri: str | None,
    force: bool,
) -> None:
    """Pack SOURCE into local storage, with a Kitfile generated from its metadata.

    \b
    SOURCE is one of:
      org/name, hf://org/name, https://huggingface.co/org/name   (a Hugging Face model)
      hf://datasets/org/name   (or --repo-type dataset)
      https://host/repo.git   (any git + git-lfs repository; --tool git)
      mlflow://runs/<run_id>[/<artifact_path>]
      mlflow://experiments/<experiment_id>/runs/<run_id>
      mlflow://models/<name>/<version>   (or mlflow://models/<name>@<alias>)
    Hugging Face needs: pip install 'kitops[hf]' (HF_ENDPOINT and HF_TOKEN are honoured).
    MLflow needs: pip install 'kitops[mlflow]'.
    """
    from kitops.integrations import import_uri

    ctx = _obj()

    def body(cancel: Cancel) -> None:
        path, text = kitfile, None
        if kitfile == "-":
            if sys.stdin.isatty():
                raise UsageError(
                    "No input file specified and no data piped",
                    hint="pipe a Kitfile: cat Kitfile | kit import org/name -f -",
                )
            from kitops.kitfile.load import read_kitfile_stream

            text, path = read_kitfile_stream(sys.stdin), None
        with ctx.progress() as progress:
            result = import_uri(
                source,
                tag=tag,
                home=ctx.home,
                tracking_uri=tracking_uri,
                force=force,
                ref=git_ref,
                token=token,
                kitfile=path,
                kitfile_text=text,
                tool=tool,
                repo_type=repo_type,
                concurrency=concurrency,
                include=include,
                exclude=exclude,
                progress=progress,
                cancel=cancel,
                edit_kitfile=_kitfile_editor(progress) if _interactive() else None,
            )
        log.info("Model is packed as %s", result.ref)
        ctx.echo(f"Model saved: {result.digest}")

    run(ctx, body, context="Failed to import model")


@cli.group(short_help="Serve a ModelKit's LLM locally (OpenAI-compatible API and chat page).")
def dev() -> None:
    """Run a development server for a GGUF model: an OpenAI-compatible API (/v1/...) and a chat
    page, in the background. Needs llama-cpp-python (pip install 'kitops[devserver]') or
    llama.cpp's llama-server on PATH."""


@dev.command("start")
@click.argument("source", default=".")
@click.option("-f", "--file", "kitfile", metavar="PATH", help="Kitfile to use (default: SOURCE/Kitfile).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=0, show_default=True, help="Port to listen on (0: a free port).")
@click.option(
    "--backend",
    type=click.Choice(["auto", "llama-cpp-python", "llama-server"]),
    default="auto",
    show_default=True,
    help="Model server to run (auto: llama-cpp-python, else llama-server).",
)
def dev_start(source: str, kitfile: str | None, host: str, port: int, backend: str) -> None:
    """Serve the model of SOURCE: a directory with a Kitfile, or a ModelKit reference (its model
    is unpacked into the cache first). Returns once the server answers."""
    from kitops.integrations import dev as devmode

    ctx = _obj()

    def body(cancel: Cancel) -> None:
        with ctx.progress() as progress:
            server = devmode.start(
                source,
                kitfile=kitfile,
                host=host,
                port=port,
                backend=backend,
                home=ctx.home,
                progress=progress,
                cancel=cancel,
            )
        ctx.echo(f"Development server started at {server.url}")
        log.info('Use "kit dev stop" to stop the development server')

    run(ctx, body, context="Failed to start development server")


@dev.command("stop")
def dev_stop() -> None:
    """Stop the development server."""
    from kitops.integrations import dev as devmode

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        log.info("Stopping development server...")
        devmode.stop(home=ctx.home)
        ctx.echo("Development server stopped")

    run(ctx, body)


@dev.command("logs")
@click.option("-f", "--follow", is_flag=True, help="Keep printing what is logged until the server stops.")
def dev_logs(follow: bool) -> None:
    """Print the development server's log."""
    from kitops.integrations import dev as devmode

    ctx = _obj()

    def body(cancel: Cancel) -> None:
        if not follow:
            text = devmode.read_log(home=ctx.home)
            if text is None:
                log.error("No log file found")
            else:
                ctx.echo(text, nl=False)
            return
        for chunk in devmode.follow_log(home=ctx.home, cancel=cancel):
            ctx.echo(chunk, nl=False)

    run(ctx, body)


@cli.group(short_help="Inspect or clear the cache.")
def cache() -> None:
    """Manage $KITOPS_HOME/cache (temporary files) and partial downloads."""


@cache.command("info")
def cache_info() -> None:
    """Show the size of each cache entry."""
    from kitops import api
    from kitops.cli.text import format_bytes, table

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        entries = api.cache_info(home=ctx.home)
        total = sum(size for _n, size in entries)
        if total == 0:
            ctx.echo("Cache is currently empty")
            return
        ctx.echo(f"Total size of cache directory: {format_bytes(total)}")
        ctx.echo("Cache contents:")
        ctx.echo(table([[f"  {n}", format_bytes(s)] for n, s in entries], padding=4), nl=False)

    run(ctx, body)


@cache.command("clear")
def cache_clear() -> None:
    """Delete the cache and stale partial downloads."""
    from kitops import api
    from kitops.cli.text import format_bytes

    ctx = _obj()
    run(ctx, lambda _c: ctx.echo(f"Cleared {format_bytes(api.cache_clear(home=ctx.home))}"))


@cli.command(short_help="Show version information.")
def version() -> None:
    """Print the version of kit (Python implementation)."""
    from kitops.cli.text import version_text

    _obj().echo(version_text())


# ---------------------------------------------------------------------------------------------
# sign / verify / attest / attach / discover: cosign-compatible, with no cosign binary

_DEFAULT_SIGN = "MODELKIT"  # the hidden command behind 'kit sign REF': no reference is upper case
_GLOBAL_VALUE_FLAGS = ("--config", "--log-level", "--progress")  # global flags that take a value


def _first_word(args: Sequence[str]) -> str | None:
    """The first argument of a command line that is no option (nor a global option's value)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in _GLOBAL_VALUE_FLAGS
        else:
            return arg
    return None


class _GroupNamedContext(click.Context):
    """The context of a group's default command, which is run by the group's name alone: usage
    lines and hints say ``kit sign``, not the hidden command's name."""

    @property
    def command_path(self) -> str:
        return self.parent.command_path if self.parent is not None else super().command_path


class DefaultCommand(KitCommand):
    context_class = _GroupNamedContext


class DefaultCommandGroup(KitGroup):
    """A group whose command word is optional: a command line that does not start with one of its
    commands runs the hidden :attr:`default` command (``kit sign REF`` beside ``kit sign
    generate-key-pair``). Its help shows the default command's usage and options with the commands."""

    default = _DEFAULT_SIGN

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if _first_word(args) not in (None, *self.commands):
            args = [self.default, *args]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return self.commands[self.default].collect_usage_pieces(ctx)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        own: list[tuple[str, str]] = []
        shared: list[tuple[str, str]] = []
        params = [*self.commands[self.default].get_params(ctx), *self.get_params(ctx)]
        for param in params:
            if isinstance(param, click.Argument) or (param.name == "help" and param not in self.params):
                continue
            record = param.get_help_record(ctx)
            if record is not None and record not in own + shared:
                (shared if isinstance(param, GlobalOption) else own).append(record)
        for title, records in (("Options", own), ("Global options", shared)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)
        self.format_commands(ctx, formatter)


def signing_network_options(fn: F) -> F:
    """The network flags without --cert and --key: here ``--key`` names the signing or public key,
    as in cosign; a client certificate comes from $KITOPS_CLIENT_CERT and $KITOPS_CLIENT_KEY."""

    def collect() -> None:
        """Only carries the network options, to copy them from."""

    network_options(collect)  # click keeps a decorated function's options in __click_params__
    chosen = [p for p in getattr(collect, "__click_params__", []) if p.name not in ("cert", "key")]
    fn.__click_params__ = [*getattr(fn, "__click_params__", []), *chosen]  # type: ignore[attr-defined]
    return fn


def _cosign_password(*, confirm: bool) -> Callable[[], str]:
    """The private key's password: $COSIGN_PASSWORD (empty is a password too), else a hidden prompt
    on a terminal (twice, to confirm, for a new key). Asked only when a key turns out encrypted."""

    def ask() -> str:
        given = os.environ.get("COSIGN_PASSWORD")
        if given is not None:
            return given
        if not _stdin_is_terminal():
            raise UsageError(
                "no password for the private key: COSIGN_PASSWORD is not set and standard input is not a terminal",
                hint="set COSIGN_PASSWORD (an empty value is an empty password)",
            )
        answer: str = click.prompt(
            "Enter password for private key",
            default="",
            show_default=False,
            hide_input=True,
            confirmation_prompt="Enter password for private key again" if confirm else False,
            err=True,
        )
        return answer

    return ask


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _key_values(items: Sequence[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=flag)
        out[key] = value
    return out


def _remote_option(fn: F) -> F:
    return click.option(
        "--remote",
        is_flag=True,
        help="Use the ModelKit on its registry even when local storage holds it.",
    )(fn)


@cli.group(cls=DefaultCommandGroup, short_help="Sign a ModelKit (or: generate-key-pair).")
def sign() -> None:
    """Sign MODELKIT with a private key, as cosign does: the signature is stored beside it, in
    local storage (and pushed with it) or on its registry. Or make a key pair: 'kit sign
    generate-key-pair'.

    The signed payload names the ModelKit's manifest digest; a tag is resolved first. By default
    the signature goes where cosign puts it (the tag sha256-<hex>.sig); --referrers stores it as
    an OCI 1.1 referrer, --bundle as a Sigstore bundle (cosign v3's format). The key's password
    comes from $COSIGN_PASSWORD or a prompt.

    \b
    Examples:
      kit sign generate-key-pair
      kit sign my-model:v1 --key cosign.key
      kit sign registry.example.com/team/my-model:v1 --key cosign.key -a ci=build-42
    """


@sign.command(_DEFAULT_SIGN, cls=DefaultCommand, hidden=True)
@click.argument("modelkit")
@click.option(
    "--key",
    "signing_key",
    required=True,
    metavar="PATH",
    help="Private key: cosign.key, or a PKCS#8, SEC1 or PKCS#1 PEM key (ECDSA, RSA, Ed25519).",
)
@click.option(
    "-a",
    "--annotation",
    "annotations",
    multiple=True,
    metavar="KEY=VALUE",
    help="Signed into the payload (its 'optional' map), as cosign's -a. Repeatable.",
)
@click.option("--referrers", is_flag=True, help="Store the signature as an OCI 1.1 referrer.")
@click.option("--bundle", is_flag=True, help="Store a Sigstore bundle referrer (cosign v3's format).")
@_remote_option
@signing_network_options
def sign_modelkit(
    modelkit: str,
    signing_key: str,
    annotations: tuple[str, ...],
    referrers: bool,
    bundle: bool,
    remote: bool,
    **net: Any,
) -> None:
    """Sign MODELKIT with a private key; see 'kit sign --help'."""
    from kitops import api

    ctx = _obj()
    if referrers and bundle:
        raise CommandLineError("--referrers and --bundle cannot be used together")
    values = _key_values(annotations, "-a")
    mode = "bundle" if bundle else "referrers" if referrers else "tag"

    def body(_cancel: Cancel) -> None:
        result = api.sign(
            modelkit,
            signing_key=signing_key,
            password=_cosign_password(confirm=False),
            annotations=values,
            mode=mode,
            remote=remote,
            home=ctx.home,
            network=make_network(net),
        )
        _report_stored(ctx, result, "Signature", "Signed")

    run(ctx, body)


def _report_stored(ctx: Ctx, result: ReferrerResult, what: str, done: str) -> None:
    """Where ``kit sign`` / ``kit attest`` stored their manifest (log) and what they did (stdout)."""
    where = result.reference.registry if result.remote else "local storage"
    log.info("%s stored in %s: %s", what, where, result.descriptor.digest)
    ctx.echo(f"{done} {shown(result.reference.display())} ({result.subject.digest})")


@sign.command("generate-key-pair", short_help="Write a new key pair: cosign.key and cosign.pub.")
@click.option(
    "--output-key-prefix",
    default="cosign",
    show_default=True,
    metavar="PREFIX",
    help="Write PREFIX.key and PREFIX.pub.",
)
@click.option("-f", "--force", is_flag=True, help="Overwrite key files that exist.")
def generate_key_pair(output_key_prefix: str, force: bool) -> None:
    """Write a new ECDSA P-256 key pair in cosign's format: PREFIX.key (encrypted with the password
    from $COSIGN_PASSWORD or a prompt, mode 0600) and PREFIX.pub (mode 0644). cosign reads both."""
    from pathlib import Path

    from kitops import api
    from kitops.errors import AlreadyExistsError
    from kitops.fsutil import atomic_write

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        private_path, public_path = Path(f"{output_key_prefix}.key"), Path(f"{output_key_prefix}.pub")
        for path in (private_path, public_path):
            if path.exists() and not force:
                raise AlreadyExistsError(
                    f"{path} already exists",
                    hint="choose another --output-key-prefix, or overwrite with --force",
                )
        pair = api.generate_key_pair(_cosign_password(confirm=True)())
        atomic_write(private_path, pair.private_key, mode=0o600)
        atomic_write(public_path, pair.public_key, mode=0o644)
        ctx.echo(f"Private key written to {private_path}")
        ctx.echo(f"Public key written to {public_path}")

    run(ctx, body)


@cli.command(short_help="Verify a ModelKit's signatures.")
@click.argument("modelkit")
@click.option("--key", "verify_key", required=True, metavar="PATH", help="Public key (cosign.pub).")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="json: the verified payloads as one JSON array, as cosign prints them. text: a line per signature.",
)
@_remote_option
@signing_network_options
def verify(modelkit: str, verify_key: str, output: str, remote: bool, **net: Any) -> None:
    """Verify the signatures of MODELKIT with a public key. Signatures are looked for in all three
    places (the sha256-<hex>.sig tag, referrers, Sigstore bundles); each one's payload must match
    its digest, be signed by the key over its stored bytes, and name this ModelKit's digest.

    Exits 1, saying why, when no signature verifies: none found, none by this key, one made for
    another ModelKit, or a payload that does not match its digest (tampered).
    """
    import json

    from kitops import api

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        result = api.verify(
            modelkit, verify_key=verify_key, remote=remote, home=ctx.home, network=make_network(net)
        )
        log.info(
            "Verification for %s (%s) --\nThe following checks were performed on each of these signatures:\n"
            "  - the payload blob matches its digest\n"
            "  - the signature over the payload was verified against the given public key\n"
            "  - the payload is a cosign container image signature for this digest",
            shown(result.reference.display()),
            result.subject.digest,
        )
        if output == "json":
            ctx.echo(json.dumps([s.payload_json() for s in result.signatures], separators=(",", ":")))
            return
        for s in result.signatures:
            extra = "".join(f" {k}={v}" for k, v in sorted((s.claim.optional or {}).items()))
            ctx.echo(shown(f"Verified {s.place} signature {s.manifest.digest} for {s.claim.digest}{extra}"))

    run(ctx, body)


@cli.command(short_help="Attest a ModelKit: a signed in-toto statement.")
@click.argument("modelkit")
@click.option("--key", "signing_key", required=True, metavar="PATH", help="Private key, as for 'kit sign'.")
@click.option(
    "--predicate",
    required=True,
    metavar="FILE",
    help="The predicate: a JSON document (free text for custom).",
)
@click.option(
    "--type",
    "predicate_type",
    default="custom",
    show_default=True,
    metavar="TYPE",
    help="slsaprovenance, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex, custom, or a URI.",
)
@click.option("--referrers", is_flag=True, help="Store the attestation as an OCI 1.1 referrer.")
@_remote_option
@signing_network_options
def attest(
    modelkit: str,
    signing_key: str,
    predicate: str,
    predicate_type: str,
    referrers: bool,
    remote: bool,
    **net: Any,
) -> None:
    """Attest MODELKIT: an in-toto statement naming its digest and carrying the predicate, signed
    in a DSSE envelope, stored where cosign puts it (the tag sha256-<hex>.att) or as a referrer.

    \b
    Example:
      kit attest my-model:v1 --key cosign.key --predicate provenance.json --type slsaprovenance
    """
    from kitops import api

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        result = api.attest(
            modelkit,
            signing_key=signing_key,
            predicate=predicate,
            predicate_type=predicate_type,
            password=_cosign_password(confirm=False),
            mode="referrers" if referrers else "tag",
            remote=remote,
            home=ctx.home,
            network=make_network(net),
        )
        _report_stored(ctx, result, "Attestation", "Attested")

    run(ctx, body)


@cli.command("verify-attestation", short_help="Verify a ModelKit's attestations.")
@click.argument("modelkit")
@click.option("--key", "verify_key", required=True, metavar="PATH", help="Public key (cosign.pub).")
@click.option(
    "--type", "predicate_type", metavar="TYPE", help="Only attestations of this type (name or URI)."
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="json: the verified in-toto statements as one JSON array. text: a line per attestation.",
)
@_remote_option
@signing_network_options
def verify_attestation(
    modelkit: str, verify_key: str, predicate_type: str | None, output: str, remote: bool, **net: Any
) -> None:
    """Verify the attestations of MODELKIT with a public key: each DSSE envelope must match its
    digest and be signed by the key, and its statement must name this ModelKit's digest. Exits 1,
    saying why, when none does."""
    import json

    from kitops import api

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        result = api.verify_attestation(
            modelkit,
            verify_key=verify_key,
            predicate_type=predicate_type,
            remote=remote,
            home=ctx.home,
            network=make_network(net),
        )
        if output == "json":
            ctx.echo(json.dumps([a.statement_json() for a in result.attestations], separators=(",", ":")))
            return
        for a in result.attestations:
            ctx.echo(
                shown(f"Verified {a.place} attestation {a.manifest.digest}: {a.statement.predicate_type}")
            )

    run(ctx, body)


@cli.command(short_help="Attach a file to a ModelKit as a referrer.")
@click.argument("modelkit")
@click.argument("file")
@click.option(
    "--artifact-type", required=True, metavar="TYPE", help="The referrer's artifact type (a media type)."
)
@click.option(
    "--media-type",
    default="application/octet-stream",
    show_default=True,
    metavar="TYPE",
    help="The media type of the file's layer.",
)
@click.option(
    "-a",
    "--annotation",
    "annotations",
    multiple=True,
    metavar="KEY=VALUE",
    help="On the referrer. Repeatable.",
)
@_remote_option
@network_options
def attach(
    modelkit: str,
    file: str,
    artifact_type: str,
    media_type: str,
    annotations: tuple[str, ...],
    remote: bool,
    **net: Any,
) -> None:
    """Attach FILE (a model card, an SBOM, an evaluation report) to MODELKIT, as 'oras attach'
    does: a referrer of --artifact-type whose one layer is the file, titled with its name.

    \b
    Example:
      kit attach my-model:v1 eval.json --artifact-type application/vnd.example.eval.v1+json
    """
    from kitops import api

    ctx = _obj()
    values = _key_values(annotations, "-a")

    def body(_cancel: Cancel) -> None:
        result = api.attach(
            modelkit,
            file,
            artifact_type=artifact_type,
            media_type=media_type,
            annotations=values,
            remote=remote,
            home=ctx.home,
            network=make_network(net),
        )
        ctx.echo(f"Attached to {shown(result.reference.display())}: {result.descriptor.digest}")

    run(ctx, body)


@cli.command(short_help="Show what refers to a ModelKit: signatures, attestations, attachments.")
@click.argument("modelkit")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tree", "json"]),
    default="tree",
    show_default=True,
    help="tree: grouped by artifact type, as 'oras discover'. json: the same, nested.",
)
@_remote_option
@network_options
def discover(modelkit: str, fmt: str, remote: bool, **net: Any) -> None:
    """Show the referrers of MODELKIT, recursively (a signature can be signed in turn), and cosign's
    sha256-<hex>.sig/.att/.sbom tags, each with its artifact type and digest."""
    import json

    from kitops import api

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        result = api.discover(modelkit, remote=remote, home=ctx.home, network=make_network(net))
        root = result.reference.with_digest(result.subject.digest)
        if fmt == "json":
            doc = {
                "reference": root.display(),
                "mediaType": result.subject.media_type,
                "digest": result.subject.digest,
                "size": result.subject.size,
                "manifests": [_artifact_json(root, a) for a in result.referrers],
            }
            ctx.echo(json.dumps(doc, indent=2))
            return
        ctx.echo("\n".join([shown(root.display()), *_artifact_tree(result.referrers, "")]))

    run(ctx, body)


def _artifact_json(root: Any, artifact: Any) -> dict[str, Any]:
    desc = artifact.descriptor
    out: dict[str, Any] = {
        "reference": root.with_digest(desc.digest).display(),
        "mediaType": desc.media_type,
        "digest": desc.digest,
        "size": desc.size,
        "artifactType": artifact.artifact_type,
    }
    if artifact.tag:
        out["tag"] = artifact.tag
    if desc.annotations:
        out["annotations"] = dict(desc.annotations)
    out["manifests"] = [_artifact_json(root, a) for a in artifact.referrers]
    return out


def _artifact_tree(artifacts: Sequence[Any], prefix: str) -> list[str]:
    """``oras discover``'s tree: artifact types, the digests of each under it, their referrers under those."""
    groups: dict[str, list[Any]] = {}
    for artifact in artifacts:
        groups.setdefault(artifact.artifact_type, []).append(artifact)
    lines: list[str] = []
    for i, (kind, members) in enumerate(groups.items()):
        last = i == len(groups) - 1
        lines.append(prefix + ("└── " if last else "├── ") + shown(kind))
        inner = prefix + ("    " if last else "│   ")
        for j, artifact in enumerate(members):
            member_last = j == len(members) - 1
            label = artifact.descriptor.digest + (f" ({shown(artifact.tag)})" if artifact.tag else "")
            lines.append(inner + ("└── " if member_last else "├── ") + label)
            lines.extend(_artifact_tree(artifact.referrers, inner + ("    " if member_last else "│   ")))
    return lines


# ---------------------------------------------------------------------------------------------
# container entrypoints: the Kubernetes init container and the KServe storage container. Both
# build a 'kit unpack' command line from their environment and run it here, in-process, so that
# the flags users pass (EXTRA_FLAGS, KIT_UNPACK_FLAGS) mean exactly what they mean to kit unpack.


def _unpack_context(args: Sequence[str], verify_key: Any, source: str) -> click.Context:
    """``kit unpack ARGS`` parsed, ready to invoke; ``verify_key`` (a path or PEM bytes) wins over
    any --verify-key in ARGS. A flag unpack does not take is the environment's fault: exit 1."""
    from kitops.integrations.kubernetes import EntrypointError

    hint = f"{source} holds 'kit unpack' flags: run 'kit unpack --help' to see them"
    try:
        sub = unpack.make_context("unpack", list(args), parent=click.get_current_context().find_root())
    except click.UsageError as exc:
        raise EntrypointError(f"{source}: {exc.format_message()}", hint=hint) from None
    except click.exceptions.Exit:  # --help: an entrypoint that unpacked nothing has not succeeded
        raise EntrypointError(f"{source} asks for help; nothing was unpacked", hint=hint) from None
    if verify_key is not None:
        sub.params["verify_key"] = verify_key
    return sub


def _run_unpack(ctx: Ctx, sub: click.Context) -> None:
    """Run the parsed ``kit unpack`` of an entrypoint with the settings its command runs with, or
    anew when its flags hold global options of their own (``-v`` in EXTRA_FLAGS takes effect)."""
    with sub:
        if any(sub.meta[_GIVEN][-1].values()):
            unpack.invoke(sub)
        else:
            sub.obj = ctx
            click.Command.invoke(unpack, sub)


def _version_info(ctx: Ctx) -> None:
    """What the upstream entrypoints log first with 'kit version': which kit runs."""
    from kitops.cli.text import version_text

    ctx.echo("Binary version info:")
    ctx.echo(version_text())


@cli.command("init-container", short_help="Verify and unpack $MODELKIT_REF (a Kubernetes init container).")
def init_container() -> None:
    """Unpack the ModelKit that environment variables name, as the KitOps init container does.

    \b
    MODELKIT_REF   the ModelKit to unpack (required)
    UNPACK_PATH    the directory to unpack into (default /home/user/modelkit/)
    UNPACK_FILTER  what to unpack, as 'kit unpack --filter' (default model)
    EXTRA_FLAGS    more 'kit unpack' flags (default --ignore-existing); a -d/--dir
                   among them replaces UNPACK_PATH
    COSIGN_KEY     a public key (cosign.pub: path or PEM text); the ModelKit is
                   refused, with nothing written, unless it verifies a signature of it

    Exits 1 when the environment is wrong or the unpack fails.
    """
    from kitops.integrations import kubernetes

    ctx = _obj()
    plan = run(ctx, lambda _c: kubernetes.init_container_plan(os.environ))
    sub = run(ctx, lambda _c: _unpack_context(plan.unpack_args, plan.verify_key, "EXTRA_FLAGS"))
    verifying, *unpacking = plan.messages
    ctx.echo(verifying)
    _version_info(ctx)
    for line in unpacking:
        ctx.echo(line)
    _run_unpack(ctx, sub)


@cli.command("kserve-storage", short_help="Unpack a kit:// ModelKit for KServe (a storage container).")
@click.argument("args", nargs=-1, metavar="SRC_URI DEST_PATH")
def kserve_storage(args: tuple[str, ...]) -> None:
    """Unpack SRC_URI (kit://<reference>) into DEST_PATH, as KServe's ClusterStorageContainer runs it.

    \b
    KIT_USER, KIT_PASSWORD  log in to the ModelKit's registry first
    KIT_UNPACK_FLAGS        more 'kit unpack' flags, e.g. '--filter model'
    COSIGN_KEY              a public key (cosign.pub: path or PEM text): refuse
                            the ModelKit, writing nothing, unless it verifies a signature
    DOCKER_CONFIG           a directory whose config.json holds registry credentials

    Exits 1 with a usage line unless given exactly two arguments.
    """
    from pathlib import Path

    from kitops import api
    from kitops.integrations import kubernetes

    ctx = _obj()
    if len(args) != 2:
        click.echo(kubernetes.KSERVE_USAGE, err=True)
        sys.exit(1)
    src_uri, dest = args
    _version_info(ctx)
    plan = run(ctx, lambda _c: kubernetes.kserve_plan(src_uri, dest, os.environ))
    sub = run(ctx, lambda _c: _unpack_context(plan.unpack_args, plan.verify_key, "KIT_UNPACK_FLAGS"))
    credentials = run(ctx, lambda _c: kubernetes.kserve_login(plan.ref, os.environ, home=ctx.home))
    if credentials is not None:
        ctx.echo(f"Logging in using repo url: {credentials.registry}")
        network = make_network(dict(sub.params))  # the unpack's own --plain-http, --ca-file...
        run(
            ctx,
            lambda _c: api.login(
                credentials.registry,
                username=credentials.username,
                password=credentials.password,
                home=ctx.home,
                network=network,
            ),
        )
        ctx.echo("Log in successful")
    for line in plan.messages:
        ctx.echo(line)
    _run_unpack(ctx, sub)
    kitfile = Path(dest) / "Kitfile"
    if kitfile.is_file():  # a filtered unpack may leave none: nothing to show then, not an error
        ctx.echo("Unpacked modelkit:")
        ctx.echo(kitfile.read_text(errors="replace").rstrip("\n"))


def _add_image_group() -> None:
    """``kit image`` lives in its own module, which builds on this one's helpers (imported here
    last, once they are all defined) and adds itself to ``cli``. Adding it here as well covers
    ``python -m kitops.cli.main``, where that module adds itself to the copy of this one imported
    under its own name, not to the one running."""
    from kitops.cli import image

    group = getattr(image, "image", None)  # absent while kitops.cli.image is itself importing this
    if group is not None:
        cli.add_command(group)


_add_image_group()


def main() -> None:
    """The ``kit`` console script."""
    cli(prog_name="kit")


if __name__ == "__main__":
    main()
