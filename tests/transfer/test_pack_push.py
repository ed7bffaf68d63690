"""``kit pack --push``: layers built straight into a real registry, nothing stored locally.

What goes up must be exactly what ``kit pack`` then ``kit push`` gives (same manifest digest,
for every model and layer format), blobs the registry has are not sent again, a killed run
resumes its upload, a file changed during the push is refused, and memory stays flat.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.errors import IntegrityError, UsageError
from kitops.oci import mediatypes as mt
from kitops.progress import NullProgress
from tests.faultproxy import Fault, FaultProxy, matching
from tests.helpers import kit, tree_files, write_tree
from tests.realregistry import Registry
from tests.transfer.test_interrupt_resume import GateProxy, Hold, SeenRequest

pytestmark = pytest.mark.registry

MiB = 1 << 20
BIG_MIB = 200
EPOCH = "1700000000"
KIT = [sys.executable, "-m", "kitops.cli.main"]
# -v log lines of blob uploads: the PUT that completes one (it names the digest), and chunks
UPLOADED = re.compile(r"\bPUT \S+/blobs/uploads/\S*[?&]digest=sha256%3A([0-9a-f]{64})")
CHUNK = re.compile(r"\bPATCH \S+/blobs/uploads/")


@pytest.fixture(autouse=True)
def reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same creation time for every pack, so two packs of the same content are one manifest."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two versions of a model with one 200 MiB weights file (hard-linked: the same file) and a
    small code file that differs."""
    base = tmp_path_factory.mktemp("big")
    v1, v2 = base / "v1", base / "v2"
    for version, root in (("1.0.0", v1), ("2.0.0", v2)):
        write_tree(
            root,
            {
                "Kitfile": "manifestVersion: 1.0.0\n"
                f"package:\n  name: big\n  version: {version}\n"
                "model:\n  path: weights.bin\ncode:\n  - path: serve.py\n",
                "serve.py": f"VERSION = {version!r}\n",
            },
        )
    block = os.urandom(MiB)
    with open(v1 / "weights.bin", "wb") as fh:
        for _ in range(BIG_MIB):
            fh.write(block)
    os.link(v1 / "weights.bin", v2 / "weights.bin")
    return v1, v2


def _saved_digest(stdout: str) -> str:
    found = re.search(r"^Model saved: (sha256:[0-9a-f]{64})$", stdout, re.M)
    assert found, stdout
    return found.group(1)


def _remote_digest(registry: Registry, repo: str, tag: str) -> str | None:
    resp = httpx.head(f"{registry.url}/v2/{repo}/manifests/{tag}", headers={"Accept": mt.MANIFEST_ACCEPT})
    return resp.headers.get("docker-content-digest") if resp.status_code == 200 else None


def _stored_files(home: Path) -> list[Path]:
    storage = home / "storage"
    return [p for p in storage.rglob("*") if p.is_file()] if storage.exists() else []


def _pack_then_push(project: Path, ref: str, home: Path, *flags: str) -> str:
    """The reference result: a local pack, then a push."""
    packed = kit(home, "pack", str(project), "-t", ref, *flags)
    assert packed.exit_code == 0, packed.output
    pushed = kit(home, "push", ref)
    assert pushed.exit_code == 0, pushed.output
    return _saved_digest(packed.stdout)


# ---------------------------------------------------------------------------------------------
# the same ModelKit as pack + push, nothing stored


def test_pack_push_stores_nothing_and_equals_pack_then_push(
    big: tuple[Path, Path], plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    v1, _v2 = big
    host = plain_registry.host
    home = tmp_path / "home"
    result = kit(home, "pack", str(v1), "-t", f"{host}/{repo_name}:v1,latest", "--push")
    assert result.exit_code == 0, result.output
    digest = _saved_digest(result.stdout)
    assert f"Pushed to {host}/{repo_name}:v1" in result.stdout
    assert _stored_files(home) == []  # no blob, no manifest, no tag
    assert _remote_digest(plain_registry, repo_name, "v1") == digest
    assert _remote_digest(plain_registry, repo_name, "latest") == digest

    assert _pack_then_push(v1, f"{host}/{repo_name}-local:v1", tmp_path / "local") == digest

    fresh = tmp_path / "fresh"
    pulled = kit(fresh, "pull", f"{host}/{repo_name}:v1")  # every blob verified against its digest
    assert pulled.exit_code == 0, pulled.output
    assert api.inspect(f"{host}/{repo_name}:v1", home=fresh).digest == digest


def test_second_version_does_not_upload_the_shared_layer(
    big: tuple[Path, Path], plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    v1, v2 = big
    ref = f"{plain_registry.host}/{repo_name}"
    home = tmp_path / "home"
    first = kit(home, "-v", "pack", str(v1), "-t", f"{ref}:v1", "--push")
    assert first.exit_code == 0, first.output
    found = re.search(r"weights\.bin: sha256:([0-9a-f]{64})", first.stderr)
    assert found, first.stderr
    weights = found.group(1)
    assert len(UPLOADED.findall(first.stderr)) == 3 and weights in UPLOADED.findall(first.stderr)

    second = kit(home, "-v", "pack", str(v2), "-t", f"{ref}:v2", "--push")
    assert second.exit_code == 0, second.output
    # the weights were neither read again (pack cache) nor sent: only the code layer and the config
    assert f"weights.bin: sha256:{weights} (files unchanged since it was packed: not read)" in second.stderr
    assert f"weights.bin: sha256:{weights} is on the registry already: not uploaded" in second.stderr
    uploaded = UPLOADED.findall(second.stderr)
    assert len(uploaded) == 2 and weights not in uploaded, second.stderr
    assert CHUNK.findall(second.stderr) == []
    assert _stored_files(home) == []

    # the same content again: the tag stays on its manifest, nothing is uploaded
    again = kit(home, "-v", "pack", str(v2), "-t", f"{ref}:v2", "--push")
    assert again.exit_code == 0, again.output
    assert _saved_digest(again.stdout) == _saved_digest(second.stdout)
    assert UPLOADED.findall(again.stderr) == [] and CHUNK.findall(again.stderr) == []


# ---------------------------------------------------------------------------------------------
# every model and layer format


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``files``: every Kitfile path a file (raw layers need that); ``dirs``: a weights directory
    of several files (ModelPack native packs each as its own layer)."""
    base = tmp_path_factory.mktemp("small")
    files = write_tree(
        base / "files",
        {
            "Kitfile": "manifestVersion: 1.0.0\npackage:\n  name: small\n"
            "model:\n  path: model.safetensors\ncode:\n  - path: serve.py\ndocs:\n  - path: README.md\n",
            "model.safetensors": os.urandom(3 * MiB),
            "serve.py": "print('serve')\n",
            "README.md": "# small\n",
        },
    )
    dirs = write_tree(
        base / "dirs",
        {
            "Kitfile": "manifestVersion: 1.0.0\npackage:\n  name: small\n"
            "model:\n  path: weights\ncode:\n  - path: src\ndocs:\n  - path: README.md\n",
            "weights/model-00001.safetensors": os.urandom(2 * MiB),
            "weights/model-00002.safetensors": os.urandom(2 * MiB),
            "weights/config.json": '{"architectures": ["X"]}\n',
            "src/serve.py": "print('serve')\n",
            "src/util/helpers.py": "X = 1\n",
            "README.md": "# small\n",
        },
    )
    return {"files": files, "dirs": dirs}


FORMATS = [
    ("files", ()),
    ("files", ("--compression", "gzip")),
    ("files", ("--compression", "zstd")),
    ("files", ("--layer-format", "raw")),
    ("files", ("--layer-format", "raw", "--compression", "zstd")),
    ("files", ("--use-model-pack", "--layer-format", "raw")),
    ("dirs", ("--use-model-pack",)),
    ("dirs", ("--use-model-pack", "--compression", "zstd")),
    ("dirs", ("--use-model-pack", "--layer-format", "native")),
]


@pytest.mark.parametrize(
    ("project", "flags"), FORMATS, ids=[f"{p}:{' '.join(f) or 'tar'}" for p, f in FORMATS]
)
def test_every_format_equals_pack_then_push(
    small: dict[str, Path],
    project: str,
    flags: tuple[str, ...],
    plain_registry: Registry,
    repo_name: str,
    tmp_path: Path,
) -> None:
    context = small[project]
    ref = f"{plain_registry.host}/{repo_name}"
    home = tmp_path / "home"
    result = kit(home, "pack", str(context), "-t", f"{ref}:v1", "--push", *flags)
    assert result.exit_code == 0, result.output
    digest = _saved_digest(result.stdout)
    assert _stored_files(home) == []
    assert _pack_then_push(context, f"{ref}-local:v1", tmp_path / "local", *flags) == digest

    fresh = tmp_path / "fresh"
    out = tmp_path / "out"
    unpacked = kit(fresh, "unpack", f"{ref}:v1", "-d", str(out))
    assert unpacked.exit_code == 0, unpacked.output
    expected = {k: v for k, v in tree_files(context).items() if k != "Kitfile"}
    assert {k: v for k, v in tree_files(out).items() if k != "Kitfile"} == expected


def test_a_local_parent_modelkit_goes_up_first(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    """``model.path`` names a ModelKit in local storage: it is pushed first, to the destination
    registry (as ``kit push`` sends it), so a pull of the child finds it; local storage is only read."""
    home = tmp_path / "home"
    base_ref = f"{repo_name}-base:v1"  # no registry: it goes to the child's
    base_ctx = write_tree(
        tmp_path / "base",
        {"Kitfile": "manifestVersion: 1.0.0\nmodel:\n  path: weights\n", "weights/base.bin": os.urandom(MiB)},
    )
    base = api.pack(base_ctx, tag=base_ref, home=home)
    child_ctx = write_tree(
        tmp_path / "child",
        {
            "Kitfile": f"manifestVersion: 1.0.0\nmodel:\n  path: {base_ref}\n  parts: [{{path: lora.bin}}]\n",
            "lora.bin": b"lora-adapter",
        },
    )
    stored = sorted(_stored_files(home))
    result = kit(home, "pack", str(child_ctx), "-t", f"{plain_registry.host}/{repo_name}:v1", "--push")
    assert result.exit_code == 0, result.output
    assert sorted(_stored_files(home)) == stored
    assert _remote_digest(plain_registry, f"{repo_name}-base", "v1") == base.descriptor.digest
    fresh = tmp_path / "fresh"
    assert kit(fresh, "pull", f"{plain_registry.host}/{repo_name}:v1").exit_code == 0  # the parent too
    out = tmp_path / "out"
    assert kit(fresh, "unpack", f"{plain_registry.host}/{repo_name}:v1", "-d", str(out)).exit_code == 0
    assert tree_files(out)["weights/base.bin"] == (base_ctx / "weights/base.bin").read_bytes()
    assert tree_files(out)["lora.bin"] == b"lora-adapter"


# ---------------------------------------------------------------------------------------------
# TLS and credentials, as push has them


def test_tls_registry_with_basic_auth(
    small: dict[str, Path], tls_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    assert tls_registry.ca_file and tls_registry.password
    home = tmp_path / "home"
    ca = ("--ca-file", tls_registry.ca_file)
    ref = f"{tls_registry.host}/{repo_name}:v1"
    refused = kit(home, "pack", str(small["files"]), "-t", ref, "--push", *ca)  # no credentials yet
    assert refused.exit_code == 1, refused.output
    assert f"{tls_registry.host} requires authentication" in refused.stderr, refused.stderr

    login = kit(
        home, "login", tls_registry.host, "-u", "alice", "--password-stdin", *ca, input=tls_registry.password
    )
    assert login.exit_code == 0, login.output
    result = kit(home, "pack", str(small["files"]), "-t", ref, "--push", *ca, "--concurrency", "2")
    assert result.exit_code == 0, result.output
    digest = _saved_digest(result.stdout)
    assert _stored_files(home) == []
    assert api.inspect(ref, home=home, remote=True, ca_file=tls_registry.ca_file).digest == digest

    # the SDK: the same call, network keywords as every registry function takes them
    sdk = api.pack(small["files"], tag=ref, home=home, push=True, ca_file=tls_registry.ca_file)
    assert sdk.descriptor.digest == digest and sdk.pushed_to == ref


# ---------------------------------------------------------------------------------------------
# what is refused


def test_usage_errors(small: dict[str, Path], tmp_path: Path) -> None:
    home = tmp_path / "home"
    context = str(small["files"])
    no_registry = kit(home, "pack", context, "-t", "my-model:v1", "--push")
    assert no_registry.exit_code == 2, no_registry.output
    assert "needs a registry in the tag (my-model:v1 names none)" in no_registry.stderr
    assert "hint: name the registry: kit pack . -t registry.example.com/team/my-model:v1 --push" in (
        no_registry.stderr
    )
    no_tag = kit(home, "pack", context, "--push")
    assert no_tag.exit_code == 2 and "needs a registry in the tag" in no_tag.stderr

    for flags in (
        ("--plain-http",),
        ("--no-tls-verify",),
        ("--concurrency", "2"),
        ("--upload-mode", "chunked"),
    ):
        stray = kit(home, "pack", context, "-t", "my-model:v1", *flags)
        assert stray.exit_code == 2, (flags, stray.output)
        assert f"{flags[0]} applies only with --push" in stray.stderr
    with pytest.raises(UsageError, match="apply only when packing with push=True"):
        api.pack(context, tag="my-model:v1", home=home, plain_http=True)
    with pytest.raises(TypeError, match="plain_htp"):
        api.pack(context, tag="my-model:v1", home=home, push=True, plain_htp=True)  # type: ignore[call-arg]
    assert _stored_files(home) == []


@pytest.mark.parametrize("seen_by", ["stat", "hash"])
def test_a_file_changed_during_the_push_is_refused(
    plain_registry: Registry, repo_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seen_by: str
) -> None:
    """The first pass hashed the layer; then a file changes before its upload. Its stat shows it
    at once; where the stat would not (``seen_by == "hash"``: the identity check is blinded), the
    bytes made again for the upload do not hash to the first pass's digest. Either way nothing
    is tagged."""
    from kitops.modelkit import packpush

    if seen_by == "hash":
        monkeypatch.setattr(packpush, "_identity", lambda _entry: None)
    context = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": "manifestVersion: 1.0.0\nmodel:\n  path: weights\n",
            "weights/a.bin": os.urandom(2 * MiB),
            "weights/b.bin": os.urandom(2 * MiB),
        },
    )
    ref = f"{plain_registry.host}/{repo_name}:v1"
    home = tmp_path / "home"

    class ChangeWhenPushing(NullProgress):
        def begin(self, key: str, action: str, total: int | None) -> None:
            if action == "pushing":
                target = context / "weights" / "b.bin"
                target.write_bytes(os.urandom(target.stat().st_size))

    expected = {
        "stat": r"file weights/b\.bin changed while layer weights was being pushed",
        "hash": r"layer weights hashes to sha256:\w+, not sha256:\w+ when it was read again for the upload",
    }[seen_by]
    with pytest.raises(IntegrityError, match=expected):
        api.pack(context, tag=ref, home=home, push=True, progress=ChangeWhenPushing())
    assert _remote_digest(plain_registry, repo_name, "v1") is None
    assert _stored_files(home) == []


def test_a_failed_upload_is_sent_again_from_bytes_made_again(
    fault_proxy: FaultProxy, plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    """The registry fails the upload of a compressed layer once it has all its bytes: the retry
    makes them again from the files (the producer starts over) and the layer goes up whole."""
    context = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": "manifestVersion: 1.0.0\nmodel:\n  path: weights\n",
            "weights/a.bin": os.urandom(3 * MiB),
        },
    )
    fault_proxy.set((matching("PUT", r"/blobs/uploads/"), Fault(status=500, times=1)))
    ref = f"{fault_proxy.host}/{repo_name}:v1"
    home = tmp_path / "home"
    pushed = kit(home, "-v", "pack", str(context), "-t", ref, "--push", "--compression", "zstd")
    assert pushed.exit_code == 0, pushed.output
    assert len([s for s in fault_proxy.seen if s.method == "POST"]) == 3  # layer twice, then the config
    assert "retrying with a" in pushed.stderr
    assert "weights: making its bytes again to send them from byte 0" in pushed.stderr
    local = f"{plain_registry.host}/{repo_name}-local:v1"
    assert _pack_then_push(context, local, tmp_path / "local", "--compression", "zstd") == _saved_digest(
        pushed.stdout
    )
    assert kit(tmp_path / "fresh", "pull", f"{plain_registry.host}/{repo_name}:v1").exit_code == 0


# ---------------------------------------------------------------------------------------------
# interrupted: Ctrl-C, kill -9 and the next run


@pytest.fixture()
def proxy(plain_registry: Registry) -> Iterator[GateProxy]:
    gate = GateProxy(plain_registry.host)
    yield gate
    gate.close()


@pytest.fixture()
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:  # only ours, by their own handle
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


CHUNK_MIB = 16
HELD_AT = 2 * CHUNK_MIB * MiB  # the third chunk of the weights layer is held: two are on the registry


def _hold_third_chunk(request: SeenRequest) -> Hold | None:
    third = request.method == "PATCH" and request.headers.get("content-range", "").startswith(f"{HELD_AT}-")
    return Hold(body=0) if third else None


def _pack_push_cmd(home: Path, project: Path, ref: str) -> list[str]:
    return [
        *KIT,
        "--config",
        str(home),
        "--progress",
        "none",
        "-v",
        "pack",
        str(project),
        "-t",
        ref,
        "--push",
        "--upload-mode",
        "chunked",
        "--chunk-size",
        str(CHUNK_MIB),
    ]


def _start_held(
    processes: list[subprocess.Popen[bytes]], proxy: GateProxy, cmd: list[str], log: Path
) -> subprocess.Popen[bytes]:
    proxy.reset(_hold_third_chunk)
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
    processes.append(proc)
    deadline = time.monotonic() + 60
    while not proxy.held.is_set():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.02)
    return proc


@pytest.mark.slow
def test_killed_pack_push_resumes_on_the_next_run(
    big: tuple[Path, Path],
    proxy: GateProxy,
    plain_registry: Registry,
    repo_name: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    v1, _v2 = big
    home = tmp_path / "home"
    cmd = _pack_push_cmd(home, v1, f"{proxy.host}/{repo_name}:v1")
    proc = _start_held(processes, proxy, cmd, tmp_path / "first.log")
    proc.kill()  # SIGKILL mid-upload: no cleanup runs
    proc.wait(10)
    assert _remote_digest(plain_registry, repo_name, "v1") is None

    proxy.reset()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Resuming upload at byte {HELD_AT}" in done.stderr
    # chunks of the weights layer (the other blobs are a few hundred bytes): from the held one on
    patches = [r for r in proxy.seen() if r.method == "PATCH" and int(r.headers["content-length"]) > MiB]
    assert patches and min(int(r.headers["content-range"].split("-")[0]) for r in patches) == HELD_AT
    tar_size = 512 + BIG_MIB * MiB + 1024  # one header, the file, the end of the archive
    assert sum(r.body_forwarded for r in patches) == tar_size - HELD_AT
    digest = _saved_digest(done.stdout)
    assert _remote_digest(plain_registry, repo_name, "v1") == digest
    assert _stored_files(home) == []
    fresh = tmp_path / "fresh"
    assert kit(fresh, "pull", f"{plain_registry.host}/{repo_name}:v1").exit_code == 0  # verifies every blob
    assert _pack_then_push(v1, f"{plain_registry.host}/{repo_name}-local:v1", tmp_path / "local") == digest


@pytest.mark.slow
def test_ctrl_c_stops_promptly_with_exit_code_130(
    big: tuple[Path, Path],
    proxy: GateProxy,
    repo_name: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    v1, _v2 = big
    cmd = _pack_push_cmd(tmp_path / "home", v1, f"{proxy.host}/{repo_name}:v1")
    log = tmp_path / "run.log"
    proc = _start_held(processes, proxy, cmd, log)  # the upload is stalled mid-layer
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(15)
    stopped = time.monotonic() - sent
    assert proc.returncode == 130, log.read_text()[-3000:]
    assert stopped < 3, f"took {stopped:.2f}s to stop after Ctrl-C"
    assert "error: interrupted" in log.read_text()


@pytest.mark.slow
def test_ctrl_c_on_a_stalled_kit_push_exits_too(
    big: tuple[Path, Path],
    proxy: GateProxy,
    repo_name: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    """The same stall under a plain ``kit push``: its copy engine's workers must not keep the
    process alive (an executor's threads are joined at exit: it hung until the registry moved)."""
    v1, _v2 = big
    home = tmp_path / "home"
    packed = kit(home, "pack", str(v1), "-t", "local/big:v1")
    assert packed.exit_code == 0, packed.output
    cmd = [*KIT, "--config", str(home), "--progress", "none", "-v", "push", "local/big:v1"]
    cmd += [f"{proxy.host}/{repo_name}:v1", "--upload-mode", "chunked", "--chunk-size", str(CHUNK_MIB)]
    log = tmp_path / "push.log"
    proc = _start_held(processes, proxy, cmd, log)
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(15)
    stopped = time.monotonic() - sent
    assert proc.returncode == 130, log.read_text()[-3000:]
    assert stopped < 3, f"took {stopped:.2f}s to stop after Ctrl-C"


# ---------------------------------------------------------------------------------------------
# memory stays flat

PACK_PUSH = (
    "import sys; from kitops import api; api.pack(sys.argv[1], tag=sys.argv[2], home=sys.argv[3], push=True)"
)
# Linux hands a process that execs the peak RSS of the process it replaces (the forking pytest):
# the pack runs one level down, under a small launcher, whose RUSAGE_CHILDREN holds its own peak.
LAUNCHER = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.slow
def test_pack_push_of_200_mib_keeps_peak_rss_under_100_mib(
    big: tuple[Path, Path], plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    v1, _v2 = big
    ref = f"{plain_registry.host}/{repo_name}:v1"
    child = subprocess.run(
        [sys.executable, "-c", LAUNCHER, PACK_PUSH, str(v1), ref, str(tmp_path / "home")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    peak_mib = int(child.stdout.strip()) / 1024  # ru_maxrss is in KiB on Linux
    assert _remote_digest(plain_registry, repo_name, "v1") is not None
    assert peak_mib < 100, f"peak RSS {peak_mib:.1f} MiB"
