"""Vignetting and the published eROSITA background levels, for the mock's ``events`` observation mode.

Everything here is per the seven telescope modules (TMs) together, as :func:`.instrument.effective_area`.
Energies in keV, angles in arcmin unless a name says otherwise, solid angles in deg^2. Numbers come from
the publications named below, not from any tuning to the mock's own targets; where a number is an
assumption or was read indirectly, the text says so.

Vignetting (:func:`vignetting`)
    The eSASS "zeroth-order analytic vignetting model" of T. Dwelly (eROSITA wiki page
    ``EroCat/AnalyticVignetting``; public MPE wiki, 2018): a pseudo-Moffat fit
    V(theta) = [1 + (theta / theta0)^alpha]^beta to the vignetting curves of the SIXTE instrument file
    ``erosita_vignetting_v2.1.fits`` (SIXTE SRG instrument package 1.4.0; 31 off-axis angles, 0-30 arcmin,
    three energy bands taken to be at 1.25, 4.0 and 7.5 keV), with theta0 in degrees:

    ========  =========  ========  =======
    E [keV]   theta0      beta      alpha
    ========  =========  ========  =======
    1.25      0.44966    -1.02111  1.71288
    4.0       0.22575    -0.83151  1.97408
    7.5       0.10547    -0.50753  2.52732
    ========  =========  ========  =======

    Between and below the nodes each parameter is the wiki's quadratic (Lagrange) interpolation through
    the three nodes, energy clipped to 0-7.5 keV (constant above 7.5 keV), as on the wiki. That
    interpolation makes V *rise* again with energy above ~6.5 keV (by up to 3 % at 20 arcmin, 0.2165 at
    6.6 keV to 0.2225 at 7.5 keV), an artefact; we hold V at its minimum over energy instead, so V never
    increases with energy (at 7.5 keV V is then 5 % below the published node fit at 30 arcmin, 7 % at 35). The wiki flags
    the model as superseded by the eSASS calibration of 2020 and it uses one curve for all TMs, so take
    it as representative to ~10 %: e.g. V = 0.64 (1 keV) and 0.30 (5 keV) at 20 arcmin, 0.45 (1.25 keV)
    at 30 arcmin. Beyond 30 arcmin (up to 35) the fit is extrapolated.

Instrumental (particle) background (:func:`particle_background_count_rate_density`)
    The eROSITA DR1 filter-wheel-closed (FWC) data page (erosita.mpe.mpg.de/dr1, "FWC data for DR1";
    cleaning described in appendix B of Yeung et al. 2023; background overview in Freyberg et al. 2020,
    SPIE 11444) keeps FWC exposures whose 0.5-10 keV rate lies within 90-170 counts/min (read as per TM,
    the FWC exposures being per TM; flag 0xE000F000, PATTERN=15, Cal-PV to eRASS1, solar minimum). We
    take the centre of that window, 130 counts/min per TM in 0.5-10 keV (uncertain by about +-30 %: the
    window, not a quoted mean), spread over the active field of view of 0.83 deg^2 per TM (Predehl et al.
    2010, "eROSITA on SRG", arXiv:1001.2502). That is 0.227 counts/s/keV per TM (continuum), or, for
    seven TMs,

        1.91 counts s^-1 keV^-1 deg^-2  =  5.3e-4 counts s^-1 keV^-1 arcmin^-2  (measured energy),

    :data:`PARTICLE_CTS_S_KEV_DEG2` / :data:`PARTICLE_CTS_S_KEV_ARCMIN2`. Cross-check: Zhang et al. 2025
    (EP/FXT instrumental background, arXiv:2507.00510) measure ~0.04 counts/s/keV per FXT module (an
    eROSITA-type pnCCD) and state that this is ~5 times lower than SRG/eROSITA, i.e. ~0.2 per TM.
    The spectrum is taken flat in counts/s/keV (first-order shape; not checked against a published eROSITA
    FWC spectrum here), extended flat over the whole 0.2-12 keV grid (outside 0.5-10 keV an
    extrapolation), plus an Al K-alpha fluorescence line at 1.4867 keV with an equivalent width of
    0.05 keV. **The line strength is an assumption** (not read off a published spectrum); the 0.5-10 keV
    total, line included, equals the published level. The particle background does not come
    through the mirrors: it is not vignetted and its energies are measured (SIGNAL) energies.

Diffuse sky background (:func:`sky_background_count_rate_density`), as observed above the telescope
    * Unresolved cosmic X-ray background (CXB): power law of photon index 1.4 (De Luca & Molendi 2004),
      total 0.5-2 keV intensity 7.53e-12 erg s^-1 cm^-2 deg^-2 (Moretti et al. 2003,
      arXiv:astro-ph/0301555; unabsorbed), absorbed by the mock's Galactic column (N_H = 3e20, through
      ``spectra._RESPONSE``). Only the part below the flux limit of the point sources the mock simulates
      explicitly is background: we take the unresolved fraction below S_lim = 1e-15 erg s^-1 cm^-2
      (0.5-2 keV, :data:`CXB_FLUX_LIMIT_CGS`) from Moretti et al.'s soft-band fit
      N(>S) = N0 (2e-15)^a1 / (S^a1 + S0^(a1-a2) S^a2), N0 = 6150 deg^-2, a1 = 1.82, a2 = 0.60,
      S0 = 1.48e-14 (quoted from memory of the paper, not re-read here; they give 91 % of the CXB in
      sources above 2.4e-17, against the paper's resolved 94.3 +7.0/-6.7 %): sources brighter than 1e-15
      make 78.8 % of the total CXB, so 21.2 % of it (1.60e-12 erg s^-1 cm^-2 deg^-2) is unresolved
      background here. Cross-check: Vikhlinin et al. (1995, ROSAT) resolve 66 +- 7 % at 1.2e-15 in
      1-2 keV. NB: this assumes the mock's AGN stand for *all* sources brighter than S_lim; sources
      above S_lim that the mock does not draw (e.g. AGN outside the simulated volume) are missing from
      both.
    * Galactic foreground (local hot bubble, LHB, and the Galactic halo / circum-Galactic medium, CGM),
      anchored to eROSITA: Ponti et al. 2023 (arXiv:2210.03133) observe in the eFEDS field a diffuse
      flux of 12.6e-12 (0.3-2 keV) and 5.1e-12 (0.3-0.6 keV) erg s^-1 cm^-2 deg^-2, a CGM of
      kT = 0.153-0.178 keV with low metallicity (~0.06 solar, so continuum dominated), and a hotter
      "corona" component (kT ~ 0.4-0.7 keV) giving ~9 % of the 0.6-2 keV flux. The foreground here is:
        - the three lines measured by McCammon et al. 2002 (ApJ 576, 188) with the XQC microcalorimeter,
          in photons cm^-2 s^-1 sr^-1 (LU): C VI Ly-alpha 0.3675 keV, 5.4; O VII triplet (thermal
          centroid 0.5684 keV), 4.8; O VIII Ly-alpha 0.6536 keV, 1.6;
        - the "corona": a kT = 0.55 keV pseudo-continuum (free-free shape, E^-0.3 exp(-E/kT) in energy),
          absorbed, normalised to 9 % of Ponti et al.'s 0.6-2 keV flux;
        - the rest of the LHB + CGM emission: pseudo-continua at kT = 0.099 keV (LHB, unabsorbed; Kuntz
          & Snowden 2000, value from memory; eROSITA finds 0.084 +- 0.004 keV towards Cha II/III, Yeung
          et al. 2023) and kT = 0.165 keV (CGM, absorbed; Ponti et al. 2023), which make up the rest
          of Ponti et al.'s 0.3-0.6 keV flux after the full CXB, the lines and the corona; the split
          between the two (half each) is **an assumption** that matters mainly below ~0.4 keV.
      Ponti et al.'s fluxes are taken to include the *full* CXB (they describe the integrated emission);
      that reading is borne out by the 0.6-2 keV band, which is not fitted: full CXB + O VIII + corona
      (+ the LHB/CGM tails) give 7.8e-12 against their 7.5e-12 (+4 %), and 12.9e-12 against 12.6e-12
      (+2.6 %) in 0.3-2 keV (:func:`sky_background_intensity` with ``flux_limit_cgs=inf``). The full CXB
      then also gives 2.17e-11 in 2-10 keV, against Moretti et al.'s hard-band total of 2.24e-11 (from
      memory). Line-dominated thermal spectra (APEC) are approximated by lines + pseudo-continua, so the
      band fluxes are right but the detailed CCD spectrum below 1 keV is only indicative; solar-wind
      charge exchange and field-to-field variation (Ponti et al. 2023b: +-60 % over several degrees at
      0.3-0.45 keV in eFEDS) are not modelled. Published foreground values are observed intensities
      (absorption included), so the foreground is folded through the on-axis effective area only; the
      CXB through ``spectra._RESPONSE``.

    Resulting 0.5-2 keV sky intensity (observed, S_lim = 1e-15):
        4.57e-12 erg s^-1 cm^-2 deg^-2 = 1.46e-12 (unresolved CXB, absorbed) + 3.11e-12 (foreground:
        lines 1.84e-12, corona 0.81e-12, CGM 0.38e-12, LHB 0.08e-12),
    :data:`SKY_INTENSITY_05_2_CGS`; with no sources removed (full CXB) it is 9.98e-12.

Expected counts (:func:`background_counts_per_field`; 2 ks, vignetting averaged over the field):
    31 arcmin field (0.839 deg^2): 0.5-2 keV: particle 4.97e3, sky 6.27e3 (9.72e3 without vignetting);
    0.2-10 keV: particle 3.16e4, sky 1.37e4 (2.09e4).
    10 arcmin circle (0.0873 deg^2): 0.5-2 keV: particle 518, sky 929 (1012); 0.2-10 keV: particle 3.29e3,
    sky 2.00e3 (2.18e3).
    Sky energies are true photon energies (to be smeared by the CCD response like any photon);
    particle energies are already measured energies.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .instrument import EROSITA, KEV_ERG, effective_area, photoabsorption
from .spectra import _RESPONSE, E_EDGES, E_MID, E_WIDTH, sample_energies

ARCMIN_RAD = np.pi / (180.0 * 60.0)
DEG2_PER_SR = (180.0 / np.pi) ** 2
N_TELESCOPES = 7

# ------------------------------------------------------------------------------------- vignetting
#: energies [keV] of the three nodes of the analytic vignetting model (eROSITA wiki, Dwelly 2018)
VIGNETTING_E_NODES = (1.25, 4.0, 7.5)
#: (theta0 [deg], beta, alpha) of V = [1 + (theta/theta0)^alpha]^beta at each node
VIGNETTING_PARAMS = ((0.44966, -1.02111, 1.71288), (0.22575, -0.83151, 1.97408), (0.10547, -0.50753, 2.52732))
_VIGN_E_CLIP = (0.0, 7.5)

# -------------------------------------------------------------------------- particle background
#: FWC 0.5-10 keV rate per TM [counts/min]: centre of the 90-170 window of the DR1 FWC page
FWC_RATE_PER_TM_CTS_MIN = 130.0
FWC_RATE_WINDOW_CTS_MIN = (90.0, 170.0)
FWC_BAND_KEV = (0.5, 10.0)
#: active field of view of one TM [deg^2] (Predehl et al. 2010)
TM_FOV_DEG2 = 0.83
#: Al K-alpha fluorescence line [keV] and its assumed equivalent width [keV] (assumption, see docstring)
AL_KALPHA_KEV = 1.4867
AL_KALPHA_EW_KEV = 0.05
#: flat continuum of the particle background, seven TMs [counts s^-1 keV^-1 deg^-2]
PARTICLE_CTS_S_KEV_DEG2 = (
    N_TELESCOPES * FWC_RATE_PER_TM_CTS_MIN / 60.0 / (FWC_BAND_KEV[1] - FWC_BAND_KEV[0] + AL_KALPHA_EW_KEV) / TM_FOV_DEG2
)
#: the same per arcmin^2 [counts s^-1 keV^-1 arcmin^-2]
PARTICLE_CTS_S_KEV_ARCMIN2 = PARTICLE_CTS_S_KEV_DEG2 / 3600.0

# ------------------------------------------------------------------------------ sky background
#: total CXB intensity in 0.5-2 keV [erg s^-1 cm^-2 deg^-2] (Moretti et al. 2003)
CXB_TOTAL_05_2_CGS = 7.53e-12
CXB_GAMMA = 1.4
#: Moretti et al. 2003 soft-band (0.5-2 keV) log N - log S: N0 [deg^-2] at S_ref, a1, a2, S0 [erg/s/cm^2]
MORETTI_SOFT = {"n0": 6150.0, "s_ref": 2e-15, "a1": 1.82, "a2": 0.60, "s0": 1.48e-14}
#: flux limit [erg s^-1 cm^-2, 0.5-2 keV] below which the CXB is unresolved background here
CXB_FLUX_LIMIT_CGS = 1e-15
#: McCammon et al. 2002 lines: (energy [keV], intensity [photons cm^-2 s^-1 sr^-1])
FOREGROUND_LINES = ((0.3675, 5.4), (0.5684, 4.8), (0.6536, 1.6))
#: Ponti et al. 2023, eFEDS: observed diffuse fluxes [erg s^-1 cm^-2 deg^-2] in 0.3-2 and 0.3-0.6 keV
PONTI_FLUX_03_2_CGS = 12.6e-12
PONTI_FLUX_03_06_CGS = 5.1e-12
PONTI_CORONA_FRACTION_06_2 = 0.09
KT_LHB_KEV = 0.099
KT_CGM_KEV = 0.165
KT_CORONA_KEV = 0.55
LHB_SHARE = 0.5  # assumption: share of the LHB in the residual LHB + CGM 0.3-0.6 keV flux
#: resulting 0.5-2 keV sky intensity at the default flux limit [erg s^-1 cm^-2 deg^-2] (module docstring)
SKY_INTENSITY_05_2_CGS = 4.57e-12


# ============================================================================== vignetting


def _lagrange3(x: np.ndarray, ys: tuple[float, float, float]) -> np.ndarray:
    x1, x2, x3 = VIGNETTING_E_NODES
    y1, y2, y3 = ys
    return (
        y1 * (x - x2) * (x - x3) / ((x1 - x2) * (x1 - x3))
        + y2 * (x - x1) * (x - x3) / ((x2 - x1) * (x2 - x3))
        + y3 * (x - x1) * (x - x2) / ((x3 - x1) * (x3 - x2))
    )


def _vignetting_wiki(theta_deg: np.ndarray, e_kev: np.ndarray) -> np.ndarray:
    """The wiki's model as published: pseudo-Moffat with quadratically interpolated parameters."""
    e = np.clip(e_kev, *_VIGN_E_CLIP)
    theta0, beta, alpha = (_lagrange3(e, tuple(p[k] for p in VIGNETTING_PARAMS)) for k in range(3))
    return (1.0 + (theta_deg / theta0) ** alpha) ** beta


@lru_cache(maxsize=1)
def _energy_of_minimum() -> tuple[np.ndarray, np.ndarray]:
    """Energy [keV] at which the wiki model's V(theta, E) is smallest, on a grid of theta [arcmin]."""
    theta = np.linspace(0.0, 60.0, 1201)
    e = np.linspace(*_VIGN_E_CLIP, 1501)
    v = _vignetting_wiki(theta[:, None] / 60.0, e[None, :])
    return theta, e[np.argmin(v, axis=1)]


def vignetting(theta_arcmin: np.ndarray | float, e_kev: np.ndarray | float) -> np.ndarray:
    """Fraction of the on-axis effective area at off-axis angle ``theta_arcmin`` [arcmin] and energy ``e_kev`` [keV].

    Pseudo-Moffat V = [1 + (theta / theta0(E))^alpha(E)]^beta(E), theta0 in degrees, the parameters
    interpolated quadratically between the SIXTE-fit nodes at 1.25, 4 and 7.5 keV (energy clipped to
    0-7.5 keV), held at its minimum over energy where that interpolation would rise again (module
    docstring). Broadcasts ``theta_arcmin`` against ``e_kev``; 1 on axis, decreasing outward, and
    faster (or equal) at higher energy.
    """
    theta = np.abs(np.asarray(theta_arcmin, dtype=float))
    e = np.asarray(e_kev, dtype=float)
    grid_theta, grid_e_min = _energy_of_minimum()
    e = np.minimum(e, np.interp(theta, grid_theta, grid_e_min))
    return _vignetting_wiki(theta / 60.0, e)


@lru_cache(maxsize=16)
def _mean_vignetting(fov_radius_arcmin: float) -> np.ndarray:
    """Vignetting per bin of :data:`.spectra.E_EDGES` averaged over a disk of radius ``fov_radius_arcmin``."""
    # uniform in area <=> uniform in u = (theta / R)^2; Gauss-Legendre on u in [0, 1]
    x, w = np.polynomial.legendre.leggauss(48)
    u = 0.5 * (x + 1.0)
    theta = fov_radius_arcmin * np.sqrt(u)
    return 0.5 * (w[:, None] * vignetting(theta[:, None], E_MID[None, :])).sum(axis=0)


# ====================================================================== band bookkeeping


def _band_overlap(e1: float, e2: float) -> np.ndarray:
    """Fraction of each bin of :data:`.spectra.E_EDGES` inside [e1, e2] keV (energies are uniform within a bin)."""
    lo = np.clip(E_EDGES[:-1], e1, e2)
    hi = np.clip(E_EDGES[1:], e1, e2)
    return (hi - lo) / E_WIDTH


def _line_bin(e_kev: float) -> int:
    return int(np.searchsorted(E_EDGES, e_kev, side="right") - 1)


def _energy_flux(photons_per_bin: np.ndarray, e1: float, e2: float) -> float:
    """Energy flux [erg s^-1 cm^-2 deg^-2] in [e1, e2] keV of a photon intensity given per bin."""
    return float(np.sum(photons_per_bin * E_MID * _band_overlap(e1, e2)) * KEV_ERG)


# ======================================================================= particle background


@lru_cache(maxsize=1)
def _particle_density() -> np.ndarray:
    rate = PARTICLE_CTS_S_KEV_DEG2 * E_WIDTH
    rate[_line_bin(AL_KALPHA_KEV)] += PARTICLE_CTS_S_KEV_DEG2 * AL_KALPHA_EW_KEV
    return rate


def particle_background_count_rate_density() -> np.ndarray:
    """Instrumental background of the seven TMs [counts s^-1 deg^-2] per bin of :data:`.spectra.E_EDGES`.

    Binned in measured energy; not vignetted and not folded through the mirrors. Flat at
    :data:`PARTICLE_CTS_S_KEV_DEG2` (1.91 counts s^-1 keV^-1 deg^-2 = 5.3e-4 counts s^-1 keV^-1 arcmin^-2)
    plus the Al K-alpha line, so that the 0.5-10 keV rate per TM over 0.83 deg^2 is the 130 counts/min
    of the DR1 FWC data (module docstring).
    """
    return _particle_density().copy()


# ============================================================================ sky background


def _moretti_dnds(s: np.ndarray) -> np.ndarray:
    """Differential soft-band source counts -dN/dS [deg^-2 (erg/s/cm^2)^-1] of Moretti et al. 2003."""
    p = MORETTI_SOFT
    b = p["s0"] ** (p["a1"] - p["a2"])
    a = p["n0"] * p["s_ref"] ** p["a1"]
    den = s ** p["a1"] + b * s ** p["a2"]
    return a * (p["a1"] * s ** (p["a1"] - 1.0) + p["a2"] * b * s ** (p["a2"] - 1.0)) / den**2


@lru_cache(maxsize=64)
def cxb_resolved_fraction(flux_limit_cgs: float = CXB_FLUX_LIMIT_CGS) -> float:
    """Fraction of the total 0.5-2 keV CXB (7.53e-12 erg s^-1 cm^-2 deg^-2) in sources brighter than ``flux_limit_cgs``.

    Integrates S dN/dS of the Moretti et al. (2003) soft-band fit from the limit [erg s^-1 cm^-2,
    0.5-2 keV] to 1e-9; 0 for an infinite limit (nothing resolved).
    """
    if not np.isfinite(flux_limit_cgs):
        return 0.0
    lns = np.linspace(np.log(flux_limit_cgs), np.log(1e-9), 4001)
    s = np.exp(lns)
    return float(np.trapezoid(s**2 * _moretti_dnds(s), lns) / CXB_TOTAL_05_2_CGS)


def _pseudo_continuum(kt_kev: float, absorbed: bool) -> np.ndarray:
    """Photons per bin (arbitrary normalisation) of a bremsstrahlung-shaped pseudo-continuum, observed.

    Energy spectrum g (E/kT)^-0.3 exp(-E/kT) (free-free Gaunt factor approximated as in Rybicki &
    Lightman 1979, fig. 5.2), divided by E for photons; kept local so that it does not follow changes
    of the source spectra in :mod:`.spectra`.
    """
    x = E_MID / kt_kev
    n = x**-0.3 * np.exp(-x) / E_MID * E_WIDTH
    if absorbed:
        n = n * photoabsorption(E_MID, EROSITA.galactic_nh_cm2)
    return n


def _cxb_total_photons() -> np.ndarray:
    """Photons s^-1 cm^-2 deg^-2 per bin of the total CXB, before Galactic absorption (Gamma = 1.4)."""
    g = CXB_GAMMA
    # int_0.5^2 K E^(1-g) dE [keV^2 ...] * KEV_ERG = total intensity
    k = CXB_TOTAL_05_2_CGS / KEV_ERG / ((2.0 ** (2 - g) - 0.5 ** (2 - g)) / (2 - g))
    return k * (E_EDGES[1:] ** (1 - g) - E_EDGES[:-1] ** (1 - g)) / (1 - g)


@lru_cache(maxsize=1)
def _foreground_components() -> dict[str, np.ndarray]:
    """Observed photon intensities [photons s^-1 cm^-2 deg^-2] per bin of the Galactic foreground parts."""
    transmission = photoabsorption(E_MID, EROSITA.galactic_nh_cm2)
    cxb_full = _cxb_total_photons() * transmission
    lines = np.zeros_like(E_MID)
    for e_line, lu in FOREGROUND_LINES:
        lines[_line_bin(e_line)] += lu / DEG2_PER_SR
    corona = _pseudo_continuum(KT_CORONA_KEV, absorbed=True)
    ponti_06_2 = PONTI_FLUX_03_2_CGS - PONTI_FLUX_03_06_CGS
    corona *= PONTI_CORONA_FRACTION_06_2 * ponti_06_2 / _energy_flux(corona, 0.6, 2.0)
    residual = PONTI_FLUX_03_06_CGS - sum(_energy_flux(c, 0.3, 0.6) for c in (cxb_full, lines, corona))
    if residual <= 0:  # pragma: no cover - guards the published inputs
        raise ValueError("published 0.3-0.6 keV flux is below CXB + lines + corona")
    lhb = _pseudo_continuum(KT_LHB_KEV, absorbed=False)
    lhb *= LHB_SHARE * residual / _energy_flux(lhb, 0.3, 0.6)
    cgm = _pseudo_continuum(KT_CGM_KEV, absorbed=True)
    cgm *= (1.0 - LHB_SHARE) * residual / _energy_flux(cgm, 0.3, 0.6)
    return {"lines": lines, "corona": corona, "lhb": lhb, "cgm": cgm}


def sky_background_components(flux_limit_cgs: float = CXB_FLUX_LIMIT_CGS) -> dict[str, np.ndarray]:
    """Observed photon intensities [photons s^-1 cm^-2 deg^-2] per bin of :data:`.spectra.E_EDGES`, by component.

    Keys: ``cxb`` (unresolved below ``flux_limit_cgs`` [erg s^-1 cm^-2, 0.5-2 keV], after Galactic
    absorption; ``inf`` keeps the full CXB), ``lines`` (C VI, O VII, O VIII), ``corona``, ``lhb``, ``cgm``.
    "Observed" means above the telescope, i.e. after Galactic absorption.
    """
    out = {k: v.copy() for k, v in _foreground_components().items()}
    unresolved = 1.0 - cxb_resolved_fraction(flux_limit_cgs)
    out["cxb"] = unresolved * _cxb_total_photons() * photoabsorption(E_MID, EROSITA.galactic_nh_cm2)
    return out


def sky_background_intensity(
    e1_kev: float, e2_kev: float, flux_limit_cgs: float = CXB_FLUX_LIMIT_CGS, component: str | None = None
) -> float:
    """Observed sky-background intensity [erg s^-1 cm^-2 deg^-2] in [e1_kev, e2_kev] keV.

    ``component`` selects one key of :func:`sky_background_components` (default: all, the total);
    ``"foreground"`` sums everything but the CXB.
    """
    comps = sky_background_components(flux_limit_cgs)
    if component is None:
        keys = list(comps)
    elif component == "foreground":
        keys = [k for k in comps if k != "cxb"]
    else:
        keys = [component]
    return sum(_energy_flux(comps[k], e1_kev, e2_kev) for k in keys)


@lru_cache(maxsize=16)
def _sky_density(flux_limit_cgs: float) -> np.ndarray:
    comps = sky_background_components(flux_limit_cgs)
    area = effective_area(E_MID)
    foreground = comps["lines"] + comps["corona"] + comps["lhb"] + comps["cgm"]
    # CXB: the unabsorbed spectrum through spectra._RESPONSE (area x Galactic transmission);
    # foreground: published observed intensities through the area alone
    unresolved = 1.0 - cxb_resolved_fraction(flux_limit_cgs)
    return unresolved * _cxb_total_photons() * _RESPONSE + foreground * area


def sky_background_count_rate_density(flux_limit_cgs: float = CXB_FLUX_LIMIT_CGS) -> np.ndarray:
    """Diffuse sky background ON AXIS [counts s^-1 deg^-2] per bin of :data:`.spectra.E_EDGES` (true energy).

    Unresolved CXB below ``flux_limit_cgs`` [erg s^-1 cm^-2, 0.5-2 keV] plus the Galactic foreground
    (module docstring), folded through the on-axis effective area (and, for the CXB, the Galactic
    absorption of ``spectra._RESPONSE``). Vignetting is the caller's, per photon position and energy.
    0.5-2 keV intensity at the default limit: 4.57e-12 erg s^-1 cm^-2 deg^-2 (observed).
    """
    return _sky_density(float(flux_limit_cgs)).copy()


# ========================================================================= counts and sampling


def _disk_area_deg2(fov_radius_arcmin: float) -> float:
    return float(np.pi * (fov_radius_arcmin / 60.0) ** 2)


def background_counts_per_field(
    exposure_s: float, fov_radius_arcmin: float, flux_limit_cgs: float = CXB_FLUX_LIMIT_CGS
) -> dict[str, dict[str, float]]:
    """Expected background counts over a circular field of radius ``fov_radius_arcmin`` [arcmin] in ``exposure_s`` [s].

    Returns ``{"particle": {...}, "sky": {...}, "sky_on_axis": {...}, "total": {...}}``, each with the
    counts in ``"0.5-2"`` and ``"0.2-10"`` keV (particle: measured energy; sky: true energy, vignetting
    averaged over the field; ``sky_on_axis``: without vignetting), plus ``"area_deg2"``.
    """
    area = _disk_area_deg2(fov_radius_arcmin)
    part = _particle_density() * area * exposure_s
    sky_on = _sky_density(float(flux_limit_cgs)) * area * exposure_s
    sky = sky_on * _mean_vignetting(float(fov_radius_arcmin))
    out: dict[str, dict[str, float]] = {"particle": {}, "sky": {}, "sky_on_axis": {}, "total": {}}
    for name, (e1, e2) in {"0.5-2": (0.5, 2.0), "0.2-10": (0.2, 10.0)}.items():
        w = _band_overlap(e1, e2)
        out["particle"][name] = float(np.sum(part * w))
        out["sky"][name] = float(np.sum(sky * w))
        out["sky_on_axis"][name] = float(np.sum(sky_on * w))
        out["total"][name] = out["particle"][name] + out["sky"][name]
    out["area_deg2"] = {"field": area}
    return out


def _uniform_disk(rng: np.random.Generator, n: int, radius_rad: float) -> tuple[np.ndarray, np.ndarray]:
    r = radius_rad * np.sqrt(rng.random(n))
    phi = rng.random(n) * (2.0 * np.pi)
    return r * np.cos(phi), r * np.sin(phi)


def sample_background(
    rng: np.random.Generator, exposure_s: float, fov_radius_arcmin: float, flux_limit_cgs: float = CXB_FLUX_LIMIT_CGS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw the background events of one field: ``(xi_rad, eta_rad, energy_kev, kind)``.

    Poisson numbers of particle and sky events over the disk of radius ``fov_radius_arcmin`` [arcmin] in
    ``exposure_s`` [s], positions uniform (tangent-plane offsets from the pointing [rad]); sky photons are
    drawn with the on-axis spectrum and thinned by :func:`vignetting` at their position and energy (an
    exact inhomogeneous Poisson draw). Energies per bin with :func:`.spectra.sample_energies`: measured
    energies for particle events (``kind`` 0), true photon energies for sky photons (``kind`` 1).
    """
    area = _disk_area_deg2(fov_radius_arcmin)
    radius = fov_radius_arcmin * ARCMIN_RAD
    part = _particle_density()
    sky = _sky_density(float(flux_limit_cgs))
    n_p = int(rng.poisson(part.sum() * area * exposure_s))
    n_s = int(rng.poisson(sky.sum() * area * exposure_s))
    xi_p, eta_p = _uniform_disk(rng, n_p, radius)
    e_p = sample_energies(part, n_p, rng)
    xi_s, eta_s = _uniform_disk(rng, n_s, radius)
    e_s = sample_energies(sky, n_s, rng)
    theta = np.hypot(xi_s, eta_s) / ARCMIN_RAD
    keep = rng.random(n_s) < vignetting(theta, e_s)
    xi = np.concatenate([xi_p, xi_s[keep]])
    eta = np.concatenate([eta_p, eta_s[keep]])
    energy = np.concatenate([e_p, e_s[keep]])
    kind = np.concatenate([np.zeros(n_p, np.int8), np.ones(int(keep.sum()), np.int8)])
    return xi, eta, energy, kind
