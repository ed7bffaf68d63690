"""House prices on Kubeflow Pipelines v2: train -> push a ModelKit -> unpack it -> predict.

    pip install 'kitops[kubeflow]' && python examples/kubeflow/house_prices_pipeline.py

compiles the pipeline to ``house-prices-with-modelkit.yaml`` (upload it in the KFP UI, or
``kfp.Client().create_run_from_pipeline_package``). The steps:

1. ``train_house_prices`` fits a regression on a synthetic data set (made in the step: nothing
   is downloaded) and writes the model, the data and a README into its ``modelkit_dir`` artifact.
2. :func:`~kitops.integrations.kubeflow.components.push_modelkit` packs that directory (running
   ``kit init`` since it has no Kitfile), pushes it with the Docker credentials of the
   ``docker-config`` secret, and attests it with the key of the ``cosign-keys`` secret.
3. :func:`~kitops.integrations.kubeflow.components.unpack_modelkit` pulls the ModelKit by the
   digest the push step output, checks its attestation with ``cosign.pub`` first, and hands the
   files on as an artifact.
4. ``predict_house_prices`` loads the unpacked model and scores a few houses.

The secrets (see deploy/kubeflow/secrets.yaml)::

    kubectl create secret generic docker-config --from-file=config.json=$HOME/.docker/config.json
    kubectl create secret generic cosign-keys --from-file=cosign.key --from-file=cosign.pub \\
        --from-literal=cosign.password="$COSIGN_PASSWORD"

Both are mounted ``optional``: without ``cosign-keys`` the push step skips attesting with a
warning, and the unpack step fails (nothing verifies) unless the run sets ``verify_key=''``.
The container-component forms (``push_modelkit_container``, ``unpack_modelkit_container``) take
the same inputs and give the same outputs, if you prefer the console scripts in the pod.
"""

# No ``from __future__ import annotations``: KFP reads the components' annotations as objects.
import sys

from kfp import compiler, dsl, kubernetes

from kitops.integrations.kubeflow.components import push_modelkit, unpack_modelkit

DOCKER_CONFIG_SECRET = "docker-config"
COSIGN_SECRET = "cosign-keys"
# kitops-py runs as uid 1001 with HOME=/home/user: Docker's default config directory is there.
DOCKER_CONFIG_DIR = "/home/user/.docker"
COSIGN_DIR = "/etc/cosign"


@dsl.component(base_image="python:3.12-slim", packages_to_install=["scikit-learn"])
def train_house_prices(modelkit_dir: dsl.Output[dsl.Artifact], n_samples: int = 500) -> float:
    """Fit a linear model of price on size, rooms and age; return its R² on held-out data."""
    import csv
    import os
    import random

    import joblib
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import train_test_split

    rng = random.Random(42)
    rows = []
    for _ in range(n_samples):
        size = rng.uniform(40, 250)
        rooms = rng.randint(1, 7)
        age = rng.uniform(0, 80)
        price = 1200 * size + 15000 * rooms - 800 * age + rng.gauss(0, 10000)
        rows.append((size, rooms, age, price))
    features = [r[:3] for r in rows]
    prices = [r[3] for r in rows]
    x_train, x_test, y_train, y_test = train_test_split(features, prices, test_size=0.2, random_state=0)
    model = LinearRegression().fit(x_train, y_train)
    score = float(model.score(x_test, y_test))

    os.makedirs(os.path.join(modelkit_dir.path, "data"), exist_ok=True)
    joblib.dump(model, os.path.join(modelkit_dir.path, "model.joblib"))
    with open(os.path.join(modelkit_dir.path, "data", "houses.csv"), "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["size_m2", "rooms", "age_years", "price"])
        writer.writerows(rows)
    with open(os.path.join(modelkit_dir.path, "README.md"), "w") as fh:
        fh.write(f"# House prices\n\nLinear regression on size, rooms and age. Test R²: {score:.4f}\n")
    return score


@dsl.component(base_image="python:3.12-slim", packages_to_install=["scikit-learn"])
def predict_house_prices(model: dsl.Input[dsl.Artifact], model_path: str) -> str:
    """Score three houses with the unpacked model; ``model_path`` is where the unpack step wrote it."""
    import json
    import os

    import joblib

    print(f"unpack step wrote the ModelKit to {model_path}")
    regressor = joblib.load(os.path.join(model.path, "model.joblib"))
    houses = [[80.0, 3, 20.0], [150.0, 5, 5.0], [45.0, 1, 60.0]]
    return json.dumps([round(float(p), 2) for p in regressor.predict(houses)])


@dsl.pipeline(name="house-prices-with-modelkit")
def house_prices_pipeline(
    registry: str,
    repository: str = "demo/house-prices",
    tag: str = "latest",
    verify_key: str = "/etc/cosign/cosign.pub",
    code_repo: str = "https://github.com/kitops-ml/kitops",
    code_commit: str = "",
) -> str:
    train = train_house_prices()
    push = push_modelkit(
        registry=registry,
        repository=repository,
        tag=tag,
        modelkit_dir=train.outputs["modelkit_dir"],
        modelkit_name="house-prices",
        modelkit_desc="Linear regression of house prices",
        modelkit_author="kitops example",
        dataset_uri="synthetic://house-prices",
        code_repo=code_repo,
        code_commit=code_commit,
        signing_key=f"{COSIGN_DIR}/cosign.key",
    )
    push.set_caching_options(False)  # a cached push would hand on a ref without pushing
    # by digest: the step unpacks exactly what was pushed and attested, whatever the tag is now
    unpack = unpack_modelkit(modelkit_reference=push.outputs["digest"], verify_key=verify_key)
    for task in (push, unpack):
        kubernetes.use_secret_as_volume(task, secret_name=DOCKER_CONFIG_SECRET, mount_path=DOCKER_CONFIG_DIR)
        task.set_env_variable("DOCKER_CONFIG", DOCKER_CONFIG_DIR)
        kubernetes.use_secret_as_volume(task, secret_name=COSIGN_SECRET, mount_path=COSIGN_DIR, optional=True)
    kubernetes.use_secret_as_env(
        push,
        secret_name=COSIGN_SECRET,
        secret_key_to_env={"cosign.password": "COSIGN_PASSWORD"},
        optional=True,
    )
    predict = predict_house_prices(model=unpack.outputs["model"], model_path=unpack.outputs["model_path"])
    return predict.output


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "house-prices-with-modelkit.yaml"
    compiler.Compiler().compile(pipeline_func=house_prices_pipeline, package_path=target)
    print(target)
