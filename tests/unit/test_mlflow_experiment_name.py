"""The experiment name of an MLflow run is optional metadata: only MLflow's own refusal is tolerated."""

from __future__ import annotations

import pytest

from kitops.integrations.mlflow import _experiment_name

MlflowException = pytest.importorskip("mlflow.exceptions").MlflowException


class Experiment:
    name = "churn"


class Client:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def get_experiment(self, experiment_id: str) -> Experiment:
        if self.error is not None:
            raise self.error
        return Experiment()


def test_the_name_when_mlflow_gives_it() -> None:
    assert _experiment_name(Client(), "1") == "churn"


def test_empty_when_mlflow_refuses() -> None:
    refused = MlflowException("Could not find experiment with ID 1", error_code="RESOURCE_DOES_NOT_EXIST")
    assert _experiment_name(Client(refused), "1") == ""


def test_a_bug_is_not_hidden() -> None:
    with pytest.raises(AttributeError, match="boom"):
        _experiment_name(Client(AttributeError("boom")), "1")
