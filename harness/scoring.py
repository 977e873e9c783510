"""Scores of probabilistic predictions: proper scoring rules, coverage, PIT and sharpness (docs/plugins.md).

An estimator whose ``predict`` returns a :class:`~massbench.Prediction` (a Gaussian, quantiles or
samples of log10 M500c [h^-1 Msun] per test cluster) gets, besides the point metrics of
:mod:`massbench.metrics` (which stay the leaderboard's sort key), a :class:`ProbabilisticScores`:

- ``nll``: mean negative log predictive density at the true log10 M500c, in nats per cluster for a
  density in dex^-1 (lower is better). Gaussian: -log N(y | mean, sigma) (``scoringrules.logs_normal``).
  Samples: the same for a Gaussian kernel density of the draws with Silverman's bandwidth
  (``scoringrules.logs_ensemble``). Quantiles: not defined (no density without a shape
  assumption), so None.
- ``crps_dex``: mean continuous ranked probability score [dex] (lower is better; equals the absolute
  error for a point prediction). Gaussian: the closed form
  sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)] (``scoringrules.crps_normal``). Samples: the
  fair ensemble CRPS (``scoringrules.crps_ensemble(estimator="fair")``, unbiased for the
  distribution the draws come from). Quantiles: the pinball-loss approximation
  2/|Q| sum_q PB_q (``scoringrules.crps_quantile``), which approaches the CRPS as levels fill (0, 1).
- ``coverage_68`` / ``coverage_95``: fraction of true masses inside the central 68 % / 95 %
  predictive interval, i.e. with PIT in [(1 - L)/2, (1 + L)/2]. None for a quantile form whose
  levels do not reach (1 - L)/2 and (1 + L)/2.
- PIT: the predictive CDF at the true mass. Gaussian: Phi((y - mean)/sigma). Samples: the fraction
  of draws below y (ties count half). Quantiles: the CDF interpolated linearly between the given
  (value, level) points; a truth below the lowest quantile q_a gets a/2, above the highest q_b
  (1 + b)/2 (the middle of the censored tail). ``pit_histogram``: density in 10 equal bins of
  [0, 1] (1 everywhere when calibrated); ``pit_ks``: Kolmogorov-Smirnov distance
  D = sup_u |F_PIT(u) - u| from the uniform.
- ``sigma_mean_dex``: mean predictive standard deviation [dex] (Gaussian sigma; the samples'
  standard deviation, ddof = 1; for quantiles the Gaussian-equivalent width
  (q_b - q_a) / (Phi^-1(b) - Phi^-1(a)) of the outermost levels a < b); ``sigma_ratio``: that over
  the observed scatter (std of the residuals, eq. 9): 1 when the error bars are as wide as the
  errors on average, < 1 overconfident, > 1 underconfident.
- ``reliability``: empirical coverage of central intervals at nominal levels
  :data:`RELIABILITY_LEVELS` (the reliability diagram of report.md).

Intervals. Every metric has a 95 % interval from the same lineage bootstrap as the scatter
(:class:`massbench.metrics.LineageResampler` with the same groups, B and seed, so the same
resamples): the percentile interval of the metric over resamples. With training-seed repeats each
metric is the mean over repeats, ``seed_std`` holds the standard deviations (ddof = 1) of the
per-repeat values, and the seed term t_{0.975, N-1} s / sqrt(N) is added in quadrature to each side
exactly as for ``scatter_ci95``.

TARP (Lemos et al. 2023) is not used: for a one-dimensional posterior per cluster its expected
coverage probability at credibility level L reduces to the fraction of clusters whose truth lies in
the predictive interval of level L, i.e. the PIT coverage curve that :attr:`reliability` already
gives (with lineage intervals), while the ``tarp`` package needs posterior samples for every form
and random reference points. See docs/plugins.md, "Probabilistic predictions".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .metrics import LineageResampler, _percentile_interval, seed_halfwidth, widen
from .prediction import Prediction

#: Nominal central-interval levels of the reliability diagram.
RELIABILITY_LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.68, 0.7, 0.8, 0.9, 0.95, 0.99)
PIT_BINS = 10
_EPS = 1e-9


@dataclass
class ClusterScores:
    """Per-cluster scores of one predictive distribution against the true log10 M500c.

    Arrays are (n,): ``pit`` (in [0, 1]), ``nll`` (nats, NaN where undefined), ``crps`` [dex],
    ``sigma`` [dex, NaN where undefined], ``q16`` / ``q84`` (predictive 16 / 84 % quantiles of
    log10 M500c, NaN where the form does not give them). ``pit_range`` = (a, b): the PIT is exact
    inside [a, b] (quantile forms: their lowest and highest level; else (0, 1)).
    """

    kind: str
    pit: np.ndarray
    nll: np.ndarray
    crps: np.ndarray
    sigma: np.ndarray
    q16: np.ndarray
    q84: np.ndarray
    pit_range: tuple[float, float] = (0.0, 1.0)


def cluster_scores(pred: Prediction, true: Any) -> ClusterScores:
    """PIT, NLL, CRPS, sigma and 16/84 % quantiles of each cluster (see the module docstring).

    ``pred`` is a validated :class:`Prediction` (:func:`massbench.prediction.check_prediction`),
    ``true`` the (n,) true log10 M500c [h^-1 Msun].
    """
    import scoringrules as sr
    from scipy.stats import norm

    y = np.asarray(true, dtype=np.float64)
    n = len(y)
    nan = np.full(n, np.nan)
    z84 = float(norm.ppf(0.84))
    if pred.kind == "gaussian":
        mu = np.asarray(pred.mean, dtype=np.float64)
        s = np.asarray(pred.sigma, dtype=np.float64)
        return ClusterScores(
            "gaussian",
            pit=norm.cdf((y - mu) / s),
            nll=np.asarray(sr.logs_normal(y, mu, s), dtype=np.float64),
            crps=np.asarray(sr.crps_normal(y, mu, s), dtype=np.float64),
            sigma=s,
            q16=mu - z84 * s,
            q84=mu + z84 * s,
        )
    if pred.kind == "samples":
        draws = np.asarray(pred.samples, dtype=np.float64)
        below = (draws < y[:, None]).sum(axis=1)
        ties = (draws == y[:, None]).sum(axis=1)
        with np.errstate(all="ignore"):
            nll = np.asarray(sr.logs_ensemble(y, draws), dtype=np.float64)
        q16, q84 = np.quantile(draws, [0.16, 0.84], axis=1)
        return ClusterScores(
            "samples",
            pit=(below + 0.5 * ties) / draws.shape[1],
            nll=np.where(np.isfinite(nll), nll, np.nan),
            crps=_crps_fair(sr, y, draws),
            sigma=draws.std(axis=1, ddof=1),
            q16=q16,
            q84=q84,
        )
    assert pred.quantiles is not None
    levels = np.asarray(sorted(float(q) for q in pred.quantiles), dtype=np.float64)
    values = np.stack([np.asarray(pred.quantiles[q], dtype=np.float64) for q in sorted(pred.quantiles)], axis=1)
    lo, hi = float(levels[0]), float(levels[-1])
    pit = np.empty(n)
    for i in range(n):
        qi = values[i]
        if y[i] < qi[0]:
            pit[i] = lo / 2
        elif y[i] > qi[-1]:
            pit[i] = (1 + hi) / 2
        else:
            pit[i] = np.interp(y[i], qi, levels)

    def at(level: float) -> np.ndarray:
        if not lo - _EPS <= level <= hi + _EPS:
            return nan.copy()
        return np.array([np.interp(level, levels, values[i]) for i in range(n)])

    if len(levels) > 1:
        sigma = (values[:, -1] - values[:, 0]) / float(norm.ppf(hi) - norm.ppf(lo))
    else:
        sigma = nan.copy()
    return ClusterScores(
        "quantiles",
        pit=pit,
        nll=nan.copy(),
        crps=np.asarray(sr.crps_quantile(y, values, levels), dtype=np.float64),
        sigma=sigma,
        q16=at(0.16),
        q84=at(0.84),
        pit_range=(lo, hi),
    )


def _crps_fair(sr: Any, y: np.ndarray, draws: np.ndarray, max_elements: int = 4_000_000) -> np.ndarray:
    """``scoringrules.crps_ensemble(estimator="fair")`` in chunks of clusters: its numpy form holds an
    (n, k, k) array, so memory stays below ``max_elements`` floats whatever n and k."""
    k = draws.shape[1]
    step = max(1, max_elements // (k * k))
    out = [sr.crps_ensemble(y[i : i + step], draws[i : i + step], estimator="fair") for i in range(0, len(y), step)]
    return np.concatenate([np.asarray(o, dtype=np.float64) for o in out]) if out else np.zeros(0)


def coverage_defined(level: float, pit_range: tuple[float, float]) -> bool:
    """Whether the central interval of ``level`` lies inside the range where the PIT is exact."""
    return pit_range[0] - _EPS <= (1 - level) / 2 and (1 + level) / 2 <= pit_range[1] + _EPS


def covered(pit: np.ndarray, level: float) -> np.ndarray:
    """Whether each truth lies in the central predictive interval of ``level`` (from its PIT)."""
    return np.abs(np.asarray(pit) - 0.5) <= level / 2 + _EPS


def ks_distance(pit: np.ndarray, weights: np.ndarray | None = None, chunk: int = 128) -> np.ndarray | float:
    """Kolmogorov-Smirnov distance sup_u |F(u) - u| of PIT values from the uniform.

    With ``weights`` (B, n) (bootstrap counts per cluster) one distance per weight row, computed
    ``chunk`` rows at a time.
    """
    order = np.argsort(pit, kind="stable")
    p = np.asarray(pit, dtype=np.float64)[order]
    if weights is None:
        n = len(p)
        if n == 0:
            return 0.0
        upper = np.arange(1, n + 1) / n
        return float(max((upper - p).max(), (p - (upper - 1.0 / n)).max()))
    out = np.empty(len(weights))
    for start in range(0, len(weights), chunk):
        w = np.asarray(weights[start : start + chunk])[:, order]
        cw = np.cumsum(w, axis=1)
        total = np.maximum(cw[:, -1:], 1).astype(np.float64)
        upper = cw / total
        d = (upper - p).max(axis=1)
        upper -= w / total
        out[start : start + chunk] = np.maximum(d, (p - upper).max(axis=1))
    return out


def pit_histogram(pit: np.ndarray, bins: int = PIT_BINS) -> list[float]:
    """PIT density in ``bins`` equal bins of [0, 1] (1 in every bin for a calibrated estimator)."""
    counts, _ = np.histogram(np.clip(pit, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    return (counts / max(len(pit), 1) * bins).tolist()


@dataclass
class ReliabilityPoint:
    """Empirical coverage of the central predictive interval of one nominal level, with its 95 % interval."""

    nominal: float
    empirical: float
    ci95: list[float]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ProbabilisticScores:
    """A probabilistic estimator's scores (leaderboard.json's ``probabilistic``; module docstring for each).

    ``kind`` is the Prediction form (``gaussian``, ``quantiles``, ``samples``; forms joined by
    ``+`` if folds differ). Each ``<metric>_ci95`` is the lineage-bootstrap 95 % interval, widened
    by the seed term with repeats; ``seed_std`` maps metric to its standard deviation over
    repeats (None with one repeat). Undefined metrics are None.
    """

    kind: str
    n: int
    repeats: int = 1
    nll: float | None = None
    nll_ci95: list[float] | None = None
    crps_dex: float | None = None
    crps_ci95: list[float] | None = None
    coverage_68: float | None = None
    coverage_68_ci95: list[float] | None = None
    coverage_95: float | None = None
    coverage_95_ci95: list[float] | None = None
    pit_ks: float | None = None
    pit_ks_ci95: list[float] | None = None
    sigma_mean_dex: float | None = None
    sigma_mean_ci95: list[float] | None = None
    sigma_ratio: float | None = None
    sigma_ratio_ci95: list[float] | None = None
    pit_histogram: list[float] = dataclasses.field(default_factory=list)
    reliability: list[ReliabilityPoint] = dataclasses.field(default_factory=list)
    seed_std: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["reliability"] = [p.to_json() for p in self.reliability]
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ProbabilisticScores":
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in d.items() if k in names}
        known["reliability"] = [ReliabilityPoint(**p) for p in known.get("reliability") or []]
        known.setdefault("kind", "")
        known.setdefault("n", 0)
        return cls(**known)


def _boot_means(res: LineageResampler, x: np.ndarray) -> np.ndarray:
    """Mean of x (k, n) in every lineage resample: (n_boot, k)."""
    n = getattr(res, "_scoring_n", None)
    if n is None:  # clusters per resample, the same for every metric of the resampler
        n = np.maximum(res.counts @ np.bincount(res.member, minlength=res.n_groups).astype(float), 1.0)
        res._scoring_n = n  # type: ignore[attr-defined]
    sums = np.stack([np.bincount(res.member, weights=row, minlength=res.n_groups) for row in x])
    return (res.counts @ sums.T) / n[:, None]


def _summary(per_repeat: np.ndarray, boot: np.ndarray, level: float = 0.95) -> tuple[float, list[float], float | None]:
    """(value, 95 % interval, seed std) of a metric from per-repeat values (k,) and resamples (n_boot, k)."""
    value = float(per_repeat.mean())
    sampling = _percentile_interval(boot.mean(axis=1), level)
    k = len(per_repeat)
    if k < 2:
        return value, sampling, None
    # the seed term is added in quadrature to each side about the value, as for scatter_ci95; a value outside
    # its bootstrap interval (the KS distance: resamples are farther from uniform) widens about the midpoint
    centre = value if sampling[0] <= value <= sampling[1] else 0.5 * (sampling[0] + sampling[1])
    return value, widen(centre, sampling, seed_halfwidth(per_repeat, level)), float(per_repeat.std(ddof=1))


def score_distributions(
    scores: Sequence[ClusterScores],
    residuals: np.ndarray,
    groups: np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    resampler: LineageResampler | None = None,
) -> ProbabilisticScores:
    """The row's :class:`ProbabilisticScores` from per-repeat cluster scores (same clusters, same order).

    ``residuals`` are the point residuals (k repeats, n) [dex] for ``sigma_ratio``; ``groups`` the
    lineage ids (None: per cluster). The resamples are those of :func:`massbench.metrics.score`
    with the same ``groups``, ``n_boot`` and ``seed`` (or ``resampler``).
    """
    r = np.atleast_2d(np.asarray(residuals, dtype=np.float64))
    k, n = r.shape
    if len(scores) != k or any(len(s.pit) != n for s in scores):
        raise ValueError(f"{len(scores)} cluster scores for residuals of shape {r.shape}")
    kinds = sorted({s.kind for s in scores})
    out = ProbabilisticScores(kind="+".join(kinds), n=int(n), repeats=int(k))
    if n < 2:
        return out
    res = resampler if resampler is not None else LineageResampler(groups, n, n_boot, seed)
    pit = np.stack([s.pit for s in scores])
    pit_range = (max(s.pit_range[0] for s in scores), min(s.pit_range[1] for s in scores))
    seed_std: dict[str, float] = {}

    def put(name: str, ci_name: str, per_repeat: np.ndarray, boot: np.ndarray) -> None:
        if not (np.isfinite(per_repeat).all() and np.isfinite(boot).all()):
            return
        value, ci, sd = _summary(per_repeat, boot)
        setattr(out, name, value)
        setattr(out, ci_name, ci)
        if sd is not None:
            seed_std[name] = sd

    for name, ci_name, attr in (("nll", "nll_ci95", "nll"), ("crps_dex", "crps_ci95", "crps")):
        x = np.stack([getattr(s, attr) for s in scores])
        put(name, ci_name, x.mean(axis=1), _boot_means(res, x))
    for level, name in ((0.68, "coverage_68"), (0.95, "coverage_95")):
        if coverage_defined(level, pit_range):
            c = covered(pit, level).astype(float)
            put(name, name + "_ci95", c.mean(axis=1), _boot_means(res, c))
    weights = res.counts.astype(np.int32)[:, res.member]  # (n_boot, n): how often each cluster is drawn
    put(
        "pit_ks",
        "pit_ks_ci95",
        np.array([ks_distance(p) for p in pit]),
        np.stack([ks_distance(p, weights) for p in pit], axis=1),
    )
    sigma = np.stack([s.sigma for s in scores])
    if np.isfinite(sigma).all():
        boot_sigma = _boot_means(res, sigma)
        put("sigma_mean_dex", "sigma_mean_ci95", sigma.mean(axis=1), boot_sigma)
        with np.errstate(all="ignore"):
            put("sigma_ratio", "sigma_ratio_ci95", sigma.mean(axis=1) / r.std(axis=1), boot_sigma / res.std_mean(r)[0])
    out.pit_histogram = np.mean([pit_histogram(p) for p in pit], axis=0).tolist()
    for level in RELIABILITY_LEVELS:
        if coverage_defined(level, pit_range):
            c = covered(pit, level).astype(float)
            out.reliability.append(
                ReliabilityPoint(level, float(c.mean()), _percentile_interval(_boot_means(res, c).mean(axis=1), 0.95))
            )
    out.seed_std = seed_std or None
    return out
