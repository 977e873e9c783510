import numpy as np
import pytest

from massbench.folds import fold_labels, make_folds, octant_labels, random_labels


def test_octant_labels_by_hand():
    L = 100.0
    pos = np.array([[10, 10, 10], [60, 10, 10], [10, 60, 10], [10, 10, 60], [60, 60, 60], [99.999, 0.0, 50.0]])
    assert octant_labels(pos, L).tolist() == [0, 4, 2, 1, 7, 5]


def test_octants_wrap_periodically():
    L = 100.0
    pos = np.array([[-10.0, 110.0, 250.0], [100.0, 0.0, 0.0]])  # wraps to (90, 10, 50) and (0, 0, 0)
    assert octant_labels(pos, L).tolist() == [4 + 0 + 1, 0]


def test_each_cluster_tested_once_and_splits_disjoint():
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 352, (500, 3))
    folds = make_folds(octant_labels(pos, 352.0), 0.1, seed=3)
    assert len(folds) == 8
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(500))
    for f in folds:
        assert not set(f.train) & set(f.val)
        assert not (set(f.train) | set(f.val)) & set(f.test)
        assert len(f.train) + len(f.val) + len(f.test) == 500
        assert abs(len(f.val) - 0.1 * (500 - len(f.test))) <= 1
        # spatial: every test cluster lies in the fold's octant
        assert (octant_labels(pos[f.test], 352.0) == f.k).all()


def test_validation_split_is_seeded():
    pos = np.random.default_rng(1).uniform(0, 100, (300, 3))
    labels = octant_labels(pos, 100.0)
    a = make_folds(labels, 0.1, seed=7)
    b = make_folds(labels, 0.1, seed=7)
    c = make_folds(labels, 0.1, seed=8)
    assert all(np.array_equal(x.val, y.val) for x, y in zip(a, b))
    assert any(not np.array_equal(x.val, y.val) for x, y in zip(a, c))


def test_random_folds_balanced_and_seeded():
    lab = random_labels(103, 8, seed=0)
    counts = np.bincount(lab)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 103
    assert np.array_equal(lab, random_labels(103, 8, seed=0))
    assert np.array_equal(fold_labels("random", np.zeros((103, 3)), 1.0, 0, 8), lab)
    with pytest.raises(ValueError):
        fold_labels("nope", np.zeros((3, 3)), 1.0)


def test_lineage_folds_never_split_a_lineage_and_are_balanced():
    from massbench.folds import lineage_labels

    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(300), rng.integers(1, 12, 300))  # lineages of 1-11 snapshots, like the mock
    lab = lineage_labels(groups, 8, seed=0)
    assert set(lab.tolist()) == set(range(8))
    for g in np.unique(groups):
        assert len(set(lab[groups == g].tolist())) == 1  # a lineage sits in one fold
    counts = np.bincount(lab)
    assert counts.max() - counts.min() <= 11  # within the largest lineage
    assert np.array_equal(lab, lineage_labels(groups, 8, seed=0))
    assert not np.array_equal(lab, lineage_labels(groups, 8, seed=1))
    assert np.array_equal(fold_labels("lineage", np.zeros((len(groups), 3)), 1.0, 0, 8, groups=groups), lab)
    # make_folds: every cluster tested once, test lineages absent from train and val
    for f in make_folds(lab, 0.1, seed=0):
        assert not set(groups[f.test]) & set(groups[np.concatenate([f.train, f.val])])
    # without groups: one lineage per cluster, a balanced random split
    alone = fold_labels("lineage", np.zeros((103, 3)), 1.0, 0, 8)
    assert np.bincount(alone).max() - np.bincount(alone).min() <= 1


def test_lineage_scheme_in_benchmark_files():
    from massbench.config import parse_benchmark
    from massbench.errors import ConfigError

    text = "benchmark: b\nversion: '1'\ndataset: {name: d}\ncv: {scheme: lineage, n_folds: 5}\nestimators: [e]\n"
    b = parse_benchmark(text)
    assert b.cv.scheme == "lineage" and b.cv.n_folds == 5
    with pytest.raises(ConfigError, match="did you mean 'lineage'"):
        parse_benchmark(text.replace("scheme: lineage", "scheme: linage"))
