"""Thermal (ICM) spectra of the mock: continuum, emission lines, cooling function, count rates."""

from __future__ import annotations

import time

import numpy as np
import pytest

from massbench.plugins.mock.instrument import EROSITA, KEV_ERG, effective_area, photoabsorption
from massbench.plugins.mock.spectra import (
    E_EDGES,
    E_MID,
    HE_TO_H,
    band_cooling_function,
    bremsstrahlung_shape,
    cooling_function,
    thermal_band_fraction,
    thermal_count_rates,
    thermal_emissivity,
)

K_B_KEV = 8.617333262e-8
D_L = 1e27  # cm
RESPONSE = effective_area(E_MID) * photoabsorption(E_MID, EROSITA.galactic_nh_cm2)

# Sutherland & Dopita (1993) CIE cooling, [Fe/H] = -0.5 table (m-05.cie): log T [K], log Lambda_net
# [erg cm^3 s^-1], normalised to n_H^2 with n_e / n_H = 1.165 (so per n_e n_H: Lambda_net / 1.165).
SD93_M05 = np.array(
    [
        (6.5, -22.64),
        (6.6, -22.69),
        (6.7, -22.73),
        (6.8, -22.76),
        (6.9, -22.74),
        (7.0, -22.73),
        (7.1, -22.75),
        (7.2, -22.77),
        (7.3, -22.77),
        (7.4, -22.75),
        (7.5, -22.73),
        (7.6, -22.70),
        (7.7, -22.66),
        (7.8, -22.63),
        (7.9, -22.59),
        (8.0, -22.55),
        (8.1, -22.50),
        (8.2, -22.46),
    ]
)


def sd93_per_ne_nh(kt_kev: float) -> float:
    log_t = np.log10(kt_kev / K_B_KEV)
    return float(10 ** np.interp(log_t, SD93_M05[:, 0], SD93_M05[:, 1]) / 1.165)


def soft_counts(kt: float, metallicity: float, z: float = 0.05) -> float:
    """0.5-2 keV (observed) count rate of a source of fixed emission measure 1e66 cm^-3."""
    l_bol = float(cooling_function(kt, metallicity)) * 1e66
    rates = thermal_count_rates(kt, l_bol, z, D_L, metallicity)
    return float(rates[(E_MID > 0.5) & (E_MID < 2.0)].sum())


def test_lines_boost_the_soft_band_of_groups_not_of_hot_clusters() -> None:
    # at a fixed emission measure, lines (mostly Fe-L, O, Ne, Mg) more than double the 0.5-2 keV
    # counts of a 1 keV plasma (measured 2.7x; 4.8x at 0.5 keV) and change an 8 keV plasma's by a few
    # per cent (measured 1.045, metal continuum included)
    assert soft_counts(1.0, 0.3) / soft_counts(1.0, 0.0) > 2.0
    assert soft_counts(0.5, 0.3) / soft_counts(0.5, 0.0) > 3.0
    assert 1.0 < soft_counts(8.0, 0.3) / soft_counts(8.0, 0.0) < 1.06
    # the same ordering at a fixed bolometric luminosity: the soft-band share grows below ~2 keV only
    assert thermal_band_fraction(1.0, 0.5, 2.0) > 1.2 * thermal_band_fraction(1.0, 0.5, 2.0, metallicity=0.0)
    assert thermal_band_fraction(8.0, 0.5, 2.0) == pytest.approx(
        thermal_band_fraction(8.0, 0.5, 2.0, metallicity=0.0), rel=0.05
    )


def test_fe_k_line_sits_at_its_redshifted_energy() -> None:
    z = 0.2
    lum = 1e44
    with_lines = thermal_count_rates(5.0, lum, z, D_L, 0.3)
    continuum = thermal_count_rates(5.0, lum, z, D_L, 0.0)
    window = (E_MID > 4.5) & (E_MID < 7.5)
    ratio = with_lines[window] / continuum[window]
    peak = E_MID[window][np.argmax(ratio)]
    # Fe XXV 6.70 keV -> 5.583 keV observed; bins are ~0.8 % wide
    assert peak == pytest.approx(6.70 / (1 + z), rel=0.01)
    assert ratio.max() > 3.0 * np.median(ratio)


def test_fe_k_equivalent_width_is_a_few_hundred_ev_and_scales_with_metallicity() -> None:
    def ew(kt: float, metallicity: float) -> float:
        """EW [keV] of Fe XXV + XXVI K-alpha (6.4-7.2 keV) over the continuum interpolated from 6.1 and 7.5 keV."""
        side = thermal_emissivity(np.array([6.1, 7.5]), kt, metallicity)
        e = np.linspace(6.4, 7.2, 801)
        cont = side[0] * (side[1] / side[0]) ** ((e - 6.1) / 1.4)
        line = band_cooling_function(kt, 6.4, 7.2, metallicity) - np.trapezoid(cont, e)
        return float(line / np.interp(6.7, e, cont))

    for kt in (3.0, 5.0, 8.0):
        assert 0.2 < ew(kt, 0.3) < 0.5  # measured 0.34, 0.36, 0.29 keV
    assert ew(5.0, 0.6) == pytest.approx(2.0 * ew(5.0, 0.3), rel=0.1)
    assert abs(ew(0.7, 0.3)) < 0.01


@pytest.mark.parametrize("kt", [0.7, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 13.0])
def test_cooling_function_matches_sutherland_dopita(kt: float) -> None:
    # Z = 0.3 (Anders & Grevesse) against SD93 [Fe/H] = -0.5: measured ratios 0.96 (0.7 keV), 1.01 (1),
    # 0.91 (2), 0.91 (3), 0.94 (5), 0.97 (8), 0.96 (10), 0.99 (13 keV)
    assert float(cooling_function(kt)) == pytest.approx(sd93_per_ne_nh(kt), rel=0.12)


def test_cooling_function_shape() -> None:
    # near 1e8 K the emission is free-free dominated, 2-3e-23 erg cm^3 / s (SD93 Lambda_N 2.2e-23)
    assert 2e-23 < float(cooling_function(1e8 * K_B_KEV)) < 3e-23
    # free-free: 1.42e-27 T^1/2 g (1 + 4 n_He/n_H) per n_e n_H with the frequency-averaged Gaunt factor 1.1-1.35
    for kt in (2.0, 10.0):
        g = float(cooling_function(kt, 0.0)) / (1.42e-27 * np.sqrt(kt / K_B_KEV) * (1 + 4 * HE_TO_H))
        assert 1.1 < g < 1.35
    # line-dominated rise below ~2 keV, a minimum near 1.5-2 keV
    kts = np.array([0.3, 0.5, 1.0, 2.0, 5.0])
    lam = cooling_function(kts)
    assert np.all(lam[:3] > 1.8 * cooling_function(kts[:3], 0.0))
    assert lam[3] < lam[2] and lam[3] < lam[4]
    # vectorised over temperature
    assert cooling_function(np.full((2, 3), 2.0)).shape == (2, 3)


def test_metallicity_zero_gives_back_the_continuum() -> None:
    e = np.logspace(np.log10(0.3), 1, 200)
    for kt in (0.5, 2.0, 9.0):
        expected = 6.8e-38 * (kt / K_B_KEV) ** -0.5 * (1 + 4 * HE_TO_H) / 4.135667696e-18 * bremsstrahlung_shape(e, kt)
        np.testing.assert_allclose(thermal_emissivity(e, kt, 0.0), expected, rtol=0.01)
    # no line bump at Fe XXV without metals, a strong one with
    around = thermal_emissivity(np.array([6.3, 6.7, 7.2]), 5.0, 0.0)
    assert around[1] == pytest.approx(np.sqrt(around[0] * around[2]), rel=0.01)
    assert thermal_emissivity(6.7, 5.0, 0.3) > 2.0 * thermal_emissivity(6.7, 5.0, 0.0)
    assert band_cooling_function(1.0, 0.5, 2.0, 0.0) == pytest.approx(
        np.trapezoid(thermal_emissivity(np.linspace(0.5, 2.0, 3001), 1.0, 0.0), np.linspace(0.5, 2.0, 3001)), rel=0.002
    )


@pytest.mark.parametrize("kt, z", [(0.5, 0.05), (1.0, 0.1), (5.0, 0.3), (10.0, 1.0)])
def test_energy_is_conserved_through_the_response(kt: float, z: float) -> None:
    # photons x observed energy / response, summed over the grid, give the rest-frame luminosity in
    # the band [0.2, 12] (1 + z) keV (measured to 1e-4)
    rates = thermal_count_rates(kt, 1e44, z, D_L)
    lum = 4 * np.pi * D_L**2 * np.sum(rates / RESPONSE * E_MID * KEV_ERG)
    expected = 1e44 * thermal_band_fraction(kt, E_EDGES[0] * (1 + z), E_EDGES[-1] * (1 + z))
    assert lum == pytest.approx(expected, rel=0.005)


def test_narrow_lines_are_integrated_over_the_bins() -> None:
    # Fe XXV at a bin centre or at a bin edge: the counts around it are the same (not sampled at centres)
    i = np.searchsorted(E_MID, 5.6)
    z_centre = 6.70 / E_MID[i] - 1
    z_edge = 6.70 / E_EDGES[i] - 1
    window = (E_MID > 5.0) & (E_MID < 6.4)
    at_centre = thermal_count_rates(5.0, 1e44, z_centre, D_L)[window].sum()
    at_edge = thermal_count_rates(5.0, 1e44, z_edge, D_L)[window].sum()
    assert at_edge == pytest.approx(at_centre, rel=0.01)


def test_band_fractions_are_consistent_and_monotonic() -> None:
    kts = np.logspace(np.log10(0.3), np.log10(15.0), 40)
    full = thermal_band_fraction(kts, 0.01, 100.0)
    np.testing.assert_allclose(full, 1.0, rtol=1e-6)
    parts = sum(thermal_band_fraction(kts, e1, e2) for e1, e2 in ((0.01, 0.5), (0.5, 2.0), (2.0, 100.0)))
    np.testing.assert_allclose(parts, 1.0, rtol=1e-3)  # bands are interpolated in kT separately
    hard = thermal_band_fraction(kts, 2.0, 100.0)
    assert np.all((hard > 0) & (hard < 1)) and np.all(np.diff(hard) > 0)
    soft = thermal_band_fraction(kts[kts > 2.0], 0.5, 2.0)
    assert np.all(np.diff(soft) < 0)


def test_count_rates_are_fast() -> None:
    thermal_count_rates(3.0, 1e44, 0.1, D_L)  # builds the tables
    n = 200
    t0 = time.perf_counter()
    for kt in np.linspace(1.0, 10.0, n):
        thermal_count_rates(kt, 1e44, 0.1, D_L)
    assert (time.perf_counter() - t0) / n < 5e-3  # measured ~0.3 ms
