"""The KFP v2 components: the shipped compiled YAML, the IR of the components and of the example
pipeline, and a whole pipeline (train -> push -> unpack -> predict) run locally by
``kfp.local.SubprocessRunner`` against the real registry with Basic auth from a Docker config.

No ``from __future__ import annotations`` in this module: the components below are KFP
lightweight components, whose annotations KFP reads as objects.
"""

import base64
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import httpx
import pytest
import yaml
from kfp import compiler, dsl, local

from kitops import api
from kitops.errors import UsageError
from kitops.integrations.kubeflow import KITOPS_ATTESTATION
from kitops.integrations.kubeflow import components as kc
from kitops.signing.errors import SignatureError
from tests.helpers import tree_files
from tests.realregistry import Registry

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "src" / "kitops" / "integrations" / "kubeflow" / "yaml"
PLACEHOLDER = re.compile(
    r"^\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([a-z_]+)'\](\.path|\.output_file)?\}\}$"
)
# The image kfp.local warns about (it cannot tell that kitops-py is a Python image).
pytestmark = pytest.mark.filterwarnings("ignore:You may be attemping to run a task that uses custom")


def load_script(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def executor(ir: dict[str, Any], name: str) -> dict[str, Any]:
    container: dict[str, Any] = ir["deploymentSpec"]["executors"][f"exec-{name}"]["container"]
    return container


# ---------------------------------------------------------------------------------------------
# compiled YAML and IR


def test_shipped_yaml_is_what_the_script_compiles(tmp_path: Path) -> None:
    script = load_script(ROOT / "scripts" / "compile_kubeflow.py", "compile_kubeflow")
    written = script.compile_components(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in SHIPPED.glob("*.yaml"))
    for path in written:
        assert path.read_bytes() == (SHIPPED / path.name).read_bytes(), (
            f"{path.name} is stale: run .venv/bin/python scripts/compile_kubeflow.py"
        )
    assert kc.component_yaml("push-modelkit") == SHIPPED / "push-modelkit.yaml"
    with pytest.raises(UsageError, match="no compiled Kubeflow component named 'push'"):
        kc.component_yaml("push")


@pytest.mark.parametrize("form", ["", "-container"])
def test_push_component_interface(form: str) -> None:
    ir = yaml.safe_load((SHIPPED / f"push-modelkit{form}.yaml").read_text())
    comp = ir["components"][f"comp-push-modelkit{form}"]
    params = comp["inputDefinitions"]["parameters"]
    assert set(params) == {
        "registry",
        "repository",
        "tag",
        "modelkit_name",
        "modelkit_desc",
        "modelkit_author",
        "dataset_uri",
        "code_repo",
        "code_commit",
        "use_model_pack",
        "signing_key",
    }
    assert params["tag"]["defaultValue"] == "latest"
    assert params["signing_key"]["defaultValue"] == kc.COSIGN_KEY
    assert params["use_model_pack"]["parameterType"] == "BOOLEAN"
    assert "isOptional" not in params["registry"]
    assert set(comp["inputDefinitions"]["artifacts"]) == {"modelkit_dir"}
    assert comp["outputDefinitions"] == {
        "parameters": {"ref": {"parameterType": "STRING"}, "digest": {"parameterType": "STRING"}}
    }
    assert executor(ir, f"push-modelkit{form}")["image"] == kc.KITOPS_IMAGE


@pytest.mark.parametrize("form", ["", "-container"])
def test_unpack_component_interface(form: str) -> None:
    ir = yaml.safe_load((SHIPPED / f"unpack-modelkit{form}.yaml").read_text())
    comp = ir["components"][f"comp-unpack-modelkit{form}"]
    params = comp["inputDefinitions"]["parameters"]
    assert set(params) == {"modelkit_reference", "extract_path", "unpack_filter", "verify_key"}
    assert "isOptional" not in params["modelkit_reference"]
    assert comp["outputDefinitions"]["parameters"] == {"model_path": {"parameterType": "STRING"}}
    assert set(comp["outputDefinitions"]["artifacts"]) == {"model"}
    assert executor(ir, f"unpack-modelkit{form}")["image"] == kc.KITOPS_IMAGE


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "push-modelkit-container",
            [
                "inputs.parameters.registry",
                "inputs.parameters.repository",
                "inputs.parameters.tag",
                "inputs.artifacts.modelkit_dir.path",
                "inputs.parameters.modelkit_name",
                "inputs.parameters.modelkit_desc",
                "inputs.parameters.modelkit_author",
                "inputs.parameters.dataset_uri",
                "inputs.parameters.code_repo",
                "inputs.parameters.code_commit",
                "inputs.parameters.use_model_pack",
                "inputs.parameters.signing_key",
                "outputs.parameters.ref.output_file",
                "outputs.parameters.digest.output_file",
            ],
        ),
        (
            "unpack-modelkit-container",
            [
                "inputs.parameters.modelkit_reference",
                "outputs.artifacts.model.path",
                "inputs.parameters.extract_path",
                "inputs.parameters.unpack_filter",
                "inputs.parameters.verify_key",
                "outputs.parameters.model_path.output_file",
            ],
        ),
    ],
)
def test_container_args_are_one_placeholder_each(name: str, expected: list[str]) -> None:
    """Every input reaches bash as its own argument; the script text holds no placeholder, so no
    value is ever pasted into shell code."""
    container = executor(yaml.safe_load((SHIPPED / f"{name}.yaml").read_text()), name)
    command = container["command"]
    assert command[:2] == ["bash", "-c"] and command[3:] == [name.removesuffix("-container")]
    assert "{{$" not in command[2]
    found = []
    for arg in container["args"]:
        match = PLACEHOLDER.match(arg)
        assert match, f"not a lone placeholder: {arg!r}"
        found.append(".".join(p.strip(".") for p in match.groups() if p))
    assert found == expected


@pytest.mark.parametrize("name", ["push-modelkit", "unpack-modelkit"])
def test_lightweight_components_install_nothing(name: str) -> None:
    """The image carries kitops and kfp: a pip install at run time would fetch from PyPI a
    `kitops` that may not be this one."""
    container = executor(yaml.safe_load((SHIPPED / f"{name}.yaml").read_text()), name)
    assert not any("pip install" in part for part in container["command"])
    assert "kfp.dsl.executor_main" in container["command"][2]
    assert "from kitops.integrations.kubeflow.core import" in container["command"][3]


def test_example_pipeline_compiles(tmp_path: Path) -> None:
    example = load_script(ROOT / "examples" / "kubeflow" / "house_prices_pipeline.py", "house_prices")
    target = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(example.house_prices_pipeline, str(target))
    ir, platform = yaml.safe_load_all(target.read_text())  # the pipeline, then its Kubernetes config
    tasks = ir["root"]["dag"]["tasks"]
    assert set(tasks) == {"train-house-prices", "push-modelkit", "unpack-modelkit", "predict-house-prices"}
    push_in = tasks["push-modelkit"]["inputs"]
    assert push_in["artifacts"]["modelkit_dir"]["taskOutputArtifact"] == {
        "outputArtifactKey": "modelkit_dir",
        "producerTask": "train-house-prices",
    }
    assert tasks["push-modelkit"]["cachingOptions"] == {}
    ref_in = tasks["unpack-modelkit"]["inputs"]["parameters"]["modelkit_reference"]
    assert ref_in["taskOutputParameter"] == {"outputParameterKey": "digest", "producerTask": "push-modelkit"}
    predict_in = tasks["predict-house-prices"]["inputs"]
    assert predict_in["artifacts"]["model"]["taskOutputArtifact"]["producerTask"] == "unpack-modelkit"
    assert predict_in["parameters"]["model_path"]["taskOutputParameter"] == {
        "outputParameterKey": "model_path",
        "producerTask": "unpack-modelkit",
    }
    assert executor(ir, "push-modelkit")["image"] == kc.KITOPS_IMAGE
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for step in ("exec-push-modelkit", "exec-unpack-modelkit"):
        mounts = {m["secretName"]: (m["mountPath"], m["optional"]) for m in k8s[step]["secretAsVolume"]}
        assert mounts == {
            "docker-config": ("/home/user/.docker", False),
            "cosign-keys": ("/etc/cosign", True),
        }
        env = executor(ir, step.removeprefix("exec-"))["env"]
        assert {"name": "DOCKER_CONFIG", "value": "/home/user/.docker"} in env
    (password,) = k8s["exec-push-modelkit"]["secretAsEnv"]
    assert password["secretName"] == "cosign-keys"
    assert password["keyToEnv"] == [{"secretKey": "cosign.password", "envVar": "COSIGN_PASSWORD"}]


# ---------------------------------------------------------------------------------------------
# a whole pipeline, run locally against the real registry


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def train(modelkit_dir: dsl.Output[dsl.Artifact], slope: float) -> None:
    """A 'model' y = slope * x + 1 and its training data, as a training step leaves them."""
    import os
    import pickle

    os.makedirs(os.path.join(modelkit_dir.path, "data"))
    with open(os.path.join(modelkit_dir.path, "model.pkl"), "wb") as fh:
        pickle.dump({"slope": slope, "intercept": 1.0}, fh)
    with open(os.path.join(modelkit_dir.path, "data", "train.csv"), "w") as fh:
        fh.write("x,y\n" + "".join(f"{x},{slope * x + 1.0}\n" for x in range(5)))
    with open(os.path.join(modelkit_dir.path, "README.md"), "w") as fh:
        fh.write("# line model\n")


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def predict(model: dsl.Input[dsl.Artifact], model_path: str, x: float) -> float:
    """Load the unpacked model from the directory the unpack step reported; check that it is the
    directory of its artifact, which a cluster would hand on instead."""
    import os
    import pickle

    assert os.path.samefile(model_path, model.path), (model_path, model.path)
    with open(os.path.join(model_path, "model.pkl"), "rb") as fh:
        params = pickle.load(fh)
    return float(params["slope"] * x + params["intercept"])


class Outputs(NamedTuple):
    ref: str
    digest: str
    model_path: str
    prediction: float


@dsl.pipeline(name="kitops-local")
def line_pipeline(
    registry: str, repository: str, tag: str, signing_key: str, verify_key: str, slope: float
) -> Outputs:
    trained = train(slope=slope)
    pushed = kc.push_modelkit(
        registry=registry,
        repository=repository,
        tag=tag,
        modelkit_dir=trained.outputs["modelkit_dir"],
        modelkit_name="line",
        modelkit_desc="a line",
        modelkit_author="kitops tests",
        dataset_uri="file://train.csv",
        code_repo="https://example.com/line.git",
        code_commit="0123abc",
        signing_key=signing_key,
    )
    unpacked = kc.unpack_modelkit(modelkit_reference=pushed.outputs["digest"], verify_key=verify_key)
    scored = predict(model=unpacked.outputs["model"], model_path=unpacked.outputs["model_path"], x=3.0)
    return Outputs(
        ref=pushed.outputs["ref"],
        digest=pushed.outputs["digest"],
        model_path=unpacked.outputs["model_path"],
        prediction=scored.output,
    )


class Keys(NamedTuple):
    private: Path
    public: Path


@pytest.fixture()
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Keys:
    pair = api.generate_key_pair("pipeline-pass")
    private, public = tmp_path / "cosign.key", tmp_path / "cosign.pub"
    private.write_bytes(pair.private_key)
    public.write_bytes(pair.public_key)
    monkeypatch.setenv("COSIGN_PASSWORD", "pipeline-pass")  # the steps' subprocesses inherit it
    return Keys(private, public)


@pytest.fixture()
def kfp_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, basic_registry: Registry) -> Path:
    """kfp.local with its steps as subprocesses of this venv's Python, a fresh KITOPS_HOME, and
    the registry's Basic credentials only in a Docker config.json under $DOCKER_CONFIG."""
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"{basic_registry.username}:{basic_registry.password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {basic_registry.host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    monkeypatch.setenv("KITOPS_HOME", str(tmp_path / "kitops-home"))
    root = tmp_path / "pipeline-root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    return root


def registry_digest(reg: Registry, repository: str, tag: str) -> str:
    response = httpx.get(
        f"{reg.url}/v2/{repository}/manifests/{tag}",
        auth=(reg.username or "", reg.password or ""),
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    response.raise_for_status()
    assert (
        response.headers["Docker-Content-Digest"] == "sha256:" + hashlib.sha256(response.content).hexdigest()
    )
    return str(response.headers["Docker-Content-Digest"])


@pytest.mark.registry
def test_local_pipeline_pushes_attests_and_unpacks(
    kfp_local: Path, keys: Keys, basic_registry: Registry, repo_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = line_pipeline(
        registry=basic_registry.host,
        repository=repo_name,
        tag="v1",
        signing_key=str(keys.private),
        verify_key=str(keys.public),
        slope=2.5,
    )
    outputs = run.outputs
    digest = registry_digest(basic_registry, repo_name, "v1")
    assert outputs["ref"] == f"{basic_registry.host}/{repo_name}:v1"
    assert outputs["digest"] == f"{basic_registry.host}/{repo_name}@{digest}"
    assert outputs["prediction"] == pytest.approx(2.5 * 3.0 + 1.0)
    model_path = Path(outputs["model_path"])
    assert model_path.is_relative_to(kfp_local)  # the model artifact's directory
    files = tree_files(model_path)
    assert set(files) == {"Kitfile", "model.pkl", "README.md", "data/train.csv"}
    assert files["data/train.csv"].decode().splitlines()[1:3] == ["0,1.0", "1,3.5"]
    kitfile = yaml.safe_load(files["Kitfile"])
    assert kitfile["package"]["name"] == "line"
    assert kitfile["package"]["authors"] == ["kitops tests"]
    print(json.dumps({k: outputs[k] for k in ("ref", "digest", "model_path")}), file=sys.__stdout__)

    # the push step attested it with the key: a real KitOps statement about the pushed digest
    found = api.verify_attestation(
        outputs["digest"], verify_key=keys.public, predicate_type=KITOPS_ATTESTATION, remote=True
    )
    statement = found.attestations[0].statement_json()
    assert statement["predicateType"] == KITOPS_ATTESTATION
    assert statement["subject"][0]["digest"] == {"sha256": digest.removeprefix("sha256:")}
    predicate = statement["predicate"]
    assert predicate["modelkit"] == {"reference": outputs["digest"], "digest": digest}
    assert predicate["metadata"]["dataset_uri"] == "file://train.csv"
    assert predicate["metadata"]["code_commit"] == "0123abc"


@pytest.mark.registry
def test_local_pipeline_refuses_a_modelkit_the_key_does_not_verify(
    kfp_local: Path, keys: Keys, tmp_path: Path, basic_registry: Registry, repo_name: str
) -> None:
    other = tmp_path / "other.pub"
    other.write_bytes(api.generate_key_pair("x").public_key)
    with pytest.raises(RuntimeError, match="unpack-modelkit"):
        line_pipeline(
            registry=basic_registry.host,
            repository=repo_name,
            tag="v1",
            signing_key=str(keys.private),
            verify_key=str(other),
            slope=1.0,
        )
    registry_digest(basic_registry, repo_name, "v1")  # the push itself went through
    unpacked = [p for p in kfp_local.rglob("model") if p.parent.name.startswith("unpack-modelkit")]
    assert all(not any(p.iterdir()) for p in unpacked if p.is_dir()), "nothing may be written"
    with pytest.raises(SignatureError):
        api.verify_attestation(f"{basic_registry.host}/{repo_name}:v1", verify_key=other, remote=True)


# ---------------------------------------------------------------------------------------------
# the container components' command lines, run on this machine as the pod would run them


def render(container: dict[str, Any], values: dict[str, str]) -> list[str]:
    def fill(arg: str) -> str:
        match = PLACEHOLDER.match(arg)
        return values[match.group(3)] if match else arg

    return [*container["command"], *(fill(a) for a in container["args"])]


@pytest.mark.registry
def test_container_components_push_and_unpack(
    tmp_path: Path, keys: Keys, basic_registry: Registry, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = Path(sys.executable).parent
    for name in ("push-modelkit", "unpack-modelkit"):
        assert (scripts / name).exists(), f"{name} is not installed: pip install -e ."
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"{basic_registry.username}:{basic_registry.password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {basic_registry.host: {"auth": auth}}}))
    env = {
        **os.environ,
        "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}",
        "DOCKER_CONFIG": str(docker),
        "KITOPS_HOME": str(tmp_path / "kitops-home"),
        "COSIGN_PASSWORD": "pipeline-pass",
    }
    model_dir = tmp_path / "train out"  # a space: values are arguments, never shell text
    model_dir.mkdir()
    (model_dir / "model.pkl").write_bytes(b'weights "quoted" $(not run)')
    outs = tmp_path / "outs"
    push = executor(
        yaml.safe_load((SHIPPED / "push-modelkit-container.yaml").read_text()), "push-modelkit-container"
    )
    values = {
        "registry": basic_registry.host,
        "repository": repo_name,
        "tag": "v1.0.0-rc1",
        "modelkit_dir": str(model_dir),
        "modelkit_name": 'it\'s "mine"',
        "modelkit_desc": "",
        "modelkit_author": "",
        "dataset_uri": "",
        "code_repo": "",
        "code_commit": "$(touch pwned)",
        "use_model_pack": "false",
        "signing_key": str(keys.private),
        "ref": str(outs / "ref"),
        "digest": str(outs / "digest"),
    }
    done = subprocess.run(render(push, values), env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout
    digest = registry_digest(basic_registry, repo_name, "v1.0.0-rc1")
    assert (outs / "ref").read_text() == f"{basic_registry.host}/{repo_name}:v1.0.0-rc1"
    assert (outs / "digest").read_text() == f"{basic_registry.host}/{repo_name}@{digest}"
    assert not (tmp_path / "pwned").exists()
    kitfile = yaml.safe_load((model_dir / "Kitfile").read_text())
    assert kitfile["package"]["name"] == 'it\'s "mine"'

    unpack = executor(
        yaml.safe_load((SHIPPED / "unpack-modelkit-container.yaml").read_text()), "unpack-modelkit-container"
    )
    model_out = tmp_path / "artifacts" / "model"
    values = {
        "modelkit_reference": (outs / "digest").read_text(),
        "model": str(model_out),
        "extract_path": "",
        "unpack_filter": "model",
        "verify_key": str(keys.public),
        "model_path": str(outs / "model_path"),
    }
    env["KITOPS_HOME"] = str(tmp_path / "unpack-pod-home")  # another pod: nothing stored locally
    done = subprocess.run(render(unpack, values), env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout
    assert (outs / "model_path").read_text() == str(model_out)
    assert tree_files(model_out) == {"model.pkl": b'weights "quoted" $(not run)'}

    shutil.rmtree(model_out)
    values["verify_key"] = str(tmp_path / "missing.pub")
    done = subprocess.run(render(unpack, values), env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0
    assert not model_out.exists() or not any(model_out.iterdir())
