"""A dataset plugin and estimators defined inside the tests (registered via MASSBENCH_PLUGINS or directly)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from massbench import Catalogue, Estimator, InputArray, RunContext, hookimpl


class ToyDataset:
    """Clusters in a periodic box with one noisy scalar proxy of mass (slope 1.5 in log space)."""

    name = "toy"

    def __init__(self, n_clusters: int = 200, seed: int = 0, box_size: float = 100.0, scatter: float = 0.1):
        self.n_clusters = n_clusters
        self.seed = seed
        self.box_size = box_size
        self.scatter = scatter

    def load(self, context: RunContext) -> Catalogue:
        rng = np.random.default_rng(self.seed)
        n = self.n_clusters
        logm = rng.uniform(13.5, 15.0, n)
        z = rng.choice([0.1, 0.2, 0.3], n)
        obs = 10 ** (1.5 * (logm - 14) + 2 + rng.normal(0, self.scatter, n))
        maps = rng.poisson(obs[:, None, None] / 64, size=(n, 8, 8)).astype(np.float32)
        return Catalogue(
            name=self.name,
            cluster_id=np.arange(1000, 1000 + n),
            positions=rng.uniform(0, self.box_size, (n, 3)),
            box_size=self.box_size,
            redshift=z,
            log10_m500c=logm,
            inputs={
                "obs": InputArray(obs, "count", "noisy mass proxy"),
                "toy_map": InputArray(maps, "count", "8x8 Poisson map"),
                "ideal": InputArray(10 ** (logm - 14), "h^-1 Msun", "the mass itself", idealised=True),
                "secret": InputArray(logm.copy(), "", "truth", truth_only=True),
            },
            meta={"cache_key": f"toy-{n}-{self.seed}-{self.scatter}"},
        )


class LinearProxy(Estimator):
    """Least-squares log10 M on log10 obs."""

    name = "toy-linear"
    inputs = ("obs",)

    def __init__(self, degree: int = 1, epochs: int = 3):
        self.degree = degree
        self.epochs = epochs
        self.coef = None

    def fit(self, train, val) -> None:
        for e in range(self.epochs):
            self.context.progress(epoch=e + 1, total=self.epochs, loss=1.0 / (e + 1))
        self.coef = np.polyfit(np.log10(train["obs"]), train.log10_m500c, self.degree)
        crash_file = os.environ.get("TOY_CRASH_FILE")
        if crash_file and Path(crash_file).exists():
            raise KeyboardInterrupt("simulated interruption")

    def predict(self, test):
        return np.polyval(self.coef, np.log10(test["obs"]))

    def save(self, directory: Path) -> None:
        np.save(Path(directory) / "coef.npy", self.coef)

    @classmethod
    def load(cls, directory: Path) -> "LinearProxy":
        est = cls()
        est.coef = np.load(Path(directory) / "coef.npy")
        return est

    def input_gradients(self, view):
        obs = view["obs"]
        return {"obs": np.polyval(np.polyder(self.coef), np.log10(obs)) / (obs * np.log(10))}


class NoisyLinear(LinearProxy):
    """toy-linear plus seeded noise: its results depend on the unit's training seed (for repeats)."""

    name = "toy-noisy"

    def __init__(self, degree: int = 1, epochs: int = 1, noise: float = 0.05):
        super().__init__(degree, epochs)
        self.noise = noise

    def predict(self, test):
        rng = np.random.default_rng(self.context.seed)
        return super().predict(test) + rng.normal(0.0, self.noise, len(test))


class Peeker(Estimator):
    """Cheats: reads the test masses."""

    name = "toy-peeker"
    inputs = ("obs",)

    def fit(self, train, val) -> None:
        pass

    def predict(self, test):
        return test.log10_m500c


class SneakyPeeker(Peeker):
    """Cheats and swallows the exception."""

    name = "toy-sneaky"

    def predict(self, test):
        try:
            return test.log10_m500c
        except Exception:
            return np.full(len(test), 14.0)


class SubviewPeeker(Peeker):
    """Cheats through a subview and swallows the exception."""

    name = "toy-subview"

    def predict(self, test):
        try:
            return test.subview(np.arange(len(test))).log10_m500c
        except Exception:
            return np.full(len(test), 14.0)


class NaNPredictor(Estimator):
    name = "toy-nan"
    inputs = ()

    def fit(self, train, val) -> None:
        pass

    def predict(self, test):
        out = np.full(len(test), 14.0)
        out[0] = np.nan
        return out


class WrongLength(NaNPredictor):
    name = "toy-short"

    def predict(self, test):
        return np.full(len(test) - 1, 14.0)


class Undeclared(NaNPredictor):
    name = "toy-undeclared"

    def predict(self, test):
        return np.log10(test["obs"])


class QuietUndeclared(NaNPredictor):
    """Reads an undeclared input and hides the error."""

    name = "toy-quiet-undeclared"

    def predict(self, test):
        try:
            test["obs"]
        except Exception:
            pass
        return np.full(len(test), 14.0)


class Crasher(NaNPredictor):
    name = "toy-crash"

    def __init__(self, fold_to_fail: Optional[int] = None):
        self.fold_to_fail = fold_to_fail

    def fit(self, train, val) -> None:
        raise RuntimeError("boom in fit")


class TruthReader(NaNPredictor):
    name = "toy-truth"
    inputs = ("secret",)


class ToyExplainer:
    name = "toy-explainer"

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def supports(self, estimator) -> bool:
        return hasattr(estimator, "input_gradients")

    def explain_fold(self, estimator, test, truth, train_truth, context):
        g = estimator.input_gradients(test)["obs"]
        assert "secret" in truth.inputs and len(train_truth) > 0
        return {"saliency": np.abs(g) * self.scale, "secret": truth["secret"]}

    def summarize(self, label, arrays, truth, out_dir):
        if os.environ.get("TOY_EXPLAINER_NO_MATPLOTLIB"):  # a core-only install (tests/test_core_only.py)
            raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        assert np.allclose(arrays["secret"], truth["secret"])
        return {"median_log10_saliency": float(np.median(np.log10(arrays["saliency"]))), "n": int(len(truth))}


@hookimpl
def massbench_datasets():
    return [ToyDataset]


@hookimpl
def massbench_estimators():
    return [
        LinearProxy,
        NoisyLinear,
        Peeker,
        SneakyPeeker,
        SubviewPeeker,
        NaNPredictor,
        WrongLength,
        Undeclared,
        QuietUndeclared,
        Crasher,
        TruthReader,
    ]


@hookimpl
def massbench_explainers():
    return [ToyExplainer]
