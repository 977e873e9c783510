"""SIXTE-style event and photon lists: writing (generator) and reading (loader).

Kinds of file read (``events/``; each name also gzipped, ``.gz``):

- event lists (``<id>.fits``, ``<id>_evt.fits``): extension ``EVENTS`` with RA, DEC [deg], SIGNAL [keV]
  (or ENERGY, or eSASS's PI), TIME [s], and in mock catalogues COMPONENT ("ICM", "AGN", "BKG");
- photon lists (``<id>_phlist.fits``, or any file whose table is ``PHOTONS``): RA, DEC [deg],
  ENERGY [keV], TIME [s] and no COMPONENT column in real SIXTE output (then no ICM/AGN truth maps);
- erosim's per-telescope event lists ``<id>_ccd1_evt.fits`` .. ``<id>_ccd7_evt.fits``, merged.

Units come from TUNIT through astropy (``eV``, ``udeg``, ...); TSCAL/TZERO are applied by astropy
when the column is read. The energy column is SIGNAL, else ENERGY, else PI; a PI column without
TUNIT is in eV (eSASS). Without TUNIT, RA/DEC are degrees and energies keV; RA/DEC outside
[0, 360] / [-90, 90] are an error naming the file (e.g. integers in 1e-6 deg without TSCAL or TUNIT).

The projection centre is, in order of preference, the RA/DEC columns of halos.fits, the header's
RA_OBJ with DEC_OBJ or DE_OBJ (SIXTE's eROSITA spelling), then RA_PNT/DEC_PNT (the pointing; the
paper puts each cluster at the pointing). Non-numeric placeholders ('NA'), (0, 0) and out-of-range
values are skipped; no usable centre, or no photon in the map, is an error naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from massbench.errors import DataError

from .formats import COMPONENTS, EVENT_COLUMNS, EVENTS_DIR, PHOTON_COLUMNS, convert_column, fits_columns, table_columns
from .instrument import EROSITA, ErositaSetup


@dataclass
class EventList:
    """Photons of one cluster: sky position [deg], energy [keV], component code (0 ICM, 1 AGN, 2 BKG) or None."""

    ra: np.ndarray
    dec: np.ndarray
    energy: np.ndarray
    component: np.ndarray | None
    centre: tuple[float, float] | None
    kind: str  # "events" or "photons"
    path: Path
    #: every file read (several for erosim's per-telescope lists)
    paths: tuple[Path, ...] = ()
    #: header keywords the centre came from ("RA_OBJ/DE_OBJ", "RA_PNT/DEC_PNT"), "" if none
    centre_keys: str = ""
    #: header keywords skipped as placeholders ('NA', (0, 0), out of range)
    centre_skipped: tuple[str, ...] = ()
    #: column name -> unit as read ("" where no TUNIT; TSCAL/TZERO noted)
    units: dict[str, str] | None = None
    energy_column: str = ""
    #: mock truth SRC_ID per photon (0 background, 1 the cluster's gas, 2... AGN, 1000000... neighbours), or None
    src_id: np.ndarray | None = None


#: erosim's per-telescope event lists: <id>_ccd1_evt.fits .. <id>_ccd7_evt.fits (gzipped or not)
TELESCOPE_RE = re.compile(r"^(\d+)_ccd([1-7])_evt\.fits(\.gz)?$")
_SINGLE_NAMES = ("{cid}.fits", "{cid}_evt.fits", "{cid}_phlist.fits", "{cid}.phlist.fits")


def event_file_candidates(directory: Path, cluster_id: int) -> list[Path]:
    """Single-file paths tried for a cluster's photons, in order (each also gzipped)."""
    d = Path(directory) / EVENTS_DIR
    cid = str(int(cluster_id))
    return [d / (n.format(cid=cid) + gz) for n in _SINGLE_NAMES for gz in ("", ".gz")]


def telescope_files(events_dir: Path, cluster_id: int) -> list[Path]:
    """erosim's per-telescope event lists of one cluster (``<id>_ccdN_evt.fits[.gz]``, N = 1..7), in order."""
    out = []
    for n in range(1, 8):
        for gz in ("", ".gz"):
            p = Path(events_dir) / f"{int(cluster_id)}_ccd{n}_evt.fits{gz}"
            if p.is_file():
                out.append(p)
                break
    return out


def event_file_group(path: Path) -> list[Path]:
    """The files read for the event file ``path``: all telescopes of a per-telescope list, else ``[path]``."""
    m = TELESCOPE_RE.match(Path(path).name)
    if m is None:
        return [Path(path)]
    return telescope_files(Path(path).parent, int(m.group(1))) or [Path(path)]


def find_event_file(directory: Path, cluster_id: int) -> Path:
    """The event or photon file of ``cluster_id`` (for per-telescope lists the first telescope's);
    DataError naming the cluster and the expected path."""
    for p in event_file_candidates(directory, cluster_id):
        if p.is_file():
            return p
    tel = telescope_files(Path(directory) / EVENTS_DIR, cluster_id)
    if tel:
        return tel[0]
    raise DataError(
        f"cluster {int(cluster_id)}: no event file; expected {Path(directory) / EVENTS_DIR / f'{int(cluster_id)}.fits'}"
        f" (or {int(cluster_id)}_evt.fits, {int(cluster_id)}_phlist.fits, {int(cluster_id)}_ccd1_evt.fits"
        f" .. _ccd7_evt.fits, each optionally .gz)"
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None  # 'NA' and other string placeholders
    v = float(value)
    return v if np.isfinite(v) else None


def header_centre(*headers: Any) -> tuple[tuple[float, float] | None, str, tuple[str, ...]]:
    """(centre, keywords used, keywords skipped) from event-file headers.

    Tried in order: RA_OBJ with DEC_OBJ or DE_OBJ (SIXTE's eROSITA spelling), then RA_PNT/DEC_PNT.
    Non-numeric placeholders ('NA'), (0, 0) and values out of range are skipped.
    """
    skipped: list[str] = []
    for ra_key, dec_keys in (("RA_OBJ", ("DEC_OBJ", "DE_OBJ")), ("RA_PNT", ("DEC_PNT", "DE_PNT"))):
        for h in headers:
            if h is None or ra_key not in h:
                continue
            for dec_key in dec_keys:
                if dec_key not in h:
                    continue
                keys = f"{ra_key}/{dec_key}"
                ra, dec = _number(h[ra_key]), _number(h[dec_key])
                if ra is None or dec is None:
                    skipped.append(f"{keys} = {h[ra_key]!r}, {h[dec_key]!r} (not numeric)")
                elif ra == 0 and dec == 0:
                    skipped.append(f"{keys} = (0, 0) (placeholder)")
                elif not (0 <= ra <= 360 and -90 <= dec <= 90):
                    skipped.append(f"{keys} = ({ra}, {dec}) (out of range)")
                else:
                    return (ra, dec), keys, tuple(skipped)
    return None, "", tuple(skipped)


def _col_unit_note(hdu: Any, name: str, tunit: str) -> str:
    col = hdu.columns[name]
    note = tunit
    if col.bscale not in (None, 1) or col.bzero not in (None, 0):
        note += f" (TSCAL={col.bscale}, TZERO={col.bzero})"
    return note


def _read_one(path: Path, cluster_id: int) -> EventList:
    from astropy.io import fits

    where = f"{path} (cluster {int(cluster_id)})"
    try:
        with fits.open(path, memmap=False) as hdul:
            hdu = None
            for ext in ("EVENTS", "PHOTONS"):
                if ext in hdul:
                    hdu = hdul[ext]
                    break
            if hdu is None:
                tables = [h for h in hdul[1:] if isinstance(h, fits.BinTableHDU)]
                if not tables:
                    raise DataError(f"{where}: no EVENTS or PHOTONS table extension")
                hdu = tables[0]
            cols = table_columns(hdu)
            ecol = next((c for c in ("SIGNAL", "ENERGY", "PI") if c in cols), "")
            if hdu.name == "PHOTONS":
                kind = "photons"
            elif hdu.name == "EVENTS":
                kind = "events"
            else:
                kind = "photons" if ecol == "ENERGY" else "events"
            for need in ("RA", "DEC", ecol or "SIGNAL"):
                if need not in cols:
                    raise DataError(
                        f"{where}: missing column {need!r} in extension {hdu.name!r} "
                        f"(needs RA, DEC and SIGNAL, ENERGY or PI)"
                    )
            data = hdu.data
            n = 0 if data is None else len(data)
            arrays = {}
            units = {}
            for key, unit in (("RA", "deg"), ("DEC", "deg"), (ecol, "keV")):
                name, tunit = cols[key]
                units[key] = _col_unit_note(hdu, name, tunit)
                if key == "PI" and not tunit.strip():
                    tunit = "eV"  # eSASS: PI in eV
                    units[key] = _col_unit_note(hdu, name, "") + " (PI taken in eV)"
                # data[name] applies TSCAL/TZERO (astropy)
                raw = np.zeros(0) if n == 0 else np.asarray(data[name], dtype=np.float64)
                arrays[key] = convert_column(raw, tunit, unit, where, name)
            comp = None
            if "COMPONENT" in cols:
                labels = (
                    np.zeros(0, dtype="U3")
                    if n == 0
                    else np.char.upper(np.char.strip(np.asarray(data[cols["COMPONENT"][0]]).astype("U8")))
                )
                comp = np.full(len(labels), -1, dtype=np.int8)
                for code, lab in enumerate(COMPONENTS):
                    comp[labels == lab] = code
                if (comp < 0).any():
                    bad = labels[comp < 0][0]
                    raise DataError(f"{where}: COMPONENT {bad!r} is not one of {list(COMPONENTS)}")
            src_id = None
            if "SRC_ID" in cols:
                src_id = np.zeros(0, np.int64) if n == 0 else np.asarray(data[cols["SRC_ID"][0]], dtype=np.int64)
            centre, keys, skipped = header_centre(hdu.header, hdul[0].header)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{where}: cannot read the event file ({type(exc).__name__}: {exc})") from None
    for key, arr in arrays.items():
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(
                f"{where}: column {key!r} has {int(bad.sum())} NaN or infinite values; fix or remove those photons"
            )
    for key, lo, hi in (("RA", 0.0, 360.0), ("DEC", -90.0, 90.0)):
        arr = arrays[key]
        if len(arr) and (arr.min() < lo or arr.max() > hi):
            raise DataError(
                f"{where}: column {key!r} has values outside [{lo:g}, {hi:g}] deg (from {arr.min():.6g} to "
                f"{arr.max():.6g}; unit {units[key] or 'none'}); integers in 1e-6 deg need TUNIT 'udeg' or "
                f"TSCAL = 1e-6"
            )
    return EventList(
        arrays["RA"],
        arrays["DEC"],
        arrays[ecol],
        comp,
        centre,
        kind,
        Path(path),
        (Path(path),),
        keys,
        skipped,
        units,
        ecol,
        src_id,
    )


def read_event_file(path: Path, cluster_id: int) -> EventList:
    """Read one event list or photon list (or all telescopes of a per-telescope list, merged);
    every problem is a DataError naming the file and the cluster."""
    group = event_file_group(Path(path))
    parts = [_read_one(p, cluster_id) for p in group]
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    with_comp = [e.component is not None for e in parts]
    comp = np.concatenate([e.component for e in parts if e.component is not None]) if all(with_comp) else None
    with_src = [e.src_id is not None for e in parts]
    src_ids = np.concatenate([e.src_id for e in parts if e.src_id is not None]) if all(with_src) else None
    src = next((e for e in parts if e.centre is not None), first)
    return EventList(
        np.concatenate([e.ra for e in parts]),
        np.concatenate([e.dec for e in parts]),
        np.concatenate([e.energy for e in parts]),
        comp,
        src.centre,
        "events",
        first.path,
        tuple(group),
        src.centre_keys,
        tuple(s for e in parts for s in e.centre_skipped),
        first.units,
        first.energy_column,
        src_ids,
    )


def write_event_file(
    path: Path,
    cluster_id: int,
    redshift: float,
    time: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    signal: np.ndarray,
    component: np.ndarray,
    src_id: np.ndarray,
    setup: ErositaSetup = EROSITA,
    extra_header: dict[str, Any] | None = None,
    photon_list: bool = False,
) -> None:
    """Write a SIXTE-style event list (extension EVENTS, measured energies in SIGNAL) or, with
    ``photon_list``, a photon list (extension PHOTONS, true energies in ENERGY), with the mock truth
    columns COMPONENT and SRC_ID."""
    from astropy.io import fits

    order = np.argsort(time, kind="stable")
    labels = np.array(COMPONENTS, dtype="S3")[np.asarray(component, dtype=np.int64)]
    ecol, columns, ext = ("ENERGY", PHOTON_COLUMNS, "PHOTONS") if photon_list else ("SIGNAL", EVENT_COLUMNS, "EVENTS")
    data = {
        "TIME": np.asarray(time)[order],
        "RA": np.asarray(ra)[order],
        "DEC": np.asarray(dec)[order],
        ecol: np.asarray(signal, dtype=np.float32)[order],
        "COMPONENT": labels[order],
        "SRC_ID": np.asarray(src_id, dtype=np.int32)[order],
    }
    hdu = fits.BinTableHDU.from_columns(fits_columns(columns, data), name=ext)
    h = hdu.header
    h["HDUCLAS1"] = ext
    h["TELESCOP"] = ("eROSITA", "mock observation (massbench)")
    h["INSTRUME"] = ("TM1-7", "seven telescopes combined")
    h["EXPOSURE"] = (setup.exposure_s, "[s] exposure time")
    h["TSTART"] = (0.0, "[s]")
    h["TSTOP"] = (setup.exposure_s, "[s]")
    h["RA_PNT"] = (setup.ra_pointing_deg, "[deg] pointing right ascension")
    h["DEC_PNT"] = (setup.dec_pointing_deg, "[deg] pointing declination")
    h["RA_OBJ"] = (setup.ra_pointing_deg, "[deg] cluster centre right ascension")
    h["DEC_OBJ"] = (setup.dec_pointing_deg, "[deg] cluster centre declination")
    h["PIXSIZE"] = (setup.pixel_arcsec, "[arcsec] sky pixel; photons at pixel centres")
    h["FOVRAD"] = (setup.fov_radius_arcmin, "[arcmin] field-of-view radius")
    h["CLUSTER"] = (int(cluster_id), "cluster id")
    h["REDSHIFT"] = (float(redshift), "cluster redshift")
    for k, v in (extra_header or {}).items():
        h[k] = v
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
