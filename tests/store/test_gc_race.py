"""``kit remove`` running while ``kit pack`` or ``kit pull`` relies on a blob it found stored.

Pack and pull skip blobs that already exist and write their manifest last. Without a lease, a
``kit remove`` in between garbage-collects the reused blob and the new ModelKit references a blob
that is gone, while pack/pull still exit 0. Real processes, a 1 GiB layer to keep pack busy.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kitops import api
from kitops.store.layout import LocalStore
from tests.faultproxy import Fault, FaultProxy, matching
from tests.realregistry import Registry

pytestmark = pytest.mark.slow
MiB = 1 << 20


def _kit(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "kitops.cli.main", "--config", str(home), "--progress", "none", "-v", *args]


def _wait_for(
    predicate: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, what: str, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"exited ({proc.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {timeout}s:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)


def _write_random(path: Path, size: int, seed: int) -> None:
    block = random.Random(seed).randbytes(MiB)
    with open(path, "wb") as fh:
        for i in range(size // MiB):
            fh.write(block[i % 7 :] + block[: i % 7])  # distinct blocks, cheap to make


def _two_versions(tmp_path: Path, shared_size: int, new_size: int, *, seed: int) -> tuple[Path, Path]:
    """Two projects: ``one`` packs ``shared.bin`` as its model; ``two`` packs the same file (a hard
    link) plus ``new.bin`` as a dataset, so its ModelKit reuses one's model layer."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    _write_random(one / "shared.bin", shared_size, seed)
    (two / "shared.bin").hardlink_to(one / "shared.bin")
    _write_random(two / "new.bin", new_size, seed + 1)
    kitfile = "manifestVersion: 1.0.0\nmodel:\n  path: shared.bin\n"
    (one / "Kitfile").write_text(kitfile)
    (two / "Kitfile").write_text(kitfile + "datasets:\n  - name: new\n    path: new.bin\n")
    return one, two


def _remove(home: Path, ref: str) -> None:
    done = subprocess.run(_kit(home, "remove", ref), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def _remove_a_during(home: Path, log: Path, args: list[str], started: Callable[[], bool], what: str) -> None:
    """Run ``kit ARGS``; once ``started()`` holds, remove ``a:v1`` (the only ModelKit referencing
    the shared blob). The command must still be running then, and must succeed."""
    with open(log, "wb") as err:
        proc = subprocess.Popen(_kit(home, *args), stdout=subprocess.DEVNULL, stderr=err)
    try:
        _wait_for(started, proc, log, what)
        _remove(home, "a:v1")
        assert proc.poll() is None, f"{args[0]} finished before remove ran: the race was not exercised"
        assert proc.wait(120) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_remove_during_pack_keeps_the_reused_blob(tmp_path: Path) -> None:
    home = tmp_path / "home"
    one, two = _two_versions(tmp_path, 64 * MiB, 1024 * MiB, seed=1)
    shared = api.pack(one, tag="a:v1", home=home).manifest.layers[0].digest

    log = tmp_path / "pack.log"
    _remove_a_during(
        home,
        log,
        ["pack", str(two), "-t", "b:v1"],
        lambda: f"Saved model layer: {shared}" in log.read_text(),
        "the reused model layer",
    )
    assert LocalStore(home / "storage").has_blob(shared)
    out = tmp_path / "out"
    api.unpack("b:v1", target_dir=out, home=home, filters=["model"])
    assert (out / "shared.bin").stat().st_size == 64 * MiB
    assert not list((home / "storage" / ".kitops-leases").glob("*.lease"))  # released


@pytest.mark.registry
def test_remove_during_pull_keeps_the_skipped_blob(
    plain_registry: Registry, fault_proxy: FaultProxy, repo_name: str, tmp_path: Path
) -> None:
    home, publisher = tmp_path / "home", tmp_path / "publisher"
    one, two = _two_versions(tmp_path, 16 * MiB, 48 * MiB, seed=3)
    shared = api.pack(one, tag="a:v1", home=home).manifest.layers[0].digest
    packed = api.pack(two, tag="b:v1", home=publisher)
    new = next(layer.digest for layer in packed.manifest.layers if layer.digest != shared)
    api.push("b:v1", f"{plain_registry.host}/{repo_name}:v1", home=publisher)
    fault_proxy.set((matching("GET", f"/blobs/{new}"), Fault(rate=16 * MiB)))  # 3 s for the new layer

    _remove_a_during(
        home,
        tmp_path / "pull.log",
        ["pull", f"{fault_proxy.host}/{repo_name}:v1"],
        lambda: any(s.path.endswith(f"/blobs/{new}") for s in fault_proxy.seen),
        "the download of the new layer",
    )
    assert LocalStore(home / "storage").has_blob(shared)
    out = tmp_path / "out"
    api.unpack(f"{fault_proxy.host}/{repo_name}:v1", target_dir=out, home=home)
    assert (out / "shared.bin").read_bytes() == (one / "shared.bin").read_bytes()


def test_a_lease_left_by_a_killed_process_is_not_kept_forever(tmp_path: Path) -> None:
    """kill -9 leaves the lease file, but not its lock: the next collection removes it."""
    home = tmp_path / "home"
    project = tmp_path / "p"
    project.mkdir()
    _write_random(project / "w.bin", 512 * MiB, 5)
    (project / "Kitfile").write_text("manifestVersion: 1.0.0\nmodel:\n  path: w.bin\n")
    api.pack(project, tag="keep:v1", home=home)
    (home / "cache" / "pack-digests.json").unlink()  # make the second pack read the file again
    log = tmp_path / "pack.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            _kit(home, "pack", str(project), "-t", "other:v1"), stdout=subprocess.DEVNULL, stderr=err
        )
    leases = home / "storage" / ".kitops-leases"
    _wait_for(lambda: leases.is_dir() and any(leases.glob("*.lease")), proc, log, "a lease")
    proc.kill()
    proc.wait(10)
    assert any(leases.glob("*.lease"))
    _remove(home, "keep:v1")
    assert not any(leases.glob("*.lease"))
    assert LocalStore(home / "storage").gc() == []  # nothing left to collect
