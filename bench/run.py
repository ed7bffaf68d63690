"""Benchmark kitops against plain baselines on a generated multi-GB model.

Each step runs as its own process; wall time comes from the clock and peak RSS
from that very process's rusage (os.wait4), so figures are per step, not summed.
Baselines run first in each pair, so both sides see a warm page cache.

    .venv/bin/python bench/run.py --size-gb 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
KIT = [str(Path(PY).with_name("kit"))] if Path(PY).with_name("kit").exists() else [PY, "-m", "kitops.cli.main"]
KITFILE = """manifestVersion: 1.0.0
package:
  name: bench
model:
  name: bench-model
  path: model/weights.bin
  parts:
    - name: shards
      path: model/shards
datasets:
  - name: train
    path: data/train.csv
code:
  - path: src
docs:
  - path: README.md
"""


def generate(project: Path, size: int) -> None:
    marker = project / ".generated"
    if marker.exists() and marker.read_text() == str(size):
        return
    shutil.rmtree(project, ignore_errors=True)
    (project / "model" / "shards").mkdir(parents=True)
    (project / "data").mkdir()
    (project / "src").mkdir()
    block = bytearray(os.urandom(64 << 20))

    def write_random(path: Path, n: int) -> None:
        with open(path, "wb") as fh:
            counter = 0
            while n > 0:
                block[:8] = counter.to_bytes(8, "little")
                counter += 1
                chunk = memoryview(block)[: min(n, len(block))]
                for off in range(0, len(chunk), 4 << 20):
                    fh.write(chunk[off : off + (4 << 20)])
                n -= len(chunk)

    write_random(project / "model" / "weights.bin", int(size * 0.7))
    for i in range(8):
        write_random(project / "model" / "shards" / f"shard-{i:05d}.safetensors", int(size * 0.2 / 8))
    with open(project / "data" / "train.csv", "w") as fh:
        row = "".join(f"{i},{i * 0.5:.3f},label{i % 7},some free text for row {i}\n" for i in range(10000))
        written = 0
        while written < size * 0.1:
            fh.write(row)
            written += len(row)
    for i in range(500):
        (project / "src" / f"module_{i:03d}.py").write_text(f"def f{i}(x):\n    return x * {i}\n" * 20)
    (project / "README.md").write_text("# bench\n")
    (project / "Kitfile").write_text(KITFILE)
    marker.write_text(str(size))


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name != ".generated")


# what a pull of each client imports, read back into the page cache after a drop
WARM_IMPORTS = ("import hashlib, urllib.request, kitops.cli.main, kitops.api, kitops.registry.remote, kitops.transfer, "
                "kitops.modelkit.read, kitops.modelkit.references, httpcore._sync.http11")


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds and peak RSS (MiB) of ``cmd``, measured by bench/measure.py as its parent.

    Dirty pages of earlier steps are flushed first (outside the clock): otherwise their
    write-back lands in whichever step runs next and the figures swing by 2x.
    """
    os.sync()
    proc = subprocess.run([PY, str(ROOT / "bench" / "measure.py"), *cmd], env=env, capture_output=True, check=False)
    try:
        result = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"rc": proc.returncode}
    if result.get("rc") != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr.decode(errors='replace')[-2000:]}")
    return float(result["seconds"]), result["maxrss_kib"] / 1024, 0


def start_registry(work: Path, storage: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = work / "registry.yml"
    cfg.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
                   f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("registry did not start")


def curl_push_script(blobs: list[tuple[str, Path]], host: str, repo: str) -> str:
    lines = ["set -e"]
    for digest, path in blobs:
        lines.append(
            f'loc=$(curl -s -X POST -D - -o /dev/null http://{host}/v2/{repo}/blobs/uploads/ | tr -d "\\r" | '
            f"awk -F': ' 'tolower($1)==\"location\"{{print $2}}')"
        )
        lines.append('case "$loc" in http*) ;; *) loc="http://' + host + '$loc";; esac')
        lines.append(f'curl -sf -X PUT -H "Content-Type: application/octet-stream" -T {path} '
                     f'"$loc&digest={digest}" -o /dev/null')
    return "\n".join(lines)


def ram_dir(choice: str, work: Path, name: str, need: float) -> Path:
    """Where a network step's data lives (the pulls' output, the registry's storage). On this kind
    of VM the disk's write-back swings a 2 GB write by 2x from run to run (the pull baseline alone
    ranged 183-545 MB/s), which drowns the clients' own cost; a RAM disk, the same for baseline
    and kitops, measures the transfer itself. ``auto``: /dev/shm when it has ``need`` bytes free."""
    if choice != "auto":
        return Path(choice)
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > need:
        return shm / name
    return work / name


def drop_page_cache() -> bool:
    """Write back dirty pages and drop the clean page cache; False when not allowed (not root)."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("1\n")
    except OSError:
        return False
    return True


def cpu_steal() -> float:
    """Seconds of CPU time the hypervisor gave to others so far (all cores; 0 where not reported)."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def settle_page_cache(warm: list[Path]) -> str:
    """Before the network steps: drop the clean page cache (when allowed: root) and read back
    the push sources, so both clients start from the same memory state.

    After pack and unpack this VM holds 15+ GB of page cache, and writing fresh pages then
    cost up to 5x more system time (the baseline pull swung 199-516 MB/s from round to round;
    ~600-700 MB/s, and steady, after a drop). Shared memory (the registry's and the pulls'
    directories on /dev/shm) is not dropped."""
    note = ("page cache dropped before the network steps and each pull" if drop_page_cache()
            else "page cache left as it is (dropping it needs root)")
    for path in warm:
        with open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    return note


def rounds(record: Callable[..., dict[str, object]], step: str, nbytes: int, env: dict[str, str],
           impls: list[tuple[str, Callable[[int], list[str]]]], count: int,
           before: Callable[[], object] | None = None) -> None:
    """Run baseline and kitops alternately ``count`` times (network steps write GBs, and page-cache
    write-back makes single runs noisy); record each one's median time and its largest peak RSS.

    Odd rounds run the pair in the other order, so neither side always inherits the state the
    other left. ``before`` runs ahead of every run, outside the clock. The CPU time stolen by the
    hypervisor during each run is kept next to its figure: on a shared VM it explains outliers."""
    times: dict[str, list[float]] = {name: [] for name, _ in impls}
    steals: dict[str, list[float]] = {name: [] for name, _ in impls}
    peaks: dict[str, float] = {name: 0.0 for name, _ in impls}
    for i in range(count):
        for name, make in impls if i % 2 == 0 else impls[::-1]:
            cmd = make(i)
            if before is not None:
                before()
            stolen = cpu_steal()
            secs, rss, _ = measure(cmd, env)
            steals[name].append(round(cpu_steal() - stolen, 2))
            times[name].append(secs)
            peaks[name] = max(peaks[name], rss)
    base: dict[str, object] | None = None
    for name, _ in impls:
        row = record(step, name, statistics.median(times[name]), peaks[name], base, nbytes)
        row["MBps_each"] = [round(nbytes / t / 1e6, 1) for t in times[name]]
        row["steal_s_each"] = steals[name]
        base = base or row
    if base is not None and len(impls) == 2:
        other = impls[1][0]
        per_round = [round(b / k, 2) for b, k in zip(times[impls[0][0]], times[other], strict=True)]
        print(f"  {step:7} per-round ratios {per_round}; CPU steal per run (s): "
              f"{steals[impls[0][0]]} / {steals[other]}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-gb", type=float, default=2.0)
    ap.add_argument("--workdir", default="/tmp/kitbench")
    ap.add_argument("--steps", default="pack,unpack,push,pull")
    ap.add_argument("--pull-dir", default="auto",
                    help="where pulls write (default: /dev/shm when it has room, else --workdir)")
    ap.add_argument("--registry-dir", default="auto",
                    help="the registry's storage (default: /dev/shm when it has room, else --workdir)")
    ap.add_argument("--rounds", type=int, default=5, help="runs of each push/pull implementation (median reported)")
    ap.add_argument("--keep", action="store_true", help="keep outputs (the generated project is always kept)")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    size = int(args.size_gb * 1e9)
    free = shutil.disk_usage(work).free
    if free < 4.5 * size:
        raise SystemExit(f"need about {4.5 * size / 1e9:.1f} GB free in {work}, have {free / 1e9:.1f} GB")
    project = work / "project"
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}")
    print(f"generating {args.size_gb} GB project in {project} (reused when present) ...", flush=True)
    subprocess.run([PY, "-c", f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import run; "
                    f"run.generate(run.Path({str(project)!r}), {size})"], check=True)
    nbytes = tree_bytes(project)
    steps = args.steps.split(",")
    home = work / "home"
    # room for the registry's copy and a pull's next to it
    registry_dir = ram_dir(args.registry_dir, work, "kitbench-registry", 4 * nbytes)
    for d in (home, work / "base-out", work / "kit-unpack", work / "base-unpack", work / "pull-home", work / "base-pull",
              work / "registry", registry_dir):  # a kept registry would make the first push a no-op
        shutil.rmtree(d, ignore_errors=True)
    env = {**os.environ, "KITOPS_HOME": str(home)}
    rows: list[dict[str, object]] = []

    def record(step: str, impl: str, secs: float, rss: float, base: dict[str, object] | None, n: int = nbytes) -> dict[str, object]:
        row: dict[str, object] = {"step": step, "impl": impl, "bytes": n, "seconds": round(secs, 2),
                                  "MBps": round(n / secs / 1e6, 1), "peak_rss_MiB": round(rss, 1)}
        if base is not None:
            row["ratio"] = round(float(row["MBps"]) / float(base["MBps"]), 2)  # type: ignore[arg-type]
        rows.append(row)
        print(f"  {step:7} {impl:24} {row['seconds']:>8}s {row['MBps']:>9} MB/s {row['peak_rss_MiB']:>8} MiB"
              + (f"   x{row['ratio']} vs baseline" if "ratio" in row else ""), flush=True)
        return row

    kit = [*KIT, "--progress", "none"]
    # What `pip install` does for a wheel: byte-compile the package. An editable install under
    # PYTHONDONTWRITEBYTECODE (set on this workplace's machines) otherwise recompiled every
    # kitops module on each run, about 0.1 s of every timed command; the stdlib the
    # baselines import is compiled already.
    import kitops

    subprocess.run([PY, "-m", "compileall", "-q", str(Path(kitops.__file__).parent)], check=True,
                   stdout=subprocess.DEVNULL)
    if "pack" in steps or "unpack" in steps or "push" in steps or "pull" in steps:
        secs, rss, _ = measure([PY, str(ROOT / "bench" / "baseline.py"), "pack", str(project), str(work / "base-out")], env)
        base = record("pack", "stdlib tarfile+sha256", secs, rss, None)
        secs, rss, _ = measure([*kit, "pack", str(project), "-t", "bench/model:v1"], env)
        record("pack", "kitops (none)", secs, rss, base)
        secs, rss, _ = measure([*kit, "pack", str(project), "-t", "bench/model:zstd", "--compression", "zstd"], env)
        record("pack", "kitops (zstd)", secs, rss, base)
    if "unpack" in steps:
        secs, rss, _ = measure([PY, str(ROOT / "bench" / "baseline.py"), "unpack", str(work / "base-out"), str(work / "base-unpack")], env)
        base = record("unpack", "stdlib tarfile+sha256", secs, rss, None)
        secs, rss, _ = measure([*kit, "unpack", "bench/model:v1", "-d", str(work / "kit-unpack")], env)
        record("unpack", "kitops", secs, rss, base)
    if "push" in steps or "pull" in steps:
        if shutil.which("docker-registry") is None or shutil.which("curl") is None:
            print("  push/pull skipped: needs docker-registry and curl")
        else:
            reg, host = start_registry(work, registry_dir)
            try:
                listing = subprocess.run([PY, "-c", (
                    "import sys; from kitops.store.layout import LocalStore; s=LocalStore(__import__('pathlib').Path(sys.argv[1]));"
                    "m=s.read_manifest(s.repository('localhost/bench/model').resolve('v1'));"
                    "[print(d.digest, s.blob_path(d.digest)) for d in (m.config, *m.layers)]"), str(home / "storage")],
                    capture_output=True, text=True, check=True).stdout
                blobs = [(line.split()[0], Path(line.split()[1])) for line in listing.splitlines()]
                total = sum(p.stat().st_size for _d, p in blobs)
                pulls = ram_dir(args.pull_dir, work, "kitbench-pull", 2.5 * total)
                print(f"  pull outputs go to {pulls}, the registry stores in {registry_dir}; "
                      f"{settle_page_cache([p for _d, p in blobs])}", flush=True)
                pull_env = {**env, "KITOPS_HOME": str(pulls / "pull-home")}
                get = work / "curl-pull.sh"
                curl_out = pulls / "curl-pull"  # where the other pulls write, not the VM disk
                get.write_text(f"set -e\nmkdir -p {curl_out}\n" + "\n".join(
                    f"curl -sf http://{host}/v2/bench/model/blobs/{d} -o {curl_out / 'blob'}-{i}" for i, (d, _p) in enumerate(blobs)))

                def curl_push(i: int) -> list[str]:
                    script = work / f"curl-push-{i}.sh"
                    script.write_text(curl_push_script(blobs, host, f"curl/model{i}"))
                    return ["bash", str(script)]

                def kit_push(i: int) -> list[str]:
                    # a fresh repository each round, and no remembered locations: every byte is sent
                    (home / "cache" / "blob-locations.json").unlink(missing_ok=True)
                    return [*kit, "push", "bench/model:v1", f"{host}/bench/model{'' if i == 0 else i}:v1"]

                def clear_pulls() -> None:
                    # both outputs, before every pull: a previous round's 2 GB left in RAM made the
                    # next round's fresh pages slower and the figures noisier, for either client
                    for d in (pulls / "pull-home", pulls / "base-pull"):
                        shutil.rmtree(d, ignore_errors=True)

                def base_pull(i: int) -> list[str]:
                    clear_pulls()
                    return [PY, str(ROOT / "bench" / "baseline.py"), "pull", f"http://{host}/v2/bench/model",
                            str(pulls / "base-pull"), *(d for d, _p in blobs)]

                def kit_pull(i: int) -> list[str]:
                    clear_pulls()
                    return [*kit, "pull", f"{host}/bench/model:v1"]

                # push always runs here: pull reads what it sent
                rounds(record, "push", total, env, [("curl (monolithic PUT)", curl_push), ("kitops", kit_push)], args.rounds)
                if "pull" in steps:
                    drop_page_cache()
                    secs, rss, _ = measure(["bash", str(get)], env)
                    shutil.rmtree(curl_out, ignore_errors=True)
                    record("pull", "curl (GET, no hashing)", secs, rss, None, total)

                    def settle_before_pull() -> None:
                        # each pull starts from a dropped page cache (when root): a cache left by the
                        # push rounds made either client's fresh-page writes swing 2x from run to run.
                        # Both clients' code is read back in, as for every other step: a cold start
                        # read ~300 .pyc files of kitops and its dependencies from the VM disk
                        # (+0.1 s) against the baseline's few stdlib modules, which is not transfer.
                        if drop_page_cache():
                            subprocess.run([PY, "-c", WARM_IMPORTS], check=True)

                    rounds(record, "pull", total, pull_env, [("stdlib urllib+sha256", base_pull), ("kitops", kit_pull)],
                           args.rounds, before=settle_before_pull)
                clear_pulls()
            finally:
                reg.send_signal(signal.SIGTERM)
                reg.wait(10)
    (work / "results.json").write_text(json.dumps(rows, indent=2))
    print(f"results: {work / 'results.json'}")
    if not args.keep:
        for d in (home, work / "base-out", work / "kit-unpack", work / "base-unpack", work / "pull-home",
                  work / "base-pull", work / "registry", registry_dir):
            shutil.rmtree(d, ignore_errors=True)
        for f in work.glob("curl-push-*.sh"):
            f.unlink()


if __name__ == "__main__":
    main()
