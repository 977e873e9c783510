"""The N_phot proxy's analytic saliency (paper eqs. 11-13), the reference for the CNN saliency.

The proxy (eq. 11) predicts ``<ln M | ln N_phot> = (ln N_phot - pi) / alpha - beta sigma^2`` in
each redshift bin, so as a log10-mass estimator (eq. 12)::

    g(x) = [(ln N - pi) / alpha - beta sigma^2] / ln 10,   N = sum_ij n_ij,   n_ij = 10^{x_ij} - 1

with x the network input of eq. 2 (x = log10(n + 1) of the redshift-normalised counts of eq. 1).
Its saliency with respect to the *same* x the CNN sees is (eq. 13)::

    dg/dx_ij = 10^{x_ij} / (alpha N)  =  (n_ij + 1) / (alpha N)

where N is summed in the normalised units of x: the redshift normalisation factor f of eq. 1
cancels between ln N_raw and x, so N = f N_raw. Only the slope alpha matters; pi, beta and sigma
shift g by a constant. alpha comes from the ``proxies`` plugin's scaling model (eq. 3, per redshift
bin) fitted on the fold's *training* clusters, or, for the ``proxy-n-phot`` estimator itself, from
that estimator's own fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from massbench.errors import DataError

LN10 = float(np.log(10.0))


@dataclass
class SlopeLookup:
    """The N_phot slope alpha = d ln N_phot / d ln M500c of a fitted proxy, per redshift bin.

    ``alpha_bins`` (n_bins,), ``redshift_bins`` (n_bins,) representative redshifts, ``assign``:
    redshifts -> bin indices (the proxy's own assignment), ``source``: where the fit comes from.
    """

    alpha_bins: np.ndarray
    redshift_bins: np.ndarray
    assign: Callable[[np.ndarray], np.ndarray]
    source: str = ""

    def alpha_for(self, redshift: np.ndarray) -> np.ndarray:
        """alpha at each cluster's redshift (its bin's slope)."""
        return np.asarray(self.alpha_bins, dtype=float)[self.assign(np.asarray(redshift, dtype=float))]


def slopes_from_proxy(estimator: Any, source: str = "") -> SlopeLookup:
    """The N_phot slopes of a fitted ``massbench.plugins.proxies`` estimator (``proxy-n-phot`` or
    ``proxy`` with observables [N_phot]): its ``alpha("N_phot")`` per bin and its bin assignment."""
    model = estimator.model_
    if model is None:
        raise ValueError(f"proxy estimator {getattr(estimator, 'name', '?')!r} is not fitted")
    return SlopeLookup(
        np.asarray(estimator.alpha("N_phot"), dtype=float),
        np.asarray(estimator.bin_redshifts()),
        model.bins.assign,
        source or f"estimator {getattr(estimator, 'name', '?')!r}",
    )


def fit_reference_slopes(train_truth: Any, redshift_bins: str = "snapshot", min_per_bin: int = 10) -> SlopeLookup:
    """Fit the N_phot proxy (eqs. 3-5, the ``proxies`` plugin's model) on a fold's training clusters.

    ``train_truth`` must expose ``n_phot`` [counts] and the masses. When a redshift bin has too few
    training clusters for ``redshift_bins``, one bin over all redshifts is fitted instead (the
    returned ``source`` says so).
    """
    from massbench.plugins.proxies.estimators import fit_proxy

    if "n_phot" not in train_truth.inputs:
        raise DataError(
            f"dataset {getattr(train_truth, 'dataset', '?')!r} has no input 'n_phot': the saliency "
            "explainer fits the N_phot proxy of eq. 13 on each fold's training clusters"
        )
    try:
        est = fit_proxy(train_truth, ("N_phot",), redshift_bins=redshift_bins, min_per_bin=min_per_bin)
        return slopes_from_proxy(est, f"N_phot proxy fitted on the fold's training clusters ({redshift_bins} bins)")
    except DataError:
        if redshift_bins == "none":
            raise
        est = fit_proxy(train_truth, ("N_phot",), redshift_bins="none", min_per_bin=min_per_bin)
        return slopes_from_proxy(
            est,
            "N_phot proxy fitted on the fold's training clusters (one redshift bin: "
            f"too few clusters per '{redshift_bins}' bin)",
        )


def _per_cluster(values: np.ndarray, ndim: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v.reshape(v.shape + (1,) * (ndim - v.ndim))


def nphot_log10_mass_from_x(
    x: np.ndarray,
    alpha: np.ndarray,
    pi: np.ndarray | float = 0.0,
    pivot_log10: float = 0.0,
    aperture: np.ndarray | None = None,
) -> np.ndarray:
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


def nphot_saliency_from_counts(
    counts: np.ndarray, factor: np.ndarray, alpha: np.ndarray, aperture: np.ndarray | None = None
) -> np.ndarray:
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
    n = 10.0**x - 1.0
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
