"""Runnable images: ``kit image build`` and ``kit image inspect``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kitops.api._common import Home, _remotes, local_store, log
from kitops.api.signing import KeySource, Password, _signing_key
from kitops.errors import KitError, NotFoundError, UsageError
from kitops.modelkit.read import ModelKit, load_modelkit_at
from kitops.netopts import NetworkKeywords, build_network
from kitops.oci.models import Descriptor
from kitops.oci.reference import Reference, parse_single
from kitops.progress import Cancel, Progress
from kitops.settings import cache_dir, kitops_home
from kitops.store.layout import LocalRepository, LocalStore

if TYPE_CHECKING:  # types only: httpx, the registry client and the pack/unpack code load when a command runs
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it

    from kitops.imagebuild.inspect import ImageSummary
    from kitops.imagebuild.layers import ImageLayer
    from kitops.registry.remote import Remotes
    from kitops.store.base import ReadableStore, Store


@dataclass(frozen=True)
class ImageBuildResult:
    """The image built: where it went (``reference`` on a registry, or ``oci_layout`` a
    directory), its manifest, the base manifest it starts from and the platform, the ModelKit
    layers added (each with the ModelKit entry it came from), and the signature when signed.
    ``converted``: a Docker v2s2 base was written as an OCI image (zstd layers need one)."""

    reference: Reference
    descriptor: Descriptor
    base: Descriptor
    platform: str
    layers: tuple[ImageLayer, ...]
    oci_layout: Path | None = None
    signature: Descriptor | None = None
    converted: bool = False


def build_image(
    ref: str,
    *,
    base: str,
    target: str,
    push: bool | None = None,
    oci_layout: str | os.PathLike[str] | None = None,
    filters: Sequence[str] = (),
    workdir: str = "/",
    entrypoint: str | Sequence[str] | None = None,
    cmd: str | Sequence[str] | None = None,
    env: Mapping[str, str] | Sequence[str] = (),
    labels: Mapping[str, str] | Sequence[str] = (),
    platform: str | None = None,
    signing_key: KeySource | None = None,
    password: Password = None,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    **net: Unpack[NetworkKeywords],
) -> ImageBuildResult:
    """Build a runnable container image from the ModelKit ``ref`` on top of the image ``base``
    and push it as ``target`` (or, with ``oci_layout``, write it into that OCI layout directory
    under the name ``target``). No container engine is involved.

    ``ref`` is read from local storage when it is there, else from its registry. Each selected
    ModelKit layer (``filters`` as ``kit unpack --filter``) becomes one image layer; with the
    default ``workdir="/"`` a tar layer is the very ModelKit blob (stored once on a registry),
    any other ``workdir`` rewrites it with the prefix (a new blob). ``entrypoint`` and ``cmd``
    are argv lists, or strings (a JSON array, or words split as a shell would); ``env`` and
    ``labels`` are mappings or ``KEY=VALUE`` items. ``platform`` (``os/arch[/variant]``, default
    this machine's) picks the image from a multi-platform base. ``signing_key`` signs the pushed
    image as :func:`sign` signs a ModelKit. ``SOURCE_DATE_EPOCH`` fixes the creation time.
    """
    import tempfile

    from kitops.imagebuild import build as builder
    from kitops.imagebuild.base import Platform
    from kitops.imagebuild.config import RunSettings, check_workdir, created_time
    from kitops.modelkit.unpack import parse_filters
    from kitops.store import ocilayout

    network = build_network("build_image", net)
    if push and oci_layout is not None:
        raise UsageError(
            "--push and --oci-layout cannot be used together", hint="choose where the image goes"
        )
    if oci_layout is not None and signing_key is not None:
        raise UsageError("--sign-key applies to a pushed image", hint="push it, or sign it after loading it")
    target_ref = parse_single(target, what="target reference")
    if oci_layout is None and target_ref.is_local_only:
        raise UsageError(
            "the target must name a registry", hint="e.g. -t registry.example.com/team/model-server:v1"
        )
    if oci_layout is not None and not target_ref.tag:
        raise UsageError("the target must have a tag to name the image in the layout")
    base_ref = parse_single(base, what="base image")
    if base_ref.is_local_only:
        raise UsageError("--base must name a registry", hint="e.g. --base docker.io/library/python:3.12-slim")
    settings = RunSettings(
        workdir=check_workdir(workdir),
        entrypoint=_argv(entrypoint, "--entrypoint"),
        cmd=_argv(cmd, "--cmd"),
        env=_pairs(env, "--env"),
        labels=_pairs(labels, "--label"),
    )
    chosen = Platform.parse(platform) if platform else Platform.host()
    unpack_filters = parse_filters(list(filters))
    private_key = _signing_key(signing_key, password) if signing_key is not None else None
    created = created_time()
    kit_ref = parse_single(ref)
    store = local_store(home)
    scratch_root = cache_dir(kitops_home(home)) / "image-build"
    scratch_root.mkdir(parents=True, exist_ok=True)
    with (
        _remotes(home, network) as remotes,
        store.leased(),
        tempfile.TemporaryDirectory(dir=scratch_root) as scratch,
    ):
        kit_store, kit = _image_source(store, remotes, kit_ref)
        if (
            oci_layout is None
            and isinstance(kit_store, LocalRepository)
            and kit_ref.registry == target_ref.registry
        ):
            _find_on_registry(remotes, kit_ref, kit)
        inputs = builder.BuildInputs(
            kit=kit,
            kit_store=kit_store,
            kit_name=kit_ref.display(),
            base_store=remotes.repository(base_ref),
            base_ref=base_ref.reference,
            base_name=base_ref.display(),
            platform=chosen,
            settings=settings,
            created=created,
            filters=unpack_filters,
        )
        signature = None

        def build_into(dst: Store, tag: str | None) -> builder.BuiltImage:
            return builder.build_image(
                inputs,
                dst,
                Path(scratch),
                tag=tag,
                concurrency=network.concurrency,
                progress=progress,
                cancel=cancel,
            )

        if oci_layout is not None:
            with ocilayout.writing(Path(oci_layout), "oci-dir") as layout:
                built = build_into(layout, target_ref.display())
        else:
            dst = remotes.repository(target_ref)
            built = build_into(dst, target_ref.tag)
            if private_key is not None:
                from kitops.signing.storage import sign_manifest

                signature = sign_manifest(
                    dst, built.descriptor, private_key, docker_reference=target_ref.repo_key
                )
    return ImageBuildResult(
        target_ref,
        built.descriptor,
        built.base.descriptor,
        str(built.base.platform or chosen),
        built.layers,
        Path(oci_layout) if oci_layout is not None else None,
        signature,
        built.converted,
    )


def _image_source(store: LocalStore, remotes: Remotes, ref: Reference) -> tuple[ReadableStore, ModelKit]:
    """Where an image build reads the ModelKit: local storage when it holds it, else its registry."""
    repo = store.repository(ref.repo_key)
    try:
        return repo, load_modelkit_at(repo, repo.resolve(ref.reference))
    except NotFoundError:
        if ref.is_local_only:
            raise NotFoundError(
                f"model {ref.display()} not found", hint="run 'kit list' to see what is stored"
            ) from None
    remote = remotes.repository(ref)
    try:
        desc = remote.resolve(ref.reference)
    except NotFoundError:
        raise NotFoundError(
            f"model {ref.display()} not found (neither in local storage nor on {ref.registry})"
        ) from None
    return remote, load_modelkit_at(remote, desc)


def _find_on_registry(remotes: Remotes, ref: Reference, kit: ModelKit) -> None:
    """Ask the ModelKit's own repository for its layers (one HEAD each) when the image goes to
    the same registry: those found there are then mounted into the image's repository, not
    uploaded again, even when the ModelKit was read from local storage."""
    repo = remotes.repository(ref)
    for layer in kit.manifest.layers:
        try:
            repo.exists(layer)  # a blob found is remembered where the upload looks for mounts
        except KitError as exc:
            log.debug("cannot look for %s in %s: %s", layer.digest, ref.repo_key, exc)
            return


def _argv(value: str | Sequence[str] | None, what: str) -> tuple[str, ...] | None:
    from kitops.imagebuild.config import parse_command

    if value is None:
        return None
    return parse_command(value, what) if isinstance(value, str) else tuple(value)


def _pairs(value: Mapping[str, str] | Sequence[str], what: str) -> tuple[tuple[str, str], ...]:
    from kitops.imagebuild.config import parse_pairs

    if isinstance(value, Mapping):
        return parse_pairs([f"{k}={v}" for k, v in value.items()], what)
    return parse_pairs(list(value), what)


def inspect_image(
    image: str,
    *,
    platform: str | None = None,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> ImageSummary:
    """What the image ``image`` is made of: base layers and the ModelKit layers ``kit image
    build`` added, each with the ModelKit entry it came from. ``image`` is a registry reference,
    or an OCI layout directory (``DIR``, or ``DIR:TAG`` for one of several images in it)."""
    from kitops.imagebuild.base import Platform
    from kitops.imagebuild.inspect import summarize
    from kitops.store import ocilayout

    network = build_network("inspect_image", net)
    chosen = Platform.parse(platform) if platform else Platform.host()
    layout = _layout_name(image)
    if layout is not None:
        directory, name = layout
        source = ocilayout.OciLayoutDir.open(directory)
        if name is None:
            entries = source.index.entries
            if len(entries) != 1:
                raise UsageError(
                    f"{directory} holds {len(entries)} images", hint=f"name one: {directory}:TAG"
                )
            name = entries[0].digest
        return summarize(source, name, chosen, name=image)
    parsed = parse_single(image, what="image")
    if parsed.is_local_only:
        raise UsageError(f"{image} is neither a registry reference nor an OCI layout directory")
    with _remotes(home, network) as remotes:
        return summarize(remotes.repository(parsed), parsed.reference, chosen, name=parsed.display())


def _layout_name(text: str) -> tuple[Path, str | None] | None:
    """``DIR`` or ``DIR:NAME`` when DIR is an OCI layout directory; None for anything else."""
    if Path(text, "oci-layout").is_file():
        return Path(text), None
    directory, sep, name = text.rpartition(":")
    if sep and directory and Path(directory, "oci-layout").is_file():
        return Path(directory), name
    return None
