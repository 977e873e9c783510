"""The Magneticum WMAP7 cosmology, snapshot redshifts and distances (paper section 2).

Magneticum Box2/hr assumes WMAP7 (Komatsu et al. 2011): Omega_m = 0.272, Omega_b = 0.0456,
Omega_Lambda = 0.728, h = 0.704, n_s = 0.963, sigma_8 = 0.809. Distances use astropy's
``FlatLambdaCDM`` without radiation (as the N-body code does). Lengths returned by the
``*_hmpc`` helpers are comoving h^-1 Mpc, the unit of every position in massbench.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from astropy.cosmology import FlatLambdaCDM

#: WMAP7 as used by Magneticum (paper section 2; Komatsu et al. 2011).
WMAP7 = FlatLambdaCDM(H0=70.4, Om0=0.272, Ob0=0.0456, name="WMAP7 (Magneticum)")
H = 0.704
OMEGA_M = 0.272
OMEGA_B = 0.0456
N_S = 0.963
SIGMA_8 = 0.809
T_CMB = 2.725  # K, only for the Eisenstein & Hu (1998) transfer function

#: Magneticum Box2/hr side [comoving h^-1 Mpc].
BOX_SIZE_HMPC = 352.0

#: Magneticum snapshot number -> redshift, as the paper's notebook lists them (0.066 <= z <= 0.470).
SNAPSHOT_REDSHIFTS: dict[int, float] = {
    136: 0.066340191,
    132: 0.10114286,
    128: 0.13708140,
    124: 0.17419289,
    120: 0.21251560,
    116: 0.25208907,
    112: 0.29295412,
    108: 0.33515290,
    104: 0.37872894,
    100: 0.42372720,
    96: 0.47019408,
}

#: Speed of light [km/s].
C_KMS = 299792.458
MPC_CM = 3.0856775814913673e24


def efunc(z: np.ndarray | float) -> np.ndarray | float:
    """E(z) = H(z) / H0 for WMAP7 (dimensionless)."""
    return WMAP7.efunc(z)


@lru_cache(maxsize=4096)
def _dc_mpc(z: float) -> float:
    return float(WMAP7.comoving_distance(z).value)


def comoving_distance_hmpc(z: float) -> float:
    """Line-of-sight comoving distance to redshift ``z`` [comoving h^-1 Mpc] (WMAP7)."""
    return _dc_mpc(float(z)) * H


@lru_cache(maxsize=1)
def _z_of_dc_table() -> tuple[np.ndarray, np.ndarray]:
    zs = np.linspace(0.0, 1.5, 1501)
    return WMAP7.comoving_distance(zs).value * H, zs


def redshift_at_comoving_distance(d_hmpc: np.ndarray) -> np.ndarray:
    """Redshift at comoving distance ``d_hmpc`` [h^-1 Mpc] (WMAP7, tabulated to z = 1.5)."""
    dc, zs = _z_of_dc_table()
    return np.interp(np.asarray(d_hmpc, dtype=float), dc, zs)


def luminosity_distance_cm(z: float) -> float:
    """Luminosity distance to ``z`` [cm] (WMAP7), D_L = (1 + z) D_C for a flat universe."""
    return (1.0 + float(z)) * _dc_mpc(float(z)) * MPC_CM


def rho_crit_h2(z: np.ndarray | float) -> np.ndarray | float:
    """Critical density at ``z`` in h^2 Msun Mpc^-3 (physical), i.e. [h^-1 Msun] per [h^-1 Mpc]^3."""
    return 2.77536627e11 * np.asarray(efunc(z)) ** 2


def r500c_hmpc(m500c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """R500c [comoving h^-1 Mpc] of a halo of M500c [h^-1 Msun] at redshift ``z``.

    M500c = (4 pi / 3) 500 rho_crit(z) R500c^3 with R500c physical; multiplied by (1 + z)
    to give the comoving radius used by the maps.
    """
    m = np.asarray(m500c, dtype=float)
    z = np.asarray(z, dtype=float)
    r_phys = (3.0 * m / (4.0 * np.pi * 500.0 * rho_crit_h2(z))) ** (1.0 / 3.0)
    return r_phys * (1.0 + z)


def los_depth_hmpc(dv_kms: np.ndarray | float, z: float) -> np.ndarray | float:
    """Comoving line-of-sight depth [h^-1 Mpc] spanned by a velocity interval ``dv_kms`` at ``z``.

    dchi = (1 + z) dv / H(z); with H in units of 100 h km/s/Mpc this is in h^-1 Mpc.
    """
    return (1.0 + z) * np.asarray(dv_kms) / (100.0 * float(efunc(z)))
