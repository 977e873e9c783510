"""The N_phot proxy's analytic saliency (paper eqs. 11-13), the reference for the CNN saliency.

The proxy (eq. 11) predicts ``<ln M | ln N_phot> = (ln N_phot - pi) / alpha - beta sigma^2`` in
each redshift bin, so as a log10-mass estimator (eq. 12)::

    g(x) = [(ln N - pi) / alpha - beta sigma^2] / ln 10,   N = sum_ij n_ij,   n_ij = 10^{x_ij} - 1

with x the network input of eq. 2 (x = log10(n + 1) of the redshift-normalised counts of eq. 1).
Its saliency with respect to the *same* x the CNN sees is (eq. 13)::

    dg/dx_ij = 10^{x_ij} / (alpha N)  =  (n_ij + 1) / (alpha N)

where N is summed in the normalised units of x: the redshift normalisation factor f of eq. 1
cancels between ln N_raw and x, so N = f N_raw. Only the slope alpha matters; pi, beta and sigma
shift g by a constant. alpha is fitted on the fold's *training* clusters, per redshift bin, by
least squares of ln N_phot [counts] on mu = ln(M500c / M_pivot) (M500c in h^-1 Msun).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

LN10 = float(np.log(10.0))


@dataclass
class NphotSlopes:
    """Per-redshift-bin fit of ln N_phot = pi + alpha mu, mu = ln(M500c / 10^pivot_log10).

    ``z_bins``: representative redshift of each bin (the bin's median redshift), sorted;
    ``alpha``/``pi``: slope and intercept per bin; ``n``: training clusters per bin.
    """

    z_bins: np.ndarray
    alpha: np.ndarray
    pi: np.ndarray
    n: np.ndarray
    pivot_log10: float
    z_edges: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def bin_of(self, redshift: np.ndarray) -> np.ndarray:
        """Index of the bin each redshift belongs to (nearest bin redshift, or by edges when binned)."""
        z = np.asarray(redshift, dtype=float)
        if self.z_edges is not None:
            return np.clip(np.searchsorted(self.z_edges, z, side="right") - 1, 0, len(self.z_bins) - 1)
        return np.argmin(np.abs(z[:, None] - self.z_bins[None, :]), axis=1)

    def alpha_for(self, redshift: np.ndarray) -> np.ndarray:
        """Slope alpha = d ln N_phot / d ln M500c for each cluster redshift."""
        return self.alpha[self.bin_of(redshift)]

    def log10_mass(self, n_phot: np.ndarray, redshift: np.ndarray) -> np.ndarray:
        """Eq. 12 without the constant -beta sigma^2 term: log10 M500c [h^-1 Msun] from N_phot."""
        b = self.bin_of(redshift)
        mu = (np.log(np.asarray(n_phot, dtype=float)) - self.pi[b]) / self.alpha[b]
        return mu / LN10 + self.pivot_log10

    def to_dict(self) -> dict[str, Any]:
        return {"z_bins": self.z_bins.tolist(), "alpha": self.alpha.tolist(), "pi": self.pi.tolist(),
                "n": self.n.tolist(), "pivot_log10": self.pivot_log10,
                "z_edges": None if self.z_edges is None else self.z_edges.tolist(), **self.meta}


def _line_fit(mu: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    slope, intercept = np.polyfit(mu, y, 1)
    return float(slope), float(intercept)


def fit_nphot_slopes(n_phot: np.ndarray, log10_m500c: np.ndarray, redshift: np.ndarray,
                     max_discrete_z: int = 20, n_z_bins: int = 11, min_per_bin: int = 5) -> NphotSlopes:
    """Fit the N_phot scaling relation per redshift bin on training clusters.

    Redshift bins: the distinct redshifts when there are at most ``max_discrete_z`` of them (the
    mock's snapshots), otherwise ``n_z_bins`` bins of equal cluster count. A bin with fewer than
    ``min_per_bin`` clusters with photons uses the slope fitted over all bins together.
    ``n_phot`` [counts]; clusters with no photons are left out (ln 0 undefined).
    """
    n_phot = np.asarray(n_phot, dtype=float)
    logm = np.asarray(log10_m500c, dtype=float)
    z = np.asarray(redshift, dtype=float)
    ok = np.isfinite(n_phot) & (n_phot > 0) & np.isfinite(logm)
    if ok.sum() < 3:
        raise ValueError("the N_phot slope needs at least three training clusters with photons")
    pivot = float(np.median(logm[ok]))
    mu = (logm - pivot) * LN10
    lnn = np.log(np.where(ok, n_phot, 1.0))
    g_alpha, g_pi = _line_fit(mu[ok], lnn[ok])

    uz = np.unique(z)
    edges = None
    if len(uz) <= max_discrete_z:
        z_bins = uz
        member = np.searchsorted(uz, z)
    else:
        edges = np.quantile(z, np.linspace(0.0, 1.0, n_z_bins + 1))
        edges[0], edges[-1] = -np.inf, np.inf
        member = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, n_z_bins - 1)
        z_bins = np.array([np.median(z[member == b]) if (member == b).any() else np.nan for b in range(n_z_bins)])

    alpha = np.full(len(z_bins), g_alpha)
    pi = np.full(len(z_bins), g_pi)
    counts = np.zeros(len(z_bins), dtype=np.int64)
    for b in range(len(z_bins)):
        sel = ok & (member == b)
        counts[b] = int(sel.sum())
        if counts[b] >= min_per_bin and np.ptp(mu[sel]) > 0:
            alpha[b], pi[b] = _line_fit(mu[sel], lnn[sel])
    return NphotSlopes(z_bins=np.asarray(z_bins, dtype=float), alpha=alpha, pi=pi, n=counts, pivot_log10=pivot,
                       z_edges=edges, meta={"alpha_all_bins": g_alpha})


def _per_cluster(values: np.ndarray, ndim: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v.reshape(v.shape + (1,) * (ndim - v.ndim))


def nphot_log10_mass_from_x(x: np.ndarray, alpha: np.ndarray, pi: np.ndarray | float = 0.0,
                            pivot_log10: float = 0.0, aperture: np.ndarray | None = None) -> np.ndarray:
    """Eq. 12 as a function of the network input x (leading cluster axis): the function whose
    gradient :func:`nphot_saliency_from_x` gives analytically. ``aperture``: optional boolean
    (height, width) map of the pixels that count towards N."""
    n = 10.0 ** np.asarray(x, dtype=np.float64) - 1.0
    if aperture is not None:
        n = n * _aperture_broadcast(aperture, n.ndim)
    total = n.reshape(len(n), -1).sum(axis=1)
    return (np.log(total) - np.asarray(pi)) / np.asarray(alpha) / LN10 + pivot_log10


def _aperture_broadcast(aperture: np.ndarray, ndim: int) -> np.ndarray:
    a = np.asarray(aperture, dtype=bool)
    return a.reshape((1,) + a.shape + (1,) * (ndim - 1 - a.ndim))


def nphot_saliency_from_x(x: np.ndarray, alpha: np.ndarray, aperture: np.ndarray | None = None) -> np.ndarray:
    """Eq. 13: S_ij = 10^{x_ij} / (|alpha| N) with N = sum (10^x - 1) over the map (and channels).

    ``x``: (n, H, W) or (n, H, W, C) network inputs (eq. 2); ``alpha``: (n,) slopes. With an
    ``aperture`` (boolean (H, W)), only its pixels enter N and pixels outside it get zero saliency.
    Clusters with N = 0 get NaN. Returns float32 of x's shape.
    """
    p = 10.0 ** np.asarray(x, dtype=np.float64)
    if aperture is not None:
        p = p * _aperture_broadcast(aperture, p.ndim)
        n = p - _aperture_broadcast(aperture, p.ndim)
    else:
        n = p - 1.0
    total = n.reshape(len(n), -1).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = np.abs(np.asarray(alpha, dtype=np.float64)) * total
        denom = np.where(total > 0, denom, np.nan)
        return (p / _per_cluster(denom, p.ndim)).astype(np.float32)


def nphot_saliency_from_counts(counts: np.ndarray, factor: np.ndarray, alpha: np.ndarray,
                               aperture: np.ndarray | None = None) -> np.ndarray:
    """Eq. 13 from raw counts m [counts] and the eq. 1 factor f (n = f m): S = (f m + 1) / (|alpha| N).

    ``factor``: (n,) or, for channels-last maps, (n, C) per channel.
    """
    m = np.asarray(counts, dtype=np.float64)
    f = np.asarray(factor, dtype=np.float64)
    if f.ndim == 2 and m.ndim == 4:
        f = f[:, None, None, :]
    else:
        f = _per_cluster(f, m.ndim)
    return nphot_saliency_from_x(np.log10(m * f + 1.0), alpha, aperture)


def normalisation_factor(x: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The eq. 1 factor f with x = log10(f m + 1), recovered per cluster (per channel for
    channels-last maps) as f = sum(10^x - 1) / sum(m); and the largest residual
    |x - log10(f m + 1)| per cluster, which is ~0 when the estimator's input is eq. 2 of eq. 1.
    Channels without photons get f = 0.
    """
    x = np.asarray(x, dtype=np.float64)
    m = np.asarray(counts, dtype=np.float64)
    if x.shape != m.shape:
        raise ValueError(f"network input shape {x.shape} differs from the raw map shape {m.shape}")
    n = 10.0 ** x - 1.0
    if x.ndim == 4:
        num = n.sum(axis=(1, 2))
        den = m.sum(axis=(1, 2))
        f = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        fb = f[:, None, None, :]
    else:
        num = n.reshape(len(n), -1).sum(axis=1)
        den = m.reshape(len(m), -1).sum(axis=1)
        f = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        fb = _per_cluster(f, m.ndim)
    arg = m * fb + 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        model = np.where(arg > 0, np.log10(np.where(arg > 0, arg, 1.0)), -np.inf)
    resid = np.abs(x - model).reshape(len(x), -1).max(axis=1)
    return f, resid
