"""Scatter and bias of mass predictions, in dex (paper eq. 9 and Table 3).

Residual r = log10 M_pred - log10 M_true (eq. 9), pooled over all test folds:

- ``scatter_dex``: standard deviation of r (ddof = 0)
- ``scatter_percent``: 100 ln(10) scatter_dex, the paper's convention (0.0773 dex = 17.80 %)
- ``bias_dex``: mean of r
- ``robust_scatter_dex``: (p84 - p16) / 2 of r
- ``scatter_ci95`` / ``bias_ci95``: 95 % intervals (below)
- per-fold scatter and bias, and scatter and bias in bins of true mass

With training-seed repeats (``repeats: N``: every fold trained N times) each figure is the mean
over the N repeats, and ``scatter_seed_std`` / ``bias_seed_std`` are the standard deviations
(ddof = 1) of the N pooled scatters / biases.

Intervals. Clusters of one lineage (the same halo at several snapshots: the dataset's ``group``,
Magneticum's ``tree_id``) are not independent, so the bootstrap resamples lineages, not clusters:
each of B = 1000 seeded resamples draws as many lineages as the test set has, with replacement,
and takes all their clusters (a dataset without groups: one cluster per lineage, the plain
bootstrap). ``scatter_ci95_sampling`` / ``bias_ci95_sampling`` are the percentile intervals of
that lineage bootstrap (of the mean over repeats). With N >= 2 repeats the seed term
h = t_{0.975, N-1} s / sqrt(N) (s the seed standard deviation) is added in quadrature to each
side, giving ``scatter_ci95`` / ``bias_ci95``: an interval for the estimator's expected scatter
over both the test sample and its training seeds. With one repeat the seed spread is unknown
(``scatter_seed_std`` None) and the interval is the sampling one.

:func:`paired_difference` compares two estimators on the same clusters: the same lineage
resamples for both, so the common sample variance cancels.
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


def _as_repeats(r: np.ndarray) -> np.ndarray:
    """Residuals as a (n_repeats, n_clusters) array (a 1-D array is one repeat)."""
    r = np.asarray(r, dtype=float)
    return r[None, :] if r.ndim == 1 else r


class LineageResampler:
    """Seeded lineage bootstrap of per-cluster statistics: all clusters of a drawn lineage come together.

    ``groups`` are the lineage ids of the clusters (None: each cluster its own lineage). Each of
    ``n_boot`` resamples draws as many lineages as there are, with replacement; a resample is held
    as per-lineage counts, so sums over a resample are one matrix product.
    """

    def __init__(self, groups: np.ndarray | None, n: int, n_boot: int = 1000, seed: int = 0) -> None:
        g = np.arange(n) if groups is None else np.asarray(groups)
        if len(g) != n:
            raise ValueError(f"{len(g)} group ids for {n} clusters")
        _, self.member = np.unique(g, return_inverse=True)
        self.n_groups = int(self.member.max()) + 1 if n else 0
        rng = np.random.default_rng(seed)
        self.counts = (
            rng.multinomial(self.n_groups, np.full(self.n_groups, 1.0 / self.n_groups), size=n_boot).astype(float)
            if self.n_groups
            else np.zeros((n_boot, 0))
        )

    def _sums(self, x: np.ndarray) -> np.ndarray:
        """Per-lineage sums of x (k, n) -> (k, n_groups)."""
        out = np.zeros((x.shape[0], self.n_groups))
        for j in range(x.shape[0]):
            out[j] = np.bincount(self.member, weights=x[j], minlength=self.n_groups)
        return out

    def std_mean(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(std, mean) of r (k repeats, n) in every resample: two (n_boot, k) arrays (ddof = 0)."""
        r = _as_repeats(r)
        n_g = self._sums(np.ones((1, r.shape[1])))[0]
        n = self.counts @ n_g  # (n_boot,)
        s1 = self.counts @ self._sums(r).T  # (n_boot, k)
        s2 = self.counts @ self._sums(r * r).T
        n = np.maximum(n, 1.0)[:, None]
        mean = s1 / n
        var = np.maximum(s2 / n - mean * mean, 0.0)
        return np.sqrt(var), mean

    def weighted_std_mean(self, r: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted (std, mean) of r (k repeats, n) with per-cluster weights w (n,) in every resample.

        A resampled lineage brings its clusters with their weights: mean = sum(w r) / sum(w) and
        std^2 = sum(w (r - mean)^2) / sum(w) over the resample's clusters; two (n_boot, k) arrays.
        """
        r = _as_repeats(r)
        w = np.asarray(w, dtype=float)
        sw = self.counts @ self._sums(w[None, :])[0]  # (n_boot,)
        s1 = self.counts @ self._sums(r * w[None, :]).T
        s2 = self.counts @ self._sums(r * r * w[None, :]).T
        sw = np.where(sw > 0, sw, 1.0)[:, None]
        mean = s1 / sw
        var = np.maximum(s2 / sw - mean * mean, 0.0)
        return np.sqrt(var), mean


def seed_halfwidth(values: np.ndarray, level: float = 0.95) -> float:
    """Half-width of the seed term, t_{(1+level)/2, N-1} s / sqrt(N), of N per-repeat values (0 for N < 2)."""
    values = np.asarray(values, dtype=float)
    k = len(values)
    if k < 2:
        return 0.0
    from scipy.stats import t

    return float(t.ppf((1 + level) / 2, k - 1) * values.std(ddof=1) / np.sqrt(k))


def widen(centre: float, interval: list[float], half: float) -> list[float]:
    """``interval`` around ``centre`` with ``half`` added in quadrature to each side."""
    lo, hi = interval
    return [float(centre - np.hypot(centre - lo, half)), float(centre + np.hypot(hi - centre, half))]


def _percentile_interval(x: np.ndarray, level: float) -> list[float]:
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    return [float(np.percentile(x, lo)), float(np.percentile(x, hi))]


def bootstrap_ci(
    r: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95, groups: np.ndarray | None = None
) -> dict[str, list[float]]:
    """Lineage-bootstrap intervals of the scatter (std) and bias (mean) of ``r``; seeded.

    ``r`` is (n,) or (k repeats, n): the statistic is then the mean over repeats. ``groups``: lineage
    id per cluster (None: per-cluster bootstrap).
    """
    rr = _as_repeats(r)
    if rr.shape[1] < 2:
        return {"scatter": [float("nan")] * 2, "bias": [float("nan")] * 2}
    std, mean = LineageResampler(groups, rr.shape[1], n_boot, seed).std_mean(rr)
    return {
        "scatter": _percentile_interval(std.mean(axis=1), level),
        "bias": _percentile_interval(mean.mean(axis=1), level),
    }


@dataclass
class PairedDifference:
    """Scatter of A minus scatter of B on the same clusters [dex], with its 95 % interval.

    ``ci95_sampling`` is the paired lineage bootstrap; ``ci95`` adds both estimators' seed terms
    in quadrature (equal to the sampling interval when neither has repeats). ``significant``: the
    interval excludes 0.
    """

    a: str
    b: str
    scatter_a: float
    scatter_b: float
    delta_dex: float
    ci95: list[float]
    ci95_sampling: list[float]
    n_clusters: int
    n_groups: int
    repeats_a: int
    repeats_b: int

    @property
    def significant(self) -> bool:
        return bool(self.ci95[0] > 0 or self.ci95[1] < 0)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant}


def paired_difference(
    ra: np.ndarray,
    rb: np.ndarray,
    groups: np.ndarray | None = None,
    a: str = "A",
    b: str = "B",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    resampler: LineageResampler | None = None,
) -> PairedDifference:
    """Paired lineage bootstrap of scatter(A) - scatter(B); ``ra``, ``rb`` residuals (n,) or (k, n), same clusters.

    ``resampler``: resamples drawn already for these clusters (``groups``, ``n_boot`` and ``seed``
    are then ignored), so that comparisons with one row share one draw.
    """
    ra, rb = _as_repeats(ra), _as_repeats(rb)
    if ra.shape[1] != rb.shape[1]:
        raise ValueError(f"{a!r} and {b!r} have residuals of {ra.shape[1]} and {rb.shape[1]} clusters")
    res = resampler if resampler is not None else LineageResampler(groups, ra.shape[1], n_boot, seed)
    sa, sb = ra.std(axis=1), rb.std(axis=1)
    delta = float(sa.mean() - sb.mean())
    boot = res.std_mean(ra)[0].mean(axis=1) - res.std_mean(rb)[0].mean(axis=1)
    sampling = _percentile_interval(boot, level)
    half = float(np.hypot(seed_halfwidth(sa, level), seed_halfwidth(sb, level)))
    return PairedDifference(
        a=a,
        b=b,
        scatter_a=float(sa.mean()),
        scatter_b=float(sb.mean()),
        delta_dex=delta,
        ci95=widen(delta, sampling, half),
        ci95_sampling=sampling,
        n_clusters=int(ra.shape[1]),
        n_groups=res.n_groups,
        repeats_a=int(ra.shape[0]),
        repeats_b=int(rb.shape[0]),
    )


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
    repeats: int = 1
    scatter_seed_std: float | None = None
    bias_seed_std: float | None = None
    scatter_ci95_sampling: list[float] = field(default_factory=list)
    bias_ci95_sampling: list[float] = field(default_factory=list)
    n_groups: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score(
    pred: np.ndarray,
    true: np.ndarray,
    fold: np.ndarray | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    bin_width: float = 0.25,
    groups: np.ndarray | None = None,
) -> Scores:
    """Score predictions of log10 M500c [h^-1 Msun] against the truth (eq. 9).

    ``pred`` is (n,) or, with training-seed repeats, (k, n) (every repeat predicts the same n
    clusters); ``groups`` gives each cluster's lineage id for the bootstrap (None: per cluster).
    """
    true = np.asarray(true, dtype=float)
    with np.errstate(all="ignore"):
        r = _as_repeats(pred) - true[None, :]
    if r.size and not (np.isfinite(r).all() and np.abs(r).max() < MAX_RESIDUAL):
        raise ValueError(
            f"residuals must be finite and below {MAX_RESIDUAL:g} dex to be scored (predictions are log10 masses); "
            "check_predictions refuses such predictions before scoring"
        )
    k, n = r.shape
    if n == 0:
        nan = float("nan")
        return Scores(0, nan, nan, nan, nan, [nan, nan], [nan, nan], repeats=k)
    sds, means = r.std(axis=1), r.mean(axis=1)
    sd, bias = float(sds.mean()), float(means.mean())
    ci = bootstrap_ci(r, n_boot=n_boot, seed=seed, groups=groups)
    per_fold = []
    if fold is not None:
        fold = np.asarray(fold)
        for f in np.unique(fold):
            rk = r[:, fold == f]
            per_fold.append(
                {
                    "fold": int(f),
                    "n": int(rk.shape[1]),
                    "scatter_dex": float(rk.std(axis=1).mean()),
                    "bias_dex": float(rk.mean(axis=1).mean()),
                }
            )
    bins = []
    edges = mass_bin_edges(true, bin_width)
    which = np.clip(np.digitize(true, edges) - 1, 0, len(edges) - 2)
    for b in range(len(edges) - 1):
        rb = r[:, which == b]
        if rb.shape[1] == 0:
            continue
        bins.append(
            {
                "log10_m_lo": float(edges[b]),
                "log10_m_hi": float(edges[b + 1]),
                "n": int(rb.shape[1]),
                "scatter_dex": float(rb.std(axis=1).mean()),
                "bias_dex": float(rb.mean(axis=1).mean()),
            }
        )
    g = np.arange(n) if groups is None else np.asarray(groups)
    return Scores(
        n_test=int(n),
        scatter_dex=sd,
        scatter_percent=dex_to_percent(sd),
        bias_dex=bias,
        robust_scatter_dex=float(np.mean([robust_scatter(x) for x in r])),
        scatter_ci95=widen(sd, ci["scatter"], seed_halfwidth(sds)) if k > 1 else ci["scatter"],
        bias_ci95=widen(bias, ci["bias"], seed_halfwidth(means)) if k > 1 else ci["bias"],
        per_fold=per_fold,
        mass_bins=bins,
        repeats=int(k),
        scatter_seed_std=float(sds.std(ddof=1)) if k > 1 else None,
        bias_seed_std=float(means.std(ddof=1)) if k > 1 else None,
        scatter_ci95_sampling=ci["scatter"],
        bias_ci95_sampling=ci["bias"],
        n_groups=int(len(np.unique(g))),
    )
