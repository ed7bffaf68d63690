"""The image config of a built image: the base image's, with the ModelKit layers appended and
the run settings (environment, working directory, entrypoint, labels) updated."""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kitops.errors import UsageError
from kitops.imagebuild.layers import ImageLayer

LABEL_SOURCE = "org.opencontainers.image.source"
LABEL_MODELKIT_REF = "ml.kitops.modelkit.ref"
LABEL_MODELKIT_DIGEST = "ml.kitops.modelkit.digest"


@dataclass(frozen=True)
class RunSettings:
    """What ``--workdir``, ``--entrypoint``, ``--cmd``, ``--env`` and ``--label`` ask for
    (None: keep the base image's)."""

    workdir: str = "/"
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = field(default=())


def parse_command(text: str, what: str) -> tuple[str, ...]:
    """A JSON array of strings (exec form), or words split as a POSIX shell would split them
    (no shell runs it: the words are the argv)."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except ValueError as exc:
            raise UsageError(f"{what} is not a valid JSON array: {exc}") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{what} must be a JSON array of strings")
        return tuple(value)
    try:
        return tuple(shlex.split(stripped))
    except ValueError as exc:
        raise UsageError(f"{what} cannot be split into words: {exc}") from None


def parse_pairs(items: Sequence[str], what: str) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` items (the value may hold ``=``; it may be empty, the key may not)."""
    out = []
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UsageError(f"invalid {what} {item!r}: expected KEY=VALUE")
        out.append((key, value))
    return tuple(out)


def check_workdir(workdir: str) -> str:
    """An absolute, normalised directory without ``..`` (the image's WorkingDir)."""
    if not workdir.startswith("/"):
        raise UsageError(f"--workdir {workdir!r} must be an absolute path", hint="e.g. --workdir /app")
    parts = [p for p in workdir.split("/") if p and p != "."]
    if ".." in parts:
        raise UsageError(f"--workdir {workdir!r} must not contain '..'")
    return "/" + "/".join(parts)


def merge_env(current: Sequence[str], updates: Sequence[tuple[str, str]]) -> list[str]:
    """The base image's ``Env`` with each update replacing the variable of its name (in place),
    or appended when the base has none of that name."""
    out = list(current)
    for key, value in updates:
        item = f"{key}={value}"
        for i, existing in enumerate(out):
            if existing.partition("=")[0] == key:
                out[i] = item
                break
        else:
            out.append(item)
    return out


def image_config(
    base: Mapping[str, Any],
    layers: Sequence[ImageLayer],
    settings: RunSettings,
    labels: Mapping[str, str],
    created: str,
) -> bytes:
    """The new config JSON. Setting an entrypoint without a command clears the base image's
    command, as ``docker build`` does: the base's arguments were meant for its own entrypoint."""
    config: dict[str, Any] = copy.deepcopy(dict(base))
    found = config.get("rootfs")
    rootfs: dict[str, Any] = found if isinstance(found, dict) else {}
    diff_ids = list(rootfs.get("diff_ids") or [])
    config["rootfs"] = {**rootfs, "type": "layers", "diff_ids": [*diff_ids, *(x.diff_id for x in layers)]}
    history = list(config.get("history") or [])
    for layer in layers:
        history.append({"created": created, "created_by": f"kit image build: {layer.kind} {layer.path}"})
    config["history"] = history
    config["created"] = created
    run: dict[str, Any] = dict(config.get("config") or {})
    run["Env"] = merge_env(run.get("Env") or [], settings.env)
    run["WorkingDir"] = settings.workdir
    if settings.entrypoint is not None:
        run["Entrypoint"] = list(settings.entrypoint)
        if settings.cmd is None:
            run.pop("Cmd", None)
    if settings.cmd is not None:
        run["Cmd"] = list(settings.cmd)
    merged = dict(run.get("Labels") or {})
    merged.update(labels)
    merged.update(dict(settings.labels))
    run["Labels"] = merged
    config["config"] = run
    return json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def created_time() -> str:
    """The image's creation time, RFC 3339 in UTC: ``SOURCE_DATE_EPOCH``'s when it is set (the
    same inputs then give the same image digest), else now."""
    from kitops.signing.provenance import now

    return now().strftime("%Y-%m-%dT%H:%M:%SZ")
