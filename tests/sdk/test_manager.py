"""ModelKitManager: the seed pattern of the KitOps MLflow docs, verbatim, against a registry with Basic
auth and a real MLflow run; and what the manager does better than the reference's: sessions
kept, credentials optional, clear errors, the Kitfile saved where it is packed, unpacking again."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kitops import api
from kitops.cli import kit
from kitops.modelkit.kitfile import Kitfile
from kitops.modelkit.manager import ModelKitManager
from kitops.modelkit.reference import ModelKitReference
from kitops.modelkit.user import UserCredentials
from tests.helpers import tree_files, write_tree
from tests.realregistry import Registry

pytestmark = [
    pytest.mark.registry,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # MLflow's own
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]
_names = itertools.count()


@pytest.fixture(scope="module")
def mlflow_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """MLflow with a local file:// tracking store under tmp, and a trained scikit-learn model saved once."""
    saved = {
        k: os.environ.get(k)
        for k in ("MLFLOW_TRACKING_URI", "MLFLOW_ALLOW_FILE_STORE", "MLFLOW_DISABLE_TELEMETRY")
    }
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 keeps the file store only on request
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("mlflow")
    mlflow.set_tracking_uri((root / "mlruns").as_uri())
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression(C=0.5).fit(X, y)
    saved_model = root / "saved-model"
    mlflow.sklearn.save_model(model, str(saved_model), pip_requirements=["scikit-learn"])
    try:
        yield mlflow, model, saved_model
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _mlflow_run(mlflow_env: Any) -> str:
    """One MLflow run with the model (logged, and as run artifacts) and a metric file; its artifact URI."""
    mlflow, model, saved_model = mlflow_env
    with mlflow.start_run():
        mlflow.log_param("C", 0.5)
        mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        mlflow.log_artifacts(str(saved_model), artifact_path="model")
        artifact_location: str = mlflow.get_artifact_uri()  # a file:// URI must work
    return artifact_location


@pytest.mark.parametrize("form", ["bare", "repo", "full"])
def test_seed_pattern(
    mlflow_env: Any, basic_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    name = f"titanic-{form}-{next(_names)}"
    username = basic_registry.username or ""
    host = basic_registry.host
    tag = {"bare": "v1", "repo": f"{name}:v1", "full": f"{host}/{username}/{name}:v1"}[form]
    monkeypatch.setenv("JOZU_PASSWORD", basic_registry.password or "")
    artifact_location = _mlflow_run(mlflow_env)
    assert artifact_location.startswith("file://")

    # --- the pattern, verbatim except host and credentials ---
    creds = UserCredentials(username=username, registry=host)
    manager = ModelKitManager(working_directory=artifact_location, user_credentials=creds, modelkit_tag=tag)
    manager.login()
    kit.init(directory=artifact_location, name=name, description="my cool project", author=username)
    manager.pack_and_push_modelkit(with_login_and_logout=False)
    # ---

    expected = f"{host}/{username}/{name}"
    local = [s for s in api.list_modelkits() if s.repo == expected]
    assert [s.tags for s in local] == [("v1",)]
    remote = api.list_remote(expected)
    assert [(r.tags, r.digest, r.model_name) for r in remote] == [(("v1",), local[0].digest, name)]
    info = kit.info(f"{expected}:v1", remote=True)
    assert info["package"]["description"] == "my cool project"
    packed = [info["model"]] if "model" in info else []
    assert "model" in {
        e["path"] for e in packed + info.get("code", [])
    }  # the MLflow model directory is in it

    fresh = tmp_path / "fresh-home"
    kit.login(username, basic_registry.password or "", host, home=str(fresh))
    pulled = api.pull(f"{expected}:v1", home=fresh)
    assert pulled.descriptor.digest == local[0].digest
    out = tmp_path / "unpacked"
    kit.unpack(f"{expected}:v1", str(out), home=str(fresh))
    assert (out / "model" / "MLmodel").is_file()


def _project(root: Path, name: str = "demo") -> Path:
    return write_tree(
        root,
        {
            "Kitfile": f"manifestVersion: 1.0.0\npackage:\n  name: {name}\nmodel:\n  path: m.bin\n",
            "m.bin": b"weights\n",
        },
    )


def _credentials_file() -> dict[str, Any]:
    path = Path(os.environ["KITOPS_HOME"]) / "credentials.json"
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return data


def test_with_login_and_logout_keeps_an_existing_session(
    basic_registry: Registry, tmp_path: Path, repo_name: str
) -> None:
    """The reference logged the user out of a session they had before; and never on failure."""
    user, password, host = basic_registry.username or "", basic_registry.password or "", basic_registry.host
    kit.login(user, password, host)
    before = _credentials_file()
    assert host in before["auths"]
    manager = ModelKitManager(
        working_directory=str(_project(tmp_path / "p")),
        modelkit_tag=f"{host}/{repo_name}:v1",
        user_credentials=UserCredentials(user, password),
    )
    manager.pack_and_push_modelkit()
    assert _credentials_file() == before
    kit.logout(host)

    manager.pack_and_push_modelkit()  # no session before: logged in for the push, out afterwards
    assert host not in _credentials_file().get("auths", {})

    bad = ModelKitManager(
        working_directory=str(tmp_path / "empty"),
        modelkit_tag=f"{host}/{repo_name}:v9",
        user_credentials=UserCredentials(user, password),
    )
    (tmp_path / "empty").mkdir()
    with pytest.raises(subprocess.CalledProcessError):
        bad.pack_and_push_modelkit()  # fails (no Kitfile) inside the session ...
    assert host not in _credentials_file().get("auths", {})  # ... which still ends (try/finally)


def test_save_kitfile_writes_into_the_working_directory(
    plain_registry: Registry, tmp_path: Path, repo_name: str
) -> None:
    """The reference saved ./Kitfile in the cwd, so the packed Kitfile was stale."""
    project = _project(tmp_path / "p")
    ref = f"{plain_registry.host}/{repo_name}:v1"
    manager = ModelKitManager(working_directory=str(project), modelkit_tag=ref)
    kitfile = Kitfile(project / "Kitfile")
    kitfile.model.parameters = {"C": "0.5"}
    manager.kitfile = kitfile
    manager.pack_and_push_modelkit(
        save_kitfile=True
    )  # no credentials needed for this registry (the reference demanded them)
    assert not Path("Kitfile").exists()  # nothing written to the cwd
    assert kit.info(ref, remote=True)["model"]["parameters"] == {"C": "0.5"}
    assert manager.inspect_modelkit(remote=True)["kitfile"]["model"]["parameters"] == {"C": "0.5"}


def _project_with_dataset(root: Path) -> Path:
    return write_tree(
        root,
        {
            "Kitfile": "manifestVersion: 1.0.0\npackage:\n  name: demo\nmodel:\n"
            "  path: m.bin\ndatasets:\n  - name: train\n    path: d.csv\n",
            "m.bin": b"weights\n",
            "d.csv": "a\n1\n",
        },
    )


def test_pull_and_unpack(plain_registry: Registry, tmp_path: Path, repo_name: str) -> None:
    project = _project_with_dataset(tmp_path / "p")
    ref = f"{plain_registry.host}/{repo_name}:v1"
    kit.pack(ref, str(project))
    kit.push(ref)
    target = tmp_path / "target" / "nested"
    manager = ModelKitManager(working_directory=target.as_uri(), modelkit_tag=ref)
    assert not target.exists()  # nothing is created before it is needed
    manager.pull_and_unpack_modelkit(load_kitfile=True)
    assert tree_files(target) == tree_files(project)
    assert manager.kitfile is not None and manager.kitfile.package.name == "demo"
    (target / "m.bin").write_bytes(b"edited\n")
    manager.pull_and_unpack_modelkit(overwrite=True)  # unpacking again works (the reference had no overwrite)
    assert (target / "m.bin").read_bytes() == b"weights\n"

    # with filters the registry's current manifest is unpacked, not a stale local copy
    (project / "d.csv").write_text("a\n2\n")
    kit.pack(ref, str(project))
    kit.push(ref)
    kit.pack(ref, str(_project(tmp_path / "stale")))  # local storage now holds something else under ref
    only = tmp_path / "only"
    ModelKitManager(working_directory=str(only), modelkit_tag=ref).pull_and_unpack_modelkit(
        filters=["datasets"], load_kitfile=True
    )
    assert tree_files(only) == {"d.csv": b"a\n2\n"}


def test_filtered_pull_loads_the_kitfile_of_the_digest_unpacked(
    plain_registry: Registry, tmp_path: Path, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filtered unpack writes no Kitfile: load_kitfile used to read whatever Kitfile was already in the
    working directory (another ModelKit's), and the fallback asked for the tag rather than the digest unpacked."""
    project = _project_with_dataset(tmp_path / "p")
    ref = f"{plain_registry.host}/{repo_name}:v1"
    kit.pack(ref, str(project))
    kit.push(ref)
    old = "manifestVersion: 1.0.0\npackage:\n  name: old\nmodel:\n  path: old.bin\n"
    target = write_tree(tmp_path / "target", {"Kitfile": old})
    calls: list[tuple[str, str]] = []

    def spy(name: str) -> Any:
        real = getattr(kit, name)

        def call(reference: str, *args: Any, **kwargs: Any) -> Any:
            calls.append((name, reference))
            return real(reference, *args, **kwargs)

        return call

    monkeypatch.setattr(kit, "info", spy("info"))
    monkeypatch.setattr(kit, "unpack", spy("unpack"))

    manager = ModelKitManager(working_directory=str(target), modelkit_tag=ref)
    manager.pull_and_unpack_modelkit(filters=["datasets"], load_kitfile=True)
    assert manager.kitfile == Kitfile(project / "Kitfile")  # the ModelKit's, not the old file's "old"
    assert (target / "Kitfile").read_text() == old and (target / "d.csv").read_text() == "a\n1\n"
    [(_, unpacked), (_, info)] = calls
    assert [n for n, _ in calls] == ["unpack", "info"]
    assert info == unpacked and "@sha256:" in info  # the Kitfile of the very manifest that was unpacked

    calls.clear()  # with the Kitfile among the filters the file just unpacked is read
    other = ModelKitManager(working_directory=str(tmp_path / "other"), modelkit_tag=ref)
    other.pull_and_unpack_modelkit(filters=["kitfile,datasets"], load_kitfile=True)
    assert other.kitfile == Kitfile(project / "Kitfile")
    assert [n for n, _ in calls] == ["unpack"]


def test_partial_tags_and_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path / "p", name="My Model")
    monkeypatch.setenv("JOZU_REGISTRY", "registry.example.com")
    monkeypatch.setenv("JOZU_NAMESPACE", "team")
    manager = ModelKitManager(working_directory=str(project), modelkit_tag="v3")
    assert manager._tag(for_pack=True) == "registry.example.com/team/my-model:v3"
    with pytest.raises(ValueError, match="No ModelKit reference"):  # the reference's was a TypeError from kit
        ModelKitManager(working_directory=str(project)).pack_and_push_modelkit()
    monkeypatch.delenv("JOZU_REGISTRY")
    with pytest.raises(ValueError, match="No registry"):
        ModelKitManager(working_directory=str(project), modelkit_tag="repo:v1").inspect_modelkit()
    with pytest.raises(ValueError, match="Username and password must be provided"):
        ModelKitManager(modelkit_tag="reg.example.com/a/b:v1").login()
    reference = ModelKitReference("reg.example.com/a/b:v1")
    assert (
        ModelKitManager(modelkit_reference=reference, modelkit_tag="ignored:v0").modelkit_reference
        is reference
    )
    assert ModelKitManager().working_directory == Path.cwd().as_posix()


def test_remove_modelkit(plain_registry: Registry, tmp_path: Path, repo_name: str) -> None:
    ref = f"{plain_registry.host}/{repo_name}:v1"
    manager = ModelKitManager(working_directory=str(_project(tmp_path / "p")), modelkit_tag=ref)
    manager.pack_and_push_modelkit()
    manager.remove_modelkit()  # the defaults remove nothing (and log in nowhere)
    assert kit.inspect(ref)["digest"]
    manager.remove_modelkit(local=True, remote=True)
    with pytest.raises(subprocess.CalledProcessError):
        kit.inspect(ref)
    with pytest.raises(subprocess.CalledProcessError):
        kit.inspect(ref, remote=True)


def test_concurrent_sessions_do_not_log_each_other_out(basic_registry: Registry, tmp_path: Path) -> None:
    """Thread safety: sessions for one registry are serialised, so one manager's logout never
    removes the credential another is pushing with."""
    from concurrent.futures import ThreadPoolExecutor

    user, password, host = basic_registry.username or "", basic_registry.password or "", basic_registry.host
    managers = [
        ModelKitManager(
            working_directory=str(_project(tmp_path / f"p{i}", name=f"m{i}")),
            user_credentials=UserCredentials(user, password),
            modelkit_tag=f"{host}/threads/m{i}:v1",
        )
        for i in range(4)
    ]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda m: m.pack_and_push_modelkit(), managers))
    assert host not in _credentials_file().get("auths", {})
    kit.login(user, password, host)
    assert sorted(r.repo for i in range(4) for r in api.list_remote(f"{host}/threads/m{i}")) == [
        f"{host}/threads/m{i}" for i in range(4)
    ]
