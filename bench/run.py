"""Time kit pack / unpack / push / pull / remote-unpack against native yardsticks (GNU tar,
sha256sum, curl) and, with --compare-ref, against an earlier commit of kitops, in one invocation.
On request (--steps) also kit against itself: pack formats, a re-pack, pack --push.

Every run is its own process; wall time comes from the clock and peak RSS from that process tree's
rusage (os.wait4 in bench/measure.py). Implementations alternate order round by round; the
median of the rounds is reported. See bench/README.md.

    .venv/bin/python bench/run.py --size-gb 2 --rounds 5 --scenario all --compare-ref HEAD~3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from tests.realregistry import Registry

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PY = sys.executable
STEPS = ("pack", "unpack", "push", "pull", "remote-unpack")  # the default
# on request only: ours against ours, each row's speed compared with the step's base row
EXTRA_STEPS = ("pack-formats", "repack", "pack-push")
ALL_STEPS = ("pack", "pack-formats", "repack", "pack-push", "unpack", "push", "pull", "remote-unpack")
MODELKIT_STEPS = ("unpack", "push", "pull", "remote-unpack")  # the steps that read the shared ModelKit
SCENARIOS = ("big", "small-files")
TAG = "v1"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
# how both kits are started: what the `kit` console script does, with the kitops package taken
# from PYTHONPATH (a snapshot of this working tree, or the --compare-ref worktree)
KIT_MAIN = "import sys; from kitops.cli.main import main; sys.argv[0] = 'kit'; sys.exit(main())"
# read back, after a page-cache drop, the code a kit run imports (all of kitops and its
# dependencies), so no run pays for reading .pyc files from the VM disk
WARM_CODE = """
import importlib, pkgutil, kitops
for m in pkgutil.walk_packages(kitops.__path__, "kitops."):
    try:
        importlib.import_module(m.name)
    except Exception:
        pass
for name in ("httpx", "httpcore._sync.http11", "click", "yaml"):
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""
WARM_TOOLS = (
    "tar --version; sha256sum --version; openssl version; tee --version; cat --version; curl --version; "
    "mkdir --version"
)
# the yardsticks' hashing command: prints "HEX ..." for a file argument or stdin. Debian's GNU
# sha256sum is not built with OpenSSL (no SHA-NI: ~200 MB/s here against ~1 GB/s for OpenSSL,
# which Python's hashlib uses), so --hasher openssl gives the faster native yardstick.
HASHERS = {"sha256sum": "sha256sum", "openssl": "openssl dgst -sha256 -r"}

BIG_KITFILE = """manifestVersion: 1.0.0
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
BIG_PATHS = ["model/weights.bin", "model/shards", "data/train.csv", "src", "README.md"]
SMALL_KITFILE = """manifestVersion: 1.0.0
package:
  name: bench-small-files
datasets:
  - name: records
    path: data
code:
  - path: src
"""
SMALL_PATHS = ["src", "data"]
SMALL_FILES = 20_000


# ---------------------------------------------------------------------------------------------
# projects


def generate_big(project: Path, size: int) -> None:
    """One big weights file = 70 %, 8 safetensors shards = 20 %, a CSV = 10 %, 500 small
    source files, a README."""
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
    (project / "Kitfile").write_text(BIG_KITFILE)
    marker.write_text(str(size))


def generate_small(project: Path) -> None:
    """20,000 files of 1-64 KiB (uniform, seeded), half under src/ (the code layer), half under
    data/ (one dataset directory), 100 files per directory, three levels deep."""
    marker = project / ".generated"
    tag = f"small-files {SMALL_FILES} v1"
    if marker.exists() and marker.read_text() == tag:
        return
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    rng = random.Random(SMALL_FILES)
    block = os.urandom(256 << 10)
    half = SMALL_FILES // 2
    for top, ext, count in (("src", ".py", half), ("data", ".bin", SMALL_FILES - half)):
        for i in range(count):
            d = project / top / f"pkg_{i // 1000:02d}" / f"sub_{i // 100 % 10:02d}"
            if i % 100 == 0:
                d.mkdir(parents=True, exist_ok=True)
            size = rng.randint(1 << 10, 64 << 10)
            off = rng.randrange(0, len(block) - size)
            (d / f"file_{i % 100:03d}{ext}").write_bytes(block[off : off + size])
    (project / "Kitfile").write_text(SMALL_KITFILE)
    marker.write_text(tag)


def layer_files(project: Path, paths: list[str]) -> dict[str, int]:
    """Relative path -> size of every file the Kitfile's layers hold."""
    files: dict[str, int] = {}
    for rel in paths:
        top = project / rel
        if top.is_file():
            files[rel] = top.stat().st_size
            continue
        for dirpath, _dirs, names in os.walk(top):
            for name in names:
                p = Path(dirpath, name)
                files[str(p.relative_to(project))] = p.stat().st_size
    return files


def tree_problem(out: Path, expected: dict[str, int]) -> str | None:
    """None when ``out`` holds exactly the expected files with their sizes (a Kitfile aside)."""
    got = layer_files(out, sorted({p.split("/")[0] for p in expected}))
    if got == expected:
        return None
    missing = sorted(set(expected) - set(got))
    wrong = sorted(p for p in set(expected) & set(got) if expected[p] != got[p])
    extra = sorted(set(got) - set(expected))
    return f"{len(missing)} missing {missing[:3]}, {len(wrong)} wrong size {wrong[:3]}, {len(extra)} extra {extra[:3]}"


# ---------------------------------------------------------------------------------------------
# measuring


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds of ``cmd``, measured by bench/measure.py as its parent.

    ru_maxrss of a shell pipeline is that of its largest process (the kernel folds reaped
    children's peak into their parent's). Dirty pages of earlier runs are flushed first
    (outside the clock): otherwise their write-back lands in whichever run is next."""
    os.sync()
    proc = subprocess.run(
        [PY, str(BENCH / "measure.py"), *cmd], env=env, cwd=cwd, capture_output=True, check=False
    )
    try:
        result = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"rc": proc.returncode}
    if result.get("rc") != 0:
        raise RuntimeError(
            f"{shlex.join(cmd)} failed (rc {result.get('rc')}):\n"
            f"{proc.stderr.decode(errors='replace')[-2000:]}"
        )
    return float(result["seconds"]), result["maxrss_kib"] / 1024, float(result["cpu_s"])


def drop_page_cache() -> bool:
    """Write back dirty pages and drop the clean page cache; False when not allowed (not root)."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("1\n")
    except OSError:
        return False
    return True


def cpu_counters(server: int | None) -> tuple[float, float, float]:
    """CPU seconds so far (all cores): stolen by the hypervisor, busy in processes and kernel threads
    on this machine (user, nice, system: not irq/softirq, where loopback networking is accounted),
    and used by the registry process ``server``; 0 where not reported."""
    tick = os.sysconf("SC_CLK_TCK")
    steal = busy = srv = 0.0
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:9]]
        steal, busy = f[7] / tick, (f[0] + f[1] + f[2]) / tick
    except (OSError, IndexError, ValueError):
        pass
    if server is not None:
        try:
            with open(f"/proc/{server}/stat") as fh:
                stat = fh.read().rsplit(")", 1)[1].split()
            srv = (int(stat[11]) + int(stat[12])) / tick  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return steal, busy, srv


def read_back(paths: list[Path]) -> None:
    buf = bytearray(1 << 20)
    for path in paths:
        with open(path, "rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass


def files_under(*tops: Path) -> list[Path]:
    out: list[Path] = []
    for top in tops:
        if top.is_file():
            out.append(top)
        for dirpath, _dirs, names in os.walk(top):
            out.extend(Path(dirpath, n) for n in names)
    return out


def ram_dir(choice: str, work: Path, name: str, need: float) -> Path:
    """Where the network steps' data lives (the registry's storage, pulls' outputs). On this kind
    of VM the disk's write-back swings a 2 GB write by 2x from run to run, which drowns the
    clients' own cost; a RAM disk, the same for every implementation, measures the transfer
    itself. ``auto``: /dev/shm when it has ``need`` bytes free."""
    if choice != "auto":
        return Path(choice) / name
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > need:
        return shm / name
    return work / name


def failure_reason(stderr: str) -> str:
    """The line of a failed command's stderr that says why: its last error line, else its last line."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith(("error", "[error"))]
    return (errors or lines or ["(no output)"])[-1][:200]


def rm(*paths: Path) -> None:
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# implementations


@dataclass
class Kit:
    """One build of kitops: this working tree ("ours", snapshotted at start) or --compare-ref."""

    key: str
    label: str
    src: Path  # the directory holding the kitops package

    def cmd(self, *args: str) -> list[str]:
        return [PY, "-c", KIT_MAIN, "--progress", "none", *args]

    def env(self, home: Path) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.src), "KITOPS_HOME": str(home)}


@dataclass
class Impl:
    key: str  # "ours", "ref", "Y1", "Y2", "stdlib"
    label: str
    make: Callable[[int], list[str]]  # round -> command; may write a script (outside the clock)
    env: dict[str, str]
    outputs: list[Path] = field(default_factory=list)  # removed before and after each run
    tree: Path | None = None  # checked against the project after the first round
    before: Callable[[], None] | None = None  # outside the clock, before each run
    # after the first round's run (outside the clock): what is wrong with its result, or None
    check: Callable[[int], str | None] | None = None


def bound(kit: Kit, make: Callable[[Kit, int], list[str]]) -> Callable[[int], list[str]]:
    """``make`` with its kit fixed: each row of a step built in a loop over the kits keeps its own."""
    return lambda r: make(kit, r)


def pack_cmd(kit: Kit, project: Path, ref: str, *flags: str) -> Callable[[int], list[str]]:
    """The same `kit pack` command line every round."""
    return lambda _r: kit.cmd("pack", str(project), "-t", ref, *flags)


def script(path: Path, text: str) -> list[str]:
    path.write_text(text)
    return ["bash", str(path)]


@dataclass
class ModelKit:
    """The ModelKit every unpack, push and pull works on: packed once by ours, outside the clock."""

    home: Path
    ref: str  # local name
    manifest: Path
    manifest_digest: str
    config: tuple[str, Path]
    layers: list[tuple[str, Path]]

    @property
    def blobs(self) -> list[tuple[str, Path]]:
        return [self.config, *self.layers]

    @property
    def blob_bytes(self) -> int:
        return self.manifest.stat().st_size + sum(p.stat().st_size for _d, p in self.blobs)

    @property
    def layer_bytes(self) -> int:
        return sum(p.stat().st_size for _d, p in self.layers)


def inspect_modelkit(kit: Kit, home: Path, ref: str, cwd: Path) -> ModelKit:
    out = subprocess.run(
        kit.cmd("inspect", ref), env=kit.env(home), cwd=cwd, capture_output=True, text=True, check=True
    ).stdout
    info = json.loads(out)
    blob_dir = home / "storage" / "blobs" / "sha256"

    def blob(digest: str) -> tuple[str, Path]:
        return digest, blob_dir / digest.split(":", 1)[1]

    manifest = info["manifest"]
    return ModelKit(
        home,
        ref,
        blob(info["digest"])[1],
        info["digest"],
        blob(manifest["config"]["digest"]),
        [blob(layer["digest"]) for layer in manifest["layers"]],
    )


def curl_push_script(mk: ModelKit, host: str, repo: str) -> str:
    """Monolithic upload of each blob (POST for a location, PUT with the body), then the manifest."""
    lines = ["set -e"]
    for digest, path in mk.blobs:
        lines.append(
            f'loc=$(curl -s -X POST -D - -o /dev/null http://{host}/v2/{repo}/blobs/uploads/ | tr -d "\\r" | '
            f"awk -F': ' 'tolower($1)==\"location\"{{print $2}}')"
        )
        lines.append('case "$loc" in http*) ;; *) loc="http://' + host + '$loc";; esac')
        lines.append(
            f'curl -sf -X PUT -H "Content-Type: application/octet-stream" -T {path} '
            f'"$loc&digest={digest}" -o /dev/null'
        )
    lines.append(
        f'curl -sf -X PUT -H "Content-Type: {MANIFEST_TYPE}" --data-binary @{mk.manifest} '
        f"http://{host}/v2/{repo}/manifests/{TAG} -o /dev/null"
    )
    return "\n".join(lines) + "\n"


def manifest_get(host: str, repo: str, dest: str) -> str:
    return f"curl -sf -H 'Accept: {MANIFEST_TYPE}' http://{host}/v2/{repo}/manifests/{TAG} -o {dest}"


def curl_pull_script(mk: ModelKit, host: str, repo: str, out: Path, hasher: str | None) -> str:
    lines = ["set -eo pipefail", f"mkdir -p {out}", manifest_get(host, repo, str(out / "manifest.json"))]
    for digest, _p in mk.blobs:
        hexd = digest.split(":", 1)[1]
        url = f"http://{host}/v2/{repo}/blobs/{digest}"
        if hasher:
            lines.append(f'h=$(curl -sf {url} | tee {out / hexd} | {hasher}); [ "${{h%% *}}" = {hexd} ]')
        else:
            lines.append(f"curl -sf {url} -o {out / hexd}")
    return "\n".join(lines) + "\n"


def curl_unpack_script(mk: ModelKit, host: str, repo: str, out: Path, hasher: str) -> str:
    """GET each layer once, into tar -x and (through tee and fd 3) into sha256sum; tar stops at
    the end-of-archive blocks, so cat drains the rest for the hash."""
    lines = ["set -eo pipefail", f"mkdir -p {out}", manifest_get(host, repo, "/dev/null")]
    for digest, _p in mk.layers:
        hexd = digest.split(":", 1)[1]
        lines.append(
            f"h=$( {{ curl -sf http://{host}/v2/{repo}/blobs/{digest} | tee /dev/fd/3 | "
            f"{{ tar -xf - -C {out} && cat >/dev/null; }}; }} 3>&1 >/dev/null | {hasher} ); "
            f'[ "${{h%% *}}" = {hexd} ]'
        )
    return "\n".join(lines) + "\n"


def tar_unpack_script(mk: ModelKit, out: Path, hasher: str | None) -> str:
    """Every layer blob hashed (and checked) first, then each extracted: nothing is extracted from
    a blob that does not match its digest."""
    lines = ["set -e", f"mkdir -p {out}"]
    if hasher:
        lines.extend(f'h=$({hasher} {p}); [ "${{h%% *}}" = {d.split(":", 1)[1]} ]' for d, p in mk.layers)
    lines.extend(f"tar -xf {p} -C {out}" for _d, p in mk.layers)
    return "\n".join(lines) + "\n"


def tar_pack_script(project: Path, paths: list[str], out: Path, hasher: str) -> str:
    return (
        f"set -o pipefail\nmkdir -p {out}\n"
        f"tar -cf - -C {project} {' '.join(paths)} | tee {out / 'layer.tar'} | {hasher}\n"
    )


# placeholders: the legend under each table shows the yardstick scripts' lines for one blob
SAMPLE = ModelKit(
    Path("HOME"),
    "REF",
    Path("MANIFEST"),
    "sha256:MHEX",
    ("sha256:CHEX", Path("CONFIG")),
    [("sha256:HEX", Path("BLOB"))],
)
ONE_BLOB = ModelKit(Path("HOME"), "REF", Path("MANIFEST"), "sha256:MHEX", ("sha256:HEX", Path("BLOB")), [])


def sample(text: str) -> str:
    """The lines of a yardstick script that do the work, without set/mkdir, joined by '; '."""
    keep = [ln for ln in text.splitlines() if not ln.startswith(("set ", "mkdir "))]
    return "; ".join(keep)


# ---------------------------------------------------------------------------------------------
# registry


def start_registry(work: Path, storage: Path) -> Registry:
    """The registry the push, pull and remote-unpack steps talk to, configuration and log in
    ``work`` and blobs in ``storage``: the launcher the tests and the demo use. Imported here, not at
    the top, so the generator children (which import this module from bench/) never load it."""
    if str(ROOT) not in sys.path:  # the launcher lives with the tests, under the repository root
        sys.path.insert(0, str(ROOT))
    from tests.realregistry import start_registry as launch

    return launch(work, storage=storage, log_level="error")


# ---------------------------------------------------------------------------------------------
# rounds and report


class Runner:
    def __init__(self, work: Path, rounds: int, kits: list[Kit]) -> None:
        self.work = work
        self.rounds = rounds
        self.kits = kits
        self.root = os.geteuid() == 0
        self.server: int | None = None  # the registry's pid while one runs

    def settle(self, warm: list[Path]) -> None:
        """Before every measured run (root only): drop the clean page cache, then read back the
        run's inputs and the code of every implementation, so each run starts from the same
        memory state: inputs and code cached, nothing else (no earlier run's output)."""
        if not drop_page_cache():
            return
        read_back(warm)
        for kit in self.kits:
            subprocess.run(
                [PY, "-c", WARM_CODE],
                env=kit.env(self.work / "warm-home"),
                cwd=self.work,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        subprocess.run(["bash", "-c", WARM_TOOLS], check=True, stdout=subprocess.DEVNULL)

    def step(
        self,
        name: str,
        nbytes: int,
        impls: list[Impl],
        warm: list[Path],
        expected: dict[str, int] | None = None,
        base: str | None = None,
    ) -> dict[str, object]:
        """Every implementation ``rounds`` times; ``base``: the key of the row every other row's
        speed is compared with (steps that time ours against ours)."""
        res: dict[str, dict[str, object]] = {
            i.key: {
                "label": i.label,
                "seconds_each": [],
                "peak_rss_MiB_each": [],
                "steal_s_each": [],
                "cpu_s_each": [],
                "registry_cpu_s_each": [],
                "others_cpu_s_each": [],
                "position_each": [],
                "error": None,
                "tree_problem": None,
                "check_problem": None,
            }
            for i in impls
        }
        for r in range(self.rounds):
            order = impls if r % 2 == 0 else impls[::-1]
            for pos, impl in enumerate(order):
                row = res[impl.key]
                if row["error"]:
                    continue
                rm(*impl.outputs)
                if impl.before is not None:
                    impl.before()
                cmd = impl.make(r)
                self.settle(warm)
                before = cpu_counters(self.server)
                try:
                    secs, rss, own = measure(cmd, impl.env, self.work)
                except RuntimeError as exc:
                    row["error"] = str(exc)
                    print(
                        f"  {name:13} {impl.label:40} FAILED: {failure_reason(str(exc))}",
                        flush=True,
                    )
                    rm(*impl.outputs)
                    continue
                after = cpu_counters(self.server)
                steal = round(after[0] - before[0], 2)
                server = round(after[2] - before[2], 2)
                # CPU that neither this run nor the registry used: other work on the machine
                # (another test suite, kernel write-back); large values mean a contaminated figure
                others = round(max(0.0, after[1] - before[1] - own - server), 2)
                row["cpu_s_each"].append(round(own, 2))  # type: ignore[attr-defined]
                row["registry_cpu_s_each"].append(server)  # type: ignore[attr-defined]
                row["others_cpu_s_each"].append(others)  # type: ignore[attr-defined]
                row["seconds_each"].append(round(secs, 3))  # type: ignore[attr-defined]
                row["peak_rss_MiB_each"].append(round(rss, 1))  # type: ignore[attr-defined]
                row["steal_s_each"].append(steal)  # type: ignore[attr-defined]
                row["position_each"].append(pos)  # type: ignore[attr-defined]
                if r == 0 and expected is not None and impl.tree is not None:
                    row["tree_problem"] = tree_problem(impl.tree, expected)
                    if row["tree_problem"]:
                        print(
                            f"  {name:13} {impl.label:40} OUTPUT DIFFERS: {row['tree_problem']}", flush=True
                        )
                if r == 0 and impl.check is not None:
                    row["check_problem"] = impl.check(r)
                    if row["check_problem"]:
                        print(f"  {name:13} {impl.label:40} CHECK FAILED: {row['check_problem']}", flush=True)
                rm(*impl.outputs)
                print(
                    f"  {name:13} round {r + 1} {impl.label:40} {secs:8.2f}s {nbytes / secs / 1e6:9.1f} MB/s "
                    f"{rss:7.1f} MiB  cpu {own:5.2f}s  registry {server:5.2f}s  others {others:5.2f}s  steal {steal}s",
                    flush=True,
                )
        for row in res.values():
            times: list[float] = row["seconds_each"]  # type: ignore[assignment]
            if times and not row["error"]:
                med = statistics.median(times)
                row["median_s"] = round(med, 3)
                row["MBps"] = round(nbytes / med / 1e6, 1)
                row["MBps_each"] = [round(nbytes / t / 1e6, 1) for t in times]
                row["peak_rss_MiB"] = max(cast("list[float]", row["peak_rss_MiB_each"]))
        # speed ratios: the other's seconds / this one's (>1 = this one faster), medians and per round
        for key in ("ours", "ref"):
            mine = res.get(key)
            if not mine or "median_s" not in mine:
                continue
            ratios: dict[str, object] = {}
            for other, row in res.items():
                if other in (key, "ours") or "median_s" not in row:
                    continue
                ratios[other] = round(cast(float, row["median_s"]) / cast(float, mine["median_s"]), 2)
                ratios[other + "_each"] = [
                    round(o / m, 2)
                    for o, m in zip(
                        cast("list[float]", row["seconds_each"]),
                        cast("list[float]", mine["seconds_each"]),
                        strict=False,
                    )
                ]
            mine["speed_ratio_vs"] = ratios
        if base is not None and "median_s" in res.get(base, {}):
            ref = res[base]
            for key, row in res.items():
                if key == base or "median_s" not in row:
                    continue
                vs = cast("dict[str, object]", row.setdefault("speed_ratio_vs", {}))
                vs["base"] = round(cast(float, ref["median_s"]) / cast(float, row["median_s"]), 2)
                vs["base_each"] = [
                    round(b / m, 2)
                    for b, m in zip(
                        cast("list[float]", ref["seconds_each"]),
                        cast("list[float]", row["seconds_each"]),
                        strict=False,
                    )
                ]
        out: dict[str, object] = {"bytes": nbytes, "impls": res}
        if base is not None:
            out["base"] = base
        return out


def fmt_ratio(x: object) -> str:
    return "" if x is None else f"{x:.2f}"


def table(
    scenario: str,
    desc: str,
    steps: dict[str, dict[str, object]],
    legend: dict[str, dict[str, str]],
    have_ref: bool,
) -> str:
    ykeys = [k for k in ("Y1", "Y2", "stdlib") if any(k in s["impls"] for s in steps.values())]  # type: ignore[operator]
    have_base = any("base" in s for s in steps.values())
    cols = ["step", "impl", "median s", "MB/s", "peak RSS MiB", *(f"vs {k}" for k in ykeys)]
    if have_ref:
        cols.append("vs ref")
    if have_base:
        cols.append("vs base")
    cols.append("others' CPU s")
    lines = [f"### {scenario}: {desc}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for step, data in steps.items():
        impls: dict[str, dict[str, object]] = data["impls"]  # type: ignore[assignment]
        for key, row in impls.items():
            name = row["label"] if key in ("ours", "ref") else f"{key}: {row['label']}"
            if "median_s" not in row:
                cells = [step, str(name), "FAILED" if row["error"] else "-", "", ""]
                if row["error"]:  # the failing command's last stderr line says why
                    cells[1] += f" (FAILED: {failure_reason(str(row['error']))[:100]})"
            else:
                cells = [
                    step,
                    str(name),
                    f"{row['median_s']:.2f}",
                    f"{row['MBps']:.1f}",
                    f"{row['peak_rss_MiB']:.1f}",
                ]
            ratios: dict[str, object] = row.get("speed_ratio_vs", {})  # type: ignore[assignment]
            cells.extend(fmt_ratio(ratios.get(k)) for k in ykeys)
            if have_ref:
                cells.append(fmt_ratio(ratios.get("ref")) if key == "ours" else "")
            if have_base:
                cells.append("base" if data.get("base") == key else fmt_ratio(ratios.get("base")))
            others: list[float] = row["others_cpu_s_each"]  # type: ignore[assignment]
            cells.append(f"{max(others):.2f}" if others else "")
            if row.get("tree_problem"):
                cells[1] += " (OUTPUT DIFFERS)"
            if row.get("check_problem"):
                cells[1] += " (CHECK FAILED)"
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    for step, keys in legend.items():
        lines.append(f"- {step}: " + "; ".join(f"{k} = {v}" for k, v in keys.items()))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# setup


def git(*args: str) -> str:
    # GIT_OPTIONAL_LOCKS=0: no opportunistic index refresh; this harness never writes the index
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def compile_tree(src: Path) -> None:
    # What `pip install` does for a wheel: byte-compile the package. Under PYTHONDONTWRITEBYTECODE
    # (set on this workplace's machines) every run would otherwise recompile every kitops module.
    subprocess.run([PY, "-m", "compileall", "-q", str(src)], check=True, stdout=subprocess.DEVNULL)


def add_worktree(ref: str) -> tuple[Path, str]:
    sha = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    path = Path(f"/tmp/kitbench-ref-{sha[:12]}")
    if path.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], capture_output=True, check=False)
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), sha],
        capture_output=True,
        check=True,
    )
    return path, sha


def remove_worktree(path: Path) -> None:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], capture_output=True, check=False
    )
    shutil.rmtree(path, ignore_errors=True)


def setup_run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    """A kit command outside the clock (the shared ModelKit's pack and push); quiet unless it fails."""
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed:\n{proc.stderr[-2000:]}")


# ---------------------------------------------------------------------------------------------
# ours against ours: pack formats, re-pack, pack --push (only with --steps)

# the pack-formats rows: key, label, the flags after `kit pack PROJECT -t REF`
PACK_FORMATS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("kit-tar", "Kit format, tar layers", ()),
    ("mp-tar", "ModelPack, tar layers (--use-model-pack)", ("--use-model-pack",)),
    ("kit-raw", "Kit format, raw layers (--layer-format raw)", ("--layer-format", "raw")),
    (
        "mp-native",
        "ModelPack, per-file layers (--use-model-pack --layer-format native)",
        ("--use-model-pack", "--layer-format", "native"),
    ),
)


def small_files(*tops: Path, limit: int = 1 << 20) -> list[Path]:
    """The files under ``tops`` smaller than ``limit``: a home's index, manifests and caches, not its layers."""
    return [p for p in files_under(*tops) if p.stat().st_size < limit]


def layer_digests(kit: Kit, home: Path, ref: str, cwd: Path) -> list[str]:
    return [d for d, _p in inspect_modelkit(kit, home, ref, cwd).layers]


def reuse_problem(kit: Kit, home: Path, project: Path, ref: str, cwd: Path, layers: list[str]) -> str | None:
    """None when one more re-pack into ``home`` (outside the clock) reuses every layer unread and
    gives ``layers``: the state every timed re-pack starts from. kit says so per layer at level info."""
    proc = subprocess.run(
        kit.cmd("pack", str(project), "-t", ref),
        env=kit.env(home),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return f"re-pack failed: {failure_reason(proc.stderr)}"
    saved = [ln for ln in proc.stderr.splitlines() if ln.startswith("Saved ") and " layer: " in ln]
    got = {ln.split(" layer: ", 1)[1].split()[0] for ln in saved}
    unread = [ln for ln in saved if "not read again" in ln]
    if got != set(layers):
        return f"re-pack gave layers {sorted(got)}, the first pack {sorted(layers)}"
    if len(unread) != len(saved):
        return f"{len(saved) - len(unread)} of {len(saved)} layers read again (no digest-cache hit)"
    return None


def manifest_problem(host: str, repo: str) -> str | None:
    """None when the registry holds ``repo:TAG`` (a run that exits 0 must also have pushed it)."""
    req = urllib.request.Request(
        f"http://{host}/v2/{repo}/manifests/{TAG}", method="HEAD", headers={"Accept": MANIFEST_TYPE}
    )
    try:
        urllib.request.urlopen(req, timeout=30).close()
    except OSError as exc:  # HTTPError and URLError are OSErrors
        return f"no manifest {repo}:{TAG} on the registry ({exc})"
    return None


def pack_formats_step(
    runner: Runner, ours: Kit, project: Path, paths: list[str], nbytes: int, name: str, out: Path
) -> tuple[dict[str, object], dict[str, str]]:
    """The Kit-format pack against the ModelPack and raw-layer packs of the same project, each run
    into a fresh home (no pack-cache hit). Ours only: an earlier commit may not know the flags."""
    dirs = [p for p in paths if (project / p).is_dir()]
    impls = []
    for key, label, flags in PACK_FORMATS:
        if key == "kit-raw" and dirs:
            continue  # a raw layer is one regular file's bytes: a directory cannot be one
        home = out / f"pf-{key}"
        impls.append(
            Impl(
                key,
                label,
                pack_cmd(ours, project, f"bench/{name}:{TAG}", *flags),
                ours.env(home),
                [home],
            )
        )
    legend = {
        "base": "kit-tar, `kit pack PROJECT -t bench/S:v1` in the same run (each run packs into a fresh "
        "`$KITOPS_HOME`); mp-native expands weight directories into one raw layer per file and keeps "
        "code, dataset and docs directories as tar"
    }
    if dirs:
        legend["kit-raw"] = (
            f"not run: raw layers need every Kitfile path to be a regular file ({', '.join(dirs)} "
            "are directories); mp-native is the per-file mode"
        )
    return runner.step("pack-formats", nbytes, impls, files_under(project), base="kit-tar"), legend


def repack_step(
    runner: Runner, ours: Kit, project: Path, nbytes: int, name: str, out: Path
) -> tuple[dict[str, object], dict[str, str]]:
    """A first pack into a fresh home against a re-pack of the unchanged project into a home that
    packed it before: the digest cache (path, size, mtime, ctime, inode) spares reading the files."""
    tag = f"bench/{name}:{TAG}"
    home = out / "repack-home"
    rm(home)
    setup_run(ours.cmd("pack", str(project), "-t", tag), ours.env(home), runner.work)
    first_layers = layer_digests(ours, home, tag, runner.work)

    def all_reused(_r: int) -> str | None:
        return reuse_problem(ours, home, project, tag, runner.work, first_layers)

    impls = [
        Impl(
            "first",
            "first pack, fresh $KITOPS_HOME",
            pack_cmd(ours, project, tag),
            ours.env(out / "repack-first"),
            [out / "repack-first"],
        ),
        Impl(
            "again",
            "re-pack of unchanged files, same $KITOPS_HOME",
            pack_cmd(ours, project, tag),
            ours.env(home),
            check=all_reused,
        ),
    ]
    legend = {
        "base": "first, `kit pack PROJECT -t bench/S:v1` into a fresh `$KITOPS_HOME`; again = the same "
        "command into a home that packed the same files before (outside the clock); checked after the "
        "first round: a re-pack there reads no layer again and gives the first pack's layers"
    }
    try:
        # the home's index, manifests and cache file are the re-pack's inputs too (not its blobs)
        step = runner.step("repack", nbytes, impls, files_under(project) + small_files(home), base="first")
    finally:
        rm(home)
    return step, legend


def pack_push_step(
    args: argparse.Namespace,
    runner: Runner,
    ours: Kit,
    project: Path,
    nbytes: int,
    sw: Path,
    out: Path,
    scripts: Path,
) -> tuple[dict[str, object], dict[str, str]] | None:
    """`kit pack --push` (layers built straight into the registry) against `kit pack` then
    `kit push`, on a registry of its own; None when the tools for a registry are missing."""
    if shutil.which("docker-registry") is None:
        print("  pack-push skipped: needs docker-registry")
        return None
    registry_dir = ram_dir(args.registry_dir, sw, "kitbench-packpush-registry", 2.5 * nbytes)
    rm(registry_dir)
    reg = start_registry(sw, registry_dir)
    host = reg.host
    runner.server = reg.process.pid
    print(f"   pack-push: registry stores in {registry_dir}", flush=True)

    def repo(key: str, r: int) -> str:
        return f"packpush/{key}-{r}"  # a fresh repository every run: nothing is found there

    def pack_then_push(r: int) -> list[str]:
        ref = f"{host}/{repo('two', r)}:{TAG}"
        text = f"set -e\n{shlex.join(ours.cmd('pack', str(project), '-t', ref))}\n{shlex.join(ours.cmd('push', ref))}\n"
        return script(scripts / f"pack-push-two-{r}.sh", text)

    # both start from a fresh home: no pack cache, no remembered blob locations (nothing is mounted)
    impls = [
        Impl(
            "one",
            "kit pack --push",
            lambda r: ours.cmd("pack", str(project), "-t", f"{host}/{repo('one', r)}:{TAG}", "--push"),
            ours.env(out / "pp-one"),
            [out / "pp-one"],
            check=lambda r: manifest_problem(host, repo("one", r)),
        ),
        Impl(
            "two",
            "kit pack, then kit push (one script)",
            pack_then_push,
            ours.env(out / "pp-two"),
            [out / "pp-two"],
            check=lambda r: manifest_problem(host, repo("two", r)),
        ),
    ]
    legend = {
        "one": "`kit pack PROJECT -t HOST/REPO:v1 --push`",
        "base": "two, `kit pack PROJECT -t HOST/REPO:v1` then `kit push HOST/REPO:v1` in one bash script "
        "(peak RSS: the larger of the two); each run a fresh `$KITOPS_HOME` and a fresh repository",
    }
    warm = files_under(project) + (
        [] if str(registry_dir).startswith("/dev/shm/") else files_under(registry_dir)
    )
    try:
        step = runner.step("pack-push", nbytes, impls, warm, base="two")
    finally:
        runner.server = None
        reg.stop()
        if not args.keep:
            rm(registry_dir)
    return step, legend


def run_scenario(
    name: str, args: argparse.Namespace, runner: Runner, kits: list[Kit]
) -> tuple[dict[str, object], str]:
    work = runner.work
    ours = kits[0]
    hasher = HASHERS[args.hasher]
    steps = [s for s in ALL_STEPS if s in args.steps.split(",")]
    if name == "big":
        project, paths = work / "project-big", BIG_PATHS
        gen = f"run.generate_big(run.Path({str(project)!r}), {int(args.size_gb * 1e9)})"
    else:
        project, paths = work / "project-small-files", SMALL_PATHS
        gen = f"run.generate_small(run.Path({str(project)!r}))"
    print(f"\n== scenario {name}: generating {project} (reused when present) ...", flush=True)
    # in a child: the generator's buffers stay out of this process
    subprocess.run(
        [PY, "-c", f"import sys; sys.path.insert(0, {str(BENCH)!r}); import run; {gen}"], check=True
    )
    expected = layer_files(project, paths)
    nbytes = sum(expected.values())
    desc = f"{nbytes / 1e9:.2f} GB in {len(expected)} files, layers {', '.join(paths)}"
    print(f"   {desc}", flush=True)
    free = shutil.disk_usage(work).free
    if free < 3.2 * nbytes:
        raise SystemExit(f"need about {3.2 * nbytes / 1e9:.1f} GB free in {work}, have {free / 1e9:.1f} GB")
    sw = work / name  # this scenario's homes, outputs and scripts
    rm(sw)
    scripts = sw / "scripts"
    scripts.mkdir(parents=True)
    out = sw / "out"
    legend: dict[str, dict[str, str]] = {}
    results: dict[str, dict[str, object]] = {}
    info: dict[str, object] = {
        "project": str(project),
        "bytes": nbytes,
        "files": len(expected),
        "steps": results,
    }
    env = {**os.environ}

    def done() -> tuple[dict[str, object], str]:
        return info, table(name, desc, results, legend, len(kits) > 1)

    if "pack" in steps:
        # each kit into a fresh home, tar into a fresh directory
        impls = [
            Impl(
                k.key,
                k.label,
                pack_cmd(k, project, f"bench/{name}:{TAG}"),
                k.env(out / f"pack-{k.key}"),
                [out / f"pack-{k.key}"],
            )
            for k in kits
        ]
        impls.append(
            Impl(
                "Y1",
                f"tar -cf - | tee layer.tar | {args.hasher}",
                lambda r: script(
                    scripts / "pack-Y1.sh", tar_pack_script(project, paths, out / "pack-Y1", hasher)
                ),
                env,
                [out / "pack-Y1"],
            )
        )
        if args.stdlib:
            impls.append(
                Impl(
                    "stdlib",
                    "stdlib tarfile+sha256 per layer",
                    lambda r: [
                        PY,
                        str(BENCH / "baseline.py"),
                        "pack",
                        str(project),
                        str(out / "pack-stdlib"),
                        *paths,
                    ],
                    env,
                    [out / "pack-stdlib"],
                )
            )
        legend["pack"] = {
            "Y1": f"`{sample(tar_pack_script(Path('PROJECT'), paths, Path('OUT'), hasher))}` (pipefail)"
        }
        results["pack"] = runner.step("pack", nbytes, impls, files_under(project))
    if "pack-formats" in steps:
        results["pack-formats"], legend["pack-formats"] = pack_formats_step(
            runner, ours, project, paths, nbytes, name, out
        )
    if "repack" in steps:
        results["repack"], legend["repack"] = repack_step(runner, ours, project, nbytes, name, out)
    if "pack-push" in steps:
        done_pp = pack_push_step(args, runner, ours, project, nbytes, sw, out, scripts)
        if done_pp is not None:
            results["pack-push"], legend["pack-push"] = done_pp
    rm(out)
    if not set(steps) & set(MODELKIT_STEPS):
        return done()

    # the ModelKit the other steps use: packed once by ours, outside the clock
    src_home = sw / "src-home"
    setup_run(ours.cmd("pack", str(project), "-t", f"bench/{name}:{TAG}"), ours.env(src_home), work)
    mk = inspect_modelkit(ours, src_home, f"bench/{name}:{TAG}", work)
    info.update(blob_bytes=mk.blob_bytes, layer_bytes=mk.layer_bytes, layers=len(mk.layers))

    if "unpack" in steps:
        impls = [
            Impl(
                k.key,
                k.label,
                bound(k, lambda k, r: k.cmd("unpack", mk.ref, "-d", str(out / f"unpack-{k.key}"))),
                k.env(src_home),
                [out / f"unpack-{k.key}"],
                out / f"unpack-{k.key}",
            )
            for k in kits
        ]
        impls.append(
            Impl(
                "Y1",
                f"{args.hasher} + tar -xf per layer",
                lambda r: script(scripts / "unpack-Y1.sh", tar_unpack_script(mk, out / "unpack-Y1", hasher)),
                env,
                [out / "unpack-Y1"],
                out / "unpack-Y1",
            )
        )
        impls.append(
            Impl(
                "Y2",
                "tar -xf per layer (no hashing)",
                lambda r: script(scripts / "unpack-Y2.sh", tar_unpack_script(mk, out / "unpack-Y2", None)),
                env,
                [out / "unpack-Y2"],
                out / "unpack-Y2",
            )
        )
        if args.stdlib:
            impls.append(
                Impl(
                    "stdlib",
                    "stdlib tarfile+sha256 per layer",
                    lambda r: [
                        PY,
                        str(BENCH / "baseline.py"),
                        "unpack",
                        str(out / "unpack-stdlib"),
                        *(f"{d}={p}" for d, p in mk.layers),
                    ],
                    env,
                    [out / "unpack-stdlib"],
                    out / "unpack-stdlib",
                )
            )
        legend["unpack"] = {
            "Y1": f"`{sample(tar_unpack_script(SAMPLE, Path('OUT'), hasher))}` "
            "(every layer blob hashed and checked, then every one extracted)",
            "Y2": f"`{sample(tar_unpack_script(SAMPLE, Path('OUT'), None))}`",
        }
        results["unpack"] = runner.step("unpack", nbytes, impls, [p for _d, p in mk.layers], expected)
    rm(out)

    if not set(steps) & {"push", "pull", "remote-unpack"}:
        return done()
    if shutil.which("docker-registry") is None or shutil.which("curl") is None:
        print("  push/pull/remote-unpack skipped: needs docker-registry and curl")
        return done()
    registry_dir = ram_dir(args.registry_dir, sw, f"kitbench-{name}-registry", 3 * mk.blob_bytes)
    pulls = ram_dir(args.pull_dir, sw, f"kitbench-{name}-pull", 2.5 * mk.blob_bytes)
    info.update(registry_dir=str(registry_dir), pull_dir=str(pulls))
    rm(registry_dir, pulls)
    reg = start_registry(sw, registry_dir)
    host = reg.host
    runner.server = reg.process.pid
    print(f"   registry stores in {registry_dir}; pulls and remote unpacks write to {pulls}", flush=True)
    repo = f"bench/{name}"
    try:
        # what pull and remote-unpack read: pushed once by ours, outside the clock
        setup_run(ours.cmd("push", mk.ref, f"{host}/{repo}:{TAG}"), ours.env(src_home), work)
        # the registry's storage is read back after a drop only when it is on disk
        reg_warm = [] if str(registry_dir).startswith("/dev/shm/") else files_under(registry_dir)

        if "push" in steps:

            def forget_locations() -> None:
                # no remembered blob locations (cross-repository mounts): every byte is sent
                rm(src_home / "cache" / "blob-locations.json")

            # a fresh repository for every run
            impls = [
                Impl(
                    k.key,
                    k.label,
                    bound(k, lambda k, r: k.cmd("push", mk.ref, f"{host}/push/{k.key}-{r}:{TAG}")),
                    k.env(src_home),
                    before=forget_locations,
                )
                for k in kits
            ]
            impls.append(
                Impl(
                    "Y1",
                    "curl POST+PUT per blob, PUT manifest",
                    lambda r: script(scripts / f"push-Y1-{r}.sh", curl_push_script(mk, host, f"push/y1-{r}")),
                    env,
                )
            )
            legend["push"] = {
                "Y1": f"`{sample(curl_push_script(ONE_BLOB, 'HOST', 'REPO'))}` "
                "(the first three commands for the config and every layer, then the manifest's PUT)"
            }
            results["push"] = runner.step(
                "push", mk.blob_bytes, impls, [mk.manifest, *(p for _d, p in mk.blobs)]
            )

        if "pull" in steps:
            impls = [
                Impl(
                    k.key,
                    k.label,
                    bound(k, lambda k, r: k.cmd("pull", f"{host}/{repo}:{TAG}")),
                    k.env(pulls / f"pull-{k.key}"),
                    [pulls / f"pull-{k.key}"],
                )
                for k in kits
            ]
            impls.append(
                Impl(
                    "Y1",
                    f"curl | tee FILE | {args.hasher} per blob",
                    lambda r: script(
                        scripts / "pull-Y1.sh", curl_pull_script(mk, host, repo, pulls / "pull-Y1", hasher)
                    ),
                    env,
                    [pulls / "pull-Y1"],
                )
            )
            impls.append(
                Impl(
                    "Y2",
                    "curl -o FILE per blob (no hashing)",
                    lambda r: script(
                        scripts / "pull-Y2.sh", curl_pull_script(mk, host, repo, pulls / "pull-Y2", None)
                    ),
                    env,
                    [pulls / "pull-Y2"],
                )
            )
            if args.stdlib:
                impls.append(
                    Impl(
                        "stdlib",
                        "stdlib urllib+sha256 per blob",
                        lambda r: [
                            PY,
                            str(BENCH / "baseline.py"),
                            "pull",
                            f"http://{host}/v2/{repo}",
                            str(pulls / "pull-stdlib"),
                            *(d for d, _p in mk.blobs),
                        ],
                        env,
                        [pulls / "pull-stdlib"],
                    )
                )
            legend["pull"] = {
                "Y1": f"`{sample(curl_pull_script(ONE_BLOB, 'HOST', 'REPO', Path('OUT'), hasher))}` "
                "(pipefail; the manifest, then the config and every layer)",
                "Y2": f"`{sample(curl_pull_script(ONE_BLOB, 'HOST', 'REPO', Path('OUT'), None))}` "
                "(the manifest, then the config and every layer)",
            }
            results["pull"] = runner.step("pull", mk.blob_bytes, impls, reg_warm)

        if "remote-unpack" in steps:
            # a fresh home and directory every run: nothing of the ModelKit is local
            impls = [
                Impl(
                    k.key,
                    k.label,
                    bound(
                        k,
                        lambda k, r: k.cmd(
                            "unpack", f"{host}/{repo}:{TAG}", "-d", str(pulls / f"ru-{k.key}")
                        ),
                    ),
                    k.env(pulls / f"ru-home-{k.key}"),
                    [pulls / f"ru-{k.key}", pulls / f"ru-home-{k.key}"],
                    pulls / f"ru-{k.key}",
                )
                for k in kits
            ]
            impls.append(
                Impl(
                    "Y1",
                    f"curl | tee >({args.hasher}) | tar -x per layer",
                    lambda r: script(
                        scripts / "remote-unpack-Y1.sh",
                        curl_unpack_script(mk, host, repo, pulls / "ru-Y1", hasher),
                    ),
                    env,
                    [pulls / "ru-Y1"],
                    pulls / "ru-Y1",
                )
            )
            legend["remote-unpack"] = {
                "Y1": f"`{sample(curl_unpack_script(SAMPLE, 'HOST', 'REPO', Path('OUT'), hasher))}` "
                "(pipefail; the manifest, then every layer)"
            }
            results["remote-unpack"] = runner.step("remote-unpack", nbytes, impls, reg_warm, expected)
    finally:
        runner.server = None
        reg.stop()
        if not args.keep:
            rm(registry_dir, pulls)
    return done()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    ap.add_argument("--size-gb", type=float, default=2.0, help="size of the big scenario's project")
    ap.add_argument(
        "--rounds", type=int, default=5, help="runs of every implementation per step (median reported)"
    )
    ap.add_argument(
        "--compare-ref", metavar="REF", help="also time this commit of kitops (built in a git worktree)"
    )
    ap.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"comma-separated (default: {','.join(STEPS)}; on request also {','.join(EXTRA_STEPS)})",
    )
    ap.add_argument(
        "--stdlib", action="store_true", help="also time the stdlib baselines (bench/baseline.py)"
    )
    ap.add_argument(
        "--hasher",
        choices=sorted(HASHERS),
        default="sha256sum",
        help="the yardsticks' hashing command (default: GNU sha256sum)",
    )
    ap.add_argument("--workdir", default="/tmp/kitbench")
    ap.add_argument(
        "--pull-dir",
        default="auto",
        help="parent of the pulls' and remote unpacks' outputs (default: /dev/shm when it has room)",
    )
    ap.add_argument(
        "--registry-dir",
        default="auto",
        help="parent of the registry's storage (default: /dev/shm when it has room)",
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep homes and outputs (the generated projects are always kept)"
    )
    args = ap.parse_args()
    unknown = set(args.steps.split(",")) - set(ALL_STEPS)
    if unknown:
        ap.error(f"unknown steps {sorted(unknown)}; choose from {','.join(ALL_STEPS)}")
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)

    # ours: a snapshot of this working tree, so edits made during the run do not leak into it
    ours_src = work / "ours-src"
    rm(ours_src)
    shutil.copytree(
        ROOT / "src" / "kitops", ours_src / "kitops", ignore=shutil.ignore_patterns("__pycache__")
    )
    compile_tree(ours_src)
    head = git("rev-parse", "HEAD")
    dirty = (
        subprocess.run(
            ["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", "src"],
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
            check=False,
        ).returncode
        != 0
    )
    kits = [Kit("ours", f"ours ({head[:7]}{'+dirty' if dirty else ''})", ours_src)]
    worktree: Path | None = None
    meta: dict[str, object] = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "arch": platform.machine(),
            "kernel": platform.release(),
        },
        "ours": {"head": head, "dirty_src": dirty, "snapshot": str(ours_src)},
        "rounds": args.rounds,
        "hasher": HASHERS[args.hasher],
        "page_cache": "dropped before every run, inputs and code read back"
        if os.geteuid() == 0
        else "not dropped (needs root)",
    }
    try:
        if args.compare_ref:
            worktree, sha = add_worktree(args.compare_ref)
            compile_tree(worktree / "src")
            kits.append(Kit("ref", f"ref ({args.compare_ref} = {sha[:7]})", worktree / "src"))
            meta["ref"] = {"ref": args.compare_ref, "commit": sha, "worktree": str(worktree)}
        print(
            f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}; "
            f"{meta['page_cache']}; kits: {', '.join(k.label for k in kits)}",
            flush=True,
        )
        runner = Runner(work, args.rounds, kits)
        scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
        out: dict[str, object] = {}
        tables: list[str] = []
        for name in scenarios:
            data, text = run_scenario(name, args, runner, kits)
            out[name] = data
            tables.append(text)
            if not args.keep:
                rm(work / name)
        meta["scenarios"] = out
        (work / "results.json").write_text(json.dumps(meta, indent=2))
        report = "\n".join(tables)
        (work / "results.md").write_text(report)
        print(
            "\nspeed ratios: the other's median seconds / this row's (>1 = this row is faster); vs base: the\n"
            "step's base row (pack-formats: kit-tar, repack: first, pack-push: two); others' CPU s: the most\n"
            "CPU time, over the rounds, that neither the run nor the registry used (other load: noise)\n"
        )
        print(report)
        print(f"results: {work / 'results.json'}, {work / 'results.md'}")
    finally:
        if worktree is not None:
            remove_worktree(worktree)
        rm(work / "warm-home")
        if not args.keep:
            rm(ours_src)


if __name__ == "__main__":
    main()
