"""Per-cluster morphology of the mock: dynamical state (cool core, merger), gas profile, ellipticity.

- Mergers: a subcluster of mass ratio xi (log-uniform 0.1-0.6) at a projected offset of 0.3-1.2
  R500c and a line-of-sight velocity offset ~ N(0, sigma_v). Its probability, 0.18 times the
  lineage's accretion-rate factor (clipped to [0.03, 0.5]; about 18 % of the sample), ties mergers to
  fast assembly; the draw uses a lineage-correlated latent variable, since a merger disturbs a halo
  for a few Gyr (several snapshots). The subcluster takes a share xi / (1 + xi) of the gas budget (:mod:`.icm`) and has its
  own galaxies; the main halo's core is disturbed (flat and wide).
- Cool cores: among non-merging clusters, with a probability that makes the overall cool-core
  fraction :data:`COOL_CORE_FRACTION` (0.42; 40-45 % in X-ray samples, Hudson et al. 2010, Santos
  et al. 2008). The status follows a latent Gaussian variable correlated between the snapshots of a
  lineage (:data:`.scaling.LINEAGE_CORRELATION`), since cores persist for Gyr.
- Gas profiles: the three populations of :func:`.icm.draw_gas_profiles`, their core parameters
  from lineage-correlated latent variables (a halo's core keeps its character between snapshots).
- Ellipticity: projected axis ratio ~ N(0.85, 0.1) clipped to [0.5, 1] (shared/notes), random angle.

Lengths in units of R500c, velocities in units of sigma_v.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.special import ndtr, ndtri

from .icm import GasProfiles, draw_gas_profiles
from .scaling import lineage_latent

COOL_CORE_FRACTION = 0.42


@dataclass
class Morphology:
    """Arrays (one entry per cluster) of the morphological parameters; ``gas`` the density profiles."""

    axis_ratio: np.ndarray
    angle: np.ndarray  # rad
    cool_core: np.ndarray  # bool
    merger_ratio: np.ndarray  # 0 without a merger
    sub_offset_frac: np.ndarray  # projected offset / R500c
    sub_angle: np.ndarray
    sub_dv_sigma: np.ndarray  # LOS velocity offset in units of sigma_v
    gas: GasProfiles

    def row(self, i: int) -> dict[str, float]:
        out = {f.name: float(getattr(self, f.name)[i]) for f in fields(self) if f.name != "gas"}
        out.update({f"gas_{k}": v for k, v in self.gas.row(i).items()})
        return out


def gas_row(morph_row: dict[str, float]) -> dict[str, float]:
    """The gas-profile parameters of one :meth:`Morphology.row`, without their ``gas_`` prefix."""
    return {k[4:]: v for k, v in morph_row.items() if k.startswith("gas_")}


def draw_morphology(
    n: int, accretion_factor: np.ndarray, rng: np.random.Generator, lineage: np.ndarray | None = None
) -> Morphology:
    """Draw every cluster's morphology (see the module docstring for the distributions)."""
    lat = lineage_latent(lineage, n, rng, 5)
    p_merger = np.clip(0.18 * np.asarray(accretion_factor), 0.03, 0.5)
    merger = ndtr(lat[:, 0]) < p_merger
    # cool cores only among non-mergers, so that the overall fraction is COOL_CORE_FRACTION
    non_merger = 1.0 - float(np.mean(p_merger)) if n else 1.0
    p_cool = min(1.0, COOL_CORE_FRACTION / max(non_merger, 1e-6))
    cool = (~merger) & (lat[:, 1] < ndtri(p_cool))
    xi = np.where(merger, np.exp(rng.uniform(np.log(0.1), np.log(0.6), n)), 0.0)
    return Morphology(
        axis_ratio=np.clip(rng.normal(0.85, 0.1, n), 0.5, 1.0),
        angle=rng.uniform(0, np.pi, n),
        cool_core=cool,
        merger_ratio=xi,
        sub_offset_frac=rng.uniform(0.3, 1.2, n),
        sub_angle=rng.uniform(0, 2 * np.pi, n),
        sub_dv_sigma=rng.normal(0.0, 1.0, n),
        gas=draw_gas_profiles(cool, merger, rng, latent=lat[:, 2:]),
    )
