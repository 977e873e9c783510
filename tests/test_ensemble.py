"""massbench.ensemble: deep-ensemble seeds and the Gaussian mixture combination (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest

from massbench.ensemble import check_ensemble_size, combine, ensemble_prediction, member_seeds
from massbench.errors import ConfigError
from massbench.prediction import check_prediction


def test_member_seeds_keep_the_unit_seed_first_and_are_stable():
    seeds = member_seeds(1234, 5)
    assert seeds[0] == 1234 and len(set(seeds)) == 5
    assert member_seeds(1234, 3) == seeds[:3]  # member i does not depend on the ensemble size
    assert member_seeds(1235, 5)[1:] != seeds[1:]
    assert all(0 <= s < 2**31 for s in seeds[1:])
    assert member_seeds(7, 1) == [7]


def test_combine_gaussian_members_is_the_mixture_moments():
    rng = np.random.default_rng(0)
    means = rng.normal(14.0, 0.1, size=(4, 50))
    sigmas = rng.uniform(0.05, 0.2, size=(4, 50))
    mean, sigma = combine(means, sigmas)
    assert np.allclose(mean, means.mean(axis=0))
    # the variance of the equal-weight mixture: E[sigma^2 + mu^2] - mean^2
    want = np.mean(sigmas**2 + means**2, axis=0) - mean**2
    assert np.allclose(sigma**2, want)
    # and by sampling the mixture for one cluster
    k = rng.integers(0, 4, size=200_000)
    draws = rng.normal(means[k, 0], sigmas[k, 0])
    assert draws.std() == pytest.approx(sigma[0], rel=0.01)


def test_combine_point_members_uses_the_spread_only():
    means = np.array([[14.0, 13.0], [14.2, 13.0], [14.1, 13.3]])
    mean, sigma = combine(means)
    assert np.allclose(mean, [14.1, 13.1])
    assert np.allclose(sigma, means.std(axis=0))  # ddof 0
    with pytest.raises(ValueError, match="at least 2 members"):
        combine(means[:1])
    with pytest.raises(ValueError, match="must match"):
        combine(means, np.ones((2, 2)))
    with pytest.raises(ValueError, match="shape"):
        combine(np.ones(3))


def test_single_gaussian_member_is_unchanged_and_prediction_checks():
    means = np.array([[14.0, 13.5]])
    sigmas = np.array([[0.1, 0.2]])
    pred = check_prediction(ensemble_prediction(means, sigmas), 2)
    assert np.array_equal(pred.mean, means[0]) and np.allclose(pred.sigma, sigmas[0])


@pytest.mark.parametrize("bad", [0, 21, -1, 2.5, True, "3"])
def test_ensemble_size_validation_names_the_range(bad):
    with pytest.raises(ConfigError, match=r"cnn-single-band: ensemble must be an integer from 1 to 20"):
        check_ensemble_size(bad, "cnn-single-band")
    assert check_ensemble_size(20, "x") == 20 and check_ensemble_size(1, "x") == 1
