"""Unit tests of the saliency study's pieces: geometry, radial pooling, masks (eq. 14), the N_phot
proxy's analytic saliency (eq. 13) against finite differences, and summary statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from massbench.plugins.saliency.geometry import RadialBins, aperture_mask, pixel_centres, pixel_radii, scaled_radii
from massbench.plugins.saliency.masks import mask_mean, masked_values, photon_ratio, source_masks
from massbench.plugins.saliency.nphot import (
    fit_reference_slopes,
    normalisation_factor,
    nphot_log10_mass_from_x,
    nphot_saliency_from_counts,
    nphot_saliency_from_x,
)
from massbench.plugins.saliency.stats import BinnedPool, interp_profile, jsonable, log10_interval


# ---------------------------------------------------------------- geometry and radial binning
def test_pixel_grid_matches_histogram_edges():
    c = pixel_centres()
    edges = np.linspace(-2.3, 2.3, 129)
    assert c.shape == (128,)
    np.testing.assert_allclose(c, 0.5 * (edges[1:] + edges[:-1]))
    r = pixel_radii()
    half = 2.3 / 128
    # the four central pixels are the closest to the cluster centre, at sqrt(2) half a pixel
    np.testing.assert_allclose(r[63:65, 63:65], np.sqrt(2) * half)
    assert r.min() == pytest.approx(np.sqrt(2) * half)
    # a photon at (x, y) lands in histogram2d cell (i, j): the same cell carries radius sqrt(x^2 + y^2)
    x, y = 1.0, -0.5
    h, _, _ = np.histogram2d([x], [y], bins=[edges, edges])
    i, j = np.argwhere(h)[0]
    assert abs(r[i, j] - np.hypot(x, y)) < 2.3 / 64


def test_aperture_mask_is_inscribed_circle():
    m = aperture_mask()
    assert m[64, 64] and not m[0, 0] and m[64, 0] and m[0, 64]
    assert m.sum() == pytest.approx(np.pi * 64**2, rel=0.02)


def test_radial_bins_index_and_scaled_radii():
    bins = RadialBins(n_bins=100, r_max=3.0)
    np.testing.assert_allclose(bins.edges[[0, 1, -1]], [0.0, 0.03, 3.0])
    idx = bins.index(np.array([0.0, 0.029, 0.031, 2.99, 3.0, 5.0]))
    assert idx.tolist() == [0, 0, 1, 99, -1, -1]
    logb = RadialBins(n_bins=10, r_max=3.0, spacing="log", r_min=0.03)
    assert logb.index(np.array([0.01, 0.03, 2.999])).tolist() == [-1, 0, 9]
    rs = scaled_radii(np.array([1.0, 2.0]))
    np.testing.assert_allclose(rs[1], rs[0] / 2, rtol=1e-6)


def test_binned_pool_matches_direct_percentiles_on_hand_made_image():
    # saliency equal to r / R500c itself: the pooled median of each bin lies inside that bin
    r500 = np.array([0.5, 1.0, 1.5])
    rs = scaled_radii(r500)
    bins = RadialBins(n_bins=20, r_max=3.0)
    idx = bins.index(rs)
    pool = BinnedPool(bins.n_bins, n_series=2)
    pool.add(idx[:2], rs[:2], 2 * rs[:2])  # two chunks, as the explainer feeds it
    pool.add(idx[2:], rs[2:], 2 * rs[2:])
    q = pool.quantiles(0)
    e = bins.edges
    ok = np.isfinite(q[:, 1])
    assert ok.all()
    assert np.all(q[:, 1] >= e[:-1]) and np.all(q[:, 1] < e[1:])
    for b in (0, 7, 19):
        vals = rs[idx == b]
        np.testing.assert_allclose(q[b], np.percentile(vals, [16, 50, 84]))
    np.testing.assert_allclose(pool.quantiles(1), 2 * q)
    assert pool.counts().sum() == (idx >= 0).sum()


def test_interp_profile():
    edges = np.linspace(0, 3, 4)
    centres = 0.5 * (edges[1:] + edges[:-1])
    prof = np.array([np.nan, 2.0, 4.0])
    assert interp_profile(edges, centres, prof, 2.0) == pytest.approx(3.0)
    assert interp_profile(edges, centres, prof, 1.2) == pytest.approx(2.0)  # inside the first filled bin
    assert interp_profile(edges, centres, prof, 0.5) is None  # only an empty bin there
    assert interp_profile(edges, centres, np.full(3, np.nan), 1.0) is None


# ---------------------------------------------------------------- source masks (eq. 14)
def _hand_made_components():
    icm = np.zeros((2, 128, 128), np.float32)
    agn = np.zeros((2, 128, 128), np.float32)
    icm[0, 54:74, 54:74] = 5.0  # extended ICM at the centre
    agn[0, 100:103, 20:23] = 50.0  # an AGN off-centre, not symmetric under rotation or transpose
    icm[0, 100:103, 20:23] = 1.0
    agn[0, 60, 60] = 7.0  # an AGN pixel inside the ICM region
    icm[1, 10:20, 10:20] = 2.0  # cluster 1 has no AGN at all
    return icm, agn


def test_source_masks_and_mask_means_on_the_same_grid():
    icm, agn = _hand_made_components()
    m_icm, m_agn = source_masks(icm, agn)
    assert m_agn[0].sum() == 9 + 1 and m_icm[0].sum() == 400 - 1
    assert not (m_icm & m_agn).any()
    assert not m_icm[0, 0, 0] and not m_agn[0, 0, 0]  # both zero: in neither mask
    sal = np.full((2, 128, 128), 1e-4, np.float32)
    sal[0, 100:103, 20:23] = 3e-3
    sal[0, 60, 60] = 3e-3
    means_agn = mask_mean(sal, m_agn)
    means_icm = mask_mean(sal, m_icm)
    assert means_agn[0] == pytest.approx(3e-3)
    assert means_icm[0] == pytest.approx(1e-4)
    assert np.isnan(means_agn[1])  # empty AGN mask
    # the notebook rotated the maps by 90 degrees against the masks: that would miss the AGN pixels
    rotated = np.rot90(sal, k=-1, axes=(1, 2))
    assert mask_mean(rotated, m_agn)[0] < 1e-3
    assert masked_values(sal, m_agn).shape == (10,)


def test_mask_mean_with_channels_and_photon_ratio():
    icm, agn = _hand_made_components()
    m_icm, m_agn = source_masks(icm, agn)
    sal = np.zeros((2, 128, 128, 3))
    sal[..., 0] = 1.0
    sal[..., 2] = 4.0
    # a 2D mask applies to every channel: the mean runs over (pixel, channel) elements
    np.testing.assert_allclose(mask_mean(sal, m_icm), [5.0 / 3, 5.0 / 3])
    pr = photon_ratio(icm, agn)
    # cluster 0: AGN pixels hold (9 * 51 + 12) / 10 photons, ICM pixels 5 on average
    assert pr["n_clusters"] == 1
    assert pr["ratio_of_means"] == pytest.approx(((9 * 51 + 12) / 10) / 5.0)


# ---------------------------------------------------------------- N_phot analytic saliency (eqs. 11-13)
def _finite_difference(x, alpha, pi, pivot, aperture=None, h=1e-5, picks=None):
    base = nphot_log10_mass_from_x(x, alpha, pi, pivot, aperture)
    out = []
    for p in picks:
        xp, xm = x.copy(), x.copy()
        xp[p] += h
        xm[p] -= h
        gp = nphot_log10_mass_from_x(xp, alpha, pi, pivot, aperture)
        gm = nphot_log10_mass_from_x(xm, alpha, pi, pivot, aperture)
        out.append((gp - gm)[p[0]] / (2 * h))
    return base, np.array(out)


@pytest.mark.parametrize("shape", [(3, 128, 128), (2, 128, 128, 3)])
def test_nphot_saliency_matches_finite_differences(shape):
    rng = np.random.default_rng(1)
    counts = rng.poisson(rng.gamma(0.3, 3.0, shape)).astype(np.float64)
    x = np.log10(counts * 1.7 + 1.0)
    alpha = rng.uniform(0.8, 1.6, shape[0])
    analytic = nphot_saliency_from_x(x, alpha)
    picks = [tuple(int(rng.integers(0, s)) for s in shape) for _ in range(12)]
    picks.append((0, 64, 64) + ((1,) if len(shape) == 4 else ()))
    _, fd = _finite_difference(x, alpha, 2.0, 14.0, picks=picks)
    np.testing.assert_allclose(fd, [analytic[p] for p in picks], rtol=1e-4)
    # eq. 13: S = (n + 1) / (alpha N), N summed in the normalised units of x
    n = 10**x - 1
    p = picks[0]
    assert analytic[p] == pytest.approx((n[p] + 1) / (alpha[p[0]] * n[p[0]].sum()), rel=1e-5)


def test_nphot_saliency_with_aperture_matches_finite_differences():
    rng = np.random.default_rng(2)
    counts = rng.poisson(2.0, (2, 128, 128)).astype(np.float64)
    x = np.log10(counts + 1.0)
    alpha = np.array([1.1, 1.3])
    ap = aperture_mask()
    analytic = nphot_saliency_from_x(x, alpha, ap)
    picks = [(0, 64, 64), (1, 3, 3), (0, 10, 64), (1, 0, 127)]
    _, fd = _finite_difference(x, alpha, 0.0, 14.0, aperture=ap, picks=picks)
    np.testing.assert_allclose(fd, [analytic[p] for p in picks], rtol=1e-4, atol=1e-12)
    assert analytic[1, 3, 3] == 0.0  # corner pixel outside the 2.3 h^-1 Mpc circle


def test_nphot_saliency_from_counts_and_factor_recovery():
    rng = np.random.default_rng(3)
    counts = rng.poisson(1.5, (4, 128, 128, 3)).astype(np.float32)
    f = rng.uniform(0.5, 3.0, (4, 3))
    x = np.log10(counts * f[:, None, None, :] + 1.0)
    f_hat, resid = normalisation_factor(x, counts)
    np.testing.assert_allclose(f_hat, f, rtol=1e-6)
    assert resid.max() < 1e-6
    alpha = np.full(4, 1.2)
    np.testing.assert_allclose(
        nphot_saliency_from_counts(counts, f_hat, alpha), nphot_saliency_from_x(x, alpha), rtol=1e-5
    )
    # a standardised input is not eq. 2 of eq. 1: the residual says so
    _, bad = normalisation_factor((x - x.mean()) / x.std(), counts)
    assert bad.min() > 0.05


def test_reference_slopes_come_from_the_proxy_model_per_redshift_bin():
    from massbench.plugins.saliency.synthetic import synthetic_catalogue

    rng = np.random.default_rng(4)
    cat = synthetic_catalogue(n=90, seed=5)
    z = cat.redshift
    alpha_true = {0.1: 1.0, 0.2: 1.3, 0.3: 1.6}
    lnn = np.array([alpha_true[zz] for zz in z]) * (cat.log10_m500c - 14) * np.log(10) + 7 + rng.normal(0, 0.05, 90)
    cat.inputs["n_phot"] = type(cat.inputs["n_phot"])(np.exp(lnn), "count")
    view = cat.view(np.arange(90), None, "train", allow_truth=True)
    s = fit_reference_slopes(view)
    np.testing.assert_allclose(s.redshift_bins, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(s.alpha_bins, [1.0, 1.3, 1.6], atol=0.03)
    np.testing.assert_allclose(s.alpha_for(np.array([0.3, 0.1])), s.alpha_bins[[2, 0]])
    # too few clusters per snapshot bin: one bin over all redshifts
    small = cat.view(np.arange(20), None, "train", allow_truth=True)
    one = fit_reference_slopes(small)
    assert len(one.alpha_bins) == 1 and "one redshift bin" in one.source


# ---------------------------------------------------------------- statistics
def test_log10_interval_counts_exclusions():
    v = np.array([1e-4, 1e-3, 1e-2, np.nan, 0.0])
    out = log10_interval(v)
    assert out["median_log10"] == pytest.approx(-3.0)
    assert out["n"] == 3 and out["n_excluded"] == 1 and out["n_zero"] == 1
    assert out["plus"] == pytest.approx(out["p84_log10"] + 3.0)
    empty = log10_interval(np.array([np.nan]))
    assert empty["median_log10"] is None and empty["n_excluded"] == 1


def test_jsonable_is_strict_json():
    obj = {"a": np.float32(1.5), "b": np.array([1.0, np.nan]), "c": (np.int64(3), np.inf), "d": np.bool_(True)}
    text = json.dumps(jsonable(obj), allow_nan=False)
    assert json.loads(text) == {"a": 1.5, "b": [1.0, None], "c": [3, None], "d": True}
