"""Population weighting of the test set: the sample as drawn (``flat``) and the halo mass function (``natural``).

The benchmark samples are flattened in mass and redshift (the paper trains "to have a uniform
prior"); a real survey's clusters follow the steep halo mass function. A regression fitted on a
flat sample and applied to a steep population is biased (Eddington bias): low-mass clusters, far
more numerous, scatter up. ``natural`` metrics measure an estimator on the population a survey
sees, without retraining anything, by importance-weighting the test clusters.

Weights. For a cluster of true mass M (log10 M500c [h^-1 Msun], the harness's truth, never the
estimator's) at redshift z,

    w = p_nat(log10 M | z) / p_sample(log10 M | z),

both densities normalised over the sample's mass range [min, max of the catalogue's log10 M500c]:

- ``p_nat`` is the halo mass function dn/dlnM of Tinker et al. (2008) for M500c at the cluster's
  redshift, computed with ``colossus`` (Diemer 2018) in the WMAP7 cosmology of Magneticum and of
  the mock (Omega_m 0.272, Omega_b 0.0456, h 0.704, sigma_8 0.809, n_s 0.963;
  plugins/mock/cosmology.py; colossus's Eisenstein & Hu power spectrum, nothing downloaded).
  The redshift distribution of the sample is kept: only the mass distribution at each redshift
  is reweighted (a survey's redshift distribution also depends on its flux limit, which this
  benchmark does not model).
- ``p_sample`` is the sample's own density, estimated from every cluster of the catalogue (train
  and test folds together: the catalogue is the sample): the clusters are grouped in redshift
  (consecutive redshifts, e.g. the mock's snapshots, merged until a group holds at least
  max(60, n / 12) clusters) and within each group a Gaussian kernel density in log10 M, with
  Silverman's bandwidth on the robust spread (min(sd, IQR / 1.349), at least 0.02 dex) and the
  local-linear boundary correction of Jones (1993) at both ends of the mass range, so that the
  density is neither halved nor flattened at the edges (:func:`boundary_kde`).

Weights are normalised to mean 1, then truncated at sqrt(n) (truncated importance sampling,
Ionides 2008; ``n_clipped`` counts the clusters capped) and normalised again. ``n_eff`` =
(sum w)^2 / sum w^2 is the number of equally weighted clusters the weighted sample is worth.

Metrics (residual r = log10 M_pred - log10 M_true, eq. 9; with repeats each figure is the mean
over the training-seed repeats, as for the flat metrics):

- ``bias_dex`` = sum(w r) / sum(w);
- ``scatter_dex`` = sqrt(sum(w (r - bias)^2) / sum(w)) (weighted standard deviation);
- ``robust_scatter_dex`` = (q84 - q16) / 2 with weighted quantiles (the cumulative weight at the
  middle of each sorted cluster's weight, linearly interpolated);
- ``mass_bins``: weighted bias and scatter in 0.25 dex bins of true mass (the same bins as the
  flat ``mass_bins``; within a bin the two populations differ only by the mass function's tilt
  across the bin) with each bin's share of the natural population;
- ``predicted_mass_bins``: bias in 0.25 dex bins of *predicted* mass, flat and natural: what an
  analysis that bins clusters by their estimated mass sees, where the Eddington bias shows;
- 95 % intervals from the lineage bootstrap of :class:`massbench.metrics.LineageResampler`
  (a resampled lineage brings its clusters with their weights), widened by the training-seed
  term as the flat intervals are.

For estimators with a Gaussian predictive distribution (mean and sigma in log10 M),
:func:`prior_corrected_log10_mass` applies the standard prior correction of the paper's eq. 6:
<ln M> shifted by -beta sigma_lnM^2, beta the local slope of the mass function.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from .metrics import LN10, LineageResampler, _as_repeats, _percentile_interval, mass_bin_edges, seed_halfwidth, widen

#: Values of the benchmark file's ``evaluation.population``.
POPULATIONS = ("flat", "natural")
MASS_GRID = 256  # points of the mass grid the target is normalised on
MIN_BANDWIDTH = 0.02  # dex


@dataclass(frozen=True)
class Cosmology:
    """A flat LambdaCDM cosmology (defaults: WMAP7 as Magneticum and the mock use, paper section 2)."""

    name: str = "WMAP7 (Magneticum)"
    h: float = 0.704
    omega_m: float = 0.272
    omega_b: float = 0.0456
    sigma_8: float = 0.809
    n_s: float = 0.963


WMAP7 = Cosmology()


class TargetDensity(Protocol):
    """A population's density in log10 M at redshift z, up to a factor that may depend on z."""

    def log_density(self, log10_m: np.ndarray, z: float) -> np.ndarray: ...

    def describe(self) -> str: ...


@lru_cache(maxsize=8)
def _colossus(cosmo: Cosmology) -> Any:
    """colossus's mass_function module with ``cosmo`` set (no file written: persistence off)."""
    from colossus.cosmology import cosmology
    from colossus.lss import mass_function

    params = {
        "flat": True,
        "H0": 100.0 * cosmo.h,
        "Om0": cosmo.omega_m,
        "Ob0": cosmo.omega_b,
        "sigma8": cosmo.sigma_8,
        "ns": cosmo.n_s,
    }
    cosmology.setCosmology(f"massbench-{cosmo.name}", params=params, persistence="")
    return mass_function


@dataclass(frozen=True)
class MassFunction:
    """The halo mass function dn/dlnM [h^3 Mpc^-3] of ``model`` for masses ``mdef`` (colossus)."""

    cosmology: Cosmology = WMAP7
    model: str = "tinker08"
    mdef: str = "500c"

    def dn_dlnm(self, log10_m: np.ndarray, z: float) -> np.ndarray:
        """dn/dlnM [h^3 Mpc^-3] at masses 10^log10_m [h^-1 Msun] and redshift z."""
        mf = _colossus(self.cosmology)
        m = 10.0 ** np.asarray(log10_m, dtype=float)
        return np.asarray(mf.massFunction(m, float(z), mdef=self.mdef, model=self.model, q_out="dndlnM"))

    def log_density(self, log10_m: np.ndarray, z: float) -> np.ndarray:
        return np.log(np.maximum(self.dn_dlnm(log10_m, z), 1e-300))  # finite where the function underflows

    def slope(self, log10_m: np.ndarray, z: float, step: float = 0.01) -> np.ndarray:
        """beta = -d ln(dn/dlnM) / d ln M, the local slope of eq. 5 (n(mu) = A exp(-beta mu), mu = ln M)."""
        x = np.asarray(log10_m, dtype=float)
        up, down = self.log_density(x + step, z), self.log_density(x - step, z)
        return -(up - down) / (2 * step * LN10)

    def describe(self) -> str:
        import importlib.metadata

        try:
            ver = importlib.metadata.version("colossus")
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
            ver = "?"
        names = {"tinker08": "Tinker et al. (2008)"}
        return f"{names.get(self.model, self.model)} M{self.mdef} mass function, {self.cosmology.name} (colossus {ver})"


@dataclass(frozen=True)
class PowerLaw:
    """dN/dlog10 M proportional to 10^(slope log10 M) at every redshift (tests and toy populations)."""

    slope: float

    def log_density(self, log10_m: np.ndarray, z: float) -> np.ndarray:
        return self.slope * LN10 * np.asarray(log10_m, dtype=float)

    def describe(self) -> str:
        return f"power law dN/dlog10M ~ M^{self.slope:g}"


def redshift_groups(z: np.ndarray, min_per_group: int) -> np.ndarray:
    """Upper redshift edges of groups of consecutive redshifts holding at least ``min_per_group`` clusters each."""
    values, counts = np.unique(np.asarray(z, dtype=float), return_counts=True)
    uppers: list[float] = []
    filled = 0
    for v, c in zip(values, counts):
        filled += int(c)
        if filled >= min_per_group:
            uppers.append(float(v))
            filled = 0
    if filled and uppers:  # a short last group joins the one before
        uppers[-1] = float(values[-1])
    elif not uppers:
        uppers = [float(values[-1])] if len(values) else [0.0]
    return np.asarray(uppers)


def _group_of(z: np.ndarray, uppers: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(uppers, np.asarray(z, dtype=float), side="left"), len(uppers) - 1)


def _bandwidth(x: np.ndarray) -> float:
    """Silverman's rule on the robust spread, at least MIN_BANDWIDTH dex."""
    if len(x) < 2:
        return 0.1
    q75, q25 = np.percentile(x, [75, 25])
    spread = min(float(np.std(x)), float(q75 - q25) / 1.349) or float(np.std(x)) or 0.1
    return max(0.9 * spread * len(x) ** -0.2, MIN_BANDWIDTH)


def boundary_kde(members: np.ndarray, at: np.ndarray, lo: float, hi: float, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density of ``members`` at ``at`` on [lo, hi], boundary-corrected (local linear).

    Near an edge a plain kernel density loses the kernel's mass outside the range, and a reflected
    one forces a zero slope there, which misestimates a steep density (the mass function) at the
    very masses that carry the most weight. The local-linear kernel of Jones (1993) instead uses
    K_x(u) = (a2 - a1 u) phi(u) / (a0 a2 - a1^2), u = (x - x_i) / h, with a_k the moments of phi
    over the part of the range seen from x ([-(hi - x)/h, (x - lo)/h]): bias O(h^2) at the edges
    as inside (where it is the ordinary kernel density). Values are floored at a tenth of the
    renormalised (cut) estimate, so a density is never negative.
    """
    from scipy.stats import norm

    x = np.asarray(at, dtype=float)
    u = (x[:, None] - np.asarray(members, dtype=float)[None, :]) / bandwidth
    phi = np.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)
    p, q = (x - lo) / bandwidth, (hi - x) / bandwidth
    a0 = norm.cdf(p) - norm.cdf(-q)
    a1 = norm.pdf(q) - norm.pdf(p)
    a2 = a0 - p * norm.pdf(p) - q * norm.pdf(q)
    det = np.maximum(a0 * a2 - a1 * a1, 1e-12)
    s0, s1 = phi.sum(axis=1), (u * phi).sum(axis=1)
    scale = len(members) * bandwidth
    linear = (a2 * s0 - a1 * s1) / det / scale
    cut = s0 / np.maximum(a0, 1e-12) / scale
    return np.maximum(linear, 0.1 * cut)


@dataclass
class SampleDensity:
    """The sample's density of log10 M at given z: boundary-corrected kernel densities per redshift group."""

    log10_m: np.ndarray
    redshift: np.ndarray
    lo: float
    hi: float
    uppers: np.ndarray
    bandwidths: list[float]

    @classmethod
    def fit(cls, log10_m: np.ndarray, redshift: np.ndarray) -> "SampleDensity":
        m = np.asarray(log10_m, dtype=float)
        z = np.asarray(redshift, dtype=float)
        uppers = redshift_groups(z, max(60, len(m) // 12))
        g = _group_of(z, uppers)
        bws = [_bandwidth(m[g == k]) for k in range(len(uppers))]
        return cls(m, z, float(m.min()), float(m.max()), uppers, bws)

    def density(self, log10_m: np.ndarray, redshift: np.ndarray) -> np.ndarray:
        """p(log10 M | z) [per dex] at each (log10_m, redshift) pair."""
        x = np.asarray(log10_m, dtype=float)
        gx = _group_of(redshift, self.uppers)
        gs = _group_of(self.redshift, self.uppers)
        out = np.empty(len(x))
        for k in np.unique(gx):
            sel = gx == k
            out[sel] = boundary_kde(self.log10_m[gs == k], x[sel], self.lo, self.hi, self.bandwidths[k])
        return out


def target_density(
    target: TargetDensity, log10_m: np.ndarray, redshift: np.ndarray, lo: float, hi: float
) -> np.ndarray:
    """p_target(log10 M | z) [per dex], normalised over [lo, hi] at each distinct redshift (rounded to 1e-4)."""
    x = np.asarray(log10_m, dtype=float)
    zr = np.round(np.asarray(redshift, dtype=float), 4)
    grid = np.linspace(lo, hi, MASS_GRID)
    out = np.empty(len(x))
    for zv in np.unique(zr):
        sel = zr == zv
        lg = target.log_density(grid, float(zv))
        peak = float(lg.max())
        dens = np.exp(lg - peak)
        norm = float(np.sum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid)))
        out[sel] = np.exp(np.interp(x[sel], grid, lg) - peak) / norm
    return out


@dataclass
class PopulationWeights:
    """Importance weights of a sample's clusters toward a target population (see the module docstring)."""

    weights: np.ndarray  # mean 1 over the sample
    target: str
    n_clipped: int = 0

    @property
    def n_eff(self) -> float:
        return effective_size(self.weights)

    @classmethod
    def compute(
        cls,
        log10_m: np.ndarray,
        redshift: np.ndarray,
        target: TargetDensity | None = None,
    ) -> "PopulationWeights":
        """Weights of every cluster of the sample (log10 M500c [h^-1 Msun], redshift) toward ``target``
        (default: the Tinker et al. 2008 M500c mass function in WMAP7)."""
        target = target if target is not None else MassFunction()
        m = np.asarray(log10_m, dtype=float)
        z = np.asarray(redshift, dtype=float)
        if len(m) < 2 or float(np.ptp(m)) < 1e-6:  # one mass: nothing to reweight
            return cls(np.ones(len(m)), target.describe(), 0)
        sample = SampleDensity.fit(m, z)
        w = target_density(target, m, z, sample.lo, sample.hi) / np.maximum(sample.density(m, z), 1e-300)
        w = w / w.mean()
        cap = math.sqrt(len(w))
        n_clipped = int((w > cap).sum())
        w = np.minimum(w, cap)
        return cls(w / w.mean(), target.describe(), n_clipped)


def dataset_selection(provenance: dict[str, Any]) -> str:
    """How a run's catalogue was selected, from its run.json: "flat" (the default) or e.g. "natural".

    Read from the dataset's ``selection`` param, else the generator's record or the catalogue
    header's ``SELECT`` card (a generated catalogue read as ``magneticum-sixte``).
    """
    ds = provenance.get("dataset") or {}
    meta = ds.get("meta") or {}
    for v in (
        (ds.get("params") or {}).get("selection"),
        (meta.get("generator") or {}).get("selection"),
        (meta.get("raw_header") or {}).get("SELECT"),
    ):
        if v:
            return str(v)
    return "flat"


def effective_size(w: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2."""
    w = np.asarray(w, dtype=float)
    return float(w.sum() ** 2 / (w * w).sum()) if len(w) else 0.0


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: np.ndarray | list[float]) -> np.ndarray:
    """Quantiles ``q`` (0-1) of ``x`` with weights ``w``: the cumulative weight at each sorted value's middle, interpolated."""
    order = np.argsort(x)
    xs, ws = np.asarray(x, dtype=float)[order], np.asarray(w, dtype=float)[order]
    cw = (np.cumsum(ws) - 0.5 * ws) / ws.sum()
    return np.interp(q, cw, xs)


def weighted_mean_std(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and standard deviation (normalised by sum w)."""
    w = np.asarray(w, dtype=float)
    mean = float(np.sum(w * x) / w.sum())
    return mean, float(math.sqrt(max(float(np.sum(w * (x - mean) ** 2) / w.sum()), 0.0)))


@dataclass
class PopulationBin:
    """Weighted bias and scatter [dex] of the clusters in one bin of log10 M [h^-1 Msun]."""

    log10_m_lo: float
    log10_m_hi: float
    n: int
    share: float  # the bin's share of the population's total weight
    bias_dex: float
    scatter_dex: float
    flat_bias_dex: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PopulationScores:
    """One estimator's metrics on the natural population (leaderboard rows' ``natural`` block)."""

    population: str
    target: str
    n_test: int
    n_eff: float
    scatter_dex: float
    scatter_percent: float
    bias_dex: float
    robust_scatter_dex: float
    scatter_ci95: list[float]
    bias_ci95: list[float]
    scatter_ci95_sampling: list[float] = field(default_factory=list)
    bias_ci95_sampling: list[float] = field(default_factory=list)
    n_clipped: int = 0
    mass_bins: list[PopulationBin] = field(default_factory=list)
    predicted_mass_bins: list[PopulationBin] = field(default_factory=list)
    #: probabilistic rows only: the natural-population bias [dex] of eq. 6's prior-corrected means
    #: (:func:`prior_corrected_bias`, mean over seed repeats); None for point estimators
    prior_corrected_bias_dex: float | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mass_bins"] = [b.as_dict() for b in self.mass_bins]
        d["predicted_mass_bins"] = [b.as_dict() for b in self.predicted_mass_bins]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PopulationScores":
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in known}
        for key in ("mass_bins", "predicted_mass_bins"):
            kw[key] = [PopulationBin(**b) for b in kw.get(key) or []]
        return cls(**kw)


def _bins(x: np.ndarray, r: np.ndarray, w: np.ndarray, edges: np.ndarray) -> list[PopulationBin]:
    """Per bin of ``x``: weighted bias and scatter of r (k, n) (mean over repeats) and the flat bias."""
    which = np.clip(np.digitize(x, edges) - 1, 0, len(edges) - 2)
    total = float(w.sum())
    out = []
    for b in range(len(edges) - 1):
        sel = which == b
        if not sel.any():
            continue
        stats = [weighted_mean_std(rk[sel], w[sel]) for rk in r]
        out.append(
            PopulationBin(
                float(edges[b]),
                float(edges[b + 1]),
                int(sel.sum()),
                float(w[sel].sum() / total),
                float(np.mean([s[0] for s in stats])),
                float(np.mean([s[1] for s in stats])),
                float(r[:, sel].mean(axis=1).mean()),
            )
        )
    return out


def population_scores(
    pred: np.ndarray,
    true: np.ndarray,
    weights: PopulationWeights | np.ndarray,
    groups: np.ndarray | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    bin_width: float = 0.25,
    population: str = "natural",
) -> PopulationScores:
    """Weighted metrics of predictions ``pred`` (n,) or (k repeats, n) of log10 M500c against ``true``.

    ``weights`` are the test clusters' population weights (the catalogue's weights at these
    clusters); ``groups`` their lineage ids for the bootstrap.
    """
    target = weights.target if isinstance(weights, PopulationWeights) else "given weights"
    n_clipped = weights.n_clipped if isinstance(weights, PopulationWeights) else 0
    w = np.asarray(weights.weights if isinstance(weights, PopulationWeights) else weights, dtype=float)
    true = np.asarray(true, dtype=float)
    p = _as_repeats(pred)
    r = p - true[None, :]
    k, n = r.shape
    stats = [weighted_mean_std(rk, w) for rk in r]
    means = np.array([s[0] for s in stats])
    sds = np.array([s[1] for s in stats])
    bias, sd = float(means.mean()), float(sds.mean())
    robust = float(np.mean([np.diff(weighted_quantile(rk, w, [0.16, 0.84]))[0] / 2 for rk in r]))
    boot_sd, boot_mean = LineageResampler(groups, n, n_boot, seed).weighted_std_mean(r, w)
    s_ci = _percentile_interval(boot_sd.mean(axis=1), 0.95)
    b_ci = _percentile_interval(boot_mean.mean(axis=1), 0.95)
    edges = mass_bin_edges(true, bin_width)
    pred_mean = p.mean(axis=0)
    pedges = mass_bin_edges(pred_mean, bin_width)
    return PopulationScores(
        population=population,
        target=target,
        n_test=int(n),
        n_eff=effective_size(w),
        scatter_dex=sd,
        scatter_percent=100.0 * LN10 * sd,
        bias_dex=bias,
        robust_scatter_dex=robust,
        scatter_ci95=widen(sd, s_ci, seed_halfwidth(sds)) if k > 1 else s_ci,
        bias_ci95=widen(bias, b_ci, seed_halfwidth(means)) if k > 1 else b_ci,
        scatter_ci95_sampling=s_ci,
        bias_ci95_sampling=b_ci,
        n_clipped=n_clipped,
        mass_bins=_bins(true, r, w, edges),
        predicted_mass_bins=_bins(pred_mean, r, w, pedges),
    )


def catalogue_weights(log10_m: np.ndarray, redshift: np.ndarray) -> PopulationWeights | None:
    """The natural-population weights of every cluster of a catalogue (None for fewer than 2 clusters)."""
    if len(log10_m) < 2:
        return None
    return PopulationWeights.compute(np.asarray(log10_m, dtype=float), np.asarray(redshift, dtype=float))


def natural_scores(
    pred: np.ndarray,
    true: np.ndarray,
    weights: PopulationWeights | None,
    idx: np.ndarray,
    groups: np.ndarray,
    seed: int = 0,
) -> PopulationScores | None:
    """A row's ``natural`` block: :func:`massbench.population.population_scores` at the scored clusters ``idx``."""
    if weights is None or len(idx) < 2:
        return None
    at = PopulationWeights(weights.weights[idx], weights.target, weights.n_clipped)  # n_clipped: the catalogue's
    return population_scores(pred, true, at, groups=groups, seed=seed)


def prior_corrected_log10_mass(mean: np.ndarray, sigma: np.ndarray, beta: np.ndarray | float) -> np.ndarray:
    """The paper's eq. 6 prior correction of a Gaussian mass estimate, in log10 M500c [h^-1 Msun].

    An estimator trained on a flat sample returns, per cluster, a Gaussian of mean ``mean`` and
    standard deviation ``sigma`` in log10 M (dex): a likelihood under a uniform prior. Under a mass
    function n(ln M) = A exp(-beta ln M) (eq. 5; ``beta`` its local slope, about 2-4 for clusters:
    :meth:`MassFunction.slope`) the posterior mean of ln M moves by -beta sigma_lnM^2, with
    sigma_lnM = ln(10) sigma. In log10 M: mean - beta ln(10) sigma^2.
    """
    return np.asarray(mean, dtype=float) - np.asarray(beta, dtype=float) * LN10 * np.asarray(sigma, dtype=float) ** 2


def prior_corrected_bias(
    mean: np.ndarray,
    sigma: np.ndarray,
    true: np.ndarray,
    redshift: np.ndarray,
    weights: np.ndarray | None = None,
    mass_function: MassFunction | None = None,
) -> float:
    """Weighted bias [dex] of eq. 6's prior-corrected means against the true log10 M500c.

    beta is the mass function's local slope at each cluster's predicted mean and redshift (what an
    observer knows); ``weights`` the population weights (None: flat).
    """
    mf = mass_function or MassFunction()
    mean = np.asarray(mean, dtype=float)
    z = np.asarray(redshift, dtype=float)
    beta = np.empty(len(mean))
    zr = np.round(z, 4)
    for zv in np.unique(zr):
        sel = zr == zv
        beta[sel] = mf.slope(mean[sel], float(zv))
    corrected = prior_corrected_log10_mass(mean, sigma, beta)
    w = np.ones(len(mean)) if weights is None else np.asarray(weights, dtype=float)
    return float(np.sum(w * (corrected - np.asarray(true, dtype=float))) / w.sum())
