"""The ``push-modelkit`` and ``unpack-modelkit`` console scripts: drop-in for the upstream
Kubeflow component scripts (``push-modelkit.sh``, ``unpack-modelkit.sh``), without bash, ``jq``,
``kit`` or ``cosign`` binaries.

Same command lines, same ``/tmp/outputs/{reference,digest,model_path}`` files (no trailing
newline; ``KITOPS_OUTPUTS_DIR`` moves them), same log lines, one JSON object each
(``{"timestamp","level","request_id","message","extra"}``; errors on stderr, the rest on stdout,
filtered by ``LOG_LEVEL`` = ``DEBUG|INFO|WARN|ERROR``, tagged with ``REQUEST_ID``), the same final
JSON document on stdout (indented as ``jq`` prints it, which is what scripts written against the
upstream output cut out), and exit status 1 for every failure.

Beyond upstream: ``push-modelkit --use-model-pack`` (the CNCF ModelPack format),
``unpack-modelkit --filter F`` (repeatable: what ``kit unpack --filter`` selects) and
``--verify-key PATH`` (refuse, before writing anything, a ModelKit without a signature or KitOps
attestation by that key). The signing key is ``/etc/cosign/cosign.key`` (``KITOPS_COSIGN_KEY``
moves it; ``COSIGN_PASSWORD`` unlocks it); retries are 3 attempts 2 s apart
(``KITOPS_RETRY_ATTEMPTS``, ``KITOPS_RETRY_DELAY``).

Registry credentials come from the Docker ``config.json`` in ``$DOCKER_CONFIG`` (then kitops'
own, from ``kit login``). ``push-modelkit`` does not require the variable, as the upstream script
the Kubeflow docs describe does not (a registry may take no credentials, or ``kit login`` ones);
``unpack-modelkit`` requires it, as upstream does: pipelines written for those scripts set it,
and a step whose secret is not wired in fails at once, naming the variable.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitops.errors import KitError
from kitops.integrations.kubeflow import core

PUSH_USAGE = "Usage: push-modelkit <registry> <repository> <tag> --modelkit-dir <path> [options]"
UNPACK_USAGE = "Usage: unpack-modelkit <modelkit_reference> [extract_path] [options]"
PUSH_HELP = f"""{PUSH_USAGE}

Pack a directory as <registry>/<repository>:<tag> and push it; sign and attest it when
/etc/cosign/cosign.key exists.

Options:
  --modelkit-dir PATH    directory with the artifacts (a Kitfile is generated when it has none)
  --name NAME            package name for the generated Kitfile
  --desc TEXT            package description for the generated Kitfile
  --author NAME          package author for the generated Kitfile
  --dataset-uri URI      recorded in the attestation
  --code-repo URL        recorded in the attestation
  --code-commit SHA      recorded in the attestation
  --use-model-pack       pack the CNCF ModelPack format instead of the Kit format
"""
UNPACK_HELP = f"""{UNPACK_USAGE}

Unpack a ModelKit into extract_path (default /tmp/model).

Options:
  --filter FILTER        what to unpack, as kit unpack --filter (repeatable)
  --verify-key PATH      public key (cosign.pub) that must verify a signature or
                         KitOps attestation of the ModelKit before anything is written
"""

DEFAULT_OUTPUTS_DIR = "/tmp/outputs"
DEFAULT_EXTRACT_PATH = core.DEFAULT_EXTRACT_PATH
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130

_PUSH_FLAGS = {
    "--modelkit-dir": "modelkit_dir",
    "--name": "name",
    "--desc": "desc",
    "--author": "author",
    "--dataset-uri": "dataset_uri",
    "--code-repo": "code_repo",
    "--code-commit": "code_commit",
}
_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")

log = core.log


class _Die(Exception):
    """Stop the script: log ``message`` as an error and exit 1 (the upstream scripts' ``die``)."""

    def __init__(self, message: str, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = dict(extra or {})


# ---------------------------------------------------------------------------------------------
# JSON log lines


def utc_timestamp(now: _dt.datetime | None = None) -> str:
    moment = now or _dt.datetime.now(_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def level_name(levelno: int) -> str:
    """The upstream scripts' level names: ``WARN``, not Python's ``WARNING``."""
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARN"
    return "INFO" if levelno >= logging.INFO else "DEBUG"


class JsonLineHandler(logging.Handler):
    """One compact JSON object per record, keys in the upstream order; errors to stderr."""

    def __init__(self, request_id: str, level: int) -> None:
        super().__init__(level)
        self.request_id = request_id

    def emit(self, record: logging.LogRecord) -> None:
        try:
            extra = getattr(record, "extra", None)
            line = json.dumps(
                {
                    "timestamp": utc_timestamp(),
                    "level": level_name(record.levelno),
                    "request_id": self.request_id,
                    "message": record.getMessage(),
                    "extra": extra if isinstance(extra, dict) else {},
                },
                separators=(",", ":"),
                ensure_ascii=False,
                default=str,
            )
            stream = sys.stderr if record.levelno >= logging.ERROR else sys.stdout
            stream.write(line + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def json_logging(environ: Mapping[str, str]) -> Iterator[None]:
    """Route kitops' log records to :class:`JsonLineHandler` for the length of one script run:
    the Kubeflow steps' records at ``LOG_LEVEL``, the library's own only from ``WARN`` up unless
    ``LOG_LEVEL=DEBUG`` (they are details of the steps, not steps)."""
    level = _LEVELS.get(environ.get("LOG_LEVEL", "INFO").strip().upper(), logging.INFO)
    handler = JsonLineHandler(environ.get("REQUEST_ID", ""), level)
    library = logging.getLogger("kitops")
    saved = (library.level, library.propagate, log.level)
    library.addHandler(handler)
    library.setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)
    library.propagate = False  # a host's root handler would print every line a second time
    log.setLevel(level)
    try:
        yield
    finally:
        library.removeHandler(handler)
        library.setLevel(saved[0])
        library.propagate = saved[1]
        log.setLevel(saved[2])


# ---------------------------------------------------------------------------------------------
# command lines


@dataclass
class PushArgs:
    registry: str
    repository: str
    tag: str
    modelkit_dir: str = ""
    name: str = ""
    desc: str = ""
    author: str = ""
    dataset_uri: str = ""
    code_repo: str = ""
    code_commit: str = ""
    use_model_pack: bool = False


@dataclass
class UnpackArgs:
    reference: str
    extract_path: str = DEFAULT_EXTRACT_PATH
    filters: list[str] = field(default_factory=list)
    verify_key: str = ""


def parse_push(args: Sequence[str]) -> PushArgs:
    """The upstream script's arguments: three positional ones, then flags that each take a value
    (``--flag VALUE`` or ``--flag=VALUE``); ``--use-model-pack`` alone means true."""
    if len(args) < 3:
        raise _Die(PUSH_USAGE)
    parsed = PushArgs(args[0], args[1], args[2])
    rest = list(args[3:])
    while rest:
        arg = rest.pop(0)
        flag, has_value, inline = arg.partition("=")
        if flag == "--use-model-pack":
            parsed.use_model_pack = _boolean(flag, inline) if has_value else True
            continue
        attr = _PUSH_FLAGS.get(flag)
        if attr is None:
            raise _Die(f"Unknown argument: {arg}")
        setattr(parsed, attr, inline if has_value else _value(flag, rest))
    return parsed


def parse_unpack(args: Sequence[str]) -> UnpackArgs:
    """``<modelkit_reference> [extract_path]`` (an empty path is the default, as ``${2:-…}``),
    plus ``--filter`` (repeatable) and ``--verify-key`` anywhere."""
    positional: list[str] = []
    filters: list[str] = []
    verify_key = ""
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        flag, has_value, inline = arg.partition("=")
        if flag in ("--filter", "--verify-key"):
            value = inline if has_value else _value(flag, rest)
            if flag == "--filter":
                filters.append(value)
            else:
                verify_key = value
        elif arg.startswith("--") or len(positional) == 2:
            raise _Die(f"Unknown argument: {arg}")
        else:
            positional.append(arg)
    if not positional:
        raise _Die(UNPACK_USAGE)
    return UnpackArgs(positional[0], (positional[1:] or [""])[0] or DEFAULT_EXTRACT_PATH, filters, verify_key)


def _value(flag: str, rest: list[str]) -> str:
    if not rest:
        raise _Die(f"Missing value for {flag}")
    return rest.pop(0)


def _boolean(flag: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _Die(f"Invalid value for {flag}: {text!r} (use true or false)")


# ---------------------------------------------------------------------------------------------
# the scripts


def push_main(argv: Sequence[str] | None = None) -> int:
    """``push-modelkit``: pack, push, attest; write ``reference`` and ``digest`` outputs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(PUSH_HELP)
        return 0
    env = os.environ
    with json_logging(env):
        return _run(lambda: _push(args, env))


def unpack_main(argv: Sequence[str] | None = None) -> int:
    """``unpack-modelkit``: unpack (verified first with ``--verify-key``); write ``model_path``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(UNPACK_HELP)
        return 0
    env = os.environ
    with json_logging(env):
        return _run(lambda: _unpack(args, env))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kitops.integrations.kubeflow.cli push|unpack ARGS…``."""
    args = list(sys.argv[1:] if argv is None else argv)
    scripts = {"push": push_main, "unpack": unpack_main}
    if not args or args[0] not in scripts:
        sys.stderr.write("usage: python -m kitops.integrations.kubeflow.cli push|unpack ARGS...\n")
        return 2
    return scripts[args[0]](args[1:])


def _push(args: Sequence[str], env: Mapping[str, str]) -> None:
    opts = parse_push(args)
    if not opts.modelkit_dir:
        raise _Die("Must specify --modelkit-dir")
    if not Path(opts.modelkit_dir).is_dir():
        raise _Die(f"ModelKit directory not found: {opts.modelkit_dir}")
    _check_docker_config(env, required=False)
    attempts, delay = _retries(env)
    outputs = _outputs_dir(env)
    result = core.push_modelkit(
        opts.registry,
        opts.repository,
        opts.tag,
        modelkit_dir=opts.modelkit_dir,
        name=opts.name,
        description=opts.desc,
        author=opts.author,
        dataset_uri=opts.dataset_uri,
        code_repo=opts.code_repo,
        code_commit=opts.code_commit,
        use_model_pack=opts.use_model_pack,
        signing_key=core.default_signing_key(env),
        password=env.get("COSIGN_PASSWORD"),
        attempts=attempts,
        delay=delay,
    )
    _write_output(outputs / "reference", result.ref)  # the tag, e.g. jozu.ml/team/model:v1
    _write_output(outputs / "digest", result.full_ref)  # a digest *reference*: …/model@sha256:…
    _print_result(
        {
            "reference": result.full_ref,
            "digest": result.digest,
            "timestamp": utc_timestamp(),
            "status": "success",
        }
    )
    log.info("Push workflow completed", extra={"extra": {}})


def _unpack(args: Sequence[str], env: Mapping[str, str]) -> None:
    opts = parse_unpack(args)
    _check_docker_config(env, required=True)
    attempts, delay = _retries(env)
    outputs = _outputs_dir(env)
    path = core.unpack_modelkit(
        opts.reference,
        opts.extract_path,
        filters=opts.filters,
        verify_key=opts.verify_key or None,
        attempts=attempts,
        delay=delay,
    )
    _write_output(outputs / "model_path", path)
    _print_result(
        {
            "model_path": path,
            "modelkit_reference": opts.reference,
            "timestamp": utc_timestamp(),
            "status": "success",
        }
    )
    log.info("Unpack workflow completed", extra={"extra": {}})


def _run(body: Callable[[], None]) -> int:
    """Run a script body; every failure is one ERROR line on stderr and exit status 1."""
    try:
        body()
    except _Die as exc:
        log.error(exc.message, extra={"extra": exc.extra})
        return EXIT_FAILURE
    except core.StepFailed as exc:
        log.error(exc.step, extra={"extra": _error_extra(exc.cause)})
        return EXIT_FAILURE
    except KitError as exc:
        log.error(exc.message, extra={"extra": _error_extra(exc)})
        return EXIT_FAILURE
    except OSError as exc:
        log.error(f"{exc.strerror or exc}", extra={"extra": {"path": str(exc.filename or "")}})
        return EXIT_FAILURE
    except KeyboardInterrupt:
        log.error("Interrupted")
        return EXIT_INTERRUPTED
    return 0


def _error_extra(exc: KitError) -> dict[str, str]:
    extra = {"error": exc.message}
    if exc.hint:
        extra["hint"] = exc.hint
    return extra


def _check_docker_config(env: Mapping[str, str], *, required: bool) -> None:
    docker_config = env.get("DOCKER_CONFIG", "")
    if not docker_config:
        if required:
            raise _Die("Required environment variable not set: DOCKER_CONFIG")
        return
    config = Path(docker_config) / "config.json"
    if not config.is_file():  # a secret mounted under another key, or not mounted at all
        log.warning(
            "No config.json in DOCKER_CONFIG: no registry credentials from it",
            extra={"extra": {"path": str(config)}},
        )


def _retries(env: Mapping[str, str]) -> tuple[int, float]:
    try:
        attempts = int(env.get("KITOPS_RETRY_ATTEMPTS") or core.DEFAULT_ATTEMPTS)
        delay = float(env.get("KITOPS_RETRY_DELAY") or core.DEFAULT_DELAY)
    except ValueError:
        raise _Die("KITOPS_RETRY_ATTEMPTS must be an integer and KITOPS_RETRY_DELAY a number") from None
    if attempts < 1 or delay < 0:
        raise _Die("KITOPS_RETRY_ATTEMPTS must be at least 1 and KITOPS_RETRY_DELAY not negative")
    return attempts, delay


def _outputs_dir(env: Mapping[str, str]) -> Path:
    path = Path(env.get("KITOPS_OUTPUTS_DIR") or DEFAULT_OUTPUTS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_output(path: Path, value: str) -> None:
    path.write_text(value, encoding="utf-8")  # no newline: KFP reads the file as the value


def _print_result(result: Mapping[str, str]) -> None:
    sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
