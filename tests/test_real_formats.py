"""Real SIXTE / erosim / eSASS file conventions (issue 18), written with astropy alone.

A tiny events-mode catalogue is rewritten file by file in each convention; the loaded maps must equal
those of a plain counterpart (the same photons in ``<id>.fits``, RA/DEC in deg, SIGNAL in keV).
Coordinates are rounded to 1e-6 deg in both, so the scaled-integer files hold exactly the same values.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from massbench.errors import DataError
from massbench.plugins.mock.events import find_event_file, header_centre, read_event_file
from massbench.plugins.mock.formats import convert_column, parse_unit
from massbench.plugins.mock.generator import MockConfig, generate_catalogue
from massbench.plugins.mock.loader import load_catalogue

N = 4
SEED = 3
MAP_KEYS = ("xray_map", "xray_bands", "xray_icm_map", "xray_agn_map")


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return generate_catalogue(
        tmp_path_factory.mktemp("real") / "cat", n_clusters=N, seed=SEED, workers=1, config=MockConfig(mode="events")
    )


def _photons(path: Path) -> dict[str, np.ndarray]:
    with fits.open(path) as h:
        d = h["EVENTS"].data
        return {
            "TIME": np.asarray(d["TIME"], np.float64),
            "RAI": np.round(np.asarray(d["RA"], np.float64) * 1e6).astype(np.int32),
            "DECI": np.round(np.asarray(d["DEC"], np.float64) * 1e6).astype(np.int32),
            "SIGNAL": np.asarray(d["SIGNAL"], np.float32),
            "COMPONENT": np.asarray(d["COMPONENT"]),
        }


def _deg(ints: np.ndarray) -> np.ndarray:
    return ints.astype(np.float64) * 1e-6 + 0.0  # what astropy computes for TSCAL = 1e-6, TZERO = 0


def _write(path: Path, cols: list[fits.Column], ext: str = "EVENTS", **cards) -> None:
    hdu = fits.BinTableHDU.from_columns(cols, name=ext)
    for k, v in cards.items():
        hdu.header[k] = v
    hdul = fits.HDUList([fits.PrimaryHDU(), hdu])
    tmp = path.with_name(path.name[:-3]) if path.name.endswith(".gz") else path
    hdul.writeto(tmp, overwrite=True)
    for i, c in enumerate(cols, start=1):
        if c.name in ("RA", "DEC") and c.format == "J" and c.unit == "deg":  # calevents: int32 x 1e-6 deg
            fits.setval(tmp, f"TSCAL{i}", value=1e-6, ext=1)
            fits.setval(tmp, f"TZERO{i}", value=0.0, ext=1)
    if tmp != path:
        with open(tmp, "rb") as src, gzip.open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.unlink()


def _coords(p: dict[str, np.ndarray], sel: slice | np.ndarray, style: str) -> list[fits.Column]:
    if style == "scaled":  # ero_calevents: int32 in 1e-6 deg through TSCAL/TZERO
        return [
            fits.Column(name="RA", format="J", unit="deg", array=p["RAI"][sel]),  # TSCAL set by _write
            fits.Column(name="DEC", format="J", unit="deg", array=p["DECI"][sel]),
        ]
    if style == "udeg":
        return [
            fits.Column(name="RA", format="J", unit="udeg", array=p["RAI"][sel]),
            fits.Column(name="DEC", format="J", unit="udeg", array=p["DECI"][sel]),
        ]
    if style == "bare-int":  # integers in 1e-6 deg without TUNIT: must be rejected
        return [
            fits.Column(name="RA", format="J", array=p["RAI"][sel]),
            fits.Column(name="DEC", format="J", array=p["DECI"][sel]),
        ]
    return [
        fits.Column(name="RA", format="D", unit="deg", array=_deg(p["RAI"][sel])),
        fits.Column(name="DEC", format="D", unit="deg", array=_deg(p["DECI"][sel])),
    ]


def _plain(raw: Path, dst: Path) -> Path:
    """The plain counterpart: ``<id>.fits`` event lists with the rounded coordinates."""
    shutil.copytree(raw, dst)
    for f in sorted((dst / "events").glob("*.fits")):
        p = _photons(f)
        cols = [
            fits.Column(name="TIME", format="D", unit="s", array=p["TIME"]),
            *_coords(p, slice(None), "deg"),
            fits.Column(name="SIGNAL", format="E", unit="keV", array=p["SIGNAL"]),
            fits.Column(name="COMPONENT", format="3A", array=p["COMPONENT"]),
        ]
        _write(f, cols, RA_OBJ=10.0, DEC_OBJ=10.0)
    return dst


def _ids(cat_dir: Path) -> list[int]:
    return sorted(int(f.stem) for f in (cat_dir / "events").glob("*.fits"))


def _maps(cat) -> dict[str, np.ndarray]:
    out = {k: np.asarray(cat.inputs[k].data) for k in MAP_KEYS}
    out["n_phot"] = np.asarray(cat.inputs["n_phot"].data)
    return out


@pytest.fixture(scope="module")
def plain(raw: Path, tmp_path_factory) -> Path:
    return _plain(raw, tmp_path_factory.mktemp("plain") / "cat")


@pytest.fixture(scope="module")
def plain_maps(plain: Path, tmp_path_factory):
    return _maps(load_catalogue(plain, tmp_path_factory.mktemp("cache")))


def _mixed(raw: Path, dst: Path) -> Path:
    """Each cluster in another real-tool convention."""
    shutil.copytree(raw, dst)
    ev = dst / "events"
    ids = _ids(dst)
    rng = np.random.default_rng(0)
    for k, cid in enumerate(ids):
        f = ev / f"{cid}.fits"
        p = _photons(f)
        f.unlink()
        n = len(p["TIME"])
        comp = fits.Column(name="COMPONENT", format="3A", array=p["COMPONENT"])
        if k == 0:  # erosim: seven gzipped per-telescope lists, calevents-style scaled RA/DEC, ENERGY in eV
            tm = rng.integers(1, 8, n)
            for t in range(1, 8):
                s = tm == t
                cols = [
                    fits.Column(name="TIME", format="D", unit="s", array=p["TIME"][s]),
                    *_coords(p, s, "scaled"),
                    fits.Column(name="ENERGY", format="D", unit="eV", array=p["SIGNAL"][s].astype(np.float64) * 1e3),
                    fits.Column(name="COMPONENT", format="3A", array=p["COMPONENT"][s]),
                ]
                _write(ev / f"{cid}_ccd{t}_evt.fits.gz", cols, RA_PNT=0.0, DEC_PNT=0.0, RA_OBJ=10.0, DE_OBJ=10.0)
        elif k == 1:  # gzipped <id>_evt.fits, RA_OBJ/DEC_OBJ 'NA' placeholders next to a valid pointing
            cols = [
                *_coords(p, slice(None), "scaled"),
                fits.Column(name="SIGNAL", format="E", unit="keV", array=p["SIGNAL"]),
                comp,
            ]
            _write(ev / f"{cid}_evt.fits.gz", cols, RA_OBJ="NA", DEC_OBJ="NA", RA_PNT=10.0, DEC_PNT=10.0)
        elif k == 2:  # eSASS: PI in eV without TUNIT, no SIGNAL; RA/DEC in udeg; uncompressed per-telescope
            s = slice(None)
            cols = [*_coords(p, s, "udeg"), fits.Column(name="PI", format="D", array=p["SIGNAL"] * 1e3), comp]
            _write(ev / f"{cid}_ccd3_evt.fits", cols, RA_OBJ=10.0, DE_OBJ=10.0)
        else:  # gzipped <id>_phlist.fits photon list, centre from the pointing
            cols = [
                *_coords(p, slice(None), "deg"),
                fits.Column(name="ENERGY", format="E", unit="keV", array=p["SIGNAL"]),
                comp,
            ]
            _write(ev / f"{cid}_phlist.fits.gz", cols, ext="PHOTONS", RA_PNT=10.0, DEC_PNT=10.0)
    return dst


def test_mixed_real_conventions_give_the_plain_maps(raw: Path, plain_maps, tmp_path: Path) -> None:
    mixed = _mixed(raw, tmp_path / "mixed")
    ids = _ids(raw)
    assert len(list((mixed / "events").glob(f"{ids[0]}_ccd*_evt.fits.gz"))) == 7
    cat = load_catalogue(mixed, tmp_path / "cache")
    got = _maps(cat)
    for k, v in plain_maps.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)
    assert (got["n_phot"] > 0).all()
    info = json.loads(next((tmp_path / "cache").rglob("complete.json")).read_text())
    assert info["file_kinds"] == ["events", "photons"]


def test_per_telescope_lists_are_merged(raw: Path, tmp_path: Path) -> None:
    mixed = _mixed(raw, tmp_path / "mixed")
    cid = _ids(raw)[0]
    first = find_event_file(mixed, cid)
    assert first.name == f"{cid}_ccd1_evt.fits.gz"
    ev = read_event_file(first, cid)
    assert len(ev.paths) == 7 and ev.kind == "events"
    assert len(ev.ra) == len(_photons(raw / "events" / f"{cid}.fits")["TIME"])
    assert ev.centre == (10.0, 10.0) and ev.centre_keys == "RA_OBJ/DE_OBJ"
    assert ev.energy_column == "ENERGY" and "TSCAL" in ev.units["RA"]


def test_centre_keywords_and_placeholders() -> None:
    assert header_centre({"RA_OBJ": "NA", "DEC_OBJ": "NA", "RA_PNT": 10.0, "DEC_PNT": 11.0})[:2] == (
        (10.0, 11.0),
        "RA_PNT/DEC_PNT",
    )
    assert header_centre({"RA_OBJ": 12.0, "DE_OBJ": 13.0, "RA_PNT": 10.0, "DEC_PNT": 11.0})[:2] == (
        (12.0, 13.0),
        "RA_OBJ/DE_OBJ",
    )
    centre, keys, skipped = header_centre({"RA_PNT": 0.0, "DEC_PNT": 0.0})
    assert centre is None and keys == "" and "placeholder" in skipped[0]
    # the mock's own clusters sit at RA = DEC = 10 deg
    assert header_centre({"RA_OBJ": 10.0, "DEC_OBJ": 10.0})[0] == (10.0, 10.0)


def test_photon_list_named_id_fits_is_labelled_photons(tmp_path: Path) -> None:
    cat_dir = generate_catalogue(tmp_path / "ph", n_clusters=2, seed=1, workers=1)  # PHOTONS in <id>.fits
    cid = _ids(cat_dir)[0]
    assert read_event_file(cat_dir / "events" / f"{cid}.fits", cid).kind == "photons"
    load_catalogue(cat_dir, tmp_path / "cache")
    info = json.loads(next((tmp_path / "cache").rglob("complete.json")).read_text())
    assert info["file_kinds"] == ["photons"]


def _one_cluster_rewritten(plain: Path, tmp_path: Path, style: str, **cards) -> tuple[Path, Path]:
    cp = tmp_path / "cp"
    shutil.copytree(plain, cp)
    cid = _ids(cp)[0]
    f = cp / "events" / f"{cid}.fits"
    p = _photons(f)
    cols = [*_coords(p, slice(None), style), fits.Column(name="SIGNAL", format="E", unit="keV", array=p["SIGNAL"])]
    cols.append(fits.Column(name="COMPONENT", format="3A", array=p["COMPONENT"]))
    _write(f, cols, **(cards or {"RA_OBJ": 10.0, "DEC_OBJ": 10.0}))
    return cp, f


def test_unitless_integer_coordinates_are_an_error_naming_the_file(plain: Path, tmp_path: Path) -> None:
    cp, f = _one_cluster_rewritten(plain, tmp_path, "bare-int")
    with pytest.raises(DataError, match=re.escape(str(f)) + r".*outside \[0, 360\]"):
        load_catalogue(cp, tmp_path / "cache")


def test_zero_zero_placeholder_without_other_centre_is_an_error(plain: Path, tmp_path: Path) -> None:
    cp, f = _one_cluster_rewritten(plain, tmp_path, "deg", RA_OBJ="NA", DEC_OBJ="NA", RA_PNT=0.0, DEC_PNT=0.0)
    with pytest.raises(DataError, match=re.escape(str(f)) + r": no cluster centre.*placeholder"):
        load_catalogue(cp, tmp_path / "cache")


def test_empty_map_is_an_error_naming_the_file(plain: Path, tmp_path: Path) -> None:
    cp, f = _one_cluster_rewritten(plain, tmp_path, "deg", RA_OBJ=200.0, DEC_OBJ=-40.0)
    with pytest.raises(DataError, match=re.escape(str(f)) + r": no photon of the \d+ read lands in the"):
        load_catalogue(cp, tmp_path / "cache")


@pytest.mark.filterwarnings("ignore:The unit .* could not be saved")
def test_halos_centre_is_the_last_fallback(plain: Path, plain_maps, tmp_path: Path) -> None:
    import astropy.units as u
    from astropy.cosmology import units as cu
    from astropy.table import QTable

    cp = tmp_path / "cp"
    shutil.copytree(plain, cp)
    for f in sorted((cp / "events").glob("*.fits")):
        with fits.open(f) as h:
            hdu = h["EVENTS"].copy()
        hdu.header["RA_OBJ"], hdu.header["DEC_OBJ"] = "NA", "NA"
        hdu.header["RA_PNT"], hdu.header["DEC_PNT"] = 0.0, 0.0
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(f, overwrite=True)
    with u.add_enabled_units(cu):
        t = QTable.read(cp / "halos.fits")
        t["RA"] = np.full(len(t), 10.0) * u.deg
        t["DEC"] = np.full(len(t), 10.0) * u.deg
        t.write(cp / "halos.fits", overwrite=True)
    got = _maps(load_catalogue(cp, tmp_path / "cache"))
    for k, v in plain_maps.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)


@pytest.mark.parametrize("text", ["kpc/h", "h^-1 kpc", "kpc / littleh", "kpc h^-1", "Mpc/h", "h^-1 Mpc"])
def test_h_scaled_length_units(text: str) -> None:
    expect = 0.7 if "kpc" in text else 700.0
    got = convert_column(np.array([700.0]), text, "Mpc / littleh", "halos.fits", "R500c")
    assert got == pytest.approx([expect])
    assert str(parse_unit(text)).endswith("/ littleh")


def test_kpc_per_h_in_halos_tunit(plain: Path, tmp_path: Path) -> None:
    cp = tmp_path / "cp"
    shutil.copytree(plain, cp)
    with fits.open(cp / "halos.fits") as h:
        d = h[1].data
        r500 = np.asarray(d["R500c"], np.float64)
        cols = [c.copy() for c in h[1].columns]
    for c in cols:
        if c.name == "R500c":
            c.array = r500 * 1e3
            c.unit = "kpc/h"
    hdu = fits.BinTableHDU.from_columns(cols, name="HALOS")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(cp / "halos.fits", overwrite=True)
    cat = load_catalogue(cp, tmp_path / "cache")
    np.testing.assert_allclose(np.asarray(cat.inputs["r500c"].data), r500, rtol=1e-12)


# ----------------------------------------------------------------------------- massbench data check


def _data_check(directory: Path, *extra: str):
    import typer
    from typer.testing import CliRunner

    from massbench.plugins.mock import plugin

    root = typer.Typer()
    root.command("noop")(lambda: None)
    plugin.massbench_register_commands(cli=root)
    return CliRunner().invoke(root, ["data", "check", str(directory), *extra])


def test_data_check_reports_formats_centres_units_and_skipped_files(raw: Path, tmp_path: Path) -> None:
    mixed = _mixed(raw, tmp_path / "mixed")
    (mixed / "events" / "999.fits").write_bytes(b"")
    (mixed / "events" / "README").write_text("notes")
    res = _data_check(mixed, "--json")
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["status"] == 0 and rep["problems"] == []
    ids = _ids(raw)
    by_id = {c["cluster_id"]: c for c in rep["clusters"]}
    tel = by_id[ids[0]]
    assert tel["format"] == "per-telescope event lists (7 merged)" and len(tel["files"]) == 7
    assert tel["centre_source"] == "RA_OBJ/DE_OBJ" and not tel["centre_fallback"]
    assert "TSCAL" in tel["units"]["RA"] and tel["units"]["ENERGY"] == "eV" and tel["energy_column"] == "ENERGY"
    evt = by_id[ids[1]]
    assert evt["format"] == "event list" and evt["centre_source"] == "RA_PNT/DEC_PNT" and evt["centre_fallback"]
    assert "not numeric" in evt["skipped_centre_keywords"][0]
    assert by_id[ids[2]]["energy_column"] == "PI" and "PI taken in eV" in by_id[ids[2]]["units"]["PI"]
    assert by_id[ids[3]]["format"] == "photon list" and by_id[ids[3]]["kind"] == "photons"
    n_plain = {cid: len(_photons(raw / "events" / f"{cid}.fits")["TIME"]) for cid in ids}
    for cid, c in by_id.items():
        assert c["n_photons"] == n_plain[cid] and 0 < c["share_in_map"] <= 1
        assert c["n_in_map"] == round(c["share_in_map"] * c["n_photons"])
    reasons = {Path(s["file"]).name: s["reason"] for s in rep["skipped_files"]}
    assert "not in halos.fits" in reasons["999.fits"] and "not recognised" in reasons["README"]
    text = _data_check(mixed)
    assert text.exit_code == 0 and "(fallback)" in text.stdout and "status 0" in text.stdout


def test_data_check_exits_2_on_silently_wrong_input(plain: Path, tmp_path: Path) -> None:
    cp, f = _one_cluster_rewritten(plain, tmp_path, "deg", RA_OBJ=200.0, DEC_OBJ=-40.0)
    res = _data_check(cp, "--json")
    assert res.exit_code == 2
    rep = json.loads(res.stdout)
    assert rep["status"] == 2 and any(str(f) in p and "no photon in the 0.5-10 keV map" in p for p in rep["problems"])
    # keV-labelled energies that are really eV
    cp2, f2 = _one_cluster_rewritten(plain, tmp_path / "ev", "deg")
    with fits.open(f2, mode="update") as h:
        h[1].data["SIGNAL"] *= 1000.0
    rep2 = json.loads(_data_check(cp2, "--json").stdout)
    assert rep2["status"] == 2 and any(str(f2) in p and "TUNIT 'eV'" in p for p in rep2["problems"])
    # unitless integer coordinates
    cp3, f3 = _one_cluster_rewritten(plain, tmp_path / "int", "bare-int")
    res3 = _data_check(cp3)
    assert res3.exit_code == 2 and "problem" in res3.stdout


def test_pixels_match_an_independent_wmap7_projection(raw: Path, tmp_path: Path) -> None:
    """Per-telescope, scaled-coordinate cluster: every photon's pixel from astropy's WMAP7 comoving distance
    x the offset from the centre on the plane perpendicular to the line of sight x h."""
    from astropy.cosmology import FlatLambdaCDM

    mixed = _mixed(raw, tmp_path / "mixed")
    cat = load_catalogue(mixed, tmp_path / "cache")
    with fits.open(mixed / "halos.fits") as h:
        ids = np.asarray(h[1].data["cluster_id"])
        zs = np.asarray(h[1].data["redshift"], np.float64)
    cid = _ids(raw)[0]
    row = int(np.flatnonzero(np.asarray(cat.cluster_id) == cid)[0])
    z = float(zs[ids == cid][0])
    p = _photons(raw / "events" / f"{cid}.fits")
    ra, dec = np.radians(_deg(p["RAI"])), np.radians(_deg(p["DECI"]))
    ra0 = dec0 = np.radians(10.0)
    d = FlatLambdaCDM(H0=70.4, Om0=0.272, Ob0=0.0456).comoving_distance(z).to_value("Mpc") * 0.704
    x = d * np.cos(dec) * np.sin(ra - ra0)
    y = d * (np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(ra - ra0))
    e = p["SIGNAL"].astype(np.float64)
    band = (e >= 0.5) & (e < 10.0)
    edges = np.linspace(-2.3, 2.3, 129)
    # the mock's events sit at sky-pixel centres, and the column through the centre has x = 0 (a map edge)
    # to rounding: such photons may fall on either side, so they are only counted, not placed
    gap = np.minimum(np.abs(x[:, None] - edges).min(axis=1), np.abs(y[:, None] - edges).min(axis=1))
    safe = gap > 1e-9
    inside = (np.abs(x) < 2.3) & (np.abs(y) < 2.3)
    expect, _, _ = np.histogram2d(x[band & safe], y[band & safe], bins=[edges, edges])
    got = np.asarray(cat.inputs["xray_map"].data[row], np.float64)
    assert (got >= expect).all() and expect.sum() > 0
    assert got.sum() - expect.sum() == (band & ~safe & inside).sum()
    assert (band & ~safe).sum() < 0.05 * band.sum()
