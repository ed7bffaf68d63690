"""``kit image build``: runnable images from a ModelKit on a busybox base the tests make
themselves, through the real registry, checked with standard tools (skopeo, umoci) and run
(busybox in a chroot of the unpacked image computes the model file's digest)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitops import api
from kitops.imagebuild.layers import ANNOTATION_LAYER_PATH, ANNOTATION_LAYER_TYPE
from kitops.oci import mediatypes as mt
from kitops.oci.models import Manifest
from tests.conftest import require_binary
from tests.helpers import kit
from tests.image.baseimages import PushedImage, Pusher, busybox_layer, require_busybox, require_tool
from tests.realregistry import Registry, start_registry

pytestmark = pytest.mark.registry

MODEL_SIZE = 200 << 20  # a realistic model file: its layer must not be uploaded a second time
KITFILE = """manifestVersion: 1.0.0
package:
  name: demo
  description: image build test
model:
  name: demo
  path: model/model.bin
code:
  - path: code
"""


@dataclass(frozen=True)
class World:
    """What every test here builds on: a home, the registry, busybox bases, and two ModelKits
    pushed to the registry (a 200 MiB one and a small one)."""

    home: Path
    registry: Registry
    other: Registry
    base: PushedImage  # OCI, on the registry
    docker_base: PushedImage  # Docker v2s2
    multi: str  # an index: linux/amd64 (the busybox image) and linux/arm64 (a dummy)
    arm_layer: str
    far_base: PushedImage  # on the other registry
    big: str  # the 200 MiB ModelKit, pushed
    big_model_digest: str  # its model layer
    model_sha: str  # sha256 of the model file
    small: str
    small_model: bytes
    small_local: str  # the small ModelKit in local storage only


def _project(root: Path, model: bytes | None, size: int = 0) -> Path:
    (root / "model").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "Kitfile").write_text(KITFILE)
    (root / "code" / "serve.sh").write_text("#!/bin/sh\nexec cat /model/model.bin\n")
    target = root / "model" / "model.bin"
    if model is not None:
        target.write_bytes(model)
    else:
        with open(target, "wb") as fh:
            for _ in range(size >> 20):
                fh.write(os.urandom(1 << 20))
    return root


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def other_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A second registry instance: a base image there is streamed registry to registry."""
    require_binary()
    reg = start_registry(tmp_path_factory.mktemp("reg-other"))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def world(
    plain_registry: Registry, other_registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    busybox = require_busybox()
    home = tmp_path_factory.mktemp("image-home")
    layer = busybox_layer(busybox)
    host, far = plain_registry.host, other_registry.host
    pusher = Pusher(home)
    try:
        base = pusher.image(f"{host}/base/busybox:oci", layer)
        docker_base = pusher.image(f"{host}/base/busybox:docker", layer, docker=True)
        arm = pusher.image(f"{host}/base/busybox:arm", b"dummy arm64 layer", arch="arm64", tag=False)
        pusher.index(f"{host}/base/busybox:multi", [(base, "amd64"), (arm, "arm64")])
        far_base = pusher.image(f"{far}/base/busybox:v1", busybox_layer(busybox, origin=far))
    finally:
        pusher.close()
    work = tmp_path_factory.mktemp("image-projects")
    big_project = _project(work / "big", None, MODEL_SIZE)
    big = f"{host}/models/demo:big"
    api.pack(big_project, tag=big, home=home)
    api.push(big, home=home)
    manifest = api.inspect(big, home=home).manifest
    small_model = os.urandom(64 << 10)
    small_project = _project(work / "small", small_model)
    small = f"{host}/models/demo:small"
    api.pack(small_project, tag=small, home=home)
    api.push(small, home=home)
    api.pack(small_project, tag="local/demo:v1", home=home)
    yield World(
        home=home,
        registry=plain_registry,
        other=other_registry,
        base=base,
        docker_base=docker_base,
        multi=f"{host}/base/busybox:multi",
        arm_layer=arm.layers[0].digest,
        far_base=far_base,
        big=big,
        big_model_digest=manifest.layers[0].digest,
        model_sha=_sha256(big_project / "model" / "model.bin"),
        small=small,
        small_model=small_model,
        small_local="local/demo:v1",
    )


def _get(registry: Registry, path: str, accept: str = "") -> bytes:
    request = urllib.request.Request(f"{registry.url}{path}", headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return bytes(resp.read())


def manifest_of(registry: Registry, ref: str) -> Manifest:
    repo, _, tag = ref.split("/", 1)[1].rpartition(":")
    return Manifest.from_bytes(_get(registry, f"/v2/{repo}/manifests/{tag}", mt.MANIFEST_ACCEPT))


def config_of(registry: Registry, ref: str) -> dict[str, object]:
    repo = ref.split("/", 1)[1].rpartition(":")[0]
    manifest = manifest_of(registry, ref)
    return json.loads(_get(registry, f"/v2/{repo}/blobs/{manifest.config.digest}"))  # type: ignore[no-any-return]


def layer_files(registry: Registry, ref: str, digest: str) -> dict[str, bytes]:
    repo = ref.split("/", 1)[1].rpartition(":")[0]
    data = _get(registry, f"/v2/{repo}/blobs/{digest}")
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()}  # type: ignore[union-attr]


def _uploads(stderr: str) -> list[str]:
    """The blob upload requests a ``kit -v`` run logged."""
    return [
        line
        for line in stderr.splitlines()
        if "/blobs/uploads/" in line and ("PUT" in line or "PATCH" in line)
    ]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=300)
    assert res.returncode == 0, f"{args}: {res.stderr}"
    return res


def skopeo(*args: str) -> str:
    return _run(require_tool("skopeo", "skopeo"), "--insecure-policy", *args).stdout


# ---------------------------------------------------------------------------------------------
# the 200 MiB ModelKit: an image that runs, whose model layer is the ModelKit's own blob


def test_build_runs_the_model_in_the_image_and_shares_its_layer(world: World, tmp_path: Path) -> None:
    target = f"{world.registry.host}/images/demo:v1"
    started = time.monotonic()
    res = kit(
        world.home,
        "image",
        "build",
        world.big,
        "--base",
        f"{world.registry.host}/base/busybox:oci",
        "-t",
        target,
        "--entrypoint",
        '["/bin/busybox", "sha256sum"]',
        "--cmd",
        "/model/model.bin",
        "-v",
    )
    elapsed = time.monotonic() - started
    assert res.exit_code == 0, res.output
    print(f"200 MiB image build: {elapsed:.2f} s")
    manifest = manifest_of(world.registry, target)
    # base layer, then the model and code layers; the model layer IS the ModelKit's blob
    assert manifest.layers[0].digest == world.base.layers[0].digest
    assert manifest.layers[1].digest == world.big_model_digest
    assert manifest.layers[1].media_type == "application/vnd.oci.image.layer.v1.tar"
    assert (manifest.layers[1].annotations or {})[ANNOTATION_LAYER_PATH] == "model/model.bin"
    assert (manifest.layers[2].annotations or {})[ANNOTATION_LAYER_TYPE] == "code"
    # ... and the registry received it once: mounted from the ModelKit's repository, not uploaded
    hexpart = world.big_model_digest.partition(":")[2]
    assert not [line for line in _uploads(res.stderr) if hexpart in line], res.stderr
    assert any("mount=" in line and hexpart in line for line in res.stderr.splitlines()), res.stderr
    assert f"Layer {world.big_model_digest}" in res.stdout and "(shared with the ModelKit)" in res.stdout

    # standard tools read it...
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{target}"))
    assert inspected["Digest"] == res.stdout.strip().splitlines()[-1].rpartition("@")[2]
    assert inspected["Labels"]["ml.kitops.modelkit.ref"] == world.big
    layout = tmp_path / "layout"
    skopeo("copy", "--src-tls-verify=false", f"docker://{target}", f"oci:{layout}:v1")
    # ... and it runs: busybox inside the unpacked image hashes the model file
    umoci = require_tool("umoci", "umoci")
    if os.geteuid() != 0:
        pytest.skip("running the image (umoci unpack + chroot) needs root")
    bundle = tmp_path / "bundle"
    _run(umoci, "unpack", "--image", f"{layout}:v1", str(bundle))
    chroot = require_tool("chroot", "coreutils")
    out = _run(chroot, str(bundle / "rootfs"), "/bin/busybox", "sha256sum", "/model/model.bin").stdout
    assert out.split()[0] == world.model_sha
    runtime = json.loads((bundle / "config.json").read_text())
    assert runtime["process"]["args"] == ["/bin/busybox", "sha256sum", "/model/model.bin"]
    assert runtime["process"]["cwd"] == "/"
    script = _run(chroot, str(bundle / "rootfs"), "/bin/cat", "/code/serve.sh").stdout
    assert script == "#!/bin/sh\nexec cat /model/model.bin\n"  # the code layer, through the symlink


# ---------------------------------------------------------------------------------------------
# the image config, reproducibility, placement


def test_same_inputs_and_source_date_epoch_give_the_same_image(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    host = world.registry.host
    first = api.build_image(
        world.small, base=f"{host}/base/busybox:oci", target=f"{host}/images/repro:a", home=world.home
    )
    second = api.build_image(
        world.small, base=f"{host}/base/busybox:oci", target=f"{host}/images/repro:b", home=world.home
    )
    assert first.descriptor == second.descriptor
    config = config_of(world.registry, f"{host}/images/repro:b")
    assert config["created"] == "2023-11-14T22:13:20Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000001")
    third = api.build_image(
        world.small, base=f"{host}/base/busybox:oci", target=f"{host}/images/repro:c", home=world.home
    )
    assert third.descriptor.digest != first.descriptor.digest  # the time is in the config: it counts


def test_env_entrypoint_and_labels_reach_the_config(world: World) -> None:
    host = world.registry.host
    target = f"{host}/images/settings:v1"
    res = kit(
        world.home,
        "image",
        "build",
        world.small,
        "--base",
        f"{host}/base/busybox:oci",
        "-t",
        target,
        "--env",
        "PATH=/usr/bin:/bin",
        "--env",
        "MODEL=/model/model.bin",
        "--entrypoint",
        "/bin/busybox ls -l 'a b'",
        "--label",
        "team=ml",
    )
    assert res.exit_code == 0, res.output
    config = config_of(world.registry, target)
    run = config["config"]
    assert isinstance(run, dict)
    assert run["Env"] == ["PATH=/usr/bin:/bin", "LANG=C", "MODEL=/model/model.bin"]  # replaced in place
    assert run["Entrypoint"] == ["/bin/busybox", "ls", "-l", "a b"]  # split as a shell would, no shell
    assert "Cmd" not in run  # a new entrypoint drops the base's arguments
    assert run["WorkingDir"] == "/"
    assert run["Labels"] == {
        "base": "busybox",
        "team": "ml",
        "ml.kitops.modelkit.ref": world.small,
        "ml.kitops.modelkit.digest": api.inspect(world.small, home=world.home).digest,
    }
    rootfs = config["rootfs"]
    assert isinstance(rootfs, dict)
    manifest = manifest_of(world.registry, target)
    assert rootfs["diff_ids"][1:] == [d.digest for d in manifest.layers[1:]]  # uncompressed: diff_id = digest
    history = config["history"]
    assert isinstance(history, list)
    assert [h["created_by"] for h in history[1:]] == [
        "kit image build: model model/model.bin",
        "kit image build: code code",
    ]


def test_workdir_rewrites_each_layer_under_the_prefix(world: World) -> None:
    host = world.registry.host
    target = f"{host}/images/app:v1"
    res = kit(
        world.home,
        "image",
        "build",
        world.small,
        "--base",
        f"{host}/base/busybox:oci",
        "-t",
        target,
        "--workdir",
        "/app",
    )
    assert res.exit_code == 0, res.output
    assert "(rewritten)" in res.stdout
    manifest = manifest_of(world.registry, target)
    kit_layers = api.inspect(world.small, home=world.home).manifest.layers
    model = manifest.layers[1]
    assert model.digest != kit_layers[0].digest  # a new blob: the sharing is lost, as --help says
    assert (model.annotations or {})["ml.kitops.modelkit.layer.digest"] == kit_layers[0].digest
    files = layer_files(world.registry, target, model.digest)
    assert files["app/model/model.bin"] == world.small_model
    assert "app" in files and "app/model" in files  # the prefix's directories are entries too
    code = layer_files(world.registry, target, manifest.layers[2].digest)
    assert code["app/code/serve.sh"].startswith(b"#!/bin/sh")
    config = config_of(world.registry, target)
    assert config["config"]["WorkingDir"] == "/app"  # type: ignore[index]
    assert config["rootfs"]["diff_ids"][1] == model.digest  # type: ignore[index]
    assert list((world.home / "cache" / "image-build").iterdir()) == []  # the rewritten layers are gone


def test_filter_selects_the_layers(world: World) -> None:
    host = world.registry.host
    result = api.build_image(
        world.small_local,
        base=f"{host}/base/busybox:oci",
        target=f"{host}/images/code-only:v1",
        filters=["code"],
        home=world.home,
    )
    assert [(x.kind, x.path) for x in result.layers] == [("code", "code")]
    assert len(manifest_of(world.registry, f"{host}/images/code-only:v1").layers) == 2


# ---------------------------------------------------------------------------------------------
# base images: Docker v2s2, multi-platform, another registry


def test_docker_v2s2_base_gives_a_docker_image(world: World) -> None:
    host = world.registry.host
    target = f"{host}/images/docker:v1"
    result = api.build_image(world.small, base=f"{host}/base/busybox:docker", target=target, home=world.home)
    assert result.descriptor.media_type == mt.DOCKER_MANIFEST
    manifest = manifest_of(world.registry, target)
    assert manifest.config.media_type == "application/vnd.docker.container.image.v1+json"
    assert [d.media_type for d in manifest.layers] == [
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar",
    ]
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{target}"))
    assert len(inspected["Layers"]) == 3


def test_compressed_modelkits_keep_their_blobs_and_zstd_turns_a_docker_base_into_oci(
    world: World, tmp_path: Path
) -> None:
    host = world.registry.host
    project = _project(tmp_path / "p", b"weights " * 4096)
    for compression in ("gzip", "zstd"):
        ref = f"{host}/models/demo:{compression}"
        api.pack(project, tag=ref, compression=compression, home=world.home)
        layers = api.inspect(ref, home=world.home).manifest.layers
        result = api.build_image(
            ref, base=f"{host}/base/busybox:docker", target=f"{host}/images/{compression}:v1", home=world.home
        )
        manifest = manifest_of(world.registry, f"{host}/images/{compression}:v1")
        assert [d.digest for d in manifest.layers[1:]] == [d.digest for d in layers]  # the same blobs
        config = config_of(world.registry, f"{host}/images/{compression}:v1")
        diff_ids = config["rootfs"]["diff_ids"]  # type: ignore[index]
        tar = layer_tar(project, "model")
        assert diff_ids[1] == "sha256:" + hashlib.sha256(tar).hexdigest()
        if compression == "gzip":
            assert result.descriptor.media_type == mt.DOCKER_MANIFEST and not result.converted
            assert manifest.layers[1].media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"
        else:
            assert result.descriptor.media_type == mt.OCI_MANIFEST and result.converted
            assert manifest.config.media_type == "application/vnd.oci.image.config.v1+json"
            assert [d.media_type for d in manifest.layers] == [
                "application/vnd.oci.image.layer.v1.tar+gzip",
                "application/vnd.oci.image.layer.v1.tar+zstd",
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ]


def layer_tar(project: Path, kind: str) -> bytes:
    """The uncompressed tar of one layer of ``project`` as kit packs it (its diff_id source)."""
    from kitops.store.layout import LocalStore

    home = project.parent / f"home-{kind}"
    api.pack(project, tag="tmp/x:v1", home=home)
    store = LocalStore(home / "storage")
    digest = api.inspect("tmp/x:v1", home=home).manifest.layers[0].digest
    return store.blob_path(digest).read_bytes()


def test_platform_is_picked_from_an_index(world: World) -> None:
    host = world.registry.host
    arm = api.build_image(
        world.small,
        base=world.multi,
        target=f"{host}/images/multi:arm",
        platform="linux/arm64",
        home=world.home,
    )
    assert arm.platform == "linux/arm64"
    assert manifest_of(world.registry, f"{host}/images/multi:arm").layers[0].digest == world.arm_layer
    amd = api.build_image(
        world.small,
        base=world.multi,
        target=f"{host}/images/multi:amd",
        platform="linux/amd64",
        home=world.home,
    )
    assert (
        manifest_of(world.registry, f"{host}/images/multi:amd").layers[0].digest
        == world.base.layers[0].digest
    )
    assert amd.base == world.base.descriptor
    res = kit(
        world.home,
        "image",
        "build",
        world.small,
        "--base",
        world.multi,
        "-t",
        f"{host}/images/multi:x",
        "--platform",
        "linux/s390x",
    )
    assert res.exit_code == 2
    assert "has no image for platform linux/s390x" in res.stderr
    assert "available: linux/amd64, linux/arm64" in res.stderr


def test_base_on_another_registry_is_streamed_across(world: World) -> None:
    host = world.registry.host
    target = f"{host}/images/far:v1"
    res = kit(
        world.home, "image", "build", world.small, "--base", world.far_base.reference, "-t", target, "-v"
    )
    assert res.exit_code == 0, res.output
    base_layer = world.far_base.layers[0].digest
    manifest = manifest_of(world.registry, target)
    assert manifest.layers[0].digest == base_layer
    # the blob went from one registry to the other (never into local storage), verified on arrival
    uploaded = _uploads(res.stderr)
    assert any(base_layer.partition(":")[2] in line for line in uploaded), res.stderr
    assert world.registry.blob_path(base_layer).read_bytes() == world.other.blob_path(base_layer).read_bytes()
    assert not (world.home / "storage" / "blobs" / "sha256" / base_layer.partition(":")[2]).exists()


# ---------------------------------------------------------------------------------------------
# outputs: OCI layout, signature, inspect


def test_oci_layout_output_reads_with_skopeo_and_inspect(world: World, tmp_path: Path) -> None:
    layout = tmp_path / "image"
    res = kit(
        world.home,
        "image",
        "build",
        world.small,
        "--base",
        f"{world.registry.host}/base/busybox:oci",
        "-t",
        "demo-server:v1",
        "--oci-layout",
        str(layout),
    )
    assert res.exit_code == 0, res.output
    inspected = json.loads(skopeo("inspect", f"oci:{layout}:v1"))
    assert len(inspected["Layers"]) == 3
    entry = json.loads((layout / "index.json").read_text())["manifests"][0]
    assert entry["annotations"]["io.containerd.image.name"] == "demo-server:v1"  # kit load reads it back
    shown = kit(world.home, "image", "inspect", str(layout), "-o", "json")
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.stdout)
    assert summary["digest"] == inspected["Digest"]
    assert [(x["origin"], x.get("type"), x.get("path")) for x in summary["layers"]] == [
        ("base", None, None),
        ("modelkit", "model", "model/model.bin"),
        ("modelkit", "code", "code"),
    ]
    assert summary["modelkit"]["ref"] == world.small


def test_inspect_table_shows_where_each_layer_came_from(world: World) -> None:
    host = world.registry.host
    target = f"{host}/images/inspect:v1"
    api.build_image(
        world.small, base=f"{host}/base/busybox:oci", target=target, cmd=["/model/model.bin"], home=world.home
    )
    res = kit(world.home, "image", "inspect", target)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert f"ModelKit:   {world.small} (" in res.stdout
    assert 'Cmd:        ["/model/model.bin"]' in lines
    rows = [
        line.split() for line in lines[lines.index(next(x for x in lines if x.startswith("ORIGIN"))) + 1 :]
    ]
    assert [(r[0], r[3], r[4]) for r in rows] == [
        ("base", "-", "-"),
        ("modelkit", "model", "model/model.bin"),
        ("modelkit", "code", "code"),
    ]


def test_sign_key_signs_the_image_and_kit_verify_accepts_it(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = api.generate_key_pair(b"")
    (tmp_path / "cosign.key").write_bytes(keys.private_key)
    (tmp_path / "cosign.pub").write_bytes(keys.public_key)
    monkeypatch.setenv("COSIGN_PASSWORD", "")
    target = f"{world.registry.host}/images/signed:v1"
    res = kit(
        world.home,
        "image",
        "build",
        world.small,
        "--base",
        f"{world.registry.host}/base/busybox:oci",
        "-t",
        target,
        "--sign-key",
        str(tmp_path / "cosign.key"),
    )
    assert res.exit_code == 0, res.output
    assert "Signed sha256:" in res.stdout
    verified = kit(world.home, "verify", target, "--key", str(tmp_path / "cosign.pub"))
    assert verified.exit_code == 0, verified.output
    other = api.generate_key_pair(b"")
    (tmp_path / "other.pub").write_bytes(other.public_key)
    assert kit(world.home, "verify", target, "--key", str(tmp_path / "other.pub")).exit_code == 1


# ---------------------------------------------------------------------------------------------
# errors


def test_errors_say_what_is_wrong(world: World, tmp_path: Path) -> None:
    host = world.registry.host
    base = f"{host}/base/busybox:oci"
    res = kit(
        world.home,
        "image",
        "build",
        world.small,
        "--base",
        f"{host}/base/nope:v1",
        "-t",
        f"{host}/images/e:v1",
    )
    assert res.exit_code == 1 and f"base image {host}/base/nope:v1 not found" in res.stderr
    res = kit(world.home, "image", "build", "local/nope:v1", "--base", base, "-t", f"{host}/images/e:v1")
    assert res.exit_code == 1 and "model local/nope:v1 not found" in res.stderr
    res = kit(
        world.home, "image", "build", f"{host}/models/nope:v1", "--base", base, "-t", f"{host}/images/e:v1"
    )
    assert res.exit_code == 1 and "not found (neither in local storage nor on" in res.stderr
    res = kit(
        world.home,
        "image",
        "build",
        world.small,
        "--base",
        base,
        "-t",
        f"{host}/images/e:v1",
        "--push",
        "--oci-layout",
        str(tmp_path / "out"),
    )
    assert res.exit_code == 2 and "--push and --oci-layout cannot be used together" in res.stderr
    assert not (tmp_path / "out").exists()
    res = kit(world.home, "image", "build", world.small, "--base", world.small, "-t", f"{host}/images/e:v1")
    assert res.exit_code == 1 and "is not a container image" in res.stderr
    res = kit(
        world.home,
        "image",
        "build",
        world.small,
        "--base",
        base,
        "-t",
        f"{host}/images/e:v1",
        "--workdir",
        "app",
    )
    assert res.exit_code == 2 and "must be an absolute path" in res.stderr
    res = kit(
        world.home,
        "image",
        "build",
        world.small,
        "--base",
        base,
        "-t",
        f"{host}/images/e:v1",
        "--env",
        "NOVALUE",
    )
    assert res.exit_code == 2 and "expected KEY=VALUE" in res.stderr
    res = kit(world.home, "image", "build", world.small, "--base", base, "-t", "no-registry:v1")
    assert res.exit_code == 2 and "the target must name a registry" in res.stderr
    res = kit(
        world.home,
        "image",
        "build",
        world.small,
        "--base",
        base,
        "-t",
        f"{host}/images/e:v1",
        "--filter",
        "docs:nothing",
    )
    assert res.exit_code == 2 and "matches nothing" in res.stderr


def test_raw_modelpack_layers_are_wrapped_at_their_file_path(world: World, tmp_path: Path) -> None:
    host = world.registry.host
    project = _project(tmp_path / "p", b"raw weights\n" * 1000)
    (project / "Kitfile").write_text(KITFILE.replace("  - path: code", "  - path: code/serve.sh"))
    ref = f"{host}/models/demo:raw"
    api.pack(project, tag=ref, model_format="modelpack", layer_format="raw", home=world.home)
    for workdir, prefix in (("/", ""), ("/srv/model", "srv/model/")):
        target = f"{host}/images/raw:{prefix.count('/')}"
        result = api.build_image(
            ref, base=f"{host}/base/busybox:oci", target=target, workdir=workdir, home=world.home
        )
        layers = {x.path: x for x in result.layers}
        weights = layers["model/model.bin"]
        assert weights.source is None  # a raw file is no tar: always a new layer
        files = layer_files(world.registry, target, weights.descriptor.digest)
        assert files[f"{prefix}model/model.bin"] == b"raw weights\n" * 1000


def test_a_local_modelkit_already_on_the_target_registry_is_mounted(world: World, tmp_path: Path) -> None:
    """Packed anew in another home (that never pushed it): the build finds the layers in the
    ModelKit's own repository on that registry and mounts them instead of uploading them."""
    home = tmp_path / "fresh-home"
    project = _project(tmp_path / "p", world.small_model)
    api.pack(project, tag=world.small, home=home)
    layers = api.inspect(world.small, home=home).manifest.layers
    assert layers == api.inspect(world.small, home=world.home).manifest.layers  # the same blobs
    host = world.registry.host
    res = kit(
        home,
        "image",
        "build",
        world.small,
        "--base",
        f"{host}/base/busybox:oci",
        "-t",
        f"{host}/fresh/img:v1",
        "-v",
    )
    assert res.exit_code == 0, res.output
    uploaded = "\n".join(_uploads(res.stderr))
    for layer in layers:
        hexpart = layer.digest.partition(":")[2]
        assert hexpart not in uploaded
        assert any("mount=" in line and hexpart in line for line in res.stderr.splitlines()), res.stderr
