"""Kubeflow Pipelines v2 components: push a training step's output as a ModelKit, unpack one.

Each component comes in two forms with the same inputs and outputs, so a pipeline can swap one
for the other:

- :func:`push_modelkit` and :func:`unpack_modelkit` are lightweight Python components: KFP
  copies the function's source into the pod, which runs it on :data:`KITOPS_IMAGE` (kitops and
  kfp preinstalled, so nothing is pip-installed at run time). They call
  :mod:`kitops.integrations.kubeflow.core` in-process. These are also the ones
  ``kfp.local.SubprocessRunner`` can run, which only runs lightweight components.
- :func:`push_modelkit_container` and :func:`unpack_modelkit_container` are container
  components on the same image that run the ``push-modelkit`` / ``unpack-modelkit`` console
  scripts. Every input reaches the script as its own argument (``"$1"``, ``"$2"``...): nothing is
  pasted into the shell text, so quotes or spaces in a value cannot change the command.

Inputs are the upstream components' (``registry``, ``repository``, ``tag``, ``modelkit_dir``,
``modelkit_name``/``_desc``/``_author``, ``dataset_uri``, ``code_repo``, ``code_commit``;
``modelkit_reference``, ``extract_path``) plus ``use_model_pack``, ``signing_key``,
``unpack_filter`` and ``verify_key``. Outputs are declared the KFP v2 way so the backend fills
them: ``ref`` (the tagged reference), ``digest`` (the pinned ``registry/repository@sha256:...``
reference, as upstream's ``digest`` output), and for unpack ``model`` (the unpacked files as an
artifact the next step can take as ``dsl.Input[dsl.Artifact]``) and ``model_path`` (the
directory the files were written to).

Registry credentials come from the Docker ``config.json`` under ``$DOCKER_CONFIG`` (mount the
``docker-config`` secret there); a cosign key mounted at ``signing_key`` makes push sign the
ModelKit and attest it (an in-toto ``https://kitops.ml/attestation/v1`` statement), and
``verify_key`` makes unpack check that attestation (or a signature) before writing a file.

No ``from __future__ import annotations`` here: KFP reads the parameter annotations as objects
(``dsl.OutputPath(str)`` is a call, not a type), and the lightweight components' source is
executed again inside the pod.
"""

from pathlib import Path

from kitops._version import __version__
from kitops.errors import UsageError

try:
    from kfp import dsl
except ImportError as err:  # the extra is optional: say which one to install
    raise UsageError(
        "the Kubeflow components need the kfp package", hint="pip install 'kitops[kubeflow]'"
    ) from err

__all__ = [
    "COSIGN_KEY",
    "KITOPS_IMAGE",
    "YAML_DIR",
    "component_yaml",
    "push_modelkit",
    "push_modelkit_container",
    "unpack_modelkit",
    "unpack_modelkit_container",
]

# The image every component runs on: kitops[kubeflow] (so kfp and the console scripts) on
# python-slim, built from deploy/Dockerfile. Tagged with the package version so that a compiled
# pipeline runs the same code that compiled it.
KITOPS_IMAGE = f"ghcr.io/kitops-ml/kitops-py:{__version__}"

# Where the upstream components expect the cosign key pair (the ``cosign-keys`` secret). The
# components' defaults spell it out: a lightweight component's source runs in the pod without
# this module, so its defaults must be literals.
COSIGN_KEY = "/etc/cosign/cosign.key"

# The compiled component YAML shipped in the package (scripts/compile_kubeflow.py writes it), for
# pipelines that load components with ``kfp.components.load_component_from_file``.
YAML_DIR = Path(__file__).with_name("yaml")


def component_yaml(name: str) -> Path:
    """The path of the shipped compiled component ``name`` (``push-modelkit``,
    ``unpack-modelkit``, ``push-modelkit-container``, ``unpack-modelkit-container``)."""
    path = YAML_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in YAML_DIR.glob("*.yaml")))
        raise UsageError(f"no compiled Kubeflow component named {name!r}", hint=f"known: {known}")
    return path


# ---------------------------------------------------------------------------------------------
# Lightweight Python components. KFP runs each function's own source in the pod, so everything
# it uses is imported inside it; the image already holds kitops and kfp (install_kfp_package=False).


@dsl.component(base_image=KITOPS_IMAGE, install_kfp_package=False)
def push_modelkit(
    registry: str,
    repository: str,
    modelkit_dir: dsl.Input[dsl.Artifact],
    ref: dsl.OutputPath(str),
    digest: dsl.OutputPath(str),
    tag: str = "latest",
    modelkit_name: str = "",
    modelkit_desc: str = "",
    modelkit_author: str = "",
    dataset_uri: str = "",
    code_repo: str = "",
    code_commit: str = "",
    use_model_pack: bool = False,
    signing_key: str = "/etc/cosign/cosign.key",
) -> None:
    """Pack ``modelkit_dir`` (``kit init`` first when it has no Kitfile) and push it as
    ``registry/repository:tag`` with the Docker credentials under ``$DOCKER_CONFIG``; attest it
    with the cosign key at ``signing_key`` when that file exists (password: ``COSIGN_PASSWORD``).
    Outputs ``ref`` (the tagged reference) and ``digest`` (``registry/repository@sha256:...``)."""
    import os

    from kitops.integrations.kubeflow.core import push_modelkit as push

    pushed = push(
        registry,
        repository,
        tag,
        modelkit_dir=modelkit_dir.path,
        name=modelkit_name,
        description=modelkit_desc,
        author=modelkit_author,
        dataset_uri=dataset_uri,
        code_repo=code_repo,
        code_commit=code_commit,
        use_model_pack=use_model_pack,
        signing_key=signing_key or None,
        password=os.environ.get("COSIGN_PASSWORD"),  # as cosign reads it
    )
    with open(ref, "w", encoding="utf-8") as fh:
        fh.write(pushed.ref)
    with open(digest, "w", encoding="utf-8") as fh:
        fh.write(pushed.full_ref)


@dsl.component(base_image=KITOPS_IMAGE, install_kfp_package=False)
def unpack_modelkit(
    modelkit_reference: str,
    model: dsl.Output[dsl.Artifact],
    model_path: dsl.OutputPath(str),
    extract_path: str = "",
    unpack_filter: str = "",
    verify_key: str = "",
) -> None:
    """Unpack ``modelkit_reference`` into ``extract_path`` (a mounted volume), or by default into
    the ``model`` output artifact, which the next step takes as ``dsl.Input[dsl.Artifact]``.
    ``unpack_filter`` is kit's ``--filter`` (``model``, ``datasets:train``...); with ``verify_key``
    (a path to ``cosign.pub``) its KitOps attestation or signature must verify first, and the
    verified digest is what gets unpacked; otherwise the step fails with nothing written.
    Outputs ``model_path``: the directory the files went to."""
    from kitops.integrations.kubeflow.core import unpack_modelkit as unpack

    written = unpack(
        modelkit_reference,
        extract_path or model.path,
        filters=[unpack_filter] if unpack_filter else [],
        verify_key=verify_key or None,
    )
    with open(model_path, "w", encoding="utf-8") as fh:
        fh.write(written)


# ---------------------------------------------------------------------------------------------
# Container components: the console scripts, with the inputs as positional arguments of a fixed
# bash script. Empty optional inputs are left out of the command line (as upstream's ${N:+...}),
# and the scripts' /tmp/outputs files go to a private directory that is then copied to the paths
# KFP reads the outputs from.

_PUSH_SCRIPT = """\
set -euo pipefail
outputs="$(mktemp -d)"
flags=()
[ -n "$5" ] && flags+=(--name "$5")
[ -n "$6" ] && flags+=(--desc "$6")
[ -n "$7" ] && flags+=(--author "$7")
[ -n "$8" ] && flags+=(--dataset-uri "$8")
[ -n "$9" ] && flags+=(--code-repo "$9")
[ -n "${10}" ] && flags+=(--code-commit "${10}")
case "${11}" in true|True|1) flags+=(--use-model-pack) ;; esac
export DOCKER_CONFIG="${DOCKER_CONFIG:-$HOME/.docker}"
KITOPS_OUTPUTS_DIR="$outputs" KITOPS_COSIGN_KEY="${12}" \\
  push-modelkit "$1" "$2" "$3" --modelkit-dir "$4" "${flags[@]}"
mkdir -p "$(dirname "${13}")" "$(dirname "${14}")"
cp "$outputs/reference" "${13}"
cp "$outputs/digest" "${14}"
"""

_UNPACK_SCRIPT = """\
set -euo pipefail
outputs="$(mktemp -d)"
flags=()
[ -n "$4" ] && flags+=(--filter "$4")
[ -n "$5" ] && flags+=(--verify-key "$5")
export DOCKER_CONFIG="${DOCKER_CONFIG:-$HOME/.docker}"
KITOPS_OUTPUTS_DIR="$outputs" unpack-modelkit "$1" "${3:-$2}" "${flags[@]}"
mkdir -p "$(dirname "$6")"
cp "$outputs/model_path" "$6"
"""


@dsl.container_component
def push_modelkit_container(
    registry: str,
    repository: str,
    modelkit_dir: dsl.Input[dsl.Artifact],
    ref: dsl.OutputPath(str),
    digest: dsl.OutputPath(str),
    tag: str = "latest",
    modelkit_name: str = "",
    modelkit_desc: str = "",
    modelkit_author: str = "",
    dataset_uri: str = "",
    code_repo: str = "",
    code_commit: str = "",
    use_model_pack: bool = False,
    signing_key: str = "/etc/cosign/cosign.key",
) -> dsl.ContainerSpec:
    """:func:`push_modelkit` as a container component running the ``push-modelkit`` script."""
    return dsl.ContainerSpec(
        image=KITOPS_IMAGE,
        command=["bash", "-c", _PUSH_SCRIPT, "push-modelkit"],
        args=[
            registry,
            repository,
            tag,
            modelkit_dir.path,
            modelkit_name,
            modelkit_desc,
            modelkit_author,
            dataset_uri,
            code_repo,
            code_commit,
            use_model_pack,
            signing_key,
            ref,
            digest,
        ],
    )


@dsl.container_component
def unpack_modelkit_container(
    modelkit_reference: str,
    model: dsl.Output[dsl.Artifact],
    model_path: dsl.OutputPath(str),
    extract_path: str = "",
    unpack_filter: str = "",
    verify_key: str = "",
) -> dsl.ContainerSpec:
    """:func:`unpack_modelkit` as a container component running the ``unpack-modelkit`` script."""
    return dsl.ContainerSpec(
        image=KITOPS_IMAGE,
        command=["bash", "-c", _UNPACK_SCRIPT, "unpack-modelkit"],
        args=[modelkit_reference, model.path, extract_path, unpack_filter, verify_key, model_path],
    )
