"""Unit tests of the mock's building blocks: gapper, clipping, projection and binning, KDE, physics models."""

from __future__ import annotations

import numpy as np
import pytest

from massbench.plugins.mock.dynamics import dynamical_selection, gapper, richness_and_dispersion, sigma_clip_velocities
from massbench.plugins.mock.kde import cube_centres, dynamical_cube, dynamical_cube_scipy
from massbench.plugins.mock.projection import MAP_EDGES, band_index, photon_maps, projected_to_sky, sky_to_projected

# ----------------------------------------------------------------------------- gapper and clipping


def test_gapper_matches_hand_computation() -> None:
    # sorted [0, 100, 300]: gaps 100, 200; weights i (n - i) = 2, 2 -> sqrt(pi) / 6 * (200 + 400)
    assert gapper(np.array([300.0, 0.0, 100.0])) == pytest.approx(100.0 * np.sqrt(np.pi))
    # two velocities: sqrt(pi) / 2 * |dv|
    assert gapper(np.array([10.0, -30.0])) == pytest.approx(20.0 * np.sqrt(np.pi))
    assert np.isnan(gapper(np.array([5.0])))
    assert np.isnan(gapper(np.zeros(0)))


def test_gapper_is_consistent_with_a_gaussian_dispersion() -> None:
    v = np.random.default_rng(0).normal(0.0, 500.0, 20000)
    assert gapper(v) == pytest.approx(500.0, rel=0.02)


def test_sigma_clipping_matches_hand_computation() -> None:
    v = np.array([-300.0, -100.0, 0.0, 100.0, 300.0, 5000.0])
    # pass 1: median 50, gapper = sqrt(pi)/30 * (5*200 + 8*100 + 9*100 + 8*200 + 5*4700) = 1642.5 km/s,
    # |5000 - 50| = 4950 > 3 x 1642.5 = 4927.6 -> 5000 removed;
    # pass 2: median 0, gapper = sqrt(pi)/20 * 2800 = 248.1, everything within 744 -> stop
    keep = sigma_clip_velocities(v)
    np.testing.assert_array_equal(keep, [True, True, True, True, True, False])
    # a tighter threshold removes the +-300 pair in pass 2 (|300| > 1 x 248.1) and then stops
    keep1 = sigma_clip_velocities(v, nsigma=1.0)
    assert keep1.tolist() == [False, True, True, True, False, False]


def test_richness_uses_the_small_cylinder_then_clipping() -> None:
    x = np.array([0.0, 0.5, 1.0, 1.3, 0.2, 0.1, 0.0])
    y = np.array([0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.1])
    v = np.array([0.0, 100.0, -100.0, 0.0, 2500.0, 300.0, -300.0])
    # x = 1.3 is outside R <= 1.25, v = 2500 outside |v| <= 2000; the other five are kept by clipping
    r = richness_and_dispersion(x, y, v)
    assert r.n_gal == 5
    assert r.sigma_v == pytest.approx(gapper(np.array([0.0, 100.0, -100.0, 300.0, -300.0])))


def test_dynamical_selection_cuts() -> None:
    x = np.array([0.0, 2.2, 2.0, 0.0, 0.0])
    y = np.array([0.0, 0.0, 1.5, 0.0, 0.0])
    v = np.array([0.0, 3700.0, 0.0, 3800.0, 0.0])
    lm = np.array([10.0, 9.6, 10.0, 10.0, 9.4])
    # R = 2.5 > 2.3 (third), |v| > 3785 (fourth), M_star < 10^9.5 (fifth)
    assert dynamical_selection(x, y, v, lm).tolist() == [True, True, False, False, False]


# ----------------------------------------------------------------------------- projection and binning


def _hand_sky(x: float, y: float, z: float, ra0: float, dec0: float) -> tuple[float, float]:
    """RA, DEC of a point at comoving projected (x east, y north), built independently with astropy."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.cosmology import FlatLambdaCDM

    d = FlatLambdaCDM(H0=70.4, Om0=0.272, Ob0=0.0456).comoving_distance(z).to_value(u.Mpc) * 0.704
    a, b = np.radians(ra0), np.radians(dec0)
    los = np.array([np.cos(b) * np.cos(a), np.cos(b) * np.sin(a), np.sin(b)])
    east = np.array([-np.sin(a), np.cos(a), 0.0])
    north = np.cross(los, east)
    sx, sy = x / d, y / d
    vec = np.sqrt(1 - sx**2 - sy**2) * los + sx * east + sy * north
    c = SkyCoord(x=vec[0], y=vec[1], z=vec[2], representation_type="cartesian").spherical
    return float(c.lon.deg), float(c.lat.deg)


def test_hand_placed_photon_lands_in_its_comoving_pixel() -> None:
    z = 0.2125156
    ra, dec = _hand_sky(1.0, -0.5, z, 10.0, 10.0)
    x, y = sky_to_projected(np.array([ra]), np.array([dec]), 10.0, 10.0, z)
    assert x[0] == pytest.approx(1.0, abs=1e-9) and y[0] == pytest.approx(-0.5, abs=1e-9)
    maps = photon_maps(x, y, np.array([1.5]))  # medium band
    assert maps.shape == (3, 4, 128, 128) and maps.sum() == 1
    # pixel edges linspace(-2.3, 2.3, 129): x = 1.0 -> bin 91, y = -0.5 -> bin 50
    assert maps[0, 1, 91, 50] == 1
    assert np.searchsorted(MAP_EDGES, 1.0, side="right") - 1 == 91
    # the same photon at higher redshift is zoomed in: the same angle is a larger comoving offset
    x2, _ = sky_to_projected(np.array([ra]), np.array([dec]), 10.0, 10.0, 0.47019408)
    assert x2[0] > 1.9


def test_map_binning_agrees_with_numpy_histogram2d() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-2.5, 2.5, (2, 5000))
    x[:3] = [2.3, -2.3, 0.0]  # edges: the last edge is inside the last bin, as in histogram2d
    e = rng.uniform(0.3, 11.0, 5000)
    maps = photon_maps(x, y, e)
    full = (e >= 0.5) & (e < 10.0)
    ref, _, _ = np.histogram2d(x[full], y[full], bins=[MAP_EDGES, MAP_EDGES])
    np.testing.assert_array_equal(maps[0].sum(axis=0), ref)


def test_projection_round_trip() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-2.3, 2.3, (2, 100))
    ra, dec = projected_to_sky(x, y, 10.0, 10.0, 0.1)
    x2, y2 = sky_to_projected(ra, dec, 10.0, 10.0, 0.1)
    np.testing.assert_allclose(x2, x, atol=1e-9)
    np.testing.assert_allclose(y2, y, atol=1e-9)


def test_band_edges_are_half_open() -> None:
    e = np.array([0.49, 0.5, 1.19, 1.2, 1.99, 2.0, 6.99, 7.0, 9.99, 10.0])
    assert band_index(e).tolist() == [-1, 0, 0, 1, 1, 2, 2, 3, 3, -1]


# ----------------------------------------------------------------------------- KDE


def _cluster_like_galaxies(rng: np.random.Generator, n_mem: int, n_int: int, rho: float = 0.0) -> np.ndarray:
    cov = np.array([[0.16, 0.0, rho * 0.4 * 600], [0.0, 0.16, 0.0], [rho * 0.4 * 600, 0.0, 600.0**2]])
    mem = rng.multivariate_normal([0.0, 0.0, 0.0], cov, n_mem)
    inter = np.column_stack(
        [rng.uniform(-2.3, 2.3, n_int), rng.uniform(-2.3, 2.3, n_int), rng.uniform(-3785, 3785, n_int)]
    )
    g = np.vstack([mem, inter])
    return g[(np.hypot(g[:, 0], g[:, 1]) <= 2.3) & (np.abs(g[:, 2]) <= 3785)]


@pytest.mark.parametrize("n_mem,n_int,rho", [(90, 25, 0.0), (40, 10, 0.6), (400, 120, -0.3), (3, 0, 0.0)])
def test_fast_kde_matches_scipy(n_mem: int, n_int: int, rho: float) -> None:
    g = _cluster_like_galaxies(np.random.default_rng(n_mem), n_mem, n_int, rho)
    if len(g) < 4:  # scipy needs a non-singular covariance
        g = np.vstack([g, [[0.3, -0.2, 150.0]]])
    fast = dynamical_cube(g)
    ref = dynamical_cube_scipy(g)
    assert fast.shape == (64, 64, 64) and fast.dtype == np.float32
    assert float(fast.sum()) == pytest.approx(1.0, rel=1e-5)
    assert np.abs(fast - ref).max() <= 1e-3 * ref.max()


def test_kde_accepts_the_galaxies_input_layout_and_edge_cases() -> None:
    rng = np.random.default_rng(2)
    g = _cluster_like_galaxies(rng, 50, 10)
    with_mass = np.column_stack([g, rng.uniform(9.5, 11, len(g))])
    np.testing.assert_array_equal(dynamical_cube(with_mass), dynamical_cube(g))
    assert not dynamical_cube(np.zeros((0, 3))).any()
    one = dynamical_cube(np.array([[0.0, 0.0, 0.0]]))  # singular: one-cell floor, still normalised
    assert one.sum() == pytest.approx(1.0, rel=1e-5)
    # a galaxy on the edge of the grid (outside the cell centres) still adds its in-grid part
    edge = dynamical_cube(np.vstack([g, [[2.3, 0.0, 3785.0]]]))
    assert edge.sum() == pytest.approx(1.0, rel=1e-5)
    cx, cy, cv = cube_centres()
    assert cx[0] == pytest.approx(-2.3 + 2.3 / 64) and cv[-1] == pytest.approx(3785 - 3785 / 64)
    with pytest.raises(ValueError, match="shape"):
        dynamical_cube(np.zeros((5, 2)))


# ----------------------------------------------------------------------------- physics models


def test_idealised_scatters_match_table3_and_selection_medians() -> None:
    from massbench.plugins.mock.halos import build_halo_sample
    from massbench.plugins.mock.scaling import TABLE3_IDEALISED_DEX, ScalingModel

    model = ScalingModel()
    for name, dex in TABLE3_IDEALISED_DEX.items():
        assert model.implied_mass_scatter_dex((name,)) == pytest.approx(dex, rel=1e-6)
    combos = {
        ("M_gas", "M_star"): 0.0214,
        ("T", "M_gas", "M_star"): 0.0176,
        ("T", "L_X", "M_gas", "M_star"): 0.0170,
        ("T", "L_X", "M_gas", "M_star", "sigma_v_true"): 0.0169,
    }
    for names, dex in combos.items():
        assert model.implied_mass_scatter_dex(names) == pytest.approx(dex, rel=0.03)
    # drawn residuals have the model's covariance
    rng = np.random.default_rng(0)
    m = 10 ** rng.uniform(13.5, 15, 20000)
    obs = model.draw(m, np.full(m.size, 0.2), rng)
    for name in TABLE3_IDEALISED_DEX:
        fit = np.polyfit(np.log(m / 1e14), np.log(obs[name]), 1)
        resid = np.log(obs[name]) - np.polyval(fit, np.log(m / 1e14))
        assert resid.std() / fit[0] / np.log(10) == pytest.approx(TABLE3_IDEALISED_DEX[name], rel=0.05)
    # the flattened selection gives the paper's medians (13.94, 0.21) within box-to-box variation
    halos = build_halo_sample(np.random.default_rng(11), 3285)
    assert np.median(np.log10(halos.m500c)) == pytest.approx(13.94, abs=0.06)
    assert np.median(halos.redshift) == pytest.approx(0.2125, abs=0.04)
    assert np.log10(halos.m500c).min() >= 13.5 and np.log10(halos.m500c).max() < 15.1
    # some halos appear at several snapshots, near the same box position
    ids, counts = np.unique(halos.tree_id, return_counts=True)
    assert (counts > 1).sum() > 100
    t = ids[np.argmax(counts)]
    pos = halos.pos[halos.tree_id == t]
    d = np.abs(pos - pos[0])
    d = np.minimum(d, halos.box_size - d)
    assert np.linalg.norm(d, axis=1).max() < 10.0
