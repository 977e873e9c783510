import math

import numpy as np

from massbench.metrics import bootstrap_ci, dex_to_percent, mass_bin_edges, robust_scatter, score


def test_percent_convention_matches_paper():
    assert round(dex_to_percent(0.0773), 2) == 17.80
    assert round(dex_to_percent(0.1479), 2) == 34.06 or round(dex_to_percent(0.1479), 1) == 34.1


def test_score_against_hand_computation():
    true = np.array([14.0, 14.1, 14.2, 14.3, 14.9])
    pred = np.array([14.1, 14.0, 14.2, 14.5, 14.9])
    r = pred - true  # 0.1, -0.1, 0, 0.2, 0
    s = score(pred, true, fold=np.array([0, 0, 1, 1, 1]), seed=0, n_boot=500)
    mean = 0.2 / 5
    std = math.sqrt(sum((x - mean) ** 2 for x in [0.1, -0.1, 0, 0.2, 0]) / 5)
    assert math.isclose(s.bias_dex, mean, abs_tol=1e-12)
    assert math.isclose(s.scatter_dex, std, rel_tol=1e-12)
    assert math.isclose(s.scatter_percent, 100 * math.log(10) * std)
    p16, p84 = np.percentile(r, [16, 84])
    assert math.isclose(s.robust_scatter_dex, (p84 - p16) / 2)
    assert s.n_test == 5
    f0, f1 = s.per_fold
    assert math.isclose(f0["scatter_dex"], np.std([0.1, -0.1])) and math.isclose(f1["bias_dex"], 0.2 / 3)
    assert sum(b["n"] for b in s.mass_bins) == 5
    assert s.scatter_ci95[0] <= s.scatter_dex <= s.scatter_ci95[1]


def test_bootstrap_is_seeded_and_covers_truth():
    r = np.random.default_rng(0).normal(0.0, 0.1, 2000)
    a = bootstrap_ci(r, seed=1)
    assert a == bootstrap_ci(r, seed=1)
    assert a["scatter"][0] < 0.1 < a["scatter"][1]
    assert a["bias"][0] < 0.0 < a["bias"][1]


def test_robust_scatter_of_gaussian():
    r = np.random.default_rng(2).normal(0, 0.2, 200000)
    assert abs(robust_scatter(r) - 0.2) < 0.003


def test_mass_bins_cover_sample():
    e = mass_bin_edges(np.array([13.51, 14.0, 15.07]))
    assert e[0] <= 13.51 and e[-1] >= 15.07 and np.allclose(np.diff(e), 0.25)
