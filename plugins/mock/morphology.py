"""Per-cluster morphology of the mock: gas profile, cool cores, ellipticity and mergers.

- Gas emissivity: the Vikhlinin et al. (2006, eq. 3) emission-measure profile without its second
  component, n_p n_e proportional to (r/r_c)^-alpha / (1 + r^2/r_c^2)^(3 beta - alpha/2) /
  (1 + (r/r_s)^3)^(epsilon/3), with beta ~ N(0.666, 0.05), r_c and r_s in units of R500c.
- Cool cores (about 40 % of clusters; e.g. Hudson et al. 2010 find 44 % strong + weak cool cores):
  a central cusp (alpha 0.3-1) plus a compact beta component (r_c 0.02-0.05 R500c, beta 0.8) carrying
  10-30 % of L_X at 0.6 T (the central temperature drop of cool cores).
- Ellipticity: projected axis ratio ~ N(0.85, 0.1) clipped to [0.5, 1] (shared/notes), random angle.
- Mergers: a subcluster of mass ratio xi (log-uniform 0.1-0.6) at a projected offset of 0.3-1.2 R500c
  and a line-of-sight velocity offset ~ N(0, sigma_v); its probability, 0.25 times the lineage's
  accretion-rate factor (clipped to [0.05, 0.7]), ties mergers to fast assembly. The subcluster has its
  own gas (L scaled as xi^alpha_L, T as xi^alpha_T) and its own galaxies.

Lengths in comoving h^-1 Mpc, velocities in km/s.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class Morphology:
    """Arrays (one entry per cluster) of the morphological parameters."""

    beta: np.ndarray
    rc_frac: np.ndarray  # core radius / R500c
    alpha: np.ndarray  # central cusp slope
    rs_frac: np.ndarray  # steepening radius / R500c
    eps: np.ndarray  # outer steepening
    axis_ratio: np.ndarray
    angle: np.ndarray  # rad
    cool_core: np.ndarray  # bool
    cc_frac: np.ndarray  # fraction of L_X in the compact core component
    cc_rc_frac: np.ndarray
    merger_ratio: np.ndarray  # 0 without a merger
    sub_offset_frac: np.ndarray  # projected offset / R500c
    sub_angle: np.ndarray
    sub_dv_sigma: np.ndarray  # LOS velocity offset in units of sigma_v

    def row(self, i: int) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)[i]) for f in fields(self)}


def draw_morphology(n: int, accretion_factor: np.ndarray, rng: np.random.Generator) -> Morphology:
    """Draw every cluster's morphology (see the module docstring for the distributions)."""
    p_merger = np.clip(0.25 * np.asarray(accretion_factor), 0.05, 0.7)
    merger = rng.random(n) < p_merger
    cool = (~merger) & (rng.random(n) < 0.55)
    xi = np.where(merger, np.exp(rng.uniform(np.log(0.1), np.log(0.6), n)), 0.0)
    return Morphology(
        beta=np.clip(rng.normal(0.666, 0.05, n), 0.5, 0.85),
        rc_frac=np.where(cool, rng.uniform(0.05, 0.15, n), rng.uniform(0.12, 0.3, n)),
        alpha=np.where(cool, rng.uniform(0.3, 1.0, n), rng.uniform(0.0, 0.2, n)),
        rs_frac=rng.uniform(0.7, 1.5, n),
        eps=rng.uniform(1.0, 4.0, n),
        axis_ratio=np.clip(rng.normal(0.85, 0.1, n), 0.5, 1.0),
        angle=rng.uniform(0, np.pi, n),
        cool_core=cool,
        cc_frac=np.where(cool, rng.uniform(0.1, 0.3, n), 0.0),
        cc_rc_frac=rng.uniform(0.02, 0.05, n),
        merger_ratio=xi,
        sub_offset_frac=rng.uniform(0.3, 1.2, n),
        sub_angle=rng.uniform(0, 2 * np.pi, n),
        sub_dv_sigma=rng.normal(0.0, 1.0, n),
    )
