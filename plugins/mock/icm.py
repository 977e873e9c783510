"""Gas-budget intracluster medium: density profiles normalised by M_gas, emission from the integral.

Mock v2 (docs/mock.md, "ICM"). For each cluster the gas density n_e(r) has the shape of the
Vikhlinin et al. (2006, eq. 3) emission-measure model, taken as n_p n_e = g(x)^2 with x = r / R500c,

    g(x)^2 = (x/x_c)^-alpha / (1 + (x/x_c)^2)^(3 beta - alpha/2) / (1 + (x/x_s)^3)^(eps/3)
             + a_2 / (1 + (x/x_c2)^2)^3,

and its amplitude is fixed by the cluster's gas mass (the gas budget): M_gas(< R500c) =
mu_e m_p n_e0 R500c^3 int_0^1 4 pi x^2 g dx. The emission measure follows,
EM(< X) = int n_e n_H dV = M_gas^2 / (mu_e^2 m_p^2 R500c^3) (n_H / n_e) I_e(X) / I_m(1)^2
with I_m(X) = int_0^X 4 pi x^2 g dx and I_e(X) = int_0^X 4 pi x^2 g^2 dx, and the luminosity is
L = Lambda(T) EM with the plasma cooling function of :mod:`.spectra` (continuum and lines). L_X is
therefore an output of the gas mass, the temperature and the profile shape, never a draw.

Where the scatter lives (the populations in :func:`draw_gas_profiles`):

- Beyond ~0.15 R500c the scaled profiles are nearly self-similar: beta ~ N(0.666, 0.05), the
  steepening radius x_s ~ U(0.7, 1.5), eps ~ U(1.5, 3.5). With the M_gas scatter this gives
  ~15-20 % scatter in scaled density at 0.3-1 R500c (Croston et al. 2008; Ghirardini et al. 2019).
- The core carries its own large scatter: cool cores (the fraction ``cool_core_fraction``, 0.42:
  Hudson et al. 2010 and Santos et al. 2008 find 40-45 % in X-ray samples) have a small core
  radius, a central cusp and a compact second component, and cooler gas (T_core = 0.5-0.8 T);
  relaxed non-cool cores have a flat core of 0.09-0.16 R500c; merging (disturbed) clusters have
  flat (alpha = 0), wider cores (0.1-0.22 R500c), so less central emission at the same gas mass.
- Mergers (:mod:`.morphology`) also move a share xi^1.2 / (1 + xi^1.2) of the gas budget into the
  subcluster (mass ratio xi; 1.2 the M_gas slope), which lowers the total emission for the same gas
  (two smaller clumps emit less than one: EM scales as M_gas^2 / R^3).

All lengths in units of R500c here unless said; masses in h^-1 Msun; T in keV; L in erg/s.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .cosmology import MPC_CM, H

M_P_G = 1.67262192e-24
MSUN_G = 1.98847e33
#: hydrogen mass fraction of a plasma of 0.3 solar metallicity (Anders & Grevesse 1989, scaled)
X_H = 0.716
#: electron mean molecular weight rho / (n_e m_p) and n_e / n_H for full ionisation
MU_E = 1.0 / (X_H + 0.5 * (1.0 - X_H))
NE_OVER_NH = 1.0 / (X_H * MU_E)
#: radius separating the core from the self-similar region [R500c] (Pratt et al. 2009; Maughan 2007)
CORE_RADIUS = 0.15
#: outer edge of the emission the photons are drawn from [R500c]
RMAX = 4.0
#: radial grid [R500c] of the integrals and samplers: 0, then log-spaced 1e-4 .. RMAX
RGRID = np.concatenate([[0.0], np.logspace(-4, np.log10(RMAX), 600)])
_I_CORE = int(np.searchsorted(RGRID, CORE_RADIUS))
_I_R500 = int(np.searchsorted(RGRID, 1.0))
RGRID[_I_CORE] = CORE_RADIUS
RGRID[_I_R500] = 1.0


@dataclass
class GasProfiles:
    """Arrays (one entry per cluster) of the density-profile parameters (lengths in R500c)."""

    beta: np.ndarray
    xc: np.ndarray  # core radius
    alpha: np.ndarray  # central cusp slope of the emission measure
    xs: np.ndarray  # steepening radius
    eps: np.ndarray  # outer steepening
    a2: np.ndarray  # amplitude of the compact (cool-core) component, relative to the first at x = x_c
    xc2: np.ndarray  # its core radius
    t_core: np.ndarray  # T(r < 0.15 R500c) / T

    def row(self, i: int) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)[i]) for f in fields(self)}

    @staticmethod
    def of(row: dict[str, float]) -> "GasProfiles":
        return GasProfiles(**{f.name: np.array([row[f.name]], dtype=float) for f in fields(GasProfiles)})


def draw_gas_profiles(
    cool: np.ndarray, disturbed: np.ndarray, rng: np.random.Generator, latent: np.ndarray | None = None
) -> GasProfiles:
    """Profile parameters for clusters flagged cool-core (``cool``) or disturbed (``disturbed``; mergers).

    The three populations are described in the module docstring. ``latent`` (n, 3) standard-normal
    variables, if given, set the core parameters (core radius, cusp and compact component, T_core), so
    that a halo's core keeps its character between snapshots when they are lineage-correlated.
    """
    from scipy.special import ndtr

    cool = np.asarray(cool, bool)
    dist = np.asarray(disturbed, bool) & ~cool
    n = len(cool)
    u = ndtr(latent) if latent is not None else rng.random((n, 3))
    uni = lambda k, a, b: a + (b - a) * u[:, k]  # noqa: E731
    return GasProfiles(
        beta=np.clip(rng.normal(0.666, 0.03, n), 0.55, 0.8),
        xc=np.where(cool, uni(0, 0.12, 0.04), np.where(dist, uni(0, 0.1, 0.22), uni(0, 0.09, 0.16))),
        alpha=np.where(cool, uni(1, 0.35, 0.65), np.where(dist, 0.0, uni(1, 0.0, 0.3))),
        xs=rng.uniform(0.8, 1.3, n),
        eps=rng.uniform(2.0, 3.0, n),
        a2=np.where(cool, 10 ** uni(1, -0.4, 0.1), 0.0),
        xc2=rng.uniform(0.015, 0.04, n),
        t_core=np.where(cool, uni(2, 0.8, 0.5), 1.0),
    )


def emission_shape(x: np.ndarray, p: GasProfiles) -> np.ndarray:
    """g(x)^2 = n_p n_e up to a constant, for every cluster (rows) at radii ``x`` [R500c] (columns)."""
    x = np.maximum(np.asarray(x, float)[None, :], 1e-5)
    c = lambda a: np.asarray(a, float)[:, None]  # noqa: E731
    u = x / c(p.xc)
    em = (
        u ** (-c(p.alpha)) / (1 + u**2) ** (3 * c(p.beta) - c(p.alpha) / 2) / (1 + (x / c(p.xs)) ** 3) ** (c(p.eps) / 3)
    )
    em = em + c(p.a2) * 2.0 ** (-3 * c(p.beta)) / (1 + (x / c(p.xc2)) ** 2) ** 3
    return em


def _cumtrapz(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [np.zeros((y.shape[0], 1)), np.cumsum(0.5 * (y[:, 1:] + y[:, :-1]) * np.diff(x)[None, :], axis=1)], axis=1
    )


@dataclass
class ProfileIntegrals:
    """Per-cluster radial integrals on :data:`RGRID`: cumulative gas mass and emission-measure shapes."""

    i_m: np.ndarray  # (n, len(RGRID)) int_0^x 4 pi x'^2 g dx'
    i_e: np.ndarray  # (n, len(RGRID)) int_0^x 4 pi x'^2 g^2 dx'

    def clumping(self) -> np.ndarray:
        """I_e(x) / I_m(1)^2 (n, len(RGRID)): the emission measure per M_gas^2 / R500c^3, up to constants."""
        return self.i_e / self.i_m[:, _I_R500 : _I_R500 + 1] ** 2


def profile_integrals(p: GasProfiles) -> ProfileIntegrals:
    em = emission_shape(RGRID, p)
    w = 4 * np.pi * RGRID[None, :] ** 2
    return ProfileIntegrals(_cumtrapz(w * np.sqrt(em), RGRID), _cumtrapz(w * em, RGRID))


def emission_measure_cm3(
    m_gas: np.ndarray, r500c_hmpc: np.ndarray, z: np.ndarray, integ: ProfileIntegrals
) -> np.ndarray:
    """Cumulative emission measure int n_e n_H dV [cm^-3] on :data:`RGRID`, (n, len(RGRID)).

    ``m_gas`` gas mass within R500c [h^-1 Msun], ``r500c_hmpc`` comoving h^-1 Mpc, ``z`` redshift.
    """
    r_cm = np.asarray(r500c_hmpc, float) / (1.0 + np.asarray(z, float)) / H * MPC_CM
    mg = np.asarray(m_gas, float) / H * MSUN_G
    norm = mg**2 / (MU_E**2 * M_P_G**2 * r_cm**3) / NE_OVER_NH
    return norm[:, None] * integ.clumping()


@dataclass
class Emission:
    """Bolometric (0.01-100 keV) luminosities [erg/s] of each cluster's main halo gas."""

    core: np.ndarray  # r < 0.15 R500c (3D), at T_core
    r015_1: np.ndarray  # 0.15 < r < 1 R500c, at T
    outer: np.ndarray  # 1 < r < 4 R500c, at T

    @property
    def within_r500c(self) -> np.ndarray:
        return self.core + self.r015_1


def emission(
    m_gas: np.ndarray,
    t_kev: np.ndarray,
    r500c_hmpc: np.ndarray,
    z: np.ndarray,
    p: GasProfiles,
    integ: ProfileIntegrals | None = None,
) -> Emission:
    """Luminosities of the three radial zones: Lambda(T_zone) x EM(zone)."""
    from .spectra import cooling_function

    integ = integ or profile_integrals(p)
    em = emission_measure_cm3(m_gas, r500c_hmpc, z, integ)
    t = np.asarray(t_kev, float)
    lam_out = cooling_function(t)
    lam_core = cooling_function(t * p.t_core)
    return Emission(
        core=lam_core * em[:, _I_CORE],
        r015_1=lam_out * (em[:, _I_R500] - em[:, _I_CORE]),
        outer=lam_out * (em[:, -1] - em[:, _I_R500]),
    )


def radial_sampler(integ: ProfileIntegrals, i: int, lo: float, hi: float) -> np.ndarray:
    """Normalised cumulative emission of cluster ``i`` between radii ``lo`` and ``hi`` [R500c] on :data:`RGRID`
    (0 below ``lo``, 1 above ``hi``) for inverse-CDF sampling of photon radii."""
    cum = integ.i_e[i]
    a, b = np.interp(lo, RGRID, cum), np.interp(hi, RGRID, cum)
    return np.clip((cum - a) / max(b - a, 1e-300), 0.0, 1.0)


def sample_radii(cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` radii [R500c] drawn from a cumulative distribution on :data:`RGRID`."""
    return np.interp(rng.random(n), cdf, RGRID)
