"""Spectroscopic observables: galaxy selections, the gapper dispersion, 3-sigma clipping (paper sections 2.2, 3).

- The dynamical cylinder of the cube (section 2.2): M_star >= 10^9.5 h^-1 Msun, projected radius
  R_proj <= 2.3 h^-1 Mpc and |v_los| <= 3785 km/s around the cluster centre.
- Richness N_gal and sigma_v,1D (section 3): galaxies of that selection with R_proj <= 1.25 h^-1 Mpc and
  |v_los| <= 2000 km/s, refined by iterative 3-sigma clipping of v_los; sigma_v is the gapper
  estimator of Beers, Flynn & Gebhardt (1990, eq. 9 / Wainer & Thissen 1976):

      sigma_G = sqrt(pi) / (n (n - 1)) sum_{i=1}^{n-1} i (n - i) g_i,   g_i = v_(i+1) - v_(i)

  over the sorted velocities. (The paper's notebook used the plain standard deviation; massbench uses
  the gapper, as the paper's text says.)

Positions in comoving h^-1 Mpc, velocities in km/s, stellar masses in h^-1 Msun.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .projection import APERTURE_HMPC

LOG_MSTAR_MIN = 9.5  # log10 [h^-1 Msun]
V_CUT_KMS = 3785.0
RICH_RADIUS_HMPC = 1.25
RICH_VCUT_KMS = 2000.0
CLIP_NSIGMA = 3.0


def gapper(v: np.ndarray) -> float:
    """Gapper velocity dispersion [km/s] of Beers et al. (1990); NaN for fewer than two galaxies."""
    v = np.sort(np.asarray(v, dtype=float))
    n = len(v)
    if n < 2:
        return float("nan")
    i = np.arange(1, n)
    return float(np.sqrt(np.pi) / (n * (n - 1)) * np.sum(i * (n - i) * np.diff(v)))


def sigma_clip_velocities(v: np.ndarray, nsigma: float = CLIP_NSIGMA, max_iter: int = 100) -> np.ndarray:
    """Boolean mask of the velocities kept by iterative ``nsigma`` clipping.

    Each pass computes the centre as the median and the scale as the gapper dispersion of the kept
    velocities and keeps |v - centre| <= nsigma x scale; passes repeat until nothing more is removed
    (or fewer than three velocities remain).
    """
    v = np.asarray(v, dtype=float)
    keep = np.ones(len(v), dtype=bool)
    for _ in range(max_iter):
        if keep.sum() < 3:
            break
        kept = v[keep]
        centre = float(np.median(kept))
        scale = gapper(kept)
        new = keep & (np.abs(v - centre) <= nsigma * scale)
        if new.sum() == keep.sum():
            break
        keep = new
    return keep


def dynamical_selection(
    x: np.ndarray,
    y: np.ndarray,
    v: np.ndarray,
    log_mstar: np.ndarray,
    aperture: float = APERTURE_HMPC,
    vcut: float = V_CUT_KMS,
    log_mstar_min: float = LOG_MSTAR_MIN,
) -> np.ndarray:
    """Mask of galaxies in the dynamical cylinder (R_proj <= aperture, |v| <= vcut, log M_star >= min)."""
    return (
        (np.asarray(x) ** 2 + np.asarray(y) ** 2 <= aperture**2)
        & (np.abs(v) <= vcut)
        & (np.asarray(log_mstar) >= log_mstar_min)
    )


@dataclass(frozen=True)
class Richness:
    """N_gal (count) and sigma_v [km/s] of the small cylinder after clipping."""

    n_gal: int
    sigma_v: float


def richness_and_dispersion(
    x: np.ndarray,
    y: np.ndarray,
    v: np.ndarray,
    radius: float = RICH_RADIUS_HMPC,
    vcut: float = RICH_VCUT_KMS,
    nsigma: float = CLIP_NSIGMA,
) -> Richness:
    """N_gal and gapper sigma_v of (already mass-selected) galaxies with R_proj <= radius, |v| <= vcut, clipped."""
    inside = (np.asarray(x) ** 2 + np.asarray(y) ** 2 <= radius**2) & (np.abs(v) <= vcut)
    vin = np.asarray(v, dtype=float)[inside]
    keep = sigma_clip_velocities(vin, nsigma)
    return Richness(int(keep.sum()), gapper(vin[keep]))
