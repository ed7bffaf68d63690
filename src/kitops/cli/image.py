"""``kit image``: runnable container images built from ModelKits, with no container engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kitops.cli.main import (
    KitGroup,
    _cosign_password,
    _obj,
    cli,
    make_network,
    network_options,
    run,
    shown,
    upload_options,
)
from kitops.cli.text import format_bytes
from kitops.progress import Cancel

if TYPE_CHECKING:
    from kitops.api import ImageBuildResult


@click.group(cls=KitGroup, short_help="Build runnable container images from ModelKits.")
def image() -> None:
    """Build a container image from a ModelKit on top of a base image, and inspect one.

    \b
    Examples:
      kit image build registry.example.com/team/llm:v1 \\
          --base ghcr.io/ggml-org/llama.cpp:server -t registry.example.com/team/llm-server:v1 \\
          --cmd '["-m", "/model/model.gguf", "--host", "0.0.0.0"]'
      kit image inspect registry.example.com/team/llm-server:v1
    """


@image.command("build", short_help="Build a runnable image from a ModelKit and a base image.")
@click.argument("modelkit")
@click.option("--base", required=True, metavar="IMAGE", help="Base image (any registry; OCI or Docker).")
@click.option(
    "-t", "--tag", "target", required=True, metavar="REF", help="The image to write: REGISTRY/REPO:TAG."
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="FILTER",
    help="ModelKit layers to include, as kit unpack --filter (model,code,...). Default: all.",
)
@click.option(
    "--workdir",
    default="/",
    show_default=True,
    metavar="DIR",
    help="Where the ModelKit's files go, and the image's working directory. Only '/' lets the image "
    "share the ModelKit's layer blobs (stored once on the registry); any other directory rewrites "
    "every layer with the prefix, which costs that sharing.",
)
@click.option(
    "--entrypoint",
    metavar="ARGV",
    help='A JSON array (\'["python", "serve.py"]\') or words split as a shell would; no shell runs it.',
)
@click.option("--cmd", metavar="ARGV", help="Default arguments, written as --entrypoint.")
@click.option("--env", multiple=True, metavar="KEY=VALUE", help="Set an environment variable. Repeatable.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Add a label. Repeatable.")
@click.option(
    "--platform",
    metavar="OS/ARCH",
    help="Platform to take from a multi-platform base (default: this machine's).",
)
@click.option("--push", is_flag=True, help="Push the image to the registry of -t (the default).")
@click.option("--oci-layout", metavar="DIR", help="Write the image into this OCI layout directory instead.")
@click.option(
    "--sign-key", metavar="PATH", help="Sign the pushed image with this private key, as kit sign does."
)
@network_options
@upload_options
def build(
    modelkit: str,
    base: str,
    target: str,
    filters: tuple[str, ...],
    workdir: str,
    entrypoint: str | None,
    cmd: str | None,
    env: tuple[str, ...],
    labels: tuple[str, ...],
    platform: str | None,
    push: bool,
    oci_layout: str | None,
    sign_key: str | None,
    **net: Any,
) -> None:
    """Build an image from MODELKIT (local storage, else its registry): the base image's layers,
    then one layer per ModelKit layer, with the ModelKit's files under --workdir. No Docker
    daemon or other container engine is needed. Base layers stream from the base's registry to
    the target's; ModelKit layers the target registry holds already are mounted or skipped.
    The key's password for --sign-key comes from $COSIGN_PASSWORD or a prompt.
    """
    from kitops import api

    ctx = _obj()

    def body(cancel: Cancel) -> None:
        with ctx.progress() as progress:
            result = api.build_image(
                modelkit,
                base=base,
                target=target,
                push=push or None,
                oci_layout=oci_layout,
                filters=filters,
                workdir=workdir,
                entrypoint=entrypoint,
                cmd=cmd,
                env=env,
                labels=labels,
                platform=platform,
                signing_key=sign_key,
                password=_cosign_password(confirm=False),
                home=ctx.home,
                network=make_network(net),
                progress=progress,
                cancel=cancel,
            )
        _report_build(result)

    run(ctx, body, context="Failed to build the image")


def _report_build(result: ImageBuildResult) -> None:
    ctx = _obj()
    ctx.echo(f"Base {result.base.digest} ({result.platform})")
    for layer in result.layers:
        how = "shared with the ModelKit" if layer.source is not None else "rewritten"
        ctx.echo(
            f"Layer {layer.descriptor.digest} {format_bytes(layer.descriptor.size)} "
            f"{layer.kind} {shown(layer.path)} ({how})"
        )
    if result.converted:
        ctx.echo("Written as an OCI image (the Docker base cannot list zstd layers)")
    where = f" in {shown(str(result.oci_layout))}" if result.oci_layout is not None else ""
    ctx.echo(f"Built {shown(result.reference.display())}@{result.descriptor.digest}{where}")
    if result.signature is not None:
        ctx.echo(f"Signed {result.descriptor.digest} ({result.signature.digest})")


@image.command("inspect", short_help="Show an image's base and ModelKit layers.")
@click.argument("image_ref", metavar="IMAGE")
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--platform", metavar="OS/ARCH", help="Platform to show from a multi-platform image.")
@network_options
def inspect(image_ref: str, fmt: str, platform: str | None, **net: Any) -> None:
    """Show what IMAGE (a registry reference, or an OCI layout DIR[:TAG]) is made of: its base
    layers and the layers kit image build added, each with the ModelKit entry it came from."""
    from kitops import api
    from kitops.imagebuild.inspect import as_json, as_table

    ctx = _obj()

    def body(_cancel: Cancel) -> None:
        summary = api.inspect_image(image_ref, platform=platform, home=ctx.home, network=make_network(net))
        ctx.echo(as_json(summary) if fmt == "json" else as_table(summary))

    run(ctx, body)


cli.add_command(image)  # also when this module is imported first (see kitops.cli.main._add_image_group)
