"""The MLflow integration against real MLflow (SQLite tracking store under tmp_path), a real
scikit-learn model and the real OCI registry."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kitops import api
from kitops.errors import NotFoundError, UsageError
from tests.helpers import kit
from tests.realregistry import Registry

ROOT = Path(__file__).resolve().parents[2]
REGISTERED = "kitops-test-clf"
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # MLflow's own (SQLAlchemy noload, ...)
    pytest.mark.filterwarnings("ignore:The specified dataset source can be interpreted in multiple ways"),
]


@dataclass
class Trained:
    mlflow: Any
    tracking_uri: str
    experiment_id: str
    run_id: str
    model: Any
    X: Any
    params: dict[str, str]
    accuracy: float
    root: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """One real MLflow run: params, a metric, the training CSV as artifact and logged input, and a
    LogisticRegression logged with signature and input example (and registered)."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_DISABLE_TELEMETRY")}
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        experiment_id = mlflow.create_experiment(
            "kitops-tests", artifact_location=(root / "artifacts").as_uri()
        )
        rng = np.random.default_rng(0)
        X = rng.normal(size=(80, 4))
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
        csv = root / "train.csv"
        np.savetxt(csv, np.column_stack([X, y]), delimiter=",")
        params = {"C": 0.5, "max_iter": 200}
        with mlflow.start_run(
            experiment_id=experiment_id,
            run_name="kitops-test",
            description="LogisticRegression on synthetic data",
        ) as run:
            mlflow.log_params(params)
            mlflow.set_tag("team", "kitops")
            model = LogisticRegression(**params).fit(X, y)
            accuracy = float(model.score(X, y))
            mlflow.log_metric("accuracy", accuracy)
            mlflow.log_artifact(str(csv), artifact_path="data")
            mlflow.log_input(
                mlflow.data.from_numpy(X, targets=y, source=str(csv), name="train"), context="training"
            )
            # explicit requirements: MLflow's inference runs a subprocess (~9 s); the notebook test covers it
            mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(X, model.predict(X)),
                input_example=X[:3],
                pip_requirements=["scikit-learn", "skops"],
                registered_model_name=REGISTERED,
            )
        yield Trained(
            mlflow,
            uri,
            experiment_id,
            run.info.run_id,
            model,
            X,
            {k: str(v) for k, v in params.items()},
            accuracy,
            root,
        )
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)  # also unsets MLFLOW_TRACKING_URI
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture()
def tracking(trained: Trained) -> Iterator[Trained]:
    """The module's tracking URI as the global one for this test (a test may change it)."""
    trained.mlflow.set_tracking_uri(trained.tracking_uri)
    yield trained
    trained.mlflow.set_tracking_uri(trained.tracking_uri)


def test_log_modelkit_push_tags_and_load_back(
    tracking: Trained, plain_registry: Registry, repo_name: str, home: Path
) -> None:
    from kitops.integrations import mlflow as kmlflow

    t = tracking
    ref = f"{plain_registry.host}/{repo_name}:v1"
    result = kmlflow.log_modelkit(ref, run_id=t.run_id, home=home)
    assert result.pushed and result.ref == ref and result.run_id == t.run_id

    kf = result.kitfile
    assert kf.manifest_version == "1.0.0"
    assert kf.package.name == repo_name.rsplit("/", 1)[-1]
    assert kf.package.description == "LogisticRegression on synthetic data"
    assert kf.package.authors and kf.package.authors[0]  # the mlflow.user tag
    assert kf.model is not None
    assert (kf.model.name, kf.model.path, kf.model.framework) == ("model", "model", "sklearn")
    meta = kf.model.parameters["mlflow"]
    assert meta["run_id"] == t.run_id and meta["experiment_id"] == t.experiment_id
    assert meta["experiment_name"] == "kitops-tests" and meta["run_name"] == "kitops-test"
    assert (
        meta["status"] == "FINISHED" and meta["start_time"].endswith("Z") and meta["end_time"].endswith("Z")
    )
    assert meta["params"] == t.params
    assert meta["metrics"] == {"accuracy": t.accuracy}
    assert meta["tags"] == {"team": "kitops"}
    assert (
        meta["model_uri"].startswith("models:/m-")
        and meta["model_id"] == meta["model_uri"][len("models:/") :]
    )
    assert meta["flavors"] == ["python_function", "sklearn"]
    assert meta["signature"]["inputs"][0]["tensor-spec"]["shape"] == [-1, 4]
    assert "datasets" not in meta  # the one input was matched to its artifact
    assert [c.path for c in kf.code] == [
        "model/requirements.txt",
        "model/conda.yaml",
        "model/python_env.yaml",
    ]
    assert [(d.name, d.path) for d in kf.datasets] == [("train", "data/train.csv")]
    ds_meta = kf.datasets[0].parameters["mlflow"]
    assert ds_meta["context"] == "training" and ds_meta["source_type"] == "local" and ds_meta["digest"]

    # the manifest carries the provenance; the registry has the same ModelKit
    inspected = api.inspect(ref, home=home)
    ann = inspected.manifest.annotations
    assert ann[kmlflow.ANNOTATION_RUN_ID] == t.run_id
    assert ann[kmlflow.ANNOTATION_EXPERIMENT_ID] == t.experiment_id
    assert ann[kmlflow.ANNOTATION_TRACKING_URI] == t.tracking_uri
    assert ann[kmlflow.ANNOTATION_MODEL_URI] == meta["model_uri"]
    assert inspected.digest == result.digest
    assert api.inspect(ref, home=home, remote=True).digest == result.digest

    # written back to the run: tags and the Kitfile artifact
    client = t.mlflow.MlflowClient()
    tags = client.get_run(t.run_id).data.tags
    assert tags[kmlflow.TAG_REF] == ref and tags[kmlflow.TAG_DIGEST] == result.digest
    assert [a.path for a in client.list_artifacts(t.run_id, "kitops")] == ["kitops/Kitfile"]
    logged = Path(
        t.mlflow.artifacts.download_artifacts(
            run_id=t.run_id, artifact_path="kitops/Kitfile", dst_path=str(home.parent / "kf")
        )
    )
    assert logged.read_text() == kf.to_yaml()

    # nothing local any more: load_model fetches the model layers from the registry
    api.remove(ref, home=home)
    assert api.list_modelkits(home=home) == []
    loaded = kmlflow.load_model(ref, home=home)
    assert (loaded.predict(t.X) == t.model.predict(t.X)).all()
    model_dir = kmlflow.download_model(ref, home=home)  # cached by digest: the same directory
    assert (model_dir / "MLmodel").is_file() and (model_dir / "requirements.txt").is_file()
    assert not (model_dir.parent / "data").exists()  # the dataset layer was not fetched
    assert model_dir.parent.name == result.digest.replace(":", "-")

    # packing the run again ignores the kitops/ artifact it now has
    again = kmlflow.log_modelkit("again:v1", run_id=t.run_id, push=False, home=home)
    assert not again.pushed
    assert [c.path for c in again.kitfile.code] == [c.path for c in kf.code]
    assert api.list_modelkits(home=home)[0].repo == "again"

    # a caller's Kitfile wins, and gets the MLflow metadata in model.parameters
    from kitops.kitfile.model import Kitfile, Model, Package

    own = Kitfile(
        manifest_version="1.0.0", package=Package(name="mine"), model=Model(name="clf", path="model")
    )
    custom = kmlflow.log_modelkit("own:v1", run_id=t.run_id, push=False, home=home, kitfile=own)
    assert (
        custom.kitfile.package.name == "mine" and custom.kitfile.code == [] and custom.kitfile.datasets == []
    )
    assert (
        custom.kitfile.model is not None and custom.kitfile.model.parameters["mlflow"]["run_id"] == t.run_id
    )

    # PyKitOps' Kitfile (what kit.init returns) is taken as well
    from kitops.modelkit.kitfile import Kitfile as PyKitfile

    pyk = PyKitfile(manifestVersion="1.0.0", package={"name": "pyk"}, model={"name": "clf", "path": "model"})
    from_sdk = kmlflow.log_modelkit("pyk:v1", run_id=t.run_id, push=False, home=home, kitfile=pyk)
    assert from_sdk.kitfile.package.name == "pyk"
    assert (
        from_sdk.kitfile.model is not None
        and from_sdk.kitfile.model.parameters["mlflow"]["run_id"] == t.run_id
    )


def test_log_modelkit_active_run_allowed_other_unfinished_refused(tracking: Trained, home: Path) -> None:
    from kitops.integrations import mlflow as kmlflow

    t = tracking
    mlflow = t.mlflow
    with pytest.raises(UsageError, match="no active MLflow run"):
        kmlflow.log_modelkit("x:v1", push=False, home=home)
    with pytest.raises(UsageError, match="names no registry") as exc:
        kmlflow.log_modelkit("x:v1", run_id=t.run_id, home=home)
    assert exc.value.hint and "push=False" in exc.value.hint

    client = mlflow.MlflowClient()
    other = client.create_run(t.experiment_id).info.run_id  # RUNNING, not the active run
    with mlflow.start_run(experiment_id=t.experiment_id):
        mlflow.log_param("alpha", "1")
        inside = kmlflow.log_modelkit("active:v1", push=False, home=home)  # the active run is RUNNING
        assert inside.kitfile.model is None and inside.model_uri is None
        with pytest.raises(UsageError, match="is RUNNING, not FINISHED"):
            kmlflow.log_modelkit("other:v1", run_id=other, push=False, home=home)
    assert client.get_run(inside.run_id).data.tags[kmlflow.TAG_REF] == "active:v1"
    forced = kmlflow.log_modelkit(
        "other:v1",
        run_id=other,
        push=False,
        force=True,
        home=home,
        name="custom",
        description="by hand",
        authors=["ana@example.com"],
    )
    assert forced.run_id == other
    pkg = forced.kitfile.package
    assert (pkg.name, pkg.description, pkg.authors) == ("custom", "by hand", ["ana@example.com"])
    assert api.inspect("other:v1", home=home).manifest.annotations[kmlflow.ANNOTATION_RUN_ID] == other
    with pytest.raises(NotFoundError, match="not found") as missing:
        kmlflow.log_modelkit("x:v1", run_id="0" * 32, push=False, home=home)
    assert missing.value.hint and "tracking URI" in missing.value.hint


def test_kit_import_run_uses_tracking_uri_option(tracking: Trained, home: Path, tmp_path: Path) -> None:
    t = tracking
    t.mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}")  # the option must win
    res = kit(home, "import", f"mlflow://runs/{t.run_id}", "-t", "x:v1", "--tracking-uri", t.tracking_uri)
    assert res.exit_code == 0, res.output
    assert "Model saved: sha256:" in res.stdout
    assert not (tmp_path / "elsewhere.db").exists()
    listed = kit(home, "list")
    assert listed.exit_code == 0 and "x" in listed.stdout and "v1" in listed.stdout
    info = api.info("x:v1", home=home)
    assert info.model is not None and info.model.framework == "sklearn"
    assert info.model.parameters["mlflow"]["run_id"] == t.run_id
    # read-only on the MLflow side: import writes no tags
    assert not any(
        k.startswith("kitops.") and v == "x:v1"
        for k, v in t.mlflow.MlflowClient(t.tracking_uri).get_run(t.run_id).data.tags.items()
    )
    # the experiment form, and one artifact path only
    res = kit(
        home,
        "import",
        f"mlflow://experiments/{t.experiment_id}/runs/{t.run_id}/model",
        "-t",
        "y:v1",
        "--tracking-uri",
        t.tracking_uri,
    )
    assert res.exit_code == 0, res.output
    only_model = api.info("y:v1", home=home)
    assert only_model.datasets == [] and only_model.model is not None and only_model.model.path == "model"


def test_kit_import_errors(tracking: Trained, home: Path) -> None:
    missing = kit(home, "import", f"mlflow://runs/{'0' * 32}", "-t", "x:v1")
    assert missing.exit_code == 1
    assert "error: Failed to import model: MLflow run" in missing.stderr and "hint: " in missing.stderr
    no_tag = kit(home, "import", f"mlflow://runs/{tracking.run_id}")
    assert no_tag.exit_code == 2 and "use flag --tag" in no_tag.stderr
    bad = kit(home, "import", "mlflow://nonsense", "-t", "x:v1")
    assert (
        bad.exit_code == 2 and "invalid MLflow URI" in bad.stderr and "hint: use mlflow://runs/" in bad.stderr
    )
    hf = kit(home, "import", "hf://org/model", "-t", "x:v1", "--tracking-uri", "http://127.0.0.1:1")
    assert hf.exit_code == 2 and "--tracking-uri applies only to mlflow:// sources" in hf.stderr
    other = kit(home, "import", "s3://bucket/model", "-t", "x:v1")
    assert (
        other.exit_code == 2 and "unsupported import source" in other.stderr and "mlflow://" in other.stderr
    )
    assert api.list_modelkits(home=home) == []


def test_import_registered_model_version_and_load(tracking: Trained, home: Path) -> None:
    from kitops.integrations import mlflow as kmlflow

    t = tracking
    result = kmlflow.import_mlflow(f"mlflow://models/{REGISTERED}/1", home=home)
    assert result.ref == f"{REGISTERED}:1" and result.run_id == t.run_id
    kf = result.kitfile
    assert kf.model is not None and (kf.model.name, kf.model.version, kf.model.framework) == (
        REGISTERED,
        "1",
        "sklearn",
    )
    assert (kf.package.name, kf.package.version) == (REGISTERED, "1")
    assert kf.model.parameters["mlflow"]["registered_model"]["name"] == REGISTERED
    assert kf.model.parameters["mlflow"]["run_id"] == t.run_id
    assert kf.datasets == []  # a model version is the model only
    assert result.annotations[kmlflow.ANNOTATION_REGISTERED_MODEL] == f"{REGISTERED}/1"
    loaded = kmlflow.load_model(f"{REGISTERED}:1", home=home, target_dir=home.parent / "unpacked")
    assert (loaded.predict(t.X) == t.model.predict(t.X)).all()
    with pytest.raises(NotFoundError):
        kmlflow.import_mlflow(f"mlflow://models/{REGISTERED}/99", home=home)


def test_uri_parsing_dataset_matching_and_redaction() -> None:
    from kitops.integrations import mlflow as kmlflow

    parse = kmlflow.parse_mlflow_uri
    assert parse("mlflow://runs/abc") == kmlflow.MLflowSource(run_id="abc")
    assert parse("mlflow://runs/abc/sub/model") == kmlflow.MLflowSource(
        run_id="abc", artifact_path="sub/model"
    )
    assert parse("mlflow://experiments/3/runs/abc") == kmlflow.MLflowSource(run_id="abc", experiment_id="3")
    assert parse("mlflow://models/clf/2") == kmlflow.MLflowSource(model_name="clf", model_version="2")
    assert parse("mlflow://models/clf@prod") == kmlflow.MLflowSource(model_name="clf", model_alias="prod")
    for bad in (
        "mlflow://",
        "mlflow://runs",
        "mlflow://models/clf",
        "mlflow://models/clf/latest",
        "runs:/abc",
    ):
        with pytest.raises(UsageError):
            parse(bad)
    files = ["data/train.csv", "data/test.csv", "other/train.csv", "eval/x/train.csv"]
    assert kmlflow._match_dataset("/home/me/data/train.csv", files) == "data/train.csv"
    assert kmlflow._match_dataset("/srv/x/train.csv", files) == "eval/x/train.csv"
    assert kmlflow._match_dataset("/srv/train.csv", files) is None  # three equally good matches
    assert kmlflow._match_dataset("/srv/valid.csv", files) is None
    assert (
        kmlflow.redact_uri("https://user:secret@mlflow.example.com:8443/x")
        == "https://mlflow.example.com:8443/x"
    )
    assert kmlflow.redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


def test_missing_mlflow_gives_install_hint(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    from kitops.integrations import mlflow as kmlflow

    monkeypatch.setitem(sys.modules, "mlflow", None)
    for call in (
        lambda: kmlflow.log_modelkit("x:v1", push=False, home=home),
        lambda: kmlflow.load_model("x:v1", home=home),
        lambda: kmlflow.import_mlflow("mlflow://runs/abc", tag="x:v1", home=home),
    ):
        with pytest.raises(UsageError, match="MLflow is not installed") as exc:
            call()
        assert exc.value.hint == "pip install 'kitops[mlflow]'"
    res = kit(home, "import", "mlflow://runs/abc", "-t", "x:v1")
    assert res.exit_code == 2 and "hint: pip install 'kitops[mlflow]'" in res.stderr  # a UsageError


def test_importing_kitops_does_not_import_mlflow() -> None:
    code = (
        "import sys; import kitops, kitops.integrations, "
        "kitops.integrations.mlflow; "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('mlflow', 'sklearn', 'pandas')], 'heavy'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_notebook_example_runs(plain_registry: Registry, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        KITOPS_HOME=str(tmp_path / "home"),
        KITOPS_DEMO_REGISTRY=f"{plain_registry.host}/notebook",
        MLFLOW_DISABLE_TELEMETRY="true",
        TMPDIR=str(tmp_path),
    )
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mlflow_notebook.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(pushed)" in proc.stdout and "predictions identical: True" in proc.stdout
    assert "framework: sklearn" in proc.stdout


def test_pack_extra_manifest_annotations(home: Path) -> None:
    """The general pass-through the integration uses: api.pack(annotations=...)."""
    example = ROOT / "examples" / "iris"
    plain = api.pack(example, tag="iris:plain", home=home)
    annotated = api.pack(example, tag="iris:annotated", home=home, annotations={"org.example.source": "test"})
    assert annotated.manifest.annotations["org.example.source"] == "test"
    assert "org.example.source" not in (plain.manifest.annotations or {})
    assert annotated.descriptor.digest != plain.descriptor.digest
    again = api.pack(example, tag="iris:annotated", home=home, annotations={"org.example.source": "test"})
    assert again.descriptor.digest == annotated.descriptor.digest  # unchanged content is reused
    with pytest.raises(UsageError, match="written by kit itself"):
        api.pack(example, home=home, annotations={"org.opencontainers.image.created": "2020-01-01T00:00:00Z"})


def test_download_model_keeps_a_concurrent_loaders_complete_copy(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitops.integrations import mlflow as kmlflow

    ctx = tmp_path / "ctx"
    (ctx / "model").mkdir(parents=True)
    (ctx / "model" / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    (ctx / "Kitfile").write_text("manifestVersion: 1.0.0\nmodel:\n  path: model\n")
    digest = api.pack(ctx, tag="m:v1", home=home).descriptor.digest
    final = home / "cache" / "mlflow" / digest.replace(":", "-")
    real_unpack = api.unpack

    def unpack_while_another_loader_finishes(*args: Any, **kwargs: Any) -> Any:
        result = real_unpack(*args, **kwargs)
        (final / "model").mkdir(parents=True)  # the other loader's complete copy, in use by its caller
        (final / "model" / "MLmodel").write_text("flavors:\n  python_function: {}\n")
        (final / "theirs").write_text("in use")
        (final / ".complete").write_text(digest + "\n")
        return result

    monkeypatch.setattr(kmlflow.api, "unpack", unpack_while_another_loader_finishes)
    assert kmlflow.download_model("m:v1", home=home) == final / "model"
    assert (final / "theirs").read_text() == "in use"  # not deleted under the other caller
    assert [p.name for p in final.parent.iterdir()] == [final.name]  # our partial copy was cleaned up
