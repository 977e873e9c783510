"""Probabilistic predictions: a distribution of log10 M500c [h^-1 Msun] per test cluster.

``predict(test)`` may return, instead of an array of point masses, a :class:`Prediction` in one of
three forms (docs/plugins.md, "Probabilistic predictions")::

    Prediction(mean, sigma)                              # Gaussian in log10 M, sigma in dex
    Prediction(mean, quantiles={0.16: q16, 0.84: q84})   # predictive quantiles (dex), any levels in (0, 1)
    Prediction(samples=draws)                            # (n, k) draws from each cluster's predictive

The point estimate the harness scores (scatter, bias, the primary sort key) is ``mean``; for the
samples form without a ``mean`` it is the sample mean. :func:`check_prediction` validates shapes,
finiteness and ordering and raises a :class:`~massbench.errors.ContractError` that says what is
wrong, exactly as for point predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .errors import ContractError

#: The JSON form's keys (unit records store a distribution under ``distribution``).
KINDS = ("gaussian", "quantiles", "samples")


@dataclass(frozen=True, eq=False)
class Prediction:
    """A predictive distribution of log10 M500c [h^-1 Msun] for each of ``n`` test clusters.

    Attributes
    ----------
    mean : (n,) predictive mean (the point estimate that is scored), log10 h^-1 Msun
    sigma : (n,) Gaussian standard deviation in dex (> 0), for the Gaussian form
    quantiles : {level: (n,) values}, levels in (0, 1), values non-decreasing with level, for the
        quantile form
    samples : (n, k) draws, k >= 2, for the samples form
    """

    mean: Any = None
    sigma: Any = None
    quantiles: Mapping[float, Any] | None = None
    samples: Any = None

    @property
    def kind(self) -> str:
        """``"gaussian"``, ``"quantiles"`` or ``"samples"`` (see :data:`KINDS`)."""
        if self.samples is not None:
            return "samples"
        if self.quantiles is not None:
            return "quantiles"
        return "gaussian"

    def point(self) -> np.ndarray:
        """The scored point estimate: ``mean``, or the mean of ``samples`` when no mean was given."""
        if self.mean is not None:
            return np.asarray(self.mean, dtype=np.float64)
        return np.asarray(self.samples, dtype=np.float64).mean(axis=1)

    def to_json(self) -> dict[str, Any]:
        """The distribution part for a unit record (the point estimate is stored as ``prediction``)."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.sigma is not None:
            out["sigma"] = np.asarray(self.sigma, dtype=np.float64).tolist()
        if self.quantiles is not None:
            out["quantiles"] = {
                repr(float(q)): np.asarray(v, dtype=np.float64).tolist() for q, v in sorted(self.quantiles.items())
            }
        if self.samples is not None:
            out["samples"] = np.asarray(self.samples, dtype=np.float64).tolist()
        return out

    @classmethod
    def from_json(cls, mean: Any, data: Mapping[str, Any]) -> "Prediction":
        """Inverse of :meth:`to_json`, given the stored point ``mean``."""
        quantiles = data.get("quantiles")
        samples = data.get("samples")
        sigma = data.get("sigma")
        return cls(
            mean=np.asarray(mean, dtype=np.float64),
            sigma=None if sigma is None else np.asarray(sigma, dtype=np.float64),
            quantiles=None if quantiles is None else {float(q): np.asarray(v) for q, v in quantiles.items()},
            samples=None if samples is None else np.asarray(samples, dtype=np.float64),
        )


def _real_array(value: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ContractError(f"Prediction.{what} is not an array of numbers ({exc})") from None
    if arr.dtype.kind not in "fiu":
        raise ContractError(f"Prediction.{what} holds {arr.dtype} values; expected real numbers")
    with np.errstate(all="ignore"):
        arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ContractError(f"Prediction.{what} has {int(bad.sum())} NaN or infinite values")
    return arr


def check_prediction(pred: Prediction, n: int) -> Prediction:
    """A validated copy of ``pred`` with float64 arrays, or a ContractError naming the problem.

    Rules: exactly one of ``sigma``, ``quantiles`` and ``samples``; ``mean`` is required except for
    the samples form; ``mean`` and ``sigma`` have shape ``(n,)``; ``sigma > 0``; every quantile level
    lies in (0, 1), each quantile array has shape ``(n,)`` and quantiles do not decrease with level;
    ``samples`` has shape ``(n, k)`` with ``k >= 2``. The point estimate's plausible range is checked
    by the caller (:func:`massbench.unit.check_predictions`).
    """
    given = [name for name in ("sigma", "quantiles", "samples") if getattr(pred, name) is not None]
    if len(given) != 1:
        raise ContractError(
            "a Prediction needs exactly one of sigma= (Gaussian), quantiles= or samples=; "
            f"got {', '.join(given) if given else 'none'}"
        )
    form = given[0]
    if pred.mean is None and form != "samples":
        raise ContractError(f"Prediction with {form}= needs mean= (the point log10 M500c per test cluster)")

    def shaped(value: Any, what: str) -> np.ndarray:
        arr = _real_array(value, what)
        if arr.shape != (n,):
            raise ContractError(f"Prediction.{what} has shape {arr.shape} for {n} test clusters; expected ({n},)")
        return arr

    mean = None if pred.mean is None else shaped(pred.mean, "mean")
    sigma = quantiles = samples = None
    if form == "sigma":
        sigma = shaped(pred.sigma, "sigma")
        if (sigma <= 0).any():
            raise ContractError(
                f"Prediction.sigma has {int((sigma <= 0).sum())} values <= 0; sigma is a standard deviation in dex"
            )
    elif form == "quantiles":
        if not isinstance(pred.quantiles, Mapping) or not pred.quantiles:
            raise ContractError("Prediction.quantiles must be a non-empty {level: values} mapping, e.g. {0.16: q16}")
        quantiles = {}
        for level, values in pred.quantiles.items():
            try:
                q = float(level)
            except (TypeError, ValueError):
                raise ContractError(f"quantile level {level!r} is not a number in (0, 1)") from None
            if not 0.0 < q < 1.0:
                raise ContractError(f"quantile level {q:g} is outside (0, 1)")
            quantiles[q] = shaped(values, f"quantiles[{q:g}]")
        stacked = np.stack([quantiles[q] for q in sorted(quantiles)])
        if len(quantiles) > 1 and (np.diff(stacked, axis=0) < 0).any():
            raise ContractError("Prediction.quantiles decrease with level for some clusters; quantiles must be ordered")
    else:
        samples = _real_array(pred.samples, "samples")
        if samples.ndim != 2 or samples.shape[0] != n or samples.shape[1] < 2:
            raise ContractError(
                f"Prediction.samples has shape {samples.shape} for {n} test clusters; expected ({n}, k) with k >= 2"
            )
    return Prediction(mean=mean, sigma=sigma, quantiles=quantiles, samples=samples)
