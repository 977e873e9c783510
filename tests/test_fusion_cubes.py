"""Partial spectroscopic completeness for the fusion network: seeded galaxy subsets and cached cubes."""

from __future__ import annotations

import numpy as np
import pytest

from massbench import Catalogue, InputArray
from massbench.plugins.fusion_torch.cubes import (
    CompletenessCubeStore,
    CubeGrid,
    CubeStoreKey,
    default_cube_builder,
    kept_count,
    scipy_kde_cube,
    subsample_galaxies,
)

GRID = CubeGrid(n=12)


def random_galaxies(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 4): x, y [h^-1 Mpc], v_los [km/s], log10 M_star."""
    return np.column_stack(
        [rng.normal(0, 0.6, n), rng.normal(0, 0.6, n), rng.normal(0, 600, n), rng.uniform(9.5, 11.5, n)]
    )


def tiny_catalogue(n: int = 10, seed: int = 0, n_gal=(2, 60)) -> Catalogue:
    rng = np.random.default_rng(seed)
    gals = np.empty(n, dtype=object)
    for i in range(n):
        gals[i] = random_galaxies(rng, int(rng.integers(*n_gal)))
    gals[0] = random_galaxies(rng, 1)  # too few for a KDE
    cubes = np.stack([scipy_kde_cube(g, GRID) for g in gals])
    return Catalogue(
        name="tiny",
        cluster_id=np.arange(100, 100 + n),
        positions=rng.uniform(0, 100, (n, 3)),
        box_size=100.0,
        redshift=rng.uniform(0.1, 0.4, n),
        log10_m500c=rng.uniform(13.5, 15, n),
        inputs={"dyn_cube": InputArray(cubes), "galaxies": InputArray(gals)},
    )


@pytest.mark.parametrize("n_gal", [0, 1, 7, 28, 112, 520])
@pytest.mark.parametrize("completeness", [1.0, 0.5, 0.25])
def test_subsample_keeps_the_right_share(n_gal: int, completeness: float) -> None:
    gal = random_galaxies(np.random.default_rng(n_gal), n_gal)
    sub = subsample_galaxies(gal, completeness, seed=3, cluster_id=42)
    assert len(sub) == kept_count(n_gal, completeness) == int(np.floor(completeness * n_gal + 0.5))
    # kept galaxies are rows of the original table, in their original order
    idx = [int(np.flatnonzero((gal == row).all(axis=1))[0]) for row in sub]
    assert idx == sorted(idx)


def test_subsample_is_seeded_nested_and_per_cluster() -> None:
    gal = random_galaxies(np.random.default_rng(0), 200)
    a = subsample_galaxies(gal, 0.5, seed=1, cluster_id=7)
    np.testing.assert_array_equal(a, subsample_galaxies(gal, 0.5, seed=1, cluster_id=7))
    assert not np.array_equal(a, subsample_galaxies(gal, 0.5, seed=2, cluster_id=7))
    assert not np.array_equal(a, subsample_galaxies(gal, 0.5, seed=1, cluster_id=8))
    quarter = subsample_galaxies(gal, 0.25, seed=1, cluster_id=7)
    assert {r.tobytes() for r in quarter} <= {r.tobytes() for r in a}
    # over many clusters the kept share is the completeness, not only on average
    shares = [len(subsample_galaxies(random_galaxies(np.random.default_rng(c), 100), 0.25, 0, c)) for c in range(20)]
    assert shares == [25] * 20
    with pytest.raises(ValueError):
        subsample_galaxies(gal, 0.0, seed=1, cluster_id=7)


def test_kde_cube_normalised_oriented_and_empty_for_too_few_galaxies() -> None:
    grid = CubeGrid(n=16)
    gal = np.array([[1.5, -1.5, 2000.0, 10.0]] * 5) + np.random.default_rng(0).normal(0, [0.1, 0.1, 50, 0], (5, 4))
    cube = scipy_kde_cube(gal, grid)
    assert cube.shape == (16, 16, 16) and cube.dtype == np.float32
    assert cube.sum() == pytest.approx(1.0, rel=1e-5)
    i, j, k = np.unravel_index(np.argmax(cube), cube.shape)
    c, cv = grid.centres()
    assert c[i] > 1.0 and c[j] < -1.0 and cv[k] > 1500  # axes (x, y, v)
    assert not scipy_kde_cube(gal[:1], grid).any()
    assert not scipy_kde_cube(np.zeros((0, 4)), grid).any()
    assert not scipy_kde_cube(np.repeat(gal[:1], 4, axis=0), grid).any()  # singular covariance


def test_store_builds_once_shares_across_views_and_tracks_changes(tmp_path) -> None:
    cat = tiny_catalogue()
    key = CubeStoreKey(dataset=cat.name, n_rows=len(cat), completeness=0.5, seed=0, grid=GRID)
    calls = []

    def builder(gal: np.ndarray, grid: CubeGrid) -> np.ndarray:
        calls.append(len(gal))
        return scipy_kde_cube(gal, grid)

    fold_a = cat.view(np.arange(0, 6), inputs=["dyn_cube", "galaxies"])
    rows = CompletenessCubeStore(tmp_path, key, builder).rows(fold_a)
    assert len(calls) == 6 and rows.shape == (6, 12, 12, 12)
    for pos, row in enumerate(range(6)):
        sub = subsample_galaxies(cat.inputs["galaxies"].data[row], 0.5, 0, int(cat.cluster_id[row]))
        assert len(sub) == kept_count(len(cat.inputs["galaxies"].data[row]), 0.5)
        np.testing.assert_array_equal(rows[pos], scipy_kde_cube(sub, GRID))
    assert not rows[0].any()  # one galaxy: all-zero cube

    # another fold (another store object, as another process would have) only builds its new rows
    fold_b = cat.view(np.arange(3, 10), inputs=["dyn_cube", "galaxies"], role="test")
    rows_b = CompletenessCubeStore(tmp_path, key, builder).rows(fold_b)
    assert len(calls) == 6 + 4
    np.testing.assert_array_equal(rows_b[0], rows[3])

    # a changed galaxy table invalidates that row only
    cat.inputs["galaxies"].data[4] = cat.inputs["galaxies"].data[4][:-3]
    CompletenessCubeStore(tmp_path, key, builder).rows(fold_b)
    assert len(calls) == 11

    # another completeness is another store
    key2 = CubeStoreKey(dataset=cat.name, n_rows=len(cat), completeness=0.25, seed=0, grid=GRID)
    store2 = CompletenessCubeStore(tmp_path, key2, builder)
    assert store2.directory != CompletenessCubeStore(tmp_path, key, builder).directory


def test_default_builder_is_the_mock_kde_matching_scipy() -> None:
    build = default_cube_builder()
    assert build.__name__.endswith("kde.dynamical_cube")
    rng = np.random.default_rng(5)
    for n in (4, 30, 150):
        gal = random_galaxies(rng, n)
        fast, ref = build(gal, GRID), scipy_kde_cube(gal, GRID)
        assert fast.shape == (12, 12, 12) and fast.dtype == np.float32
        assert fast.sum() == pytest.approx(1.0, rel=1e-5)
        np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-5 * ref.max())
    assert not build(random_galaxies(rng, 1), GRID).any()
    assert not build(np.zeros((0, 4)), GRID).any()


def test_full_completeness_rebuild_reproduces_the_mock_datasets_cubes(tmp_path) -> None:
    """The galaxies input, the grid and the KDE agree with the erosita-mock dataset's own dyn_cube."""
    from massbench import RunContext
    from massbench.plugins.mock.datasets import ErositaMock

    cat = ErositaMock(n_clusters=6, seed=1).load(RunContext(cache_dir=tmp_path))
    build = default_cube_builder()
    for i in range(len(cat)):
        gal = cat.inputs["galaxies"].data[i]
        np.testing.assert_allclose(
            build(gal, CubeGrid()),
            np.asarray(cat.inputs["dyn_cube"].data[i]),
            rtol=0,
            atol=1e-6 * float(np.max(cat.inputs["dyn_cube"].data[i])),
        )
        assert len(subsample_galaxies(gal, 1.0, 0, int(cat.cluster_id[i]))) == len(gal)


def test_plugin_and_estimator_class_import_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import massbench.plugins.fusion_torch.plugin as p; cls = p.massbench_estimators()[0]; "
        "assert cls.name == 'fusion-xray-dyn' and cls.framework == 'torch' and cls.needs_gpu; "
        "cls(completeness=0.5, cube_size=32); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
