"""SIXTE-style event and photon lists: writing (generator) and reading (loader).

Two kinds of file are read:

- event lists (``*evt.fits`` in SIXTE, ``events/<cluster_id>.fits`` here): extension ``EVENTS`` with
  RA, DEC [deg], SIGNAL [keV], TIME [s], and in mock catalogues COMPONENT ("ICM", "AGN", "BKG");
- photon lists (``*phlist.fits``): extension ``PHOTONS`` with RA, DEC [deg], ENERGY [keV], TIME [s]
  and no COMPONENT column (real SIXTE output). Without COMPONENT the ICM/AGN truth maps cannot be made.

The projection centre is, in order of preference, the RA/DEC columns of halos.fits, the header's
RA_OBJ/DEC_OBJ, then RA_PNT/DEC_PNT (the pointing; the paper puts each cluster at the pointing).
"""

from __future__ import annotations

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


def event_file_candidates(directory: Path, cluster_id: int) -> list[Path]:
    """Paths tried for a cluster's photons, in order."""
    d = Path(directory) / EVENTS_DIR
    cid = str(int(cluster_id))
    return [
        d / f"{cid}.fits",
        d / f"{cid}_evt.fits",
        d / f"{cid}_phlist.fits",
        d / f"{cid}.phlist.fits",
        d / f"{cid}.fits.gz",
    ]


def find_event_file(directory: Path, cluster_id: int) -> Path:
    """The event or photon file of ``cluster_id``; DataError naming the cluster and the expected path."""
    for p in event_file_candidates(directory, cluster_id):
        if p.is_file():
            return p
    raise DataError(
        f"cluster {int(cluster_id)}: no event file; expected {Path(directory) / EVENTS_DIR / f'{int(cluster_id)}.fits'}"
        f" (or {int(cluster_id)}_phlist.fits)"
    )


def _header_centre(*headers: Any) -> tuple[float, float] | None:
    for ra_key, dec_key in (("RA_OBJ", "DEC_OBJ"), ("RA_PNT", "DEC_PNT")):
        for h in headers:
            if h is not None and ra_key in h and dec_key in h:
                return float(h[ra_key]), float(h[dec_key])
    return None


def read_event_file(path: Path, cluster_id: int) -> EventList:
    """Read one event list or photon list; every problem is a DataError naming the file and the cluster."""
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
            kind = "photons" if "ENERGY" in cols and "SIGNAL" not in cols else "events"
            ecol = "SIGNAL" if "SIGNAL" in cols else "ENERGY"
            for need in ("RA", "DEC", ecol):
                if need not in cols:
                    raise DataError(
                        f"{where}: missing column {need!r} in extension {hdu.name!r} "
                        f"(needs RA, DEC and SIGNAL or ENERGY)"
                    )
            data = hdu.data
            n = 0 if data is None else len(data)
            arrays = {}
            for key, unit in (("RA", "deg"), ("DEC", "deg"), (ecol, "keV")):
                name, tunit = cols[key]
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
            centre = _header_centre(hdu.header, hdul[0].header)
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
    return EventList(arrays["RA"], arrays["DEC"], arrays[ecol], comp, centre, kind, Path(path))


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
