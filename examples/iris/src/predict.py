"""Load the unpacked iris model and classify one flower: python src/predict.py 5.1 3.5 1.4 0.2"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib


def main() -> None:
    model = joblib.load(Path(__file__).resolve().parent.parent / "model" / "iris-classifier.joblib")
    features = [float(x) for x in sys.argv[1:5]] or [5.1, 3.5, 1.4, 0.2]
    print(["setosa", "versicolor", "virginica"][int(model.predict([features])[0])])


if __name__ == "__main__":
    main()
