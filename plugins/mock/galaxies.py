"""Mock spectroscopic galaxies around a cluster (paper section 2.2).

- Members: a Poisson number set by the cluster's richness (members with M_star >= 10^9.5 h^-1 Msun
  inside R200c, from :mod:`.scaling`), placed with an NFW number-density profile (Navarro et al.
  1997; Duffy et al. 2008 concentration) out to 2 R200c, with Gaussian line-of-sight velocities of
  the cluster's own sigma_v,true (the galaxy velocity bias of Munari et al. 2013 is folded into it).
- Brightest cluster galaxy at the centre, log10 M_star = 11.1 + 0.4 log10(M500c / 1e14) with 0.15 dex
  scatter (approximately the central stellar-to-halo relation of Kravtsov et al. 2018).
- Merging subcluster (:mod:`.morphology`): its own members around its offset, with its bulk velocity.
- Stellar masses: a Schechter function, alpha = -1.2 and M_c = 10^10.6 h^-1 Msun (approximately the
  satellite conditional stellar mass function of Yang, Mo & van den Bosch 2009), above 10^9.3 h^-1 Msun
  (below the 10^9.5 cut, so the cut does real work).
- Interlopers: field galaxies of uniform comoving density along the line of sight (Hubble flow;
  dchi = (1 + z) dv / H(z)) plus 250 km/s peculiar velocities.

Written region: |x|, |y| <= 2.6 comoving h^-1 Mpc and |v_los| <= 4500 km/s (wider than the cuts).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .cosmology import los_depth_hmpc
from .halo_model import _mu, m500c_to_m200c

GEN_LOG_MSTAR_MIN = 9.3
HALF_WIDTH_HMPC = 2.6
V_HALF_KMS = 4500.0
SMF_ALPHA = -1.2
SMF_LOG_MC = 10.6


@lru_cache(maxsize=1)
def _smf_table() -> tuple[np.ndarray, np.ndarray]:
    lm = np.linspace(GEN_LOG_MSTAR_MIN, 12.5, 800)
    x = 10 ** (lm - SMF_LOG_MC)
    dn = x ** (SMF_ALPHA + 1) * np.exp(-x)  # per dlog M
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dn[1:] + dn[:-1]) * np.diff(lm))])
    return lm, cdf / cdf[-1]


def smf_fraction_above(log_m: float) -> float:
    """Fraction of Schechter galaxies above ``log_m`` among those above 10^9.3 h^-1 Msun."""
    lm, cdf = _smf_table()
    return float(1.0 - np.interp(log_m, lm, cdf))


def sample_log_mstar(n: int, rng: np.random.Generator) -> np.ndarray:
    """log10 M_star [h^-1 Msun] from the Schechter function above 10^9.3."""
    lm, cdf = _smf_table()
    return np.interp(rng.random(n), cdf, lm)


def sample_nfw_projected(
    n: int, r200: float, c: float, rmax_frac: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Projected positions of ``n`` points from a 3D NFW profile truncated at ``rmax_frac`` R200."""
    xmax = c * rmax_frac
    xs = np.linspace(0, xmax, 512)
    cdf = _mu(xs) / _mu(xmax)
    r = np.interp(rng.random(n), cdf, xs) * (r200 / c)
    cos_t = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    rp = r * np.sqrt(1 - cos_t**2)
    return rp * np.cos(phi), rp * np.sin(phi)


@dataclass
class Galaxies:
    """Galaxies of one cluster: comoving projected x, y [h^-1 Mpc], v_los [km/s], log10 M_star, kind.

    ``kind``: 0 interloper, 1 member, 2 subcluster member, 3 BCG.
    """

    x: np.ndarray
    y: np.ndarray
    v: np.ndarray
    log_mstar: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def make_galaxies(
    rng: np.random.Generator,
    z: float,
    m500c: float,
    r500c: float,
    sigma_v: float,
    richness: float,
    merger_ratio: float,
    sub_dx: float,
    sub_dy: float,
    sub_dv: float,
    field_density: float,
) -> Galaxies:
    """Galaxies around one cluster (see the module docstring). ``r500c`` comoving h^-1 Mpc, ``field_density``
    the field number density of galaxies above 10^9.5 h^-1 Msun [(comoving h^-1 Mpc)^-3]."""
    m200, c = m500c_to_m200c(np.array([m500c]), np.array([z]))
    m200, c = float(m200[0]), float(c[0])
    r200 = r500c * (m200 / (2.5 * m500c)) ** (1.0 / 3.0)
    rmax = 2.0
    scale = _mu(c * rmax) / _mu(c) / smf_fraction_above(9.5)
    xs, ys, vs, kinds = [], [], [], []
    n_mem = rng.poisson(richness * scale)
    x, y = sample_nfw_projected(n_mem, r200, c, rmax, rng)
    xs.append(x), ys.append(y), vs.append(rng.normal(0, sigma_v, n_mem)), kinds.append(np.ones(n_mem, np.int8))
    if merger_ratio > 0:
        n_sub = rng.poisson(richness * merger_ratio**0.85 * scale)
        r200s = r200 * merger_ratio ** (1.0 / 3.0)
        x, y = sample_nfw_projected(n_sub, r200s, c, rmax, rng)
        xs.append(x + sub_dx), ys.append(y + sub_dy)
        vs.append(sub_dv + rng.normal(0, sigma_v * merger_ratio ** (1.0 / 3.0), n_sub))
        kinds.append(np.full(n_sub, 2, np.int8))
    depth = float(los_depth_hmpc(2 * V_HALF_KMS, z))
    n_int = rng.poisson(field_density / smf_fraction_above(9.5) * (2 * HALF_WIDTH_HMPC) ** 2 * depth)
    xs.append(rng.uniform(-HALF_WIDTH_HMPC, HALF_WIDTH_HMPC, n_int))
    ys.append(rng.uniform(-HALF_WIDTH_HMPC, HALF_WIDTH_HMPC, n_int))
    vs.append(rng.uniform(-V_HALF_KMS, V_HALF_KMS, n_int) + rng.normal(0, 250.0, n_int))
    kinds.append(np.zeros(n_int, np.int8))
    x, y, v, kind = (np.concatenate(a) for a in (xs, ys, vs, kinds))
    lm = sample_log_mstar(len(x), rng)
    bcg_lm = 11.1 + 0.4 * np.log10(m500c / 1e14) + rng.normal(0, 0.15)
    x = np.concatenate([[rng.normal(0, 0.01)], x])
    y = np.concatenate([[rng.normal(0, 0.01)], y])
    v = np.concatenate([[rng.normal(0, 0.1 * sigma_v)], v])
    lm = np.concatenate([[bcg_lm], lm])
    kind = np.concatenate([[3], kind]).astype(np.int8)
    keep = (np.abs(x) <= HALF_WIDTH_HMPC) & (np.abs(y) <= HALF_WIDTH_HMPC) & (np.abs(v) <= V_HALF_KMS)
    return Galaxies(x[keep], y[keep], v[keep], lm[keep], kind[keep])
