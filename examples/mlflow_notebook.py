# %% [markdown]
# # MLflow run -> ModelKit -> back to an MLflow model
#
# Train a scikit-learn model on the iris data set (`examples/iris/data/iris.csv`), log it
# with MLflow, pack the run as a ModelKit with `kitops.integrations.mlflow.log_modelkit`,
# push it to a registry, and load the model back from the ModelKit alone.
#
# Cells are marked `# %%` (VS Code, PyCharm and Jupytext open this file as a notebook);
# `python examples/mlflow_notebook.py` runs it top to bottom.
#
# Settings (environment variables):
# - `KITOPS_DEMO_REGISTRY`: `host[:port][/namespace]` to push to, e.g. `localhost:5000/demo`;
#   unset: the ModelKit is only packed into local storage.
# - `MLFLOW_TRACKING_URI`: your tracking server; unset: a throwaway SQLite store in a
#   temporary directory.
# - `KITOPS_HOME`: kitops' local storage (default `~/.local/share/kitops`).
#
# Needs `pip install 'kitops[mlflow]' scikit-learn pandas` (MLflow's sklearn flavor
# needs pandas, and `skops` for its default serialization).

# %%
import os
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from kitops import api
from kitops.integrations.mlflow import TAG_DIGEST, TAG_REF, load_model, log_modelkit

DATA = Path(__file__).resolve().parent / "iris" / "data" / "iris.csv"
registry = os.environ.get("KITOPS_DEMO_REGISTRY", "").strip("/")
ref = f"{registry}/iris-mlflow:v1" if registry else "iris-mlflow:v1"

# %% [markdown]
# ## Where MLflow keeps its runs
# Without `MLFLOW_TRACKING_URI`: a SQLite tracking store and an artifact directory in a
# new temporary directory (printed below; open it with `mlflow ui --backend-store-uri …`).

# %%
if os.environ.get("MLFLOW_TRACKING_URI"):
    experiment_id = mlflow.set_experiment("kitops-mlflow-demo").experiment_id
else:
    scratch = Path(tempfile.mkdtemp(prefix="kitops-mlflow-demo-"))
    mlflow.set_tracking_uri(f"sqlite:///{scratch / 'mlflow.db'}")
    experiment_id = mlflow.create_experiment("kitops-mlflow-demo", artifact_location=(scratch / "artifacts").as_uri())
print("tracking URI:", mlflow.get_tracking_uri())

# %% [markdown]
# ## Train and log
# Parameters, a metric, the training data (as an artifact *and* as a logged input, so it
# becomes a `datasets` entry of the Kitfile) and the model with its signature.

# %%
frame = pd.read_csv(DATA)
X = frame.drop(columns="species")
y = frame["species"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
params = {"C": 1.0, "max_iter": 500}

with mlflow.start_run(experiment_id=experiment_id, run_name="iris-logreg",
                      description="Logistic regression on the iris data set") as run:
    mlflow.log_params(params)
    model = LogisticRegression(**params).fit(X_train, y_train)
    mlflow.log_metric("test_accuracy", float(model.score(X_test, y_test)))
    mlflow.log_artifact(str(DATA), artifact_path="data")
    mlflow.log_input(mlflow.data.from_pandas(frame, source=str(DATA), name="iris", targets="species"),
                     context="training")
    mlflow.sklearn.log_model(model, name="model", signature=infer_signature(X_train, model.predict(X_train)),
                             input_example=X_train.head(3))
run_id = run.info.run_id
print("run:", run_id)

# %% [markdown]
# ## Pack the run as a ModelKit (and push it)
# One call: downloads the run's artifacts into a temporary directory (never into the
# MLflow store), writes a Kitfile from the run's metadata, packs, pushes, and tags the
# run with the ModelKit's reference and digest.

# %%
result = log_modelkit(ref, run_id=run_id, push=bool(registry))
print("ModelKit:", result.ref, result.digest, "(pushed)" if result.pushed else "(local only)")
print(result.kitfile.to_yaml())

tags = mlflow.MlflowClient().get_run(run_id).data.tags
assert tags[TAG_REF] == result.ref and tags[TAG_DIGEST] == result.digest

# %% [markdown]
# ## Load the model back from the ModelKit
# With a registry, drop the local copy first: `load_model` then fetches only the model
# layers from the registry.

# %%
if registry:
    api.remove(ref)
loaded = load_model(ref)
same = (loaded.predict(X_test) == model.predict(X_test)).all()
print("predictions identical:", bool(same))
assert same
