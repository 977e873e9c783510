"""``physics_summary`` on hand-built maps with known answers, and ``massbench mock describe --json``.

The statistics are tested on synthetic catalogues whose photons are placed by hand, so the tests do not
depend on the generator's physics; the CLI test only checks the JSON layout on a tiny generated catalogue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

from massbench.catalogue import Catalogue, InputArray
from massbench.plugins.mock.describe import (
    TABLE1_KEYS,
    aperture_counts,
    fixed_mass_residuals,
    lineage_pairs,
    physical_kpc_to_hmpc,
    physics_rows,
    physics_summary,
    read_halo_truth,
    table1_summary,
)
from massbench.plugins.mock.projection import MAP_CENTRES, aperture_mask
from massbench.plugins.saliency.masks import photon_ratio

PHYSICS_KEYS = [
    "n_clusters",
    "mode",
    "icm_scatter_dex",
    "cool_core_fraction",
    "agn_icm_pixel_ratio",
    "n_phot_shares",
    "lineage_correlation",
]
LOG2, LOG3 = np.log10(2.0), np.log10(3.0)


def _pixel(radius_hmpc: float) -> tuple[int, int]:
    """The pixel on the row through the centre whose centre lies nearest to ``radius_hmpc`` [h^-1 Mpc]."""
    r = np.hypot(MAP_CENTRES[64:], MAP_CENTRES[64])
    return 64 + int(np.argmin(np.abs(r - radius_hmpc))), 64


def _radius(pixel: tuple[int, int]) -> float:
    return float(np.hypot(MAP_CENTRES[pixel[0]], MAP_CENTRES[pixel[1]]))


CENTRE = (64, 64)  # centre at R_proj = 0.0254 h^-1 Mpc


def _catalogue(
    icm: np.ndarray,
    lm: np.ndarray,
    z: np.ndarray,
    *,
    r500c: Optional[np.ndarray] = None,
    agn: Optional[np.ndarray] = None,
    xray: Optional[np.ndarray] = None,
    scalars: Optional[dict[str, np.ndarray]] = None,
    meta: Optional[dict[str, Any]] = None,
) -> Catalogue:
    """A Catalogue with truth maps (counts), ``r500c`` (default 1 h^-1 Mpc) and optional scalar inputs."""
    n = len(lm)
    inputs = {
        "xray_icm_map": InputArray(np.asarray(icm, np.float32), "count"),
        "r500c": InputArray(np.ones(n) if r500c is None else np.asarray(r500c, float)),
    }
    inputs["xray_agn_map"] = InputArray(
        np.zeros_like(inputs["xray_icm_map"].data) if agn is None else np.asarray(agn, np.float32)
    )
    inputs["xray_map"] = InputArray(
        inputs["xray_icm_map"].data + inputs["xray_agn_map"].data if xray is None else np.asarray(xray, np.float32)
    )
    for k, v in (scalars or {}).items():
        inputs[k] = InputArray(np.asarray(v, float))
    return Catalogue(
        name="hand",
        cluster_id=np.arange(100, 100 + n),
        positions=np.zeros((n, 3)),
        box_size=352.0,
        redshift=np.asarray(z, float),
        log10_m500c=np.asarray(lm, float),
        inputs=inputs,
        meta=meta or {},
    )


# ----------------------------------------------------------------------------- building blocks


def test_aperture_counts_follow_projection_aperture_mask() -> None:
    rng = np.random.default_rng(1)
    maps = rng.poisson(3.0, (4, 128, 128)).astype(np.float32)
    edge = np.hypot(MAP_CENTRES[64], MAP_CENTRES[65])  # exactly on a ring of pixel centres
    radii = np.concatenate([rng.uniform(0, 3.4, (4, 5)), np.full((4, 1), edge), np.zeros((4, 1))], axis=1)
    ref = [[maps[i][aperture_mask(r)].sum() for r in radii[i]] for i in range(4)]
    np.testing.assert_array_equal(aperture_counts(maps, radii), ref)
    # an aperture holding no pixel centre counts 0, whatever lies in the central pixel
    one = np.zeros((1, 128, 128), np.float32)
    one[0][CENTRE] = 7
    np.testing.assert_array_equal(aperture_counts(one, [[0.1, 0.015]]), [[7, 0]])


def test_fixed_mass_residuals_are_least_squares_with_one_intercept_per_snapshot() -> None:
    rng = np.random.default_rng(2)
    z = rng.choice([0.1, 0.2, 0.3], 60)
    lm = rng.uniform(13.5, 15, 60)
    y = 0.5 * z + 1.3 * lm + rng.normal(0, 0.2, 60)
    design = np.column_stack([z == 0.1, z == 0.2, z == 0.3, lm]).astype(float)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    np.testing.assert_allclose(fixed_mass_residuals(y, lm, z), y - design @ coef, atol=1e-12)
    assert fixed_mass_residuals(y, np.full(60, 14.0), z) is None  # no mass spread: no slope


def test_lineage_pairs_are_all_ordered_pairs_of_one_tree() -> None:
    tree = np.random.default_rng(3).integers(0, 6, 30)
    left, right = lineage_pairs(tree)
    ref = sorted((i, j) for i in range(30) for j in range(30) if i != j and tree[i] == tree[j])
    assert sorted(zip(left.tolist(), right.tolist())) == ref


def test_physical_kpc_are_comoving_h_mpc() -> None:
    np.testing.assert_allclose(physical_kpc_to_hmpc(40.0, np.array([0.0, 0.47])), [0.02816, 0.0413952])


# ----------------------------------------------------------------------------- statistics with known answers


def _scatter_family(tree_id: np.ndarray) -> tuple[Catalogue, dict[str, np.ndarray]]:
    """Two snapshots, two masses each, a pair (+, -) of clusters per mass with known ICM counts.

    In each snapshot the pairs' midpoints lie on one line of common slope (snapshot 2 is snapshot 1 shifted
    by 0.5 dex in mass, which only a separate intercept absorbs), so the residuals of a pair (N+, N-) are
    +-0.5 log10((N+ + 1) / (N- + 1)). Core (R <= 0.15 R500c): (3, 0) and (15, 3), residuals +-log10 2;
    annulus (0.15-1 R500c): (17, 1) and (89, 9), residuals +-log10 3; photons beyond R500c must not count.
    log10 L_X = 44 + log10 M +- 0.1 with the cluster's sign.
    """
    core = {13.0: (3, 0), 14.0: (15, 3)}
    ring = {13.0: (17, 1), 14.0: (89, 9)}
    rows = [
        (z, base + shift, base, sign)
        for z, shift in ((0.1, 0.0), (0.3, 0.5))
        for base in (13.0, 14.0)
        for sign in (0, 1)
    ]
    icm = np.zeros((len(rows), 128, 128), np.float32)
    ann_px, out_px = _pixel(0.5), _pixel(1.5)
    assert 0.15 < _radius(ann_px) < 1.0 < _radius(out_px)
    for i, (_, _, base, sign) in enumerate(rows):
        icm[i][CENTRE] = core[base][sign]
        icm[i][ann_px] = ring[base][sign]
        icm[i][out_px] = 1000
    z, lm = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    signs = np.array([1 - 2 * r[3] for r in rows])
    cat = _catalogue(icm, lm, z, scalars={"L_X": 10 ** (44 + lm + 0.1 * signs)})
    return cat, {"cluster_id": cat.cluster_id, "tree_id": tree_id}


def test_icm_scatters_in_three_apertures() -> None:
    cat, halos = _scatter_family(np.arange(8))
    s = physics_summary(cat, halos).icm_scatter_dex
    total = np.hypot(0.5 * np.log10(21 / 2), 0.5 * np.log10(105 / 13)) / np.sqrt(2)  # pairs (20, 1), (104, 12)
    assert s["core_015"] == pytest.approx(LOG2, abs=1e-12)
    assert s["r015_1"] == pytest.approx(LOG3, abs=1e-12)
    assert s["r500c"] == pytest.approx(total, abs=1e-12)
    assert s["ratio_excised_to_total"] == pytest.approx(LOG3 / total, abs=1e-12)


def test_lineage_correlation_of_residuals_between_snapshots() -> None:
    # trees join the same cluster of the two snapshots (identical residuals), or a + with a - cluster
    same, swapped = np.array([0, 1, 2, 3, 0, 1, 2, 3]), np.array([0, 1, 2, 3, 1, 0, 3, 2])
    for tree, r in ((same, 1.0), (swapped, -1.0)):
        cat, halos = _scatter_family(tree)
        lin = physics_summary(cat, halos).lineage_correlation
        assert lin == {"n_icm_500c": pytest.approx(r, abs=1e-12), "l_x": pytest.approx(r, abs=1e-12), "n_pairs": 4}
    cat, halos = _scatter_family(np.arange(8))  # no lineage has two snapshots
    assert physics_summary(cat, halos).lineage_correlation == {"n_icm_500c": None, "l_x": None, "n_pairs": 0}
    assert physics_summary(cat).lineage_correlation is None  # no tree_id


def test_cool_core_fractions_with_area_weighted_physical_apertures() -> None:
    """c_SB = N(< 40 kpc) / N(< 400 kpc) with area-weighted apertures (physical kpc: 0.031 h^-1 Mpc at z = 0.1)."""
    from massbench.plugins.mock.describe import aperture_counts_area

    # a uniform map: aperture counts are the circle's area in pixels, so c_SB = (40 / 400)^2
    flat = np.ones((2, 128, 128), np.float32)
    pix = MAP_CENTRES[1] - MAP_CENTRES[0]
    got = aperture_counts_area(flat, np.array([[0.031, 0.31], [0.1, 0.5]]))
    np.testing.assert_allclose(got, np.pi * np.array([[0.031, 0.31], [0.1, 0.5]]) ** 2 / pix**2, rtol=0.02)
    # all photons in the four central pixels: a 40 kpc circle holds its area share of them
    core = np.zeros((1, 128, 128), np.float32)
    core[0, 63:65, 63:65] = 25.0
    r40 = physical_kpc_to_hmpc(40.0, np.array([0.1]))[0]
    assert aperture_counts_area(core, np.array([[r40]]))[0, 0] == pytest.approx(
        100 * np.pi * r40**2 / (2 * pix) ** 2, rel=0.01
    )
    layout = [  # (z, photons spread uniformly within 0.018 h^-1 Mpc of the centre, photons uniform over the map)
        (0.1, 100, 0),  # c_SB = 100 % inside 40 kpc of this all-central source... a strong cool core
        (0.1, 0, 128 * 128),  # uniform: c_SB = 0.01, not a cool core
        (0.1, 0, 0),  # nothing: left out
        (0.47, 10, 128 * 128),  # mostly uniform: c_SB ~ (10 x area share + 0.01 x ...) -> small
    ]
    icm = np.zeros((len(layout), 128, 128), np.float32)
    for i, (_, c, u) in enumerate(layout):
        icm[i] += u / (128 * 128)
        icm[i, 63:65, 63:65] += c / 4
    cat = _catalogue(icm, np.linspace(13.5, 14.5, 4), [row[0] for row in layout])
    halos = {"cluster_id": cat.cluster_id, "cool_core": np.array([True, False, True, False])}
    got = physics_summary(cat, halos).cool_core_fraction
    assert got == {"truth": pytest.approx(0.5), "c_sb": pytest.approx(1 / 3), "c_sb_strong": pytest.approx(1 / 3)}
    assert physics_summary(cat).cool_core_fraction["truth"] is None


def test_agn_icm_pixel_ratio_in_chunks() -> None:
    """Cluster k: one AGN pixel of 30 (k + 1) AGN + 1 ICM photons, two ICM pixels of 2, a tie pixel (neither)."""
    icm = np.zeros((6, 128, 128), np.float32)
    agn = np.zeros_like(icm)
    for k in range(6):
        icm[k, 10, 10] = icm[k, 20, 20] = 2
        icm[k, 30, 30] = agn[k, 30, 30] = 5
        if k < 5:  # the last cluster has no AGN-dominated pixel and is left out
            agn[k, 40, 40], icm[k, 40, 40] = 30 * (k + 1), 1
    cat = _catalogue(icm, np.linspace(13.5, 14.5, 6), np.full(6, 0.2), agn=agn)
    means = 30 * np.arange(1, 6) + 1
    expected = {
        "ratio_of_means": pytest.approx(means.mean() / 2),
        "median_ratio": pytest.approx(np.median(means) / 2),
        "n_clusters": 5,
    }
    for chunk in (2, 4, 256):
        assert physics_summary(cat, chunk=chunk).agn_icm_pixel_ratio == expected
    assert photon_ratio(icm, agn) == expected


def test_photon_shares_match_rows_by_cluster_id() -> None:
    """N_phot = 100, 300, 0 (the empty map is left out of the medians); halos.fits rows in another order."""
    xray = np.zeros((3, 128, 128), np.float32)
    xray[0, 0, 0], xray[1, 5, 5] = 100, 300
    cat = _catalogue(
        np.zeros((3, 128, 128)),
        [13.5, 14.0, 14.5],
        [0.1, 0.1, 0.1],
        xray=xray,
        scalars={"n_icm": [80, 200, 0], "n_agn": [10, 60, 0]},
    )
    halos = {"cluster_id": cat.cluster_id[[2, 0, 1]], "n_nbr": np.array([0, 5, 30])}
    shares = physics_summary(cat, halos).n_phot_shares
    assert shares == {
        "agn": pytest.approx(70 / 400),
        "agn_median": pytest.approx(0.15),
        "neighbours": pytest.approx(35 / 400),
        "neighbours_median": pytest.approx(0.075),
        "background": pytest.approx(50 / 400),
        "background_median": pytest.approx((0.1 + 40 / 300) / 2),
    }
    assert physics_summary(cat).n_phot_shares["neighbours"] is None


def test_foreign_catalogue_without_truth_gives_nulls() -> None:
    """A photon-list catalogue: no ICM/AGN maps, no n_icm / n_agn, no halos truth; MODE from the header."""
    xray = np.ones((4, 128, 128), np.float32)
    cat = Catalogue(
        name="sixte",
        cluster_id=np.arange(4),
        positions=np.zeros((4, 3)),
        box_size=352.0,
        redshift=np.full(4, 0.2),
        log10_m500c=np.linspace(14, 15, 4),
        inputs={"xray_map": InputArray(xray)},
        meta={"raw_header": {"MODE": "photon-list"}},
    )
    d = physics_summary(cat).to_dict()
    assert list(d) == PHYSICS_KEYS
    assert d["n_clusters"] == 4 and d["mode"] == "photon-list"
    assert d["icm_scatter_dex"] is None and d["agn_icm_pixel_ratio"] is None and d["lineage_correlation"] is None
    assert d["cool_core_fraction"] == {"truth": None, "c_sb": None, "c_sb_strong": None}
    assert set(d["n_phot_shares"].values()) == {None}
    json.dumps(d)
    rows = physics_rows(physics_summary(cat))
    assert all(len(r) == 3 and all(isinstance(c, str) for c in r) for r in rows)
    assert dict((r[0], r[1]) for r in rows)["icm_scatter_dex.r500c"] == "n/a"


def test_read_halo_truth_reads_the_truth_columns_present(tmp_path: Path) -> None:
    from massbench.plugins.mock.describe import HALO_TRUTH_COLUMNS
    from massbench.plugins.mock.formats import HALOS_COLUMNS, write_table

    cols = {"cluster_id": np.array([5, 2]), "tree_id": np.array([1, 1]), "n_nbr": np.array([3.0, 0.0])}
    write_table(
        tmp_path / "halos.fits",
        "HALOS",
        HALOS_COLUMNS[:1] + HALO_TRUTH_COLUMNS,
        cols,
        {"MODE": ("events", "observation mode")},
    )
    got = read_halo_truth(tmp_path)
    assert set(got) == set(cols)  # no cool_core column: skipped
    for k, v in cols.items():
        np.testing.assert_array_equal(got[k], v)


# ----------------------------------------------------------------------------- the CLI on a generated catalogue


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    from massbench.plugins.mock.generator import generate_catalogue

    return generate_catalogue(tmp_path_factory.mktemp("mock") / "cat", n_clusters=6, seed=4, workers=1)


def test_cli_describe_json_keeps_table1_and_adds_physics(raw: Path, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from massbench.plugins.mock import plugin
    from massbench.plugins.mock.loader import load_catalogue

    root = typer.Typer()
    root.command("noop")(lambda: None)
    plugin.massbench_register_commands(cli=root)
    cache = tmp_path / "cache"
    res = CliRunner().invoke(root, ["mock", "describe", str(raw), "--json", "--no-figures", "--cache-dir", str(cache)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout[res.stdout.index("{") :])
    assert list(out) == [*TABLE1_KEYS, "physics"]
    cat = load_catalogue(raw, cache)
    assert {k: out[k] for k in TABLE1_KEYS} == table1_summary(cat)
    phys = out["physics"]
    assert list(phys) == PHYSICS_KEYS and phys["n_clusters"] == 6
    assert list(phys["icm_scatter_dex"]) == ["r500c", "r015_1", "core_015", "ratio_excised_to_total"]
    assert list(phys["cool_core_fraction"]) == ["truth", "c_sb", "c_sb_strong"]
    assert set(phys["agn_icm_pixel_ratio"]) == {"ratio_of_means", "median_ratio", "n_clusters"}
    assert list(phys["n_phot_shares"]) == [
        "agn",
        "agn_median",
        "neighbours",
        "neighbours_median",
        "background",
        "background_median",
    ]
    assert list(phys["lineage_correlation"]) == ["n_icm_500c", "l_x", "n_pairs"]
    assert phys == json.loads(json.dumps(physics_summary(cat, read_halo_truth(raw)).to_dict()))
    assert not (raw / "gallery").exists()

    text = CliRunner().invoke(
        root, ["mock", "describe", str(raw), "--no-figures", "--cache-dir", str(cache)], env={"COLUMNS": "240"}
    )
    assert text.exit_code == 0, text.output
    assert "Physics statistics" in text.stdout and "icm_scatter_dex.core_015" in text.stdout
