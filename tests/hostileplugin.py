"""An estimator that misbehaves on purpose (registered beside tests.toyplugin by the hostile-input tests).

``toy-hostile`` reads nothing and returns, depending on ``mode``, what a careless or hostile
plugin might return from ``predict()``; every mode but ``ok`` must end in a failed unit with a
message, never in a score.
"""

from __future__ import annotations

import os

import numpy as np

from massbench import Estimator, hookimpl

#: mode -> what predict() returns for n test clusters
BAD_PREDICTIONS = {
    "huge": lambda n: np.full(n, 1e300),  # overflowed r.std() and scored 0.0, rank 1
    "negative-huge": lambda n: np.full(n, -1e300),
    "tiny": lambda n: np.full(n, 1e-300),
    "linear-mass": lambda n: np.full(n, 1e14),  # M instead of log10 M
    "inf": lambda n: np.full(n, np.inf),
    "nan": lambda n: np.full(n, np.nan),
    "strings": lambda n: ["14.0"] * n,
    "string": lambda n: "14.0",
    "booleans": lambda n: np.ones(n, dtype=bool),
    "complex": lambda n: np.full(n, 14.0 + 0.5j),
    "row": lambda n: np.full((1, n), 14.0),  # (1, n): was quietly flattened
    "column": lambda n: np.full((n, 1), 14.0),
    "none": lambda n: None,
    "objects": lambda n: [14.0] * (n - 1) + [None],
    "ragged": lambda n: [[14.0]] * (n - 1) + [[14.0, 14.0]],
    "dict": lambda n: {"mass": 14.0},
    "short": lambda n: np.full(max(n - 1, 0), 14.0),
}


class Hostile(Estimator):
    """Returns a bad prediction of kind ``mode`` (see :data:`BAD_PREDICTIONS`), or 14.2 for ``ok``."""

    name = "toy-hostile"
    inputs = ()

    def __init__(self, mode: str = "ok", message: str = ""):
        self.mode = mode
        self.message = message

    def fit(self, train, val) -> None:
        if self.mode == "raise":
            raise RuntimeError(self.message or "failed")
        if self.mode == "sealed-env" and os.environ.get("MASSBENCH_SEALED_SEED"):
            raise RuntimeError("the sealed seed is visible to the estimator's process")

    def predict(self, test):
        n = len(test)
        if self.mode in ("ok", "raise", "sealed-env"):
            return np.full(n, 14.2)
        return BAD_PREDICTIONS[self.mode](n)


@hookimpl
def massbench_estimators():
    return [Hostile]
