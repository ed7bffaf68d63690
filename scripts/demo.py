"""The kitops demo: pack the bundled example project, list, inspect, unpack, verify.

Runs the real ``kit`` command line (the venv's console script) with a throw-away
``$KITOPS_HOME`` under ``demo-out/`` and prints each command before its output.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.realregistry import Registry

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-out"
KIT = [str(Path(sys.executable).with_name("kit"))]


def run(*args: str, env: dict[str, str]) -> str:
    print(f"\n$ kit {' '.join(args)}", flush=True)
    proc = subprocess.run([*KIT, *args], env=env, text=True, capture_output=True, check=False)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"demo failed: 'kit {' '.join(args)}' exited {proc.returncode}")
    return proc.stdout


def start_registry() -> Registry:
    """Debian's docker-registry (CNCF distribution) on a free loopback port, configuration and log
    in demo-out/, storage in demo-out/registry-data: the launcher the tests and the bench use."""
    if str(ROOT) not in sys.path:  # the launcher lives with the tests, under the repository root
        sys.path.insert(0, str(ROOT))
    from tests.realregistry import RegistryStartError
    from tests.realregistry import start_registry as launch

    try:
        return launch(OUT, storage=OUT / "registry-data")
    except RegistryStartError as err:
        raise SystemExit(f"demo failed: the local registry did not start: {err}") from None


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    env = {**os.environ, "KITOPS_HOME": str(OUT / "home")}
    project = ROOT / "examples" / "iris"
    run("version", env=env)
    run("pack", str(project), "-t", "iris-classifier:v1", env=env)
    run("list", env=env)
    run("inspect", "iris-classifier:v1", env=env)
    run("info", "iris-classifier:v1", "--filter", "model", env=env)
    target = OUT / "unpacked"
    run("unpack", "iris-classifier:v1", "-d", str(target), env=env)
    run("unpack", "iris-classifier:v1", "-d", str(OUT / "model-only"), "--filter", "model", env=env)
    compare = filecmp.dircmp(project, target, ignore=["Kitfile"])
    mismatched = compare.diff_files + compare.left_only + compare.right_only
    for sub in compare.subdirs.values():
        mismatched += sub.diff_files + sub.left_only + sub.right_only
    if mismatched:
        raise SystemExit(f"demo failed: unpacked files differ from the project: {mismatched}")
    print("\nUnpacked files are identical to examples/iris.")
    pred = subprocess.run(
        [sys.executable, str(target / "src" / "predict.py"), "6.7", "3.0", "5.2", "2.3"],
        text=True,
        capture_output=True,
        check=False,
    )
    if pred.returncode == 0:
        print(f"The unpacked model classifies (6.7, 3.0, 5.2, 2.3) as: {pred.stdout.strip()}")

    registry = start_registry()
    host = registry.host
    try:
        print(f"\nStarted a local OCI registry (docker-registry) at {host}")
        ref = f"{host}/examples/iris-classifier:v1"
        run("push", "iris-classifier:v1", ref, env=env)
        run("list", f"{host}/examples/iris-classifier", env=env)
        run("remove", "iris-classifier:v1", env=env)
        run("pull", ref, env=env)
        run("list", env=env)
        pulled = OUT / "pulled"
        run("unpack", ref, "-d", str(pulled), env=env)
        if filecmp.cmp(
            project / "model" / "iris-classifier.joblib",
            pulled / "model" / "iris-classifier.joblib",
            shallow=False,
        ):
            print("\nThe model pulled back from the registry is byte-identical.")
        else:
            raise SystemExit("demo failed: the pulled model differs")
        prod = f"{host}/examples/iris-classifier:prod"
        run("tag", ref, prod, "--remote", env=env)  # promote on the registry: one manifest PUT, no download
        run("list", f"{host}/examples/iris-classifier", env=env)
        run("diff", f"local://{ref}", f"remote://{prod}", env=env)
    finally:
        registry.stop()
    print(f"\nDemo finished. Local storage: {OUT / 'home'}")


if __name__ == "__main__":
    main()
