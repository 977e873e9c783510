"""Source masks and mask-averaged saliency (paper section 6.2, equation 14).

With the truth-only ICM-only and AGN-only photon maps of a cluster (counts)::

    M_ICM = [n_ICM > n_AGN],   M_AGN = [n_AGN > n_ICM]      (element-wise Heaviside)
    S_mask[f; M] = sum_ij M_ij S_ij / sum_ij M_ij            (eq. 14)

Pixels where both components are equal (in particular both zero) belong to neither mask. A
cluster whose mask is empty gets NaN (excluded from the medians and counted). Masks are taken on
exactly the grid of the saliency map (no rotation). For channels-last saliency (multi-band),
a 2D mask applies to every channel, and the mean runs over all (pixel, channel) elements.
"""

from __future__ import annotations

import numpy as np


def source_masks(icm: np.ndarray, agn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M_ICM, M_AGN) boolean arrays of the inputs' shape: ICM-dominated and AGN-dominated pixels."""
    icm = np.asarray(icm)
    agn = np.asarray(agn)
    if icm.shape != agn.shape:
        raise ValueError(f"ICM map shape {icm.shape} differs from AGN map shape {agn.shape}")
    return icm > agn, agn > icm


def _broadcast_mask(mask: np.ndarray, target_ndim: int) -> np.ndarray:
    m = np.asarray(mask, dtype=bool)
    return m.reshape(m.shape + (1,) * (target_ndim - m.ndim))


def mask_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Equation 14 per cluster: mean of ``values`` over the masked elements; NaN for an empty mask.

    ``values``: (n, H, W) or (n, H, W, C); ``mask``: (n, H, W) (applied to every channel) or the
    shape of ``values``.
    """
    v = np.asarray(values, dtype=np.float64)
    m = _broadcast_mask(mask, v.ndim)
    m = np.broadcast_to(m, v.shape)
    num = np.where(m, v, 0.0).reshape(len(v), -1).sum(axis=1)
    den = m.reshape(len(v), -1).sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def mask_pixel_counts(mask: np.ndarray) -> np.ndarray:
    """Number of masked pixels per cluster."""
    m = np.asarray(mask, dtype=bool)
    return m.reshape(len(m), -1).sum(axis=1)


def masked_values(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """All masked elements of all clusters, flattened (the paper's notebook pools these pixels)."""
    v = np.asarray(values)
    m = np.broadcast_to(_broadcast_mask(mask, v.ndim), v.shape)
    return v[m]


def photon_ratio(icm: np.ndarray, agn: np.ndarray) -> dict[str, float | int | None]:
    """Photons per pixel in AGN-dominated vs ICM-dominated pixels (the paper: AGN pixels get > 13x).

    For each cluster, the mean total count (n_ICM + n_AGN) over its AGN-dominated pixels and over
    its ICM-dominated pixels. Returns ``ratio_of_means`` (mean over clusters of the AGN-pixel mean
    divided by the mean over clusters of the ICM-pixel mean; clusters lacking either mask are left
    out), ``median_ratio`` (median over clusters of the per-cluster ratio) and ``n_clusters``.
    """
    per = photon_means(icm, agn)
    return summarise_photon_means(per[0], per[1])


def photon_means(icm: np.ndarray, agn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster mean total counts over AGN-dominated and over ICM-dominated pixels (NaN if empty)."""
    icm = np.asarray(icm, dtype=np.float64)
    agn = np.asarray(agn, dtype=np.float64)
    m_icm, m_agn = source_masks(icm, agn)
    total = icm + agn
    return mask_mean(total, m_agn), mask_mean(total, m_icm)


def summarise_photon_means(n_agn: np.ndarray, n_icm: np.ndarray) -> dict[str, float | int | None]:
    """Combine per-cluster photon means (see :func:`photon_ratio`)."""
    n_agn = np.asarray(n_agn, dtype=float)
    n_icm = np.asarray(n_icm, dtype=float)
    both = np.isfinite(n_agn) & np.isfinite(n_icm) & (n_icm > 0)
    if not both.any():
        return {"ratio_of_means": None, "median_ratio": None, "n_clusters": 0}
    return {
        "ratio_of_means": float(n_agn[both].mean() / n_icm[both].mean()),
        "median_ratio": float(np.median(n_agn[both] / n_icm[both])),
        "n_clusters": int(both.sum()),
    }
