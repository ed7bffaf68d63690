"""kit save / kit load: ModelKits through an OCI image layout (a tar or a directory), for machines
without registry access; and the same archives through standard OCI tooling (skopeo)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kitops import api
from kitops.cli.main import cli
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest
from kitops.store.layout import LocalStore
from kitops.store.ocilayout import tario
from tests.helpers import kit, tree_files, write_tree
from tests.realregistry import Registry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "iris"
KIT = Path(sys.executable).with_name("kit")
WEIGHTS_SIZE = 48 << 20
REF_NAME = "org.opencontainers.image.ref.name"
IMAGE_NAME = "io.containerd.image.name"


def store_of(home: Path) -> LocalStore:
    return LocalStore(home / "storage")


def load_bytes(home: Path, data: bytes, *args: str) -> Result:
    """``kit load -i -`` with ``data`` on standard input."""
    return CliRunner().invoke(
        cli,
        ["--config", str(home), "--progress", "none", "load", "-i", "-", *args],
        input=data,
        catch_exceptions=False,
    )


def unpacked(home: Path, ref: str, out: Path) -> dict[str, bytes]:
    api.unpack(ref, target_dir=out, home=home)
    return tree_files(out)


def members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tf:
        return tf.getnames()


def index_of(archive: Path) -> dict[str, object]:
    with tarfile.open(archive) as tf:
        fh = tf.extractfile("index.json")
        assert fh is not None
        return json.loads(fh.read())  # type: ignore[no-any-return]


def _project(root: Path, weights: bytes, version: str) -> Path:
    return write_tree(
        root,
        {
            "Kitfile": "manifestVersion: 1.0.0\n"
            f"package:\n  name: churn\n  version: {version}\n"
            "model:\n  path: weights.bin\n"
            "code:\n  - path: serve.py\n",
            "weights.bin": weights,
            "serve.py": f"VERSION = {version!r}\n",
        },
    )


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two versions sharing one 48 MiB weights file; only the code layer differs."""
    weights = random.Random(14).randbytes(WEIGHTS_SIZE)
    base = tmp_path_factory.mktemp("versions")
    return _project(base / "v1", weights, "1.0.0"), _project(base / "v2", weights, "2.0.0")


# ---------------------------------------------------------------------------------------------
# round trips


def test_save_load_unpack_keeps_every_byte_and_writes_a_shared_layer_once(
    projects: tuple[Path, Path], tmp_path: Path
) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    v1, v2 = projects
    api.pack(v1, tag="churn:v1", home=home)
    api.pack(v2, tag="churn:v2", home=home)
    archive = tmp_path / "models.tar"
    saved = kit(home, "save", "churn:v1", "churn:v2", "-o", str(archive))
    assert saved.exit_code == 0, saved.output
    digests = {t: api.inspect(f"churn:{t}", home=home).digest for t in ("v1", "v2")}
    assert saved.stdout == "".join(f"Saved churn:{t} ({digests[t]})\n" for t in ("v1", "v2"))

    weights = api.inspect("churn:v2", home=home).manifest.layers[0]
    assert weights.size >= WEIGHTS_SIZE
    names = members(archive)
    assert names.count(f"blobs/sha256/{weights.digest.partition(':')[2]}") == 1
    assert len(names) == len(set(names))
    assert names[0] == "oci-layout" and names[-1] == "index.json"
    # 2 manifests, 2 configs, the shared weights layer and 2 code layers: 7 blobs, not 8
    assert len([n for n in names if n.startswith("blobs/sha256/")]) == 7
    assert archive.stat().st_size < 2 * WEIGHTS_SIZE

    loaded = kit(fresh, "load", "-i", str(archive))
    assert loaded.exit_code == 0, loaded.output
    assert loaded.stdout == "".join(f"Loaded churn:{t} ({digests[t]})\n" for t in ("v1", "v2"))
    for t in ("v1", "v2"):
        assert api.inspect(f"churn:{t}", home=fresh).digest == digests[t]
        assert unpacked(fresh, f"churn:{t}", tmp_path / f"new-{t}") == unpacked(
            home, f"churn:{t}", tmp_path / f"old-{t}"
        )


def test_oci_dir_round_trip_and_layout_shape(tmp_path: Path) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    digest = api.pack(EXAMPLE, tag="iris:v1", home=home).descriptor.digest
    layout = tmp_path / "layout"
    result = api.save("iris:v1", layout, format="oci-dir", home=home)
    assert [(e.reference.display(), e.descriptor.digest) for e in result.entries] == [("iris:v1", digest)]
    assert json.loads((layout / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_bytes())
    assert index["mediaType"] == mt.OCI_INDEX
    assert [(m["digest"], m["annotations"]) for m in index["manifests"]] == [
        (digest, {IMAGE_NAME: "iris:v1", REF_NAME: "v1"})
    ]
    blobs = sorted(p.name for p in (layout / "blobs" / "sha256").iterdir())
    assert len(blobs) == result.blob_count == 6  # manifest, config, four layers
    for name in blobs:  # every blob under its own digest
        assert hashlib.sha256((layout / "blobs" / "sha256" / name).read_bytes()).hexdigest() == name

    loaded = api.load(layout, home=fresh)
    assert [(e.reference.display(), e.descriptor.digest) for e in loaded.entries] == [("iris:v1", digest)]
    assert unpacked(fresh, "iris:v1", tmp_path / "new") == unpacked(home, "iris:v1", tmp_path / "old")


def test_save_to_stdout_and_load_from_stdin_through_a_pipe(tmp_path: Path) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    digest = api.pack(EXAMPLE, tag="iris:v1", home=home).descriptor.digest
    env = {k: v for k, v in os.environ.items() if k != "KITOPS_HOME"}
    errors = tmp_path / "save.err"
    with open(errors, "wb") as err:
        save = subprocess.Popen(
            [str(KIT), "--config", str(home), "--progress", "none", "save", "iris:v1", "-o", "-"],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
        assert save.stdout is not None
        load = subprocess.run(
            [str(KIT), "--config", str(fresh), "--progress", "none", "load", "-i", "-"],
            stdin=save.stdout,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        save.stdout.close()
        assert save.wait() == 0
    assert load.returncode == 0, load.stderr
    # the archive alone went down the pipe: the result line of save is on its stderr
    assert f"Saved iris:v1 ({digest})" in errors.read_text()
    assert load.stdout == f"Loaded iris:v1 ({digest})\n"
    assert unpacked(fresh, "iris:v1", tmp_path / "new") == unpacked(home, "iris:v1", tmp_path / "old")


def test_cli_stdout_archive_loads_from_stdin(tmp_path: Path) -> None:
    """The same through click's binary streams: ``-o -`` writes nothing but the archive."""
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    saved = kit(home, "save", "iris:v1", "-o", "-")
    assert saved.exit_code == 0, saved.output
    assert saved.stdout_bytes[:512].startswith(b"oci-layout\0")
    assert "Saved iris:v1" in saved.stderr
    loaded = load_bytes(fresh, saved.stdout_bytes)
    assert loaded.exit_code == 0, loaded.output
    assert unpacked(fresh, "iris:v1", tmp_path / "new") == unpacked(home, "iris:v1", tmp_path / "old")


# ---------------------------------------------------------------------------------------------
# parents and referrers travel with the ModelKit


def test_a_parent_is_saved_with_its_child_and_unpacks_after_load(tmp_path: Path) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    base = write_tree(
        tmp_path / "base", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: w.bin}\n", "w.bin": "weights"}
    )
    child = write_tree(
        tmp_path / "child",
        {
            "Kitfile": "manifestVersion: 1.0.0\nmodel: {path: 'base:v1', parts: [{path: lora.bin}]}\n",
            "lora.bin": "lora",
        },
    )
    base_digest = api.pack(base, tag="base:v1", home=home).descriptor.digest
    api.pack(child, tag="child:v1", home=home)
    archive = tmp_path / "child.tar"
    result = api.save(["child:v1"], archive, home=home)
    assert [e.reference.display() for e in result.entries] == ["child:v1", "base:v1"]
    names = {m["annotations"][IMAGE_NAME]: m["digest"] for m in index_of(archive)["manifests"]}  # type: ignore[index,union-attr]
    assert names["base:v1"] == base_digest

    api.load(archive, home=fresh)
    out = tmp_path / "out"
    api.unpack("child:v1", target_dir=out, home=fresh)
    assert (out / "w.bin").read_text() == "weights" and (out / "lora.bin").read_text() == "lora"


def test_a_missing_parent_fails_the_save_and_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    child = write_tree(
        tmp_path / "child",
        {
            "Kitfile": "manifestVersion: 1.0.0\nmodel: {path: 'base:v1', parts: [{path: a.bin}]}\n",
            "a.bin": "a",
        },
    )
    base = write_tree(
        tmp_path / "base", {"Kitfile": "manifestVersion: 1.0.0\nmodel: {path: w.bin}\n", "w.bin": "w"}
    )
    api.pack(base, tag="base:v1", home=home)
    api.pack(child, tag="child:v1", home=home)
    api.remove("base:v1", home=home)
    out = tmp_path / "out"
    out.mkdir()
    res = kit(home, "save", "child:v1", "-o", str(out / "child.tar"))
    assert res.exit_code == 1
    assert "base:v1, which child:v1 is built on (model.path), is not in local storage" in res.stderr
    assert "hint: pull or pack it first" in res.stderr
    assert list(out.iterdir()) == []  # no archive, no temporary file


EMPTY = b"{}"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"


def _referrer(
    store: LocalStore, repo_key: str, subject: Descriptor, payload: bytes, tag: str | None
) -> Descriptor:
    """A signature-like manifest in local storage: an empty config and one payload layer, pointing
    at ``subject`` (OCI referrers) or, with ``tag``, tagged as cosign tags its signatures."""
    config = store.put_bytes(EMPTY_TYPE, EMPTY)
    layer = store.put_bytes("application/vnd.dev.cosign.simplesigning.v1+json", payload)
    manifest = Manifest(
        config=config,
        layers=(layer,),
        media_type=mt.OCI_MANIFEST,
        artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json" if tag is None else None,
        subject=subject if tag is None else None,
        annotations={"dev.cosignproject.cosign/signature": "MEUCIQ-test"},
    )
    data = manifest.to_bytes()
    desc = Descriptor(mt.OCI_MANIFEST, manifest.descriptor(data).digest, len(data))
    repo = store.repository(repo_key)
    repo.push(desc, io.BytesIO(data))
    if tag is not None:
        repo.tag(desc, tag)
    return desc


def test_referrers_and_cosign_tags_are_saved_and_loaded(tmp_path: Path) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    kit_desc = api.pack(EXAMPLE, tag="iris:v1", home=home).descriptor
    store = store_of(home)
    sig_tag = f"sha256-{kit_desc.digest.partition(':')[2]}.sig"
    by_subject = _referrer(
        store,
        "localhost/iris",
        Descriptor(mt.OCI_MANIFEST, kit_desc.digest, kit_desc.size),
        b"signed by subject",
        None,
    )
    by_tag = _referrer(store, "localhost/iris", kit_desc, b"signed by tag", sig_tag)
    # and one for another ModelKit, which must stay behind
    _referrer(store, "localhost/iris", Descriptor(mt.OCI_MANIFEST, "sha256:" + "1" * 64, 10), b"other", None)

    archive = tmp_path / "signed.tar"
    result = api.save("iris:v1", archive, home=home)
    assert [(e.reference.display(), e.descriptor.digest) for e in result.entries] == [
        ("iris:v1", kit_desc.digest),
        (f"iris:{sig_tag}", by_tag.digest),
        (f"iris@{by_subject.digest}", by_subject.digest),
    ]
    entries = index_of(archive)["manifests"]
    assert [m["annotations"] for m in entries] == [  # type: ignore[union-attr,index]
        {IMAGE_NAME: "iris:v1", REF_NAME: "v1"},
        {IMAGE_NAME: f"iris:{sig_tag}", REF_NAME: sig_tag},
        {IMAGE_NAME: f"iris@{by_subject.digest}"},
    ]

    loaded = kit(fresh, "load", "-i", str(archive))
    assert loaded.exit_code == 0, loaded.output
    assert loaded.stdout.splitlines() == [
        f"Loaded iris:v1 ({kit_desc.digest})",
        f"Loaded iris:{sig_tag} ({by_tag.digest})",
        f"Loaded iris@{by_subject.digest}",
    ]
    repo = store_of(fresh).repository("localhost/iris")
    assert {t: d.digest for t, d in repo.tag_map().items()} == {"v1": kit_desc.digest, sig_tag: by_tag.digest}
    assert {d.digest for d in repo.manifests()} == {kit_desc.digest, by_tag.digest, by_subject.digest}
    restored = Manifest.from_bytes(store_of(fresh).blob_path(by_subject.digest).read_bytes())
    assert restored.subject is not None and restored.subject.digest == kit_desc.digest
    payload = store_of(fresh).blob_path(restored.layers[0].digest).read_bytes()
    assert payload == b"signed by subject"
    # the listing shows the ModelKit, not its signatures
    assert [(r.repo, r.tags) for r in api.list_modelkits(home=fresh)] == [("iris", ("v1",))]


# ---------------------------------------------------------------------------------------------
# damaged archives load nothing


def _flip_byte_in_blob(archive: Path, digest: str) -> None:
    with tarfile.open(archive) as tf:
        member = tf.getmember(f"blobs/sha256/{digest.partition(':')[2]}")
    with open(archive, "r+b") as fh:
        fh.seek(member.offset_data + member.size // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_tampered_archive_fails_naming_the_blob_and_tags_nothing(source: str, tmp_path: Path) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    api.pack(EXAMPLE, tag="iris:v2", home=home, compression="gzip")  # another manifest that is intact
    archive = tmp_path / "models.tar"
    api.save(["iris:v2", "iris:v1"], archive, home=home)
    layer = max(api.inspect("iris:v1", home=home).manifest.layers, key=lambda d: d.size)
    _flip_byte_in_blob(archive, layer.digest)

    if source == "file":
        res = kit(fresh, "load", "-i", str(archive))
    else:
        res = load_bytes(fresh, archive.read_bytes())
    assert res.exit_code == 1, res.output
    assert res.stderr.startswith("error: Failed to load: ")
    assert layer.digest in res.stderr
    assert "nothing was loaded" in res.stderr
    store = store_of(fresh)
    assert store.repo_keys() == []  # no repository lists anything: no tag, no manifest
    assert api.list_modelkits(home=fresh) == []
    assert not store.blob_path(layer.digest).exists()


def test_an_archive_cut_short_fails(tmp_path: Path) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    archive = tmp_path / "m.tar"
    api.save("iris:v1", archive, home=home)
    res = load_bytes(fresh, archive.read_bytes()[:5000])
    assert res.exit_code == 1
    assert "error: Failed to load:" in res.stderr
    assert store_of(fresh).repo_keys() == []


def test_not_a_layout(tmp_path: Path) -> None:
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    res = kit(tmp_path / "h", "load", "-i", str(tmp_path / "junk.tar"))
    assert res.exit_code == 1 and "is not a readable tar archive" in res.stderr
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tf:
        tf.add(EXAMPLE / "Kitfile", "Kitfile")
    res = kit(tmp_path / "h", "load", "-i", str(plain))
    assert res.exit_code == 1 and "is not an OCI image layout: it has no oci-layout" in res.stderr


def test_an_archive_of_too_many_members_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tario, "MAX_MEMBERS", 10)
    archive = tmp_path / "many.tar"
    with tarfile.open(archive, "w") as tf:
        for i in range(11):
            tf.addfile(tarfile.TarInfo(f"extra/{i}"))  # members a layout has no use for
    res = kit(tmp_path / "h", "load", "-i", str(archive))
    assert res.exit_code == 1 and "has more than 10 members" in res.stderr
    res = load_bytes(tmp_path / "h", archive.read_bytes())
    assert res.exit_code == 1 and "standard input has more than 10 members" in res.stderr


# ---------------------------------------------------------------------------------------------
# names: --ref selection, bare tags and --repository


def test_ref_selects_entries_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    api.pack(EXAMPLE, tag="iris:v2", home=home, compression="gzip")
    archive = tmp_path / "m.tar"
    api.save(["iris:v1", "iris:v2"], archive, home=home)
    res = kit(fresh, "load", "-i", str(archive), "--ref", "iris:v3")
    assert res.exit_code == 1
    assert "iris:v3 is not in" in res.stderr and "hint: it holds: iris:v1, iris:v2" in res.stderr
    res = kit(fresh, "load", "-i", str(archive), "--ref", "v2")
    assert res.exit_code == 0, res.output
    assert [r.tags for r in api.list_modelkits(home=fresh)] == [("v2",)]


def test_a_bare_tag_needs_a_repository(tmp_path: Path) -> None:
    """A layout named by tag only (as skopeo and oras write them) loads into --repository."""
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    digest = api.pack(EXAMPLE, tag="iris:v1", home=home).descriptor.digest
    layout = tmp_path / "layout"
    api.save("iris:v1", layout, format="oci-dir", home=home)
    index = json.loads((layout / "index.json").read_bytes())
    index["manifests"][0]["annotations"] = {REF_NAME: "v1"}
    (layout / "index.json").write_text(json.dumps(index))

    res = kit(fresh, "load", "-i", str(layout))
    assert res.exit_code == 2
    assert f"{digest} is named only by the tag 'v1'" in res.stderr
    assert "hint: name one: kit load --repository" in res.stderr
    assert store_of(fresh).repo_keys() == []
    res = kit(fresh, "load", "-i", str(layout), "--repository", "reg.example.com/team/iris")
    assert res.exit_code == 0, res.output
    assert res.stdout == f"Loaded reg.example.com/team/iris:v1 ({digest})\n"
    res = kit(fresh, "load", "-i", str(layout), "--repository", "reg.example.com/team/iris:v9")
    assert res.exit_code == 2 and "is not a repository" in res.stderr


def test_saving_into_an_existing_layout_adds_to_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    api.pack(EXAMPLE, tag="iris:v2", home=home, compression="gzip")
    layout = tmp_path / "layout"
    api.save("iris:v1", layout, format="oci-dir", home=home)
    api.save(["iris:v2", "iris:v1"], layout, format="oci-dir", home=home)
    index = json.loads((layout / "index.json").read_bytes())
    assert [m["annotations"][IMAGE_NAME] for m in index["manifests"]] == ["iris:v2", "iris:v1"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file").write_text("x")
    res = kit(home, "save", "iris:v1", "--format", "oci-dir", "-o", str(tmp_path / "other"))
    assert res.exit_code == 1 and "is not empty and is not an OCI image layout" in res.stderr


# ---------------------------------------------------------------------------------------------
# memory stays flat


SAVE = "import sys; from kitops import api; api.save(['big:v1'], sys.argv[2], home=sys.argv[1])"
# Linux hands a process that execs the peak RSS of the process it replaces (the forking pytest,
# here well over 100 MiB): the save runs one level down, under a small launcher, whose
# RUSAGE_CHILDREN then holds the save's own peak.
LAUNCHER = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.slow
def test_saving_200_mib_keeps_peak_rss_under_100_mib(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = tmp_path / "big"
    project.mkdir()
    (project / "Kitfile").write_text("manifestVersion: 1.0.0\nmodel:\n  path: weights.bin\n")
    rng = random.Random(200)
    with open(project / "weights.bin", "wb") as fh:
        for _ in range(25):
            fh.write(rng.randbytes(8 << 20))
    api.pack(project, tag="big:v1", home=home)
    archive = tmp_path / "big.tar"
    child = subprocess.run(
        [sys.executable, "-c", LAUNCHER, SAVE, str(home), str(archive)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    peak_mib = int(child.stdout.strip()) / 1024  # ru_maxrss is in KiB on Linux
    assert archive.stat().st_size > 200 << 20
    assert peak_mib < 100, f"peak RSS {peak_mib:.1f} MiB"


# ---------------------------------------------------------------------------------------------
# standard OCI tooling reads what kit writes, and kit reads what it writes


def require_skopeo() -> str:
    """skopeo's path; a missing skopeo skips, except in CI, where it is a broken set-up."""
    found = shutil.which("skopeo")
    if found:
        return found
    message = "skopeo is not installed (scripts/setup.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def skopeo(*args: str) -> None:
    # no /etc/containers/policy.json on a bare machine: --insecure-policy accepts any image
    res = subprocess.run(
        [require_skopeo(), "--insecure-policy", *args], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr


@pytest.mark.registry
def test_skopeo_copies_a_saved_archive_to_a_registry_and_kit_pulls_it(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    require_skopeo()
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    digest = api.pack(EXAMPLE, tag="iris:skopeo1", home=home).descriptor.digest
    archive = tmp_path / "models.tar"
    api.save("iris:skopeo1", archive, home=home)
    target = f"{plain_registry.host}/{repo_name}:v1"
    skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{archive}:skopeo1", f"docker://{target}")
    assert api.pull(target, home=fresh).descriptor.digest == digest
    assert unpacked(fresh, target, tmp_path / "new") == unpacked(home, "iris:skopeo1", tmp_path / "old")


@pytest.mark.registry
def test_kit_loads_a_layout_directory_written_by_skopeo(
    plain_registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    require_skopeo()
    home, fresh = tmp_path / "home", tmp_path / "fresh"
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    source = f"{plain_registry.host}/{repo_name}:v1"
    digest = api.push("iris:v1", source, home=home).descriptor.digest
    layout = tmp_path / "skopeo-layout"
    skopeo("copy", "--src-tls-verify=false", f"docker://{source}", f"oci:{layout}:v1")
    res = kit(fresh, "load", "-i", str(layout), "--repository", "models/iris")
    assert res.exit_code == 0, res.output
    assert res.stdout == f"Loaded models/iris:v1 ({digest})\n"
    assert unpacked(fresh, "models/iris:v1", tmp_path / "new") == unpacked(home, "iris:v1", tmp_path / "old")
