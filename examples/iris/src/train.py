"""Train the example iris classifier and write model/, data/ (run from examples/iris).

The committed files were produced by this script; re-running it gives an
equivalent model (scikit-learn's RandomForest with a fixed seed).
"""

from __future__ import annotations

import csv
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier


def main() -> None:
    here = Path(__file__).resolve().parent.parent
    iris = load_iris()
    (here / "data").mkdir(exist_ok=True)
    with open(here / "data" / "iris.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*iris.feature_names, "species"])
        for row, target in zip(iris.data, iris.target, strict=True):
            writer.writerow([*row, iris.target_names[target]])
    model = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=7).fit(iris.data, iris.target)
    (here / "model").mkdir(exist_ok=True)
    joblib.dump(model, here / "model" / "iris-classifier.joblib", compress=3)
    print("accuracy on training data:", model.score(iris.data, iris.target))


if __name__ == "__main__":
    main()
