"""Population weighting (massbench.population): power law to power law against the analytic answers."""

import math

import numpy as np
import pytest

from massbench.population import (
    MassFunction,
    PopulationScores,
    PopulationWeights,
    PowerLaw,
    effective_size,
    population_scores,
    prior_corrected_bias,
    prior_corrected_log10_mass,
    weighted_mean_std,
    weighted_quantile,
)

LO, HI = 13.5, 15.0


def draw(rng, slope, n):
    """log10 M from dN/dlog10M ~ M^slope on [LO, HI] (inverse transform)."""
    if slope == 0:
        return rng.uniform(LO, HI, n)
    c = slope * math.log(10)
    u = rng.random(n)
    return np.log(np.exp(c * LO) + u * (np.exp(c * HI) - np.exp(c * LO))) / c


def moments(slope, lo, hi):
    """Mean and variance of log10 M under dN/dlog10M ~ M^slope truncated to [lo, hi] (analytic)."""
    if slope == 0:
        return (lo + hi) / 2, (hi - lo) ** 2 / 12
    c = slope * math.log(10)
    e = lambda x: math.exp(c * x)  # noqa: E731
    mean = (hi * e(hi) - lo * e(lo)) / (e(hi) - e(lo)) - 1 / c
    m2 = ((hi**2 - 2 * hi / c + 2 / c**2) * e(hi) - (lo**2 - 2 * lo / c + 2 / c**2) * e(lo)) / (e(hi) - e(lo))
    return mean, m2 - mean**2


@pytest.mark.parametrize("sample_slope,target_slope", [(0.0, -1.7), (-0.5, -2.5)])
def test_power_law_reweighted_to_another_power_law(sample_slope, target_slope):
    rng = np.random.default_rng(3)
    n = 4000
    m = draw(rng, sample_slope, n)
    z = rng.choice([0.07, 0.21, 0.47], n)  # three "snapshots"
    w = PopulationWeights.compute(m, z, PowerLaw(target_slope))
    assert w.weights.mean() == pytest.approx(1.0) and w.n_clipped == 0
    mean, var = moments(target_slope, m.min(), m.max())
    got_mean, got_sd = weighted_mean_std(m, w.weights)
    assert got_mean == pytest.approx(mean, abs=0.01)  # dex
    assert got_sd == pytest.approx(math.sqrt(var), rel=0.03)
    # an estimator with a mass-dependent bias r = k (log10 M - 14) + noise: the weighted bias and
    # scatter are the analytic ones of the target population, the flat ones those of the sample
    k, sigma = -0.3, 0.05
    true = m
    pred = true + k * (true - 14.0) + rng.normal(0, sigma, n)
    s = population_scores(pred, true, w, groups=None, seed=0, n_boot=200)
    assert s.bias_dex == pytest.approx(k * (mean - 14.0), abs=0.004)
    assert s.scatter_dex == pytest.approx(math.sqrt(k**2 * var + sigma**2), rel=0.03)
    flat_mean, _ = moments(sample_slope, m.min(), m.max())
    assert np.mean(pred - true) == pytest.approx(k * (flat_mean - 14.0), abs=0.004)
    assert s.scatter_ci95[0] < s.scatter_dex < s.scatter_ci95[1]
    assert s.bias_ci95[0] < s.bias_dex < s.bias_ci95[1]
    # the natural population's mass bins: shares follow the target power law
    shares = np.array([b.share for b in s.mass_bins])
    edges = [(b.log10_m_lo, b.log10_m_hi) for b in s.mass_bins]
    c = target_slope * math.log(10)
    exact = np.array([math.exp(c * max(a, m.min())) - math.exp(c * min(b, m.max())) for a, b in edges])
    np.testing.assert_allclose(shares, exact / exact.sum(), atol=0.03)
    assert effective_size(w.weights) == pytest.approx(w.n_eff) and w.n_eff < n


def test_same_population_gives_unit_weights():
    rng = np.random.default_rng(5)
    m = draw(rng, -1.0, 3000)
    w = PopulationWeights.compute(m, np.full(3000, 0.2), PowerLaw(-1.0))
    assert np.percentile(w.weights, [5, 95]) == pytest.approx([1.0, 1.0], abs=0.15)


def test_weighted_helpers():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert weighted_mean_std(x, np.ones(4)) == pytest.approx((2.5, np.std(x)))
    assert weighted_mean_std(x, np.array([0, 0, 1.0, 1.0]))[0] == pytest.approx(3.5)
    assert weighted_quantile(x, np.ones(4), [0.5])[0] == pytest.approx(2.5)
    # integer weights act like repeated values
    rep = np.repeat(x, [1, 2, 3, 4])
    assert weighted_mean_std(x, np.array([1, 2, 3, 4.0])) == pytest.approx((rep.mean(), rep.std()))


def test_weighted_bootstrap_equals_flat_one_with_unit_weights():
    from massbench.metrics import LineageResampler

    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.1, (2, 50))
    res = LineageResampler(np.repeat(np.arange(10), 5), 50, n_boot=50, seed=1)
    sd, mean = res.std_mean(r)
    wsd, wmean = res.weighted_std_mean(r, np.ones(50))
    np.testing.assert_allclose(wsd, sd, rtol=1e-9)
    np.testing.assert_allclose(wmean, mean, atol=1e-12)


def test_scores_round_trip_through_json():
    rng = np.random.default_rng(1)
    m = rng.uniform(13.5, 15, 300)
    r = rng.normal(0, 0.1, 300)
    s = population_scores(m + r, m, np.ones(300), n_boot=100)
    back = PopulationScores.from_dict(s.as_dict())
    assert back == s
    # unit weights: the flat metrics
    assert s.scatter_dex == pytest.approx(np.std(r)) and s.bias_dex == pytest.approx(np.mean(r))
    assert s.robust_scatter_dex == pytest.approx((np.percentile(r, 84) - np.percentile(r, 16)) / 2, rel=0.02)


def test_mass_function_is_the_mock_s_cosmology_and_model():
    """colossus's Tinker et al. (2008) M500c in WMAP7 matches the mock's own implementation to a few per cent."""
    from massbench.plugins.mock import cosmology as mock
    from massbench.plugins.mock.halo_model import mass_function_500c
    from massbench.population import WMAP7

    assert (WMAP7.h, WMAP7.omega_m, WMAP7.omega_b, WMAP7.sigma_8, WMAP7.n_s) == (
        mock.H,
        mock.OMEGA_M,
        mock.OMEGA_B,
        mock.SIGMA_8,
        mock.N_S,
    )
    lm = np.array([13.5, 14.0, 14.5, 15.0])
    for z in (0.07, 0.3):
        np.testing.assert_allclose(MassFunction().dn_dlnm(lm, z), mass_function_500c(10**lm, z), rtol=0.05)
    beta = MassFunction().slope(np.array([14.0]), 0.2)[0]
    assert 1.5 < beta < 4  # a cluster-scale mass function is steep


def test_prior_correction_removes_the_eddington_bias():
    """Eq. 6: true ln M from n(mu) ~ exp(-beta mu), a flat-prior Gaussian estimate; the corrected mean is unbiased."""
    rng = np.random.default_rng(2)
    beta, sigma = 2.0, 0.1  # sigma in dex
    c = -beta * math.log(10)  # density of log10 M ~ 10^(-beta log10 M)
    u = rng.random(400_000)
    lo, hi = 13.0, 16.0
    true = np.log(np.exp(c * lo) + u * (np.exp(c * hi) - np.exp(c * lo))) / c
    mean = true + rng.normal(0, sigma, len(true))
    inner = (mean > 13.5) & (mean < 14.5)  # far from the truncation
    raw = float(np.mean(mean[inner] - true[inner]))
    assert raw == pytest.approx(beta * math.log(10) * sigma**2, rel=0.05)  # the Eddington bias
    corrected = prior_corrected_log10_mass(mean[inner], np.full(inner.sum(), sigma), beta)
    assert float(np.mean(corrected - true[inner])) == pytest.approx(0.0, abs=0.002)
    # with the mass function's own slope: the bias shrinks by the same amount
    z = np.full(200, 0.2)
    m = np.linspace(13.6, 14.4, 200)
    b0 = prior_corrected_bias(m, np.zeros(200), m, z)
    b1 = prior_corrected_bias(m, np.full(200, 0.1), m, z)
    assert b0 == pytest.approx(0.0) and b1 < -0.03


def test_degenerate_samples_get_unit_weights():
    w = PopulationWeights.compute(np.full(5, 14.0), np.full(5, 0.2))
    assert w.weights.tolist() == [1.0] * 5 and w.n_eff == pytest.approx(5)
    # masses far beyond the mass function's reach: finite weights, no NaN
    far = PopulationWeights.compute(np.array([16.0, 16.5, 16.9]), np.full(3, 0.1))
    assert np.isfinite(far.weights).all()
