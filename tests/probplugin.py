"""Probabilistic test estimators (every :class:`massbench.Prediction` form, and contract breakers) for
tests/test_probabilistic.py. Each fits log10 M on log10 obs by least squares on the training clusters
and predicts a Gaussian whose sigma is the training residuals' standard deviation times ``inflate``."""

from __future__ import annotations

import numpy as np

from massbench import Estimator, Prediction, hookimpl


class _Linear(Estimator):
    inputs = ("obs",)

    def __init__(self, inflate: float = 1.0):
        self.inflate = inflate

    def fit(self, train, val) -> None:
        x = np.log10(train["obs"])
        self.coef = np.polyfit(x, train.log10_m500c, 1)
        self.sigma = float(np.std(train.log10_m500c - np.polyval(self.coef, x))) * self.inflate

    def _mean_sigma(self, test) -> tuple[np.ndarray, np.ndarray]:
        mu = np.polyval(self.coef, np.log10(test["obs"]))
        return mu, np.full(len(mu), self.sigma)


class Gauss(_Linear):
    name = "prob-gauss"

    def predict(self, test):
        mu, s = self._mean_sigma(test)
        return Prediction(mu, s)


class Quantiles(_Linear):
    name = "prob-quantiles"
    levels = (0.025, 0.16, 0.5, 0.84, 0.975)

    def predict(self, test):
        from scipy.stats import norm

        mu, s = self._mean_sigma(test)
        return Prediction(mu, quantiles={q: mu + s * norm.ppf(q) for q in self.levels})


class Samples(_Linear):
    name = "prob-samples"

    def predict(self, test):
        mu, s = self._mean_sigma(test)
        rng = np.random.default_rng(self.context.seed)
        return Prediction(samples=mu[:, None] + s[:, None] * rng.standard_normal((len(mu), 64)))


class NegativeSigma(_Linear):
    name = "prob-negative-sigma"

    def predict(self, test):
        mu, s = self._mean_sigma(test)
        return Prediction(mu, -s)


class WrongShape(_Linear):
    name = "prob-wrong-shape"

    def predict(self, test):
        mu, s = self._mean_sigma(test)
        return Prediction(mu, s[:-1])


@hookimpl
def massbench_estimators():
    return [Gauss, Quantiles, Samples, NegativeSigma, WrongShape]
