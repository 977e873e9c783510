"""X-ray spectra of the mock sources and their count spectra through the eROSITA response.

- ICM: thermal bremsstrahlung, L_E proportional to g_ff(E, T) exp(-E / kT) with the Gaunt factor
  approximated as g_ff = 0.9 (E / kT)^-0.3 (Rybicki & Lightman 1979, fig. 5.2, to ~20 % for
  1e-2 < E / kT < 10). Emission lines are not modelled (a known simplification: groups below 2 keV
  are line dominated in the soft band), so band ratios follow kT through the continuum only.
- AGN: power law N_E proportional to E^-Gamma (Gamma about 1.9, Nandra & Pounds 1994) with
  intrinsic photoelectric absorption N_H at the source.
- Cosmic X-ray background (unresolved part): power law Gamma = 1.4 (e.g. De Luca & Molendi 2004).
- Instrumental (particle) background: flat in measured energy, not folded through the area.

Energies in keV, luminosities in erg/s, fluxes per cm^2. Every count spectrum is returned per bin
of the observed-frame grid :data:`E_EDGES` [keV] in counts per second, including the effective area
and Galactic absorption (:mod:`.instrument`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .instrument import EROSITA, KEV_ERG, effective_area, photoabsorption

#: observed-frame energy grid [keV] for count spectra and sampling
E_EDGES = np.logspace(np.log10(EROSITA.e_min_kev), np.log10(EROSITA.e_max_kev), 501)
E_MID = np.sqrt(E_EDGES[1:] * E_EDGES[:-1])
E_WIDTH = np.diff(E_EDGES)
_RESPONSE = effective_area(E_MID) * photoabsorption(E_MID, EROSITA.galactic_nh_cm2)  # cm^2

#: rest-frame grid for bolometric integrals
_E_BOL = np.logspace(-2, 2, 1201)


def bremsstrahlung_shape(e_kev: np.ndarray, kt_kev: np.ndarray | float) -> np.ndarray:
    """Unnormalised thermal bremsstrahlung energy spectrum L_E at ``e_kev`` for temperature ``kt_kev``."""
    x = np.asarray(e_kev, dtype=float) / np.asarray(kt_kev, dtype=float)
    return 0.9 * np.clip(x, 1e-6, None) ** -0.3 * np.exp(-x)


@lru_cache(maxsize=1)
def _band_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kts = np.logspace(-1, 1.5, 200)
    spec = bremsstrahlung_shape(_E_BOL[None, :], kts[:, None])
    cum = np.concatenate([np.zeros((len(kts), 1)),
                          np.cumsum(0.5 * (spec[:, 1:] + spec[:, :-1]) * np.diff(_E_BOL)[None, :], axis=1)], axis=1)
    return kts, cum, cum[:, -1]


def thermal_band_fraction(kt_kev: np.ndarray | float, e1: float, e2: float) -> np.ndarray:
    """Fraction of the bolometric (0.01-100 keV) bremsstrahlung luminosity emitted in [e1, e2] keV (rest frame)."""
    kts, cum, tot = _band_table()
    f = (np.array([np.interp(e2, _E_BOL, c) - np.interp(e1, _E_BOL, c) for c in cum]) / tot)
    return np.interp(np.log(np.asarray(kt_kev, dtype=float)), np.log(kts), f)


def _bolometric_norm(kt_kev: float) -> float:
    spec = bremsstrahlung_shape(_E_BOL, kt_kev)
    return float(np.trapezoid(spec, _E_BOL))


def thermal_count_rates(kt_kev: float, l_bol_erg_s: float, z: float, d_l_cm: float) -> np.ndarray:
    """Count rate per observed-energy bin [counts/s] of a thermal source of bolometric luminosity ``l_bol_erg_s``.

    F_E(E_obs) = (1 + z) L_E((1 + z) E_obs) / (4 pi D_L^2); photons per keV = F_E / E_obs.
    """
    e_rest = E_MID * (1.0 + z)
    l_e = l_bol_erg_s * bremsstrahlung_shape(e_rest, kt_kev) / _bolometric_norm(kt_kev)  # erg/s/keV
    f_e = (1.0 + z) * l_e / (4.0 * np.pi * d_l_cm**2)
    return f_e / (E_MID * KEV_ERG) * _RESPONSE * E_WIDTH


def powerlaw_count_rates(gamma: np.ndarray, nh_cm2: np.ndarray, l_band_erg_s: np.ndarray, z: float | np.ndarray,
                         d_l_cm: float | np.ndarray, band: tuple[float, float] = (0.5, 2.0)) -> np.ndarray:
    """Count rates per observed-energy bin [counts/s], one row per power-law source.

    ``l_band_erg_s`` is the intrinsic (unabsorbed) rest-frame luminosity in ``band`` [keV];
    ``nh_cm2`` the intrinsic absorbing column at the source; ``z`` and ``d_l_cm`` (luminosity distance)
    are scalars or one per source.
    """
    g = np.atleast_1d(np.asarray(gamma, dtype=float))[:, None]
    nh = np.atleast_1d(np.asarray(nh_cm2, dtype=float))[:, None]
    lb = np.atleast_1d(np.asarray(l_band_erg_s, dtype=float))[:, None]
    zz = np.broadcast_to(np.asarray(z, dtype=float), (len(g),))[:, None]
    dl = np.broadcast_to(np.asarray(d_l_cm, dtype=float), (len(g),))[:, None]
    e1, e2 = band
    # int_e1^e2 K E^(1 - Gamma) dE = L_band
    two_minus = 2.0 - g
    safe = np.where(np.abs(two_minus) < 1e-6, 1.0, two_minus)
    integral = np.where(np.abs(two_minus) < 1e-6, np.log(e2 / e1), (e2**two_minus - e1**two_minus) / safe)
    k = lb / integral
    e_rest = E_MID[None, :] * (1.0 + zz)
    l_e = k * e_rest ** (1.0 - g) * photoabsorption(e_rest, nh)
    f_e = (1.0 + zz) * l_e / (4.0 * np.pi * dl**2)
    return f_e / (E_MID[None, :] * KEV_ERG) * _RESPONSE[None, :] * E_WIDTH[None, :]


def cxb_count_shape() -> np.ndarray:
    """Count spectrum shape (sums to 1) of the unresolved cosmic X-ray background, Gamma = 1.4."""
    r = E_MID ** (-1.4) * _RESPONSE * E_WIDTH
    return r / r.sum()


def particle_count_shape() -> np.ndarray:
    """Count spectrum shape (sums to 1) of the instrumental background, flat in measured energy."""
    return E_WIDTH / E_WIDTH.sum()


def sample_energies(rates: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` photon energies [keV] from a count spectrum given per bin of :data:`E_EDGES`."""
    if n == 0:
        return np.zeros(0)
    cdf = np.cumsum(rates)
    cdf /= cdf[-1]
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    idx = np.minimum(idx, len(E_MID) - 1)
    return E_EDGES[idx] + rng.random(n) * E_WIDTH[idx]
