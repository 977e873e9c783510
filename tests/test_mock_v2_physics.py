"""Mock v2 physics, component by component, on small in-memory populations (docs/mock.md)."""

from __future__ import annotations

import numpy as np
import pytest

from massbench.plugins.mock import icm
from massbench.plugins.mock.cosmology import MPC_CM, H, comoving_distance_hmpc, r500c_hmpc
from massbench.plugins.mock.generator import MockConfig, cluster_tasks, simulate_cluster
from massbench.plugins.mock.xray import AGN, BKG, ICM, NBR_SRC0, draw_field_agn


def _fit_resid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    a = np.column_stack([np.ones_like(x), x])
    c, *_ = np.linalg.lstsq(a, y, rcond=None)
    return y - a @ c


# ----------------------------------------------------------------------------- gas budget


def test_density_normalised_by_the_gas_mass() -> None:
    rng = np.random.default_rng(0)
    prof = icm.draw_gas_profiles(np.array([True, False, False]), np.array([False, False, True]), rng)
    integ = icm.profile_integrals(prof)
    m_gas, r500, z = np.full(3, 1e13), np.full(3, 0.6), np.full(3, 0.2)
    # n_e0 from the budget; integrate mu_e m_p n_e over the R500c sphere numerically and compare
    r_cm = r500 / (1 + z) / H * MPC_CM
    n_e0 = m_gas / H * icm.MSUN_G / (icm.MU_E * icm.M_P_G * r_cm**3 * integ.i_m[:, np.searchsorted(icm.RGRID, 1.0)])
    x = np.linspace(1e-5, 1.0, 200001)
    g = np.sqrt(icm.emission_shape(x, prof))
    mass = (
        icm.MU_E
        * icm.M_P_G
        * n_e0[:, None]
        * np.trapezoid(4 * np.pi * x**2 * g, x, axis=1)[:, None]
        * r_cm[:, None] ** 3
    )
    np.testing.assert_allclose(mass[:, 0] * H / icm.MSUN_G, m_gas, rtol=2e-3)
    # the emission measure scales as M_gas^2 at fixed shape
    em1 = icm.emission_measure_cm3(m_gas, r500, z, integ)
    em2 = icm.emission_measure_cm3(2 * m_gas, r500, z, integ)
    np.testing.assert_allclose(em2[:, 1:] / em1[:, 1:], 4.0)


def test_cool_cores_are_bright_in_the_core_and_mergers_faint_at_the_same_gas_mass() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    kind = rng.integers(0, 3, n)  # 0 relaxed non-cool-core, 1 cool core, 2 disturbed
    prof = icm.draw_gas_profiles(kind == 1, kind == 2, rng)
    em = icm.emission(np.full(n, 1e13), np.full(n, 3.0), np.full(n, 0.6), np.full(n, 0.2), prof)
    core, excised = np.log(em.core), np.log(em.r015_1)
    assert core[kind == 1].mean() - core[kind == 0].mean() > 0.7
    assert core[kind == 2].mean() < core[kind == 0].mean()
    # the self-similar region scatters far less than the core at fixed gas mass
    assert excised.std() < 0.35 * core.std()
    assert abs(excised[kind == 1].mean() - excised[kind == 0].mean()) < 0.25


def test_core_excised_emission_scatters_less_than_the_total_at_fixed_mass() -> None:
    tasks, table = cluster_tasks(600, 3, MockConfig())
    lm = np.log(table["M500c"])
    cool = np.asarray(table["cool_core"], bool)
    merger = np.asarray(table["merger_ratio"]) > 0
    resid = _fit_resid(np.log(table["L_X"]), lm)
    # about 0.4 in ln for the total (Pratt et al. 2009); cool cores above, disturbed below
    assert 0.3 < resid.std() < 0.6
    assert resid[cool].mean() > 0.15 and resid[merger].mean() < -0.15
    assert 0.3 < cool.mean() < 0.55
    # the emission integral gives L_X; its core-excised part (outside 0.15 R500c) scatters much less
    prof = icm.GasProfiles(
        **{k: np.array([t["morph"]["gas_" + k] for t in tasks]) for k in icm.GasProfiles.__dataclass_fields__}
    )
    em = icm.emission(np.array([t["M_gas_main"] for t in tasks]), table["T"], table["R500c"], table["redshift"], prof)
    assert _fit_resid(np.log(em.r015_1), lm).std() < 0.8 * _fit_resid(np.log(em.within_r500c), lm).std()


# ----------------------------------------------------------------------------- lineages


def test_lineage_residuals_are_correlated_and_scatters_unchanged() -> None:
    from massbench.plugins.mock.scaling import TABLE3_IDEALISED_DEX, ScalingModel

    rng = np.random.default_rng(2)
    n_tree = 4000
    lineage = np.repeat(np.arange(n_tree), 2)
    m = np.full(2 * n_tree, 1e14)
    obs = ScalingModel().draw(m, np.full(m.size, 0.2), rng, lineage=lineage, lineage_correlation=0.8)
    r = obs["resid_M_gas"].reshape(n_tree, 2)
    assert np.corrcoef(r[:, 0], r[:, 1])[0, 1] == pytest.approx(0.8, abs=0.04)
    alpha = 1.2  # M_gas slope: the scatter at fixed mass stays Table 3's
    assert r.std() / alpha / np.log(10) == pytest.approx(TABLE3_IDEALISED_DEX["M_gas"], rel=0.05)


# ----------------------------------------------------------------------------- AGN geometry


def test_field_agn_fill_a_cone_with_a_uniform_density() -> None:
    rng = np.random.default_rng(3)
    z, box, density = 0.2, 352.0, 5e-3
    counts, los = [], []
    for _ in range(40):
        x, y, d = draw_field_agn(rng, z, density, box)
        counts.append(len(x)), los.append(d)
    d_c = comoving_distance_hmpc(z)
    theta = np.radians(31.0 / 60.0)
    volume = np.pi * theta**2 * ((d_c + box / 2) ** 3 - (d_c - box / 2) ** 3) / 3
    assert np.mean(counts) == pytest.approx(density * volume, rel=0.05)
    d = d_c + np.concatenate(los)
    # number per unit distance grows as d^2: d^3 is uniform between the slab's ends
    u = (d**3 - (d_c - box / 2) ** 3) / ((d_c + box / 2) ** 3 - (d_c - box / 2) ** 3)
    assert np.mean(u) == pytest.approx(0.5, abs=0.02) and np.mean(u < 0.25) == pytest.approx(0.25, abs=0.02)
    assert np.all(np.abs(np.concatenate(los)) <= box / 2)


# ----------------------------------------------------------------------------- observation modes


@pytest.fixture(scope="module")
def one_field() -> dict:
    tasks, _ = cluster_tasks(300, 4, MockConfig())
    # a massive low-redshift cluster with neighbours in its field
    i = max(range(len(tasks)), key=lambda k: (len(tasks[k]["neighbours"]["M500c"]) > 0, tasks[k]["M500c"]))
    return tasks[i]


def test_photon_list_mode_keeps_point_sources_sharp_and_has_no_background(one_field: dict) -> None:
    _, ph = simulate_cluster(one_field)
    assert not (ph.component == BKG).any()
    np.testing.assert_array_equal(ph.signal, ph.energy)  # true energies, as SIXTE photon lists
    agn = ph.component == AGN
    for sid in np.unique(ph.src_id[agn])[:20]:
        sel = agn & (ph.src_id == sid)
        assert np.ptp(ph.ra[sel]) < 1e-9 and np.ptp(ph.dec[sel]) < 1e-9
    # neighbours' gas is ICM with its own source ids, counted in n_nbr
    nbr = ph.src_id >= NBR_SRC0
    assert (ph.component[nbr] == ICM).all()
    assert 0 <= ph.n_nbr <= nbr.sum()


def test_events_mode_adds_psf_vignetting_and_background(one_field: dict) -> None:
    task = dict(one_field, config=dict(one_field["config"], mode="events"))
    _, ev = simulate_cluster(task)
    _, ph = simulate_cluster(one_field)
    assert (ev.component == BKG).sum() > 100
    # the PSF spreads a bright AGN's photons over several sky pixels
    agn = ev.component == AGN
    sid, cnt = np.unique(ev.src_id[agn], return_counts=True)
    brightest = ev.src_id == sid[np.argmax(cnt)]
    assert len(np.unique(np.round(ev.ra[brightest], 7))) > 1
    # vignetting removes source photons
    assert (ev.component == ICM).sum() < (ph.component == ICM).sum()
    assert not np.array_equal(ev.signal, ev.energy)


def test_mode_is_checked() -> None:
    from massbench.errors import ConfigError
    from massbench.plugins.mock.datasets import ErositaMock

    with pytest.raises(ConfigError, match="mode"):
        ErositaMock(n_clusters=10, mode="phlist")
    with pytest.raises(ConfigError, match="mode"):
        cluster_tasks(5, 0, MockConfig(mode="sky"))
    assert "photon-list" in str(ErositaMock(n_clusters=10).raw_directory(None))


def test_neighbours_lie_in_the_cone_and_exclude_the_cluster_itself() -> None:
    from massbench.plugins.mock.generator import NEIGHBOUR_MIN_MASS, find_neighbours
    from massbench.plugins.mock.halos import build_halo_catalogue

    halos, lineages = build_halo_catalogue(np.random.default_rng(5), 200)
    r500 = r500c_hmpc(halos.m500c, halos.redshift)
    nb = find_neighbours(halos, lineages, r500)
    n_with = sum(1 for v in nb if v["M500c"])
    assert n_with > 20
    for i, v in enumerate(nb):
        d_c = comoving_distance_hmpc(float(halos.redshift[i]))
        for dx, dy, dz, m, r in zip(v["dx"], v["dy"], v["dz"], v["M500c"], v["R500c"]):
            assert m >= NEIGHBOUR_MIN_MASS and abs(dz) <= lineages.box_size / 2
            assert np.hypot(dx, dy) < np.radians(31 / 60) * (d_c + dz) + 3 * r + 1e-9
            assert not (abs(dx) < 1e-9 and abs(dy) < 1e-9 and abs(dz) < 1e-9)


def test_photon_list_catalogue_round_trip(tmp_path) -> None:
    from astropy.io import fits

    from massbench.plugins.mock.generator import generate_catalogue
    from massbench.plugins.mock.loader import load_catalogue

    raw = generate_catalogue(tmp_path / "cat", n_clusters=6, seed=1, workers=1)
    with fits.open(raw / "events" / "1.fits") as h:
        assert "PHOTONS" in h and "ENERGY" in h["PHOTONS"].columns.names
        assert set(np.char.strip(h["PHOTONS"].data["COMPONENT"].astype(str))) <= {"ICM", "AGN"}
    halos = fits.getdata(raw / "halos.fits", "HALOS")
    assert fits.getheader(raw / "halos.fits", "HALOS")["MODE"] == "photon-list"
    cat = load_catalogue(raw, tmp_path / "cache", workers=1)
    n_phot = np.asarray(cat.inputs["xray_map"].data).sum(axis=(1, 2))
    # no background in photon lists: every photon in the map is ICM or AGN
    np.testing.assert_allclose(n_phot, np.asarray(cat.inputs["n_icm"].data) + np.asarray(cat.inputs["n_agn"].data))
    assert np.all(halos["n_nbr"] <= np.asarray(cat.inputs["n_icm"].data))


def test_agn_luminosity_floor_removes_faint_sources_and_keeps_bright_ones() -> None:
    from massbench.plugins.mock.xray import draw_agn, xlf_fraction_above

    rng = np.random.default_rng(7)
    assert xlf_fraction_above(41.0) == pytest.approx(1.0)
    f15, f42 = xlf_fraction_above(41.5), xlf_fraction_above(42.0)
    assert 0 < f42 < f15 < 1
    n = 200000
    base = draw_agn(n, np.zeros(n), np.zeros(n), np.zeros(n), rng).lum
    cut = draw_agn(n, np.zeros(n), np.zeros(n), np.zeros(n), rng, log_lmin=41.5).lum
    assert base.min() >= 1e41 and cut.min() >= 10**41.5 * (1 - 1e-9)
    # the same population above the floor: the share brighter than 1e42 follows the XLF
    assert np.mean(base > 1e42) == pytest.approx(f42, abs=0.005)
    assert np.mean(cut > 1e42) == pytest.approx(f42 / f15, abs=0.006)
