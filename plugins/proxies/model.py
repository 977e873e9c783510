"""The multi-property scaling model of Evrard et al. (2014), paper section 3, equations 3 to 7.

For observables S (vector) with s = ln S and mu = ln(M500c / M_p), M_p = 1e14 h^-1 Msun:

- eq. 3   <s | mu> = pi + alpha mu                    (intercepts pi, slopes alpha, per redshift bin)
- eq. 4   C_ij = <(s_i - <s_i|mu>)(s_j - <s_j|mu>)>    (residual covariance, per redshift bin)
- eq. 5   n(mu) = A exp(-beta mu)                       (local mass-function slope beta)
- eq. 6   <mu | s> = [alpha^T C^-1 (s - pi) - beta] sigma^2_{mu|s}
- eq. 7   sigma^2_{mu|s} = (alpha^T C^-1 alpha)^-1      (the paper's typeset eq. 7 lacks the inverse
          on C; Evrard et al. 2014 have it)

Fitting (per redshift bin, by ordinary least squares on the clusters given): each ln S_i is
regressed on mu separately (eq. 3), which gives the whole vectors pi and alpha at once, and C is
the covariance of the residuals with n - 2 degrees of freedom (two fitted parameters per
observable), so that it is unbiased. Because every regression is on mu alone, the fit of any
subset of observables is the corresponding sub-vector and sub-block of the full fit: scatters of
all subsets come from one fit (:func:`subset_sigma2`).

beta (eq. 5) is either given (the proxy estimators default to 0, the prior slope of a sample
selected flat in mass) or measured from the training sample's own mass distribution in each bin:
the maximum-likelihood slope of an exponential density exp(-beta mu) truncated to the bin's range
of mu (:func:`measure_beta`). On the flattened massbench mock that measurement gives beta ~ 0.7
(the selection is not exactly flat within a snapshot, and the truncated exponential fits its edges,
not a local slope), and eq. 6 then shifts every prediction by -beta sigma^2: a pure bias, with the
scatter unchanged. A fixed beta (e.g. a cosmological mass-function slope, about 1.6 to 2.0 near
1e14 h^-1 Msun) suits a mass-function-shaped sample.

Scatter of a set of observables over several bins: the per-bin predictive variances sigma^2_b of
eq. 7 averaged with equal weight per bin (as the paper's notebook averages over snapshots), then
sigma_ln = sqrt(mean_b sigma^2_b); reported in dex (sigma_ln / ln 10) and percent
(100 sigma_ln = 100 ln 10 x dex). Single observables are treated the same way (a set of one:
sigma_b = sqrt(C_ii) / |alpha_i|); the paper's notebook averaged the standard deviations for single
observables instead, which differs only in the second order of the spread between bins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from massbench.errors import DataError

from . import observables as obs_names
from .binning import BinScheme, RedshiftBins

PIVOT_MASS = 1e14  # M_p [h^-1 Msun]
LN10 = math.log(10.0)
LN_PIVOT = math.log(PIVOT_MASS)
MIN_PER_BIN_DEFAULT = 10


def mu_from_log10(log10_m500c: np.ndarray) -> np.ndarray:
    """mu = ln(M500c / 1e14 h^-1 Msun) from log10 M500c [h^-1 Msun]."""
    return np.asarray(log10_m500c, dtype=float) * LN10 - LN_PIVOT


def log10_from_mu(mu: np.ndarray) -> np.ndarray:
    """log10 M500c [h^-1 Msun] from mu = ln(M500c / 1e14 h^-1 Msun)."""
    return (np.asarray(mu, dtype=float) + LN_PIVOT) / LN10


def sigma_ln_to_dex(sigma_ln: np.ndarray | float) -> np.ndarray | float:
    """Scatter in ln M to dex (log10 M)."""
    return np.asarray(sigma_ln) / LN10 if np.ndim(sigma_ln) else float(sigma_ln) / LN10


def sigma_ln_to_percent(sigma_ln: np.ndarray | float) -> np.ndarray | float:
    """Scatter in ln M to percent: 100 sigma_ln (= 100 ln 10 x dex)."""
    return 100.0 * np.asarray(sigma_ln) if np.ndim(sigma_ln) else 100.0 * float(sigma_ln)


# ----------------------------------------------------------------------------------------------
# beta: equation 5


def _truncated_exp_mean(beta: float, width: float) -> float:
    """Mean of x on [0, width] with density proportional to exp(-beta x)."""
    bt = beta * width
    if abs(bt) < 1e-6:
        return width / 2.0 - beta * width * width / 12.0
    return 1.0 / beta - width / math.expm1(bt)


def measure_beta(mu: np.ndarray) -> float:
    """Local mass-function slope beta of eq. 5 measured from a sample of mu = ln(M/M_p).

    Maximum likelihood for n(mu) proportional to exp(-beta mu) truncated to the sample's range
    [min mu, max mu]: the beta whose truncated-exponential mean equals the sample mean. A flat
    sample gives beta = 0; a sample falling with mass gives beta > 0.
    """
    from scipy.optimize import brentq

    mu = np.asarray(mu, dtype=float)
    if len(mu) < 2:
        return 0.0
    lo = float(mu.min())
    width = float(mu.max()) - lo
    if width <= 0:
        return 0.0
    target = float(np.mean(mu)) - lo
    bound = 700.0 / width
    f = lambda b: _truncated_exp_mean(b, width) - target  # noqa: E731 - decreasing in b
    if f(-bound) <= 0:
        return -bound
    if f(bound) >= 0:
        return bound
    return float(brentq(f, -bound, bound, xtol=1e-12, rtol=1e-12))


# ----------------------------------------------------------------------------------------------
# equations 3, 4 and 7


def fit_bin(s: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares of every column of ``s`` (n, p) on ``mu`` (n,): (pi, alpha, C) of eqs. 3-4.

    ``C`` is the residual covariance with n - 2 degrees of freedom. Needs n >= 3.
    """
    s = np.asarray(s, dtype=float)
    mu = np.asarray(mu, dtype=float)
    n = len(mu)
    mu_bar = mu.mean()
    dmu = mu - mu_bar
    s_bar = s.mean(axis=0)
    ds = s - s_bar
    sxx = float(dmu @ dmu)
    alpha = (dmu @ ds) / sxx if sxx > 0 else np.full(s.shape[1], np.nan)
    pi = s_bar - alpha * mu_bar
    resid = ds - np.outer(dmu, alpha)
    cov = resid.T @ resid / (n - 2)
    return pi, alpha, cov


def subset_sigma2(alpha: np.ndarray, cov: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """Equation 7 for many subsets of the same size at once.

    alpha : (B, p) slopes per bin; cov : (B, p, p) covariances per bin;
    subsets : (m, k) integer column indices. Returns sigma^2_{mu|s} of shape (B, m).
    A singular sub-covariance (e.g. duplicated columns) falls back to the pseudo-inverse.
    """
    subsets = np.asarray(subsets, dtype=np.int64)
    a = alpha[:, subsets]  # (B, m, k)
    c = cov[:, subsets[:, :, None], subsets[:, None, :]]  # (B, m, k, k)
    try:
        x = np.linalg.solve(c, a[..., None])[..., 0]
    except np.linalg.LinAlgError:
        x = np.einsum("bmij,bmj->bmi", np.linalg.pinv(c), a)
    info = np.einsum("bmk,bmk->bm", a, x)
    with np.errstate(divide="ignore"):
        return np.where(info > 0, 1.0 / np.where(info > 0, info, 1.0), np.inf)


@dataclass
class BinFit:
    """Fitted parameters of one redshift bin (natural logs; mu relative to M_p = 1e14 h^-1 Msun).

    pi, alpha : (p,) intercepts and slopes of eq. 3 (one per observable, in ``ScalingModel.observables``
    order); cov : (p, p) residual covariance of eq. 4; beta : eq. 5 slope; n_clusters : clusters fitted;
    mu_mean, mu_var : mean and (ddof 0) variance of the fitted mu = ln(M500c / M_p), for the
    parameter-uncertainty term of the predictive variance (:meth:`ScalingModel.predict_sigma_mu`;
    None in models saved before they were stored, which then leave that term out).
    """

    redshift: float
    n_clusters: int
    pi: np.ndarray
    alpha: np.ndarray
    cov: np.ndarray
    beta: float
    mu_mean: float | None = None
    mu_var: float | None = None

    def sigma2(self, columns: Sequence[int] | None = None) -> float:
        """Equation 7 for the given observable columns (all when None)."""
        cols = np.arange(len(self.alpha)) if columns is None else np.asarray(columns, dtype=np.int64)
        return float(subset_sigma2(self.alpha[None], self.cov[None], cols[None])[0, 0])

    def correlation(self) -> np.ndarray:
        """Residual correlation C_ij / sqrt(C_ii C_jj) (Figure 3)."""
        d = np.sqrt(np.diag(self.cov))
        return self.cov / np.outer(d, d)


@dataclass
class Scatter:
    """Equation-7 scatter of one set of observables, overall and per redshift bin."""

    observables: tuple[str, ...]
    sigma2_per_bin: np.ndarray  # (n_bins,) sigma^2_{mu|s} [ln M squared]

    @property
    def sigma_ln(self) -> float:
        """sqrt of the equal-weight mean over bins of sigma^2 [ln M]."""
        return float(np.sqrt(np.mean(self.sigma2_per_bin)))

    @property
    def scatter_dex(self) -> float:
        return self.sigma_ln / LN10

    @property
    def scatter_percent(self) -> float:
        """100 sigma_ln = 100 ln 10 x dex."""
        return 100.0 * self.sigma_ln

    @property
    def kind(self) -> str:
        """``idealised``/``realistic``/``other`` when all members are of that kind, else ``mixed``."""
        kinds = {obs_names.kind(n) for n in self.observables}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def as_dict(self, model: "ScalingModel") -> dict[str, Any]:
        """The JSON entry of ``massbench proxies --json`` (with per-bin values)."""
        per_bin = []
        for b, f in enumerate(model.fits):
            s = float(np.sqrt(self.sigma2_per_bin[b]))
            per_bin.append(
                {
                    "redshift": round(float(f.redshift), 6),
                    "n_clusters": int(f.n_clusters),
                    "scatter_dex": s / LN10,
                    "scatter_percent": 100.0 * s,
                }
            )
        return {
            "observables": list(self.observables),
            "scatter_dex": self.scatter_dex,
            "scatter_percent": self.scatter_percent,
            "n_observables": len(self.observables),
            "kind": self.kind,
            "per_bin": per_bin,
        }


@dataclass
class ScalingModel:
    """Equations 3-7 fitted per redshift bin on a set of observables.

    Public fitted parameters (per bin ``b``, in ``observables`` order): ``fits[b].pi``,
    ``fits[b].alpha``, ``fits[b].cov``, ``fits[b].beta``; ``sigma2()`` gives eq. 7 per bin;
    :meth:`relation` gives one observable's (pi, alpha, beta, sigma^2) for a redshift, as eq. 11-13 use.
    """

    observables: tuple[str, ...]
    bins: RedshiftBins
    fits: list[BinFit]
    scheme: str = "snapshot"
    meta: dict[str, Any] = field(default_factory=dict)

    # -- stacked parameters -------------------------------------------------------------------
    @property
    def alpha(self) -> np.ndarray:
        """(n_bins, p) slopes of eq. 3."""
        return np.stack([f.alpha for f in self.fits])

    @property
    def pi(self) -> np.ndarray:
        """(n_bins, p) intercepts of eq. 3 (at mu = 0, i.e. M500c = 1e14 h^-1 Msun)."""
        return np.stack([f.pi for f in self.fits])

    @property
    def cov(self) -> np.ndarray:
        """(n_bins, p, p) residual covariances of eq. 4."""
        return np.stack([f.cov for f in self.fits])

    @property
    def beta(self) -> np.ndarray:
        """(n_bins,) mass-function slopes of eq. 5."""
        return np.array([f.beta for f in self.fits])

    @property
    def n_clusters(self) -> np.ndarray:
        return np.array([f.n_clusters for f in self.fits], dtype=np.int64)

    def columns(self, names: Sequence[str] | None) -> np.ndarray:
        """Column indices of observable names (all when None)."""
        if names is None:
            return np.arange(len(self.observables))
        missing = [n for n in names if n not in self.observables]
        if missing:
            raise KeyError(f"observables {missing} were not fitted; fitted: {list(self.observables)}")
        return np.array([self.observables.index(n) for n in names], dtype=np.int64)

    def sigma2(self, names: Sequence[str] | None = None) -> np.ndarray:
        """Equation 7 per bin, (n_bins,), for a set of observables (all when None)."""
        cols = self.columns(names)
        return subset_sigma2(self.alpha, self.cov, cols[None])[:, 0]

    def scatter(self, names: Sequence[str] | None = None) -> Scatter:
        names = tuple(self.observables if names is None else names)
        return Scatter(names, self.sigma2(names))

    def relation(self, name: str, redshift: float) -> dict[str, float]:
        """(pi, alpha, beta, sigma2) of one observable alone in the bin of ``redshift`` (eqs. 11-13).

        These are the parameters theta of the paper's eq. 12; the saliency of eq. 13 for a count
        proxy is 10**x_ij / (alpha N_phot).
        """
        b = int(self.bins.assign(np.array([redshift]))[0])
        j = int(self.columns([name])[0])
        f = self.fits[b]
        return {
            "pi": float(f.pi[j]),
            "alpha": float(f.alpha[j]),
            "beta": float(f.beta),
            "sigma2": float(f.cov[j, j] / f.alpha[j] ** 2),
            "redshift": float(f.redshift),
        }

    # -- equation 6 ---------------------------------------------------------------------------
    def predict_mu(self, s: np.ndarray, redshift: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Equation 6: <mu | s> for each cluster, with the parameters of its redshift bin.

        ``s`` is (n, k) ln S of the observables ``names`` (all fitted observables when None), in
        that order; ``redshift`` (n,). A redshift without a bin uses the nearest bin.
        """
        cols = self.columns(names)
        s = np.asarray(s, dtype=float).reshape(len(redshift), len(cols))
        idx = self.bins.assign(np.asarray(redshift, dtype=float))
        a = self.alpha[:, cols]
        c = self.cov[:, cols[:, None], cols[None, :]]
        w = np.linalg.solve(c, a[..., None])[..., 0]  # (B, k) C^-1 alpha
        sig2 = 1.0 / np.einsum("bk,bk->b", a, w)
        pi = self.pi[:, cols]
        proj = np.einsum("nk,nk->n", w[idx], s - pi[idx])
        return (proj - self.beta[idx]) * sig2[idx]

    def predict_log10(self, s: np.ndarray, redshift: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Equation 6 as log10 M500c [h^-1 Msun]."""
        return log10_from_mu(self.predict_mu(s, redshift, names))

    def predict_sigma_mu(
        self, mu_pred: np.ndarray, redshift: np.ndarray, names: Sequence[str] | None = None
    ) -> np.ndarray:
        """Predictive standard deviation of mu = ln(M500c / M_p) for clusters predicted at ``mu_pred``.

        The Gaussian posterior of mu given s under the model of eqs. 3-5 has variance eq. 7,
        sigma^2_{mu|s} = (alpha^T C^-1 alpha)^-1 of the cluster's redshift bin (it does not depend on
        beta, which only shifts the mean, eq. 6). Three finite-sample terms make it the predictive
        variance of a model fitted on n clusters of that bin with p observables (nu = n - 2, the degrees
        of freedom of C_hat: nu C_hat ~ Wishart(nu, C)):

        - eq. 7 evaluated with C_hat is low on average: (alpha^T C^-1 alpha) / (alpha^T C_hat^-1 alpha)
          ~ chi^2_{nu-p+1} / nu, so sigma^2_hat nu / (nu - p + 1) estimates sigma^2_{mu|s} without bias
          (factor 1 for a single observable, whose C_ii / alpha^2 is already unbiased);
        - eq. 6 weighs the observables with C_hat^-1 alpha, not the optimal C^-1 alpha: the variance of
          such an estimated-weight combination (normalised to alpha^T w = 1, as eq. 6's) is on average
          sigma^2_{mu|s} (nu - 1) / (nu - p) (as for a minimum-variance portfolio built from a sample
          covariance; 1 for p = 1);
        - pi and alpha are estimated by least squares: eq. 6's weights w = C^-1 alpha sigma^2 turn their
          error into a further variance w^T C w (1/n + (mu - mu_bar)^2 / S_mumu) = sigma^2_{mu|s}
          (1/n + (mu - mu_bar)^2 / S_mumu), the textbook prediction-interval term (S_mumu = n var(mu) of
          the fitted clusters).

        Together::

            sigma^2_pred = sigma^2_hat nu / (nu - p + 1) [(nu - 1) / (nu - p) + 1/n + (mu_pred - mu_bar)^2 / S_mumu]

        (denominators below 1, possible only with n < p + 3 clusters in a bin, are taken as 1). A test
        checks it against the mean squared error over many small training samples.
        Returns (n,) in ln M. Models without ``mu_mean`` / ``mu_var`` leave out the second term.
        """
        cols = self.columns(names)
        idx = self.bins.assign(np.asarray(redshift, dtype=float))
        sig2 = subset_sigma2(self.alpha, self.cov, cols[None])[:, 0]
        inflate = np.ones(len(self.fits))
        slope = np.zeros(len(self.fits))
        centre = np.zeros(len(self.fits))
        p = len(cols)
        for b, f in enumerate(self.fits):
            nu = f.n_clusters - 2
            sig2[b] *= nu / max(nu - p + 1, 1)  # unbiased sigma^2_{mu|s}
            inflate[b] = (nu - 1) / max(nu - p, 1)  # estimated weights C_hat^-1 alpha
            if f.mu_mean is not None and f.mu_var is not None and f.mu_var > 0:
                inflate[b] += 1.0 / f.n_clusters
                slope[b] = 1.0 / (f.n_clusters * f.mu_var)
                centre[b] = f.mu_mean
        mu_pred = np.asarray(mu_pred, dtype=float)
        return np.sqrt(sig2[idx] * (inflate[idx] + slope[idx] * (mu_pred - centre[idx]) ** 2))

    def predict_sigma_dex(
        self, log10_pred: np.ndarray, redshift: np.ndarray, names: Sequence[str] | None = None
    ) -> np.ndarray:
        """:meth:`predict_sigma_mu` in dex (log10 M500c), for clusters predicted at ``log10_pred``."""
        return self.predict_sigma_mu(mu_from_log10(log10_pred), redshift, names) / LN10

    def gradient_log10(self, s: np.ndarray, redshift: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """d log10 M_pred / d ln S_k for each cluster: (C^-1 alpha)_k sigma^2 / ln 10, shape (n, k)."""
        cols = self.columns(names)
        idx = self.bins.assign(np.asarray(redshift, dtype=float))
        a = self.alpha[:, cols]
        c = self.cov[:, cols[:, None], cols[None, :]]
        w = np.linalg.solve(c, a[..., None])[..., 0]
        sig2 = 1.0 / np.einsum("bk,bk->b", a, w)
        return (w * sig2[:, None])[idx] / LN10

    # -- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "model": "evrard2014-multi-property",
            "pivot_mass": PIVOT_MASS,
            "observables": list(self.observables),
            "scheme": self.scheme,
            "bins": self.bins.to_dict(),
            "fits": [
                {
                    "redshift": f.redshift,
                    "n_clusters": f.n_clusters,
                    "pi": f.pi.tolist(),
                    "alpha": f.alpha.tolist(),
                    "cov": f.cov.tolist(),
                    "beta": f.beta,
                    "mu_mean": f.mu_mean,
                    "mu_var": f.mu_var,
                }
                for f in self.fits
            ],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ScalingModel":
        fits = [
            BinFit(
                float(f["redshift"]),
                int(f["n_clusters"]),
                np.array(f["pi"], float),
                np.array(f["alpha"], float),
                np.array(f["cov"], float),
                float(f["beta"]),
                None if f.get("mu_mean") is None else float(f["mu_mean"]),
                None if f.get("mu_var") is None else float(f["mu_var"]),
            )
            for f in d["fits"]
        ]
        return cls(
            tuple(d["observables"]),
            RedshiftBins.from_dict(d["bins"]),
            fits,
            d.get("scheme", "snapshot"),
            dict(d.get("meta", {})),
        )


# ----------------------------------------------------------------------------------------------
# validation and fitting


def log_observables(
    values: np.ndarray,
    names: Sequence[str],
    redshift: np.ndarray,
    bins: RedshiftBins,
    cluster_id: np.ndarray | None = None,
    source: str = "table",
) -> np.ndarray:
    """ln S of an (n, p) array of observables, or a DataError naming the column, bin and count.

    Every value must be positive and finite (the model is in ln S).
    """
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        j = int(np.argmax(bad.any(axis=0)))
        rows = np.flatnonzero(bad[:, j])
        idx = bins.assign(np.asarray(redshift, dtype=float)[rows])
        per_bin = ", ".join(f"{int(c)} in {bins.describe(int(b))}" for b, c in zip(*np.unique(idx, return_counts=True)))
        first = int(rows[0])
        who = f"row {first}" + (f", cluster id {cluster_id[first]}" if cluster_id is not None else "")
        n_other = int(bad.any(axis=0).sum()) - 1
        raise DataError(
            f"{source}: column {names[j]!r} has {len(rows)} non-positive or NaN values ({per_bin}; first at {who}, "
            f"value {values[first, j]!r}); the scaling model uses ln S, so every value must be positive and finite: "
            f"remove those clusters or leave the column out"
            + (f" ({n_other} other column(s) also have such values)" if n_other > 0 else "")
        )
    return np.log(values)


def required_per_bin(n_observables: int, min_per_bin: int = MIN_PER_BIN_DEFAULT) -> int:
    """Clusters a bin needs: ``min_per_bin``, and at least p + 2 so that C (p x p, n - 2 dof) is invertible."""
    return max(int(min_per_bin), n_observables + 2, 3)


def fit_scaling_model(
    s: np.ndarray,
    mu: np.ndarray,
    redshift: np.ndarray,
    observables: Sequence[str],
    bins: str | BinScheme | RedshiftBins = "snapshot",
    min_per_bin: int = MIN_PER_BIN_DEFAULT,
    beta: float | None = None,
    source: str = "table",
) -> ScalingModel:
    """Fit equations 3-5 in each redshift bin.

    s : (n, p) ln S (see :func:`log_observables`); mu : (n,) ln(M500c / 1e14 h^-1 Msun);
    redshift : (n,); observables : p names; bins : a spec string (see :mod:`.binning`), a
    :class:`BinScheme` or already fitted :class:`RedshiftBins`; beta : fixed eq. 5 slope, or None
    to measure it per bin from ``mu`` (:func:`measure_beta`). A bin with fewer than
    :func:`required_per_bin` clusters raises a DataError naming the bin and its count.
    """
    s = np.asarray(s, dtype=float)
    mu = np.asarray(mu, dtype=float)
    z = np.asarray(redshift, dtype=float)
    names = tuple(observables)
    if s.ndim != 2 or s.shape != (len(mu), len(names)) or z.shape != mu.shape:
        raise ValueError(f"shapes: s {s.shape}, mu {mu.shape}, redshift {z.shape}, {len(names)} observables")
    if isinstance(bins, RedshiftBins):
        fitted = bins
        scheme = bins.kind
    else:
        sch = bins if isinstance(bins, BinScheme) else BinScheme.parse(bins)
        fitted = sch.fit(z)
        scheme = sch.spec()
    idx = fitted.assign(z)
    counts = np.bincount(idx, minlength=len(fitted))
    need = required_per_bin(len(names), min_per_bin)
    small = np.flatnonzero(counts < need)
    if len(small):
        b = int(small[0])
        others = f" ({len(small) - 1} other bin(s) too)" if len(small) > 1 else ""
        hint = (
            "; with continuous redshifts use wider bins, e.g. --z-bins 4 (equal-count bins) or --z-bins none"
            if fitted.kind == "snapshot" and len(fitted) > 0.2 * max(len(z), 1)
            else "; merge bins (--z-bins / redshift_bins) or fit fewer observables"
        )
        raise DataError(
            f"{source}: redshift bin {fitted.describe(b)} has {int(counts[b])} clusters; fitting "
            f"{len(names)} observable(s) ({', '.join(names)}) needs at least {need} per bin{others}{hint}"
        )
    fits: list[BinFit] = []
    for b in range(len(fitted)):
        rows = idx == b
        pi, alpha, cov = fit_bin(s[rows], mu[rows])
        bb = measure_beta(mu[rows]) if beta is None else float(beta)
        m = mu[rows]
        fits.append(
            BinFit(float(fitted.redshift[b]), int(rows.sum()), pi, alpha, cov, bb, float(m.mean()), float(m.var()))
        )
    return ScalingModel(
        names,
        fitted,
        fits,
        scheme,
        {"beta": "measured" if beta is None else float(beta), "min_per_bin": int(min_per_bin)},
    )
