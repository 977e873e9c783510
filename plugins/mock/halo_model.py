"""Halo-model ingredients of the synthetic catalogue, each from the literature.

- Linear growth factor D(z) of flat LambdaCDM (Heath 1977 integral), D(0) = 1.
- Linear power spectrum: Eisenstein & Hu (1998) "no-wiggle" transfer function (their eqs. 26,
  28-31), primordial slope n_s, normalised to WMAP7 sigma_8 = 0.809.
- Halo mass function: Tinker et al. (2008) f(sigma) with the redshift evolution of their eqs. 5-8,
  parameters interpolated in log Delta_mean from their Table 2; M500c corresponds to
  Delta_mean = 500 / Omega_m(z).
- Large-scale halo bias: Tinker et al. (2010) eq. 6 with their Table 2 fit in y = log10 Delta_mean.
- Concentrations: Duffy et al. (2008) c200c(M200c, z) for the full NFW sample.
- NFW conversion between M500c and M200c (Navarro, Frenk & White 1997 profile).

Masses in h^-1 Msun, lengths in comoving h^-1 Mpc, wavenumbers in h Mpc^-1.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import integrate

from .cosmology import N_S, OMEGA_B, OMEGA_M, SIGMA_8, T_CMB, H, efunc

DELTA_C = 1.686
RHO_CRIT0 = 2.77536627e11  # h^2 Msun Mpc^-3 == (h^-1 Msun) (h^-1 Mpc)^-3
RHO_M0 = OMEGA_M * RHO_CRIT0  # comoving mean matter density

# ---------------------------------------------------------------------------- growth


def _growth_unnorm(a: float) -> float:
    om, ol = OMEGA_M, 1.0 - OMEGA_M

    def e(x: float) -> float:
        return np.sqrt(om / x**3 + ol)

    val, _ = integrate.quad(lambda x: 1.0 / (x * e(x)) ** 3, 1e-8, a)
    return 2.5 * om * e(a) * val


@lru_cache(maxsize=256)
def _growth(z: float) -> float:
    return _growth_unnorm(1.0 / (1.0 + z)) / _growth_unnorm(1.0)


def growth_factor(z: float | np.ndarray) -> float | np.ndarray:
    """Linear growth factor D(z), normalised to D(0) = 1 (flat LambdaCDM, Heath 1977)."""
    if np.ndim(z) == 0:
        return _growth(float(z))
    return np.array([_growth(float(v)) for v in np.ravel(z)]).reshape(np.shape(z))


def omega_m_z(z: float | np.ndarray) -> float | np.ndarray:
    """Omega_m(z) = Omega_m (1 + z)^3 / E(z)^2."""
    return OMEGA_M * (1.0 + np.asarray(z)) ** 3 / np.asarray(efunc(z)) ** 2


# ---------------------------------------------------------------------------- power spectrum


def transfer_eh98_nowiggle(k_h: np.ndarray) -> np.ndarray:
    """Eisenstein & Hu (1998) zero-baryon-oscillation transfer function; ``k_h`` in h Mpc^-1."""
    k_h = np.asarray(k_h, dtype=float)
    om_h2 = OMEGA_M * H**2
    ob_h2 = OMEGA_B * H**2
    fb = OMEGA_B / OMEGA_M
    theta = T_CMB / 2.7
    s = 44.5 * np.log(9.83 / om_h2) / np.sqrt(1.0 + 10.0 * ob_h2**0.75)  # Mpc (eq. 26)
    alpha_g = 1.0 - 0.328 * np.log(431.0 * om_h2) * fb + 0.38 * np.log(22.3 * om_h2) * fb**2  # eq. 31
    k_mpc = k_h * H
    gamma_eff = OMEGA_M * H * (alpha_g + (1.0 - alpha_g) / (1.0 + (0.43 * k_mpc * s) ** 4))  # eq. 30
    q = k_h * theta**2 / gamma_eff  # eq. 28
    l0 = np.log(2.0 * np.e + 1.8 * q)
    c0 = 14.2 + 731.0 / (1.0 + 62.5 * q)
    return l0 / (l0 + c0 * q**2)  # eq. 29


def _tophat(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    out = np.ones_like(x)
    big = x > 1e-4
    xb = x[big]
    out[big] = 3.0 * (np.sin(xb) - xb * np.cos(xb)) / xb**3
    return out


_K = np.logspace(-4, 2.5, 2000)


@lru_cache(maxsize=1)
def _pk_norm() -> float:
    pk = _K**N_S * transfer_eh98_nowiggle(_K) ** 2
    s2 = np.trapezoid(_K**3 * pk * _tophat(_K * 8.0) ** 2, np.log(_K)) / (2 * np.pi**2)
    return SIGMA_8**2 / s2


def linear_power(k_h: np.ndarray, z: float = 0.0) -> np.ndarray:
    """Linear matter power spectrum P(k, z) [(h^-1 Mpc)^3], normalised to sigma_8 = 0.809 at z = 0."""
    k_h = np.asarray(k_h, dtype=float)
    return _pk_norm() * k_h**N_S * transfer_eh98_nowiggle(k_h) ** 2 * growth_factor(z) ** 2


@lru_cache(maxsize=1)
def _sigma_table() -> tuple[np.ndarray, np.ndarray]:
    lnm = np.linspace(np.log(1e10), np.log(1e17), 300)
    r = (3.0 * np.exp(lnm) / (4.0 * np.pi * RHO_M0)) ** (1.0 / 3.0)
    pk = linear_power(_K, 0.0)
    integrand = _K[None, :] ** 3 * pk[None, :] * _tophat(_K[None, :] * r[:, None]) ** 2
    s2 = np.trapezoid(integrand, np.log(_K), axis=1) / (2 * np.pi**2)
    return lnm, 0.5 * np.log(s2)


def sigma_m(m: np.ndarray, z: float = 0.0) -> np.ndarray:
    """rms linear overdensity sigma(M, z) in top-hat spheres of Lagrangian mass ``m`` [h^-1 Msun]."""
    lnm, lns = _sigma_table()
    return np.exp(np.interp(np.log(np.asarray(m, dtype=float)), lnm, lns)) * growth_factor(z)


def dlnsigma_dlnm(m: np.ndarray) -> np.ndarray:
    """d ln sigma / d ln M (redshift independent)."""
    lnm, lns = _sigma_table()
    slope = np.gradient(lns, lnm)
    return np.interp(np.log(np.asarray(m, dtype=float)), lnm, slope)


def displacement_rms_1d(z: float = 0.0) -> float:
    """1D rms Zel'dovich displacement [comoving h^-1 Mpc]: sigma^2 = (1 / 6 pi^2) int P(k) dk."""
    pk = linear_power(_K, z)
    return float(np.sqrt(np.trapezoid(pk * _K, np.log(_K)) / (6 * np.pi**2)))


# ---------------------------------------------------------------------------- mass function

# Tinker et al. (2008) Table 2
_T08_DELTA = np.array([200, 300, 400, 600, 800, 1200, 1600, 2400, 3200], dtype=float)
_T08_A = np.array([0.186, 0.200, 0.212, 0.218, 0.248, 0.255, 0.260, 0.260, 0.260])
_T08_a = np.array([1.47, 1.52, 1.56, 1.61, 1.87, 2.13, 2.30, 2.53, 2.66])
_T08_b = np.array([2.57, 2.25, 2.05, 1.87, 1.59, 1.51, 1.46, 1.44, 1.41])
_T08_c = np.array([1.19, 1.27, 1.34, 1.45, 1.58, 1.80, 1.97, 2.24, 2.44])


def delta_mean_500c(z: float) -> float:
    """Overdensity with respect to the mean matter density equivalent to 500 critical."""
    return 500.0 / float(omega_m_z(z))


def tinker08_f(sigma: np.ndarray, delta_mean: float, z: float) -> np.ndarray:
    """Tinker et al. (2008) multiplicity function f(sigma) at overdensity ``delta_mean`` and ``z``."""
    ld = np.log10(np.clip(delta_mean, 200.0, 3200.0))
    x = np.log10(_T08_DELTA)
    a0, aa, bb, cc = (np.interp(ld, x, t) for t in (_T08_A, _T08_a, _T08_b, _T08_c))
    alpha = 10.0 ** (-((0.75 / np.log10(delta_mean / 75.0)) ** 1.2))  # eq. 8
    a0 = a0 * (1.0 + z) ** -0.14  # eq. 5
    aa = aa * (1.0 + z) ** -0.06  # eq. 6
    bb = bb * (1.0 + z) ** -alpha  # eq. 7
    s = np.asarray(sigma, dtype=float)
    return a0 * ((s / bb) ** (-aa) + 1.0) * np.exp(-cc / s**2)


def mass_function_500c(m500c: np.ndarray, z: float) -> np.ndarray:
    """Comoving number density per ln M500c, dn/dln M [(h^-1 Mpc)^-3] (Tinker et al. 2008)."""
    m = np.asarray(m500c, dtype=float)
    sig = sigma_m(m, z)
    f = tinker08_f(sig, delta_mean_500c(z), z)
    return f * RHO_M0 / m * np.abs(dlnsigma_dlnm(m))


def tinker10_bias(m500c: np.ndarray, z: float) -> np.ndarray:
    """Large-scale linear bias of halos of M500c at ``z`` (Tinker et al. 2010, eq. 6, Table 2)."""
    y = np.log10(delta_mean_500c(z))
    nu = DELTA_C / sigma_m(np.asarray(m500c, dtype=float), z)
    big_a = 1.0 + 0.24 * y * np.exp(-((4.0 / y) ** 4))
    a = 0.44 * y - 0.88
    big_b, b = 0.183, 1.5
    big_c = 0.019 + 0.107 * y + 0.19 * np.exp(-((4.0 / y) ** 4))
    c = 2.4
    return 1.0 - big_a * nu**a / (nu**a + DELTA_C**a) + big_b * nu**b + big_c * nu**c


# ---------------------------------------------------------------------------- NFW


def duffy08_c200c(m200c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Duffy et al. (2008) NFW concentration c200c = 5.71 (M / 2e12 h^-1 Msun)^-0.084 (1 + z)^-0.47."""
    return 5.71 * (np.asarray(m200c) / 2e12) ** -0.084 * (1.0 + np.asarray(z)) ** -0.47


def _mu(x: np.ndarray) -> np.ndarray:
    return np.log1p(x) - x / (1.0 + x)


_X = np.logspace(-3, 2, 4000)
_G = _mu(_X) / _X**3  # mean enclosed density profile shape, decreasing in x


def _x_at_mean_density(target: np.ndarray) -> np.ndarray:
    return np.exp(np.interp(np.log(target), np.log(_G[::-1]), np.log(_X[::-1])))


def m500c_to_m200c(m500c: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert M500c to (M200c, c200c) for an NFW halo with the Duffy et al. (2008) concentration."""
    m500c = np.asarray(m500c, dtype=float)
    m200 = 1.4 * m500c
    for _ in range(8):
        c = duffy08_c200c(m200, z)
        x500 = _x_at_mean_density(2.5 * _mu(c) / c**3)
        m200 = m500c * _mu(c) / _mu(x500)
    return m200, duffy08_c200c(m200, z)
