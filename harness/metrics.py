"""Scatter and bias of mass predictions, in dex (paper eq. 9 and Table 3).

Residual r = log10 M_pred - log10 M_true (eq. 9), pooled over all test folds:

- ``scatter_dex``: standard deviation of r (ddof = 0)
- ``scatter_percent``: 100 ln(10) scatter_dex, the paper's convention (0.0773 dex = 17.80 %)
- ``bias_dex``: mean of r
- ``robust_scatter_dex``: (p84 - p16) / 2 of r
- ``scatter_ci95`` / ``bias_ci95``: seeded bootstrap 95 % intervals (percentile method)
- per-fold scatter and bias, and scatter and bias in bins of true mass
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

LN10 = float(np.log(10.0))
MAX_RESIDUAL = 1e6  # dex; far beyond any plausible prediction, far below float64 overflow of r**2


def dex_to_percent(dex: float) -> float:
    """Scatter in ln M as a percentage: 100 ln(10) x dex."""
    return 100.0 * LN10 * dex


def robust_scatter(r: np.ndarray) -> float:
    p16, p84 = np.percentile(r, [16, 84])
    return float((p84 - p16) / 2)


def bootstrap_ci(r: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, list[float]]:
    """Bootstrap intervals of the scatter (std) and bias (mean) of ``r``; vectorised, seeded."""
    r = np.asarray(r, dtype=float)
    if len(r) < 2:
        return {"scatter": [float("nan")] * 2, "bias": [float("nan")] * 2}
    rng = np.random.default_rng(seed)
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    stds = np.empty(n_boot)
    means = np.empty(n_boot)
    chunk = max(1, int(2e6 // len(r)))
    for s in range(0, n_boot, chunk):
        e = min(n_boot, s + chunk)
        sample = r[rng.integers(0, len(r), size=(e - s, len(r)))]
        stds[s:e] = sample.std(axis=1)
        means[s:e] = sample.mean(axis=1)
    return {
        "scatter": [float(np.percentile(stds, lo)), float(np.percentile(stds, hi))],
        "bias": [float(np.percentile(means, lo)), float(np.percentile(means, hi))],
    }


def mass_bin_edges(log10_m: np.ndarray, width: float = 0.25) -> np.ndarray:
    """Bin edges of ``width`` dex in log10 M500c covering the sample, on a grid aligned to ``width``."""
    lo = np.floor(np.min(log10_m) / width) * width
    hi = np.ceil(np.max(log10_m) / width + 1e-9) * width
    return np.round(np.arange(lo, hi + width / 2, width), 6)


@dataclass
class Scores:
    """Every figure of merit for one estimator's pooled test predictions."""

    n_test: int
    scatter_dex: float
    scatter_percent: float
    bias_dex: float
    robust_scatter_dex: float
    scatter_ci95: list[float]
    bias_ci95: list[float]
    per_fold: list[dict[str, Any]] = field(default_factory=list)
    mass_bins: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score(
    pred: np.ndarray,
    true: np.ndarray,
    fold: np.ndarray | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    bin_width: float = 0.25,
) -> Scores:
    """Score predictions of log10 M500c [h^-1 Msun] against the truth."""
    pred = np.asarray(pred, dtype=float)
    true = np.asarray(true, dtype=float)
    with np.errstate(all="ignore"):
        r = pred - true
    if r.size and not (np.isfinite(r).all() and np.abs(r).max() < MAX_RESIDUAL):
        raise ValueError(
            f"residuals must be finite and below {MAX_RESIDUAL:g} dex to be scored (predictions are log10 masses); "
            "check_predictions refuses such predictions before scoring"
        )
    ci = bootstrap_ci(r, n_boot=n_boot, seed=seed)
    per_fold = []
    if fold is not None:
        fold = np.asarray(fold)
        for k in np.unique(fold):
            rk = r[fold == k]
            per_fold.append(
                {"fold": int(k), "n": int(len(rk)), "scatter_dex": float(rk.std()), "bias_dex": float(rk.mean())}
            )
    bins = []
    if len(r):
        edges = mass_bin_edges(true, bin_width)
        which = np.clip(np.digitize(true, edges) - 1, 0, len(edges) - 2)
        for b in range(len(edges) - 1):
            rb = r[which == b]
            if len(rb) == 0:
                continue
            bins.append(
                {
                    "log10_m_lo": float(edges[b]),
                    "log10_m_hi": float(edges[b + 1]),
                    "n": int(len(rb)),
                    "scatter_dex": float(rb.std()),
                    "bias_dex": float(rb.mean()),
                }
            )
    sd = float(r.std()) if len(r) else float("nan")
    return Scores(
        n_test=int(len(r)),
        scatter_dex=sd,
        scatter_percent=dex_to_percent(sd),
        bias_dex=float(r.mean()) if len(r) else float("nan"),
        robust_scatter_dex=robust_scatter(r) if len(r) else float("nan"),
        scatter_ci95=ci["scatter"],
        bias_ci95=ci["bias"],
        per_fold=per_fold,
        mass_bins=bins,
    )
