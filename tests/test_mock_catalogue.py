"""The generator -> raw files -> loader round trip, the cache, bad input, the datasets and the CLI."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from massbench.errors import ConfigError, DataError
from massbench.estimator import RunContext
from massbench.plugins.mock.dynamics import dynamical_selection, richness_and_dispersion
from massbench.plugins.mock.events import read_event_file
from massbench.plugins.mock.generator import MockConfig, generate_catalogue
from massbench.plugins.mock.loader import load_catalogue
from massbench.plugins.mock.projection import MAP_CENTRES, MAP_EDGES, sky_to_projected

N = 20
SEED = 6


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    # events mode: SIXTE-style event lists (EVENTS, SIGNAL); the default photon-list mode is covered by
    # tests/test_mock_v2_physics.py and by the conversion test below
    return generate_catalogue(
        tmp_path_factory.mktemp("mock") / "cat", n_clusters=N, seed=SEED, workers=1, config=MockConfig(mode="events")
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def cat(raw: Path, cache: Path):
    return load_catalogue(raw, cache)


def _copy(raw: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(raw, dst)
    return dst


# ----------------------------------------------------------------------------- round trip


def test_inputs_follow_docs_inputs_md(cat) -> None:
    n = len(cat)
    assert n == N and cat.name == "magneticum-sixte"
    shapes = {
        "xray_map": (n, 128, 128),
        "xray_bands": (n, 128, 128, 3),
        "dyn_cube": (n, 64, 64, 64),
        "xray_icm_map": (n, 128, 128),
        "xray_agn_map": (n, 128, 128),
        "xray_icm_bands": (n, 128, 128, 3),
        "xray_agn_bands": (n, 128, 128, 3),
    }
    for k, s in shapes.items():
        assert cat.inputs[k].shape == s and cat.inputs[k].data.dtype == np.float32, k
    # stored sparsely and memory-mapped (massbench.sparse): nothing is read until rows are indexed
    from massbench.sparse import SparseRows

    assert isinstance(cat.inputs["dyn_cube"].data, SparseRows)
    assert isinstance(cat.inputs["dyn_cube"].data.values, np.memmap)
    for k in (
        "n_phot",
        "n_phot_500c",
        "n_gal",
        "sigma_v",
        "T",
        "L_X",
        "M_gas",
        "M_star",
        "sigma_v_true",
        "r500c",
        "n_icm",
        "n_agn",
    ):
        assert cat.inputs[k].shape == (n,) and cat.inputs[k].data.dtype == np.float64, k
    truth = {k for k, v in cat.inputs.items() if v.truth_only}
    assert truth == {"xray_icm_map", "xray_agn_map", "xray_icm_bands", "xray_agn_bands", "r500c", "n_icm", "n_agn"}
    assert {k for k, v in cat.inputs.items() if v.idealised} == {"T", "L_X", "M_gas", "M_star", "sigma_v_true"}
    assert cat.inputs["galaxies"].data.dtype == object and cat.inputs["galaxies"].data[0].shape[1] == 4
    assert cat.box_size == 352.0 and np.all((cat.positions >= 0) & (cat.positions < 352.0))
    assert cat.meta["cache_key"] and cat.meta["raw_header"]["SEED"] == SEED
    json.dumps(cat.meta)  # run.json records it


def test_loader_round_trip_against_the_raw_files(raw: Path, cat) -> None:
    halos = fits.getdata(raw / "halos.fits", "HALOS")
    np.testing.assert_array_equal(cat.cluster_id, halos["cluster_id"])
    np.testing.assert_allclose(cat.log10_m500c, np.log10(halos["M500c"]))
    np.testing.assert_allclose(cat.redshift, halos["redshift"])
    np.testing.assert_allclose(np.asarray(cat.inputs["T"].data), halos["T"])
    gal = fits.getdata(raw / "galaxies.fits", "GALAXIES")
    for i in (0, N // 2, N - 1):
        cid, z = int(cat.cluster_id[i]), float(cat.redshift[i])
        ev = read_event_file(raw / "events" / f"{cid}.fits", cid)
        x, y = sky_to_projected(ev.ra, ev.dec, 10.0, 10.0, z)
        full = (ev.energy >= 0.5) & (ev.energy < 10.0)
        ref, _, _ = np.histogram2d(x[full], y[full], bins=[MAP_EDGES, MAP_EDGES])
        np.testing.assert_array_equal(cat.inputs["xray_map"].data[i], ref)
        icm = full & (ev.component == 0)
        ref_icm, _, _ = np.histogram2d(x[icm], y[icm], bins=[MAP_EDGES, MAP_EDGES])
        np.testing.assert_array_equal(cat.inputs["xray_icm_map"].data[i], ref_icm)
        soft = (ev.energy >= 0.5) & (ev.energy < 1.2)
        ref_soft, _, _ = np.histogram2d(x[soft], y[soft], bins=[MAP_EDGES, MAP_EDGES])
        np.testing.assert_array_equal(cat.inputs["xray_bands"].data[i][..., 0], ref_soft)
        # N_phot over pixels with centres inside 2.3 h^-1 Mpc; N_phot,500c inside R500c
        r2 = MAP_CENTRES[:, None] ** 2 + MAP_CENTRES[None, :] ** 2
        assert cat.inputs["n_phot"].data[i] == ref[r2 <= 2.3**2].sum()
        assert cat.inputs["n_phot_500c"].data[i] == ref[r2 <= halos["R500c"][i] ** 2].sum()
        assert cat.inputs["n_icm"].data[i] == ref_icm.sum()
        # galaxies: selection, richness, the cube
        g = gal[gal["cluster_id"] == cid]
        sel = dynamical_selection(g["x_proj"], g["y_proj"], g["v_los"], np.log10(g["M_star"]))
        mine = cat.inputs["galaxies"].data[i]
        assert len(mine) == sel.sum()
        np.testing.assert_allclose(mine[:, 2], g["v_los"][sel])
        rich = richness_and_dispersion(mine[:, 0], mine[:, 1], mine[:, 2])
        assert cat.inputs["n_gal"].data[i] == rich.n_gal
        assert cat.inputs["sigma_v"].data[i] == pytest.approx(rich.sigma_v)
        assert float(cat.inputs["dyn_cube"].data[i].sum()) == pytest.approx(1.0, rel=1e-4)
    maps = np.asarray(cat.inputs["xray_map"].data)
    bands = np.asarray(cat.inputs["xray_bands"].data)
    assert np.all(maps >= bands.sum(axis=-1))  # 7-10 keV photons are only in the full band
    parts = np.asarray(cat.inputs["xray_icm_map"].data) + np.asarray(cat.inputs["xray_agn_map"].data)
    assert np.all(parts <= maps)


def test_units_round_trip_with_astropy(raw: Path) -> None:
    import astropy.units as u
    from astropy.cosmology import units as cu
    from astropy.table import QTable

    with u.add_enabled_units(cu):
        t = QTable.read(raw / "halos.fits", hdu="HALOS")
        assert t["M500c"].unit == u.Msun / cu.littleh
        assert t["R500c"].unit == u.Mpc / cu.littleh
        assert t["L_X"].unit == u.erg / u.s and t["T"].unit == u.keV
        ev = QTable.read(raw / "events" / "1.fits", hdu="EVENTS")
        assert ev["SIGNAL"].unit == u.keV and ev["RA"].unit == u.deg


def test_reload_uses_the_cache_and_is_fast(raw: Path, cache: Path, cat) -> None:
    t0 = time.perf_counter()
    again = load_catalogue(raw, cache)
    assert time.perf_counter() - t0 < 2.0
    assert again.meta["cache_key"] == cat.meta["cache_key"]
    np.testing.assert_array_equal(np.asarray(again.inputs["xray_map"].data), np.asarray(cat.inputs["xray_map"].data))


def test_generation_is_deterministic(raw: Path, tmp_path: Path) -> None:
    other = generate_catalogue(tmp_path / "again", n_clusters=N, seed=SEED, workers=2, config=MockConfig(mode="events"))
    for name in ("halos.fits", "galaxies.fits", "events/3.fits"):
        assert (other / name).read_bytes() == (raw / name).read_bytes(), name


def test_photon_lists_without_components_load_without_truth_maps(raw: Path, cat, tmp_path: Path) -> None:
    cp = _copy(raw, tmp_path)
    for p in sorted((cp / "events").glob("*.fits")):
        with fits.open(p) as h:
            d = h["EVENTS"].data
            cols = [
                fits.Column(name="TIME", format="D", unit="s", array=d["TIME"]),
                fits.Column(name="ENERGY", format="E", unit="keV", array=d["SIGNAL"]),
                fits.Column(name="RA", format="D", unit="deg", array=d["RA"]),
                fits.Column(name="DEC", format="D", unit="deg", array=d["DEC"]),
            ]
            ph = fits.BinTableHDU.from_columns(cols, name="PHOTONS")
            ph.header["RA_PNT"], ph.header["DEC_PNT"] = 10.0, 10.0
        p.unlink()
        fits.HDUList([fits.PrimaryHDU(), ph]).writeto(p.with_name(p.stem + "_phlist.fits"))
    with pytest.warns(UserWarning, match="truth-only ICM/AGN maps .* are unavailable"):
        c2 = load_catalogue(cp, tmp_path / "cache")
    assert "xray_icm_map" not in c2.inputs and "n_agn" not in c2.inputs
    assert any("COMPONENT" in note for note in c2.meta["notes"])
    np.testing.assert_array_equal(np.asarray(c2.inputs["xray_map"].data), np.asarray(cat.inputs["xray_map"].data))


def test_galaxies_given_by_ra_dec_and_masses_in_other_units(raw: Path, cat, tmp_path: Path) -> None:
    cp = _copy(raw, tmp_path)
    with fits.open(cp / "galaxies.fits") as h:
        d = h["GALAXIES"].data
        cols = [
            fits.Column(name="cluster_id", format="K", array=d["cluster_id"]),
            fits.Column(name="RA", format="D", unit="deg", array=d["RA"]),
            fits.Column(name="DEC", format="D", unit="deg", array=d["DEC"]),
            fits.Column(name="v_los", format="D", unit="km / s", array=d["v_los"]),
            fits.Column(name="M_star", format="D", unit="h^-1 Msun", array=d["M_star"]),
        ]
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="GALAXIES")]).writeto(
            cp / "galaxies.fits", overwrite=True
        )
    with fits.open(cp / "halos.fits") as h:
        t = h["HALOS"]
        t.columns["R500c"].unit = "kpc / littleh"
        t.data["R500c"] = t.data["R500c"] * 1000.0
        h.writeto(cp / "halos2.fits")
    (cp / "halos2.fits").replace(cp / "halos.fits")
    c2 = load_catalogue(cp, tmp_path / "cache")
    for i in range(len(c2)):
        np.testing.assert_allclose(c2.inputs["galaxies"].data[i], cat.inputs["galaxies"].data[i], atol=1e-7)
    np.testing.assert_allclose(np.asarray(c2.inputs["r500c"].data), np.asarray(cat.inputs["r500c"].data))
    np.testing.assert_array_equal(np.asarray(c2.inputs["n_phot_500c"].data), np.asarray(cat.inputs["n_phot_500c"].data))


# ----------------------------------------------------------------------------- bad input


def _expect(cp: Path, tmp_path: Path, *fragments: str) -> str:
    with pytest.raises(DataError) as err:
        load_catalogue(cp, tmp_path / "cache")
    msg = str(err.value)
    for f in fragments:
        assert f in msg, msg
    return msg


def test_missing_event_file_names_the_cluster(raw: Path, tmp_path: Path) -> None:
    cp = _copy(raw, tmp_path)
    (cp / "events" / "4.fits").unlink()
    _expect(cp, tmp_path, "cluster 4", "4.fits")


def test_corrupt_event_file_names_file_and_cluster(raw: Path, tmp_path: Path) -> None:
    cp = _copy(raw, tmp_path)
    (cp / "events" / "5.fits").write_bytes(b"SIMPLE  = this is not a FITS file" * 10)
    _expect(cp, tmp_path, "5.fits", "cluster 5")


def test_nan_photons_name_file_and_cluster(raw: Path, tmp_path: Path) -> None:
    cp = _copy(raw, tmp_path)
    with fits.open(cp / "events" / "7.fits", mode="update") as h:
        h["EVENTS"].data["RA"][3] = np.nan
    _expect(cp, tmp_path, "7.fits", "cluster 7", "'RA'", "NaN")


def test_wrong_energy_unit_names_the_column(raw: Path, tmp_path: Path) -> None:
    cp = _copy(raw, tmp_path)
    with fits.open(cp / "events" / "2.fits", mode="update") as h:
        h["EVENTS"].columns["SIGNAL"].unit = "m"
    _expect(cp, tmp_path, "2.fits", "SIGNAL", "'m'", "keV")


def test_missing_and_nan_halo_columns(raw: Path, tmp_path: Path) -> None:
    cp = _copy(raw, tmp_path)
    with fits.open(cp / "halos.fits", mode="update") as h:
        h["HALOS"].data["T"][2] = np.nan
    cid = int(fits.getdata(cp / "halos.fits", "HALOS")["cluster_id"][2])
    _expect(cp, tmp_path, "halos.fits", "'T'", f"cluster {cid}")
    with fits.open(raw / "halos.fits") as h:
        t = h["HALOS"]
        cols = [c for c in t.columns if c.name != "M500c"]
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="HALOS")]).writeto(
            cp / "halos.fits", overwrite=True
        )
    _expect(cp, tmp_path, "halos.fits", "missing column 'M500c'")


def test_galaxies_of_an_unknown_cluster_are_an_error(raw: Path, tmp_path: Path) -> None:
    cp = _copy(raw, tmp_path)
    with fits.open(cp / "galaxies.fits", mode="update") as h:
        h["GALAXIES"].data["cluster_id"][0] = 999
    _expect(cp, tmp_path, "galaxies.fits", "999")


# ----------------------------------------------------------------------------- datasets and CLI


def test_dataset_params_are_checked() -> None:
    from massbench.plugins.mock.datasets import ErositaMock, MagneticumSixte

    with pytest.raises(ConfigError, match="'n_clusters'"):
        ErositaMock(n_clusters="fifty")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'seed'"):
        ErositaMock(seed=-1)
    with pytest.raises(DataError, match="'path'"):
        MagneticumSixte(path="/nonexistent/catalogue").load(RunContext())
    try:
        from massbench.params import check_params
    except ImportError:  # pragma: no cover - harness without parameter checks
        return
    problems = check_params(ErositaMock, {"n_clusters": "fifty", "sed": 1})
    assert any("n_clusters" in p for p in problems) and any("sed" in p for p in problems)


def test_plugin_registers_datasets_and_commands() -> None:
    import typer

    from massbench.plugins.mock import plugin

    names = [c.name for c in plugin.massbench_datasets()]
    assert names == ["erosita-mock", "magneticum-sixte"]
    root = typer.Typer()
    plugin.massbench_register_commands(cli=root)
    assert any(g.name == "mock" for g in root.registered_groups)


def test_erosita_mock_dataset_generates_then_reads_through_the_loader(tmp_path: Path) -> None:
    from massbench.plugins.mock.datasets import ErositaMock

    ds = ErositaMock(n_clusters=8, seed=3, cache_dir=str(tmp_path))
    c = ds.load(RunContext(cache_dir=tmp_path / "unused"))
    assert len(c) == 8 and c.name == "erosita-mock"
    assert (ds.raw_directory() / "halos.fits").is_file()
    assert c.meta["generator"] == {"n_clusters": 8, "seed": 3, "mode": "photon-list", "version": "2"}
    assert not (tmp_path / "unused").exists()
    again = ErositaMock(n_clusters=8, seed=3, cache_dir=str(tmp_path)).load(RunContext())
    assert again.meta["cache_key"] == c.meta["cache_key"]


def test_cli_describe_json_and_gallery(raw: Path, cache: Path, tmp_path: Path, cat) -> None:
    import typer
    from typer.testing import CliRunner

    from massbench.plugins.mock import plugin

    root = typer.Typer()
    root.command("noop")(lambda: None)
    plugin.massbench_register_commands(cli=root)
    res = CliRunner().invoke(
        root, ["mock", "describe", str(raw), "--json", "--cache-dir", str(cache), "--out", str(tmp_path / "gal")]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout[res.stdout.index("{") :])
    assert list(out) == ["log10_m500c", "redshift", "n_phot", "n_icm", "n_agn", "n_gal", "physics"]
    assert set(out["n_phot"]) == {"min", "median", "max"}
    assert out["n_phot"]["median"] == float(np.median(np.asarray(cat.inputs["xray_map"].data).sum(axis=(1, 2))))
    pngs = sorted(p.name for p in (tmp_path / "gal").glob("*.png"))
    assert pngs == ["distributions.png", "fig1_photon_maps.png", "fig2_multiband_and_cube.png"]


def test_cli_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, "-c", "from massbench.cli import main; main()", "mock", "describe", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2, p.stderr
    text = " ".join(p.stderr.split())  # rich wraps long lines
    assert "does not exist" in text and "Traceback" not in text
