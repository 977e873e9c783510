"""The mock eROSITA observation: exposure, field, pixels, effective area, PSF, energy response.

Paper section 2.1: about 1 degree field, 9.6 arcsec pixels, 2 ks exposure, cluster at the
pointing centre. The on-axis effective area of the seven telescopes together is interpolated
(log-log) from the values collected in shared/notes/mock-physics.md (Merloni et al. 2012 / Predehl
et al. 2021 curves: 0.5-7 keV); the 0.3 and 10 keV anchors are rough extrapolations (flagged).
The PSF is a King profile with core radius 7.5 arcsec and index 1.5, whose half-energy width is
26 arcsec, the survey-averaged value. Energies are smeared with a Gaussian of FWHM
138 eV (E / 6 keV)^0.5 (the CCD resolution scaled as sqrt(E)). Photoelectric absorption by the
Galaxy uses N_H = 3e20 cm^-2 and the Morrison & McCammon (1983) cross-section approximated as
sigma(E) = 2.4e-22 (E / keV)^(-8/3) cm^2. The PSF, the CCD resolution and the sky pixels apply only in
the ``events`` observation mode, together with vignetting and background (:mod:`.background`); the
default ``photon-list`` mode keeps photons at their sky positions and true energies (:mod:`.xray`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEV_ERG = 1.602176634e-9

#: (energy [keV], effective area [cm^2]); 0.3 and 10 keV are extrapolated anchors.
_AEFF_TABLE = np.array(
    [
        (0.3, 700.0),
        (0.5, 1082.0),
        (1.0, 2189.0),
        (1.5, 2504.0),
        (2.0, 1982.0),
        (3.0, 683.0),
        (5.0, 432.0),
        (7.0, 203.0),
        (10.0, 40.0),
    ]
)


@dataclass(frozen=True)
class ErositaSetup:
    """Observation parameters written into every event-file header."""

    exposure_s: float = 2000.0
    pixel_arcsec: float = 9.6
    fov_radius_arcmin: float = 31.0
    psf_core_arcsec: float = 7.5
    psf_index: float = 1.5
    psf_max_arcmin: float = 5.0
    galactic_nh_cm2: float = 3e20
    ra_pointing_deg: float = 10.0
    dec_pointing_deg: float = 10.0
    e_min_kev: float = 0.2
    e_max_kev: float = 12.0


EROSITA = ErositaSetup()


def effective_area(e_kev: np.ndarray) -> np.ndarray:
    """On-axis effective area [cm^2] of the seven eROSITA telescopes at energy ``e_kev`` [keV]."""
    e = np.clip(np.asarray(e_kev, dtype=float), _AEFF_TABLE[0, 0], _AEFF_TABLE[-1, 0])
    return np.exp(np.interp(np.log(e), np.log(_AEFF_TABLE[:, 0]), np.log(_AEFF_TABLE[:, 1])))


def absorption_cross_section(e_kev: np.ndarray) -> np.ndarray:
    """Photoelectric cross-section per H atom [cm^2]: 2.4e-22 (E / keV)^(-8/3) (Morrison & McCammon 1983, approx.)."""
    return 2.4e-22 * np.asarray(e_kev, dtype=float) ** (-8.0 / 3.0)


def photoabsorption(e_kev: np.ndarray, nh_cm2: float | np.ndarray) -> np.ndarray:
    """Transmission exp(-N_H sigma(E)) (broadcasts ``nh_cm2`` [cm^-2] against ``e_kev`` [keV])."""
    return np.exp(-np.asarray(nh_cm2, dtype=float) * absorption_cross_section(e_kev))


def psf_offsets_arcsec(
    n: int, rng: np.random.Generator, setup: ErositaSetup = EROSITA
) -> tuple[np.ndarray, np.ndarray]:
    """Random PSF displacements [arcsec] from the King profile (1 + (r/r_c)^2)^-index, truncated.

    The encircled fraction is F(<r) = 1 - (1 + (r/r_c)^2)^(1 - index); inverse-CDF sampling.
    """
    rc, b = setup.psf_core_arcsec, setup.psf_index
    rmax = setup.psf_max_arcmin * 60.0
    fmax = 1.0 - (1.0 + (rmax / rc) ** 2) ** (1.0 - b)
    u = rng.random(n) * fmax
    r = rc * np.sqrt((1.0 - u) ** (1.0 / (1.0 - b)) - 1.0)
    phi = rng.random(n) * 2 * np.pi
    return r * np.cos(phi), r * np.sin(phi)


def energy_resolution_sigma(e_kev: np.ndarray) -> np.ndarray:
    """Gaussian sigma [keV] of the CCD energy response: FWHM = 0.138 keV sqrt(E / 6 keV)."""
    return 0.138 * np.sqrt(np.asarray(e_kev) / 6.0) / 2.3548


def observed_signal(e_kev: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Measured energies (the event list's SIGNAL [keV]) of photons of true energy ``e_kev``."""
    e = np.asarray(e_kev, dtype=float)
    s = e + rng.normal(size=e.shape) * energy_resolution_sigma(e)
    return np.clip(s, 0.05, None)
