"""The raw catalogue layout: FITS files, columns and units (read by the loader, written by the generator).

::

    CATALOGUE/
      halos.fits            extension HALOS, one row per cluster
      events/<cluster_id>.fits
                            SIXTE-style event list (extension EVENTS, column SIGNAL) or photon list
                            (extension PHOTONS, column ENERGY); also <cluster_id>_evt.fits,
                            <cluster_id>_phlist.fits, erosim's <cluster_id>_ccd1..7_evt.fits (merged),
                            each optionally gzipped (see events.py)
      galaxies.fits         extension GALAXIES, one row per galaxy around each cluster

Units round-trip through astropy: h-scaled columns (``solMass / littleh``, ``Mpc / littleh``) are stored in
astropy's serialised column metadata (read them with ``QTable.read`` inside
``astropy.units.add_enabled_units(astropy.cosmology.units)``), FITS-standard units also as ``TUNITn``.
Files from other tools may give ``TUNITn`` strings; the aliases ``Msun/h``, ``h^-1 Msun``, ``Mpc/h``,
``h^-1 Mpc``, ``kpc/h``, ``h^-1 kpc`` (and ``Msun h^-1``-style spellings) are accepted. Columns given in other convertible
units (``kpc / littleh``, ``solMass``, ``eV``, ``rad``) are converted (h = 0.704 for the h-free
ones); inconvertible units are an error naming the file and column. A column without ``TUNITn`` is
taken in the documented unit. Position columns are comoving.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from massbench.errors import DataError

HALOS_FILE = "halos.fits"
GALAXIES_FILE = "galaxies.fits"
EVENTS_DIR = "events"

U_MSUN_H = "solMass / littleh"
U_MPC_H = "Mpc / littleh"


@dataclass(frozen=True)
class Column:
    name: str
    unit: str  # astropy unit string ("" for dimensionless)
    fits_format: str
    description: str


HALOS_COLUMNS = (
    Column("cluster_id", "", "K", "integer cluster id (names events/<cluster_id>.fits)"),
    Column("snapshot", "", "J", "Magneticum snapshot number"),
    Column("redshift", "", "D", "snapshot redshift"),
    Column("pos_x", U_MPC_H, "D", "comoving box position x [h^-1 Mpc]"),
    Column("pos_y", U_MPC_H, "D", "comoving box position y [h^-1 Mpc]"),
    Column("pos_z", U_MPC_H, "D", "comoving box position z (line of sight) [h^-1 Mpc]"),
    Column("M500c", U_MSUN_H, "D", "M500c [h^-1 Msun]"),
    Column("R500c", U_MPC_H, "D", "R500c, comoving [h^-1 Mpc]"),
    Column("T", "keV", "D", "temperature within R500c [keV]"),
    Column("L_X", "erg / s", "D", "bolometric X-ray luminosity within R500c [erg/s]"),
    Column("M_gas", U_MSUN_H, "D", "gas mass within R500c [h^-1 Msun]"),
    Column("M_star", U_MSUN_H, "D", "stellar mass within R500c [h^-1 Msun]"),
    Column("sigma_v_true", "km / s", "D", "1D velocity dispersion within R500c [km/s]"),
)
#: optional halos.fits columns the loader uses when present
HALOS_OPTIONAL = (
    Column("RA", "deg", "D", "cluster centre right ascension [deg] (else the event header's RA_OBJ / RA_PNT)"),
    Column("DEC", "deg", "D", "cluster centre declination [deg]"),
    Column(
        "tree_id", "", "K", "lineage id (Magneticum merger tree): rows sharing it are one halo at several snapshots"
    ),
)

EVENT_COLUMNS = (
    Column("TIME", "s", "D", "arrival time [s]"),
    Column("RA", "deg", "D", "right ascension of the pixel centre [deg]"),
    Column("DEC", "deg", "D", "declination of the pixel centre [deg]"),
    Column("SIGNAL", "keV", "E", "measured energy [keV]"),
    Column("COMPONENT", "", "3A", "source component: ICM, AGN or BKG (truth; absent in real data)"),
    Column("SRC_ID", "", "J", "source id (0 background, 1 cluster ICM, 2... AGN, 1000000... neighbour ICM)"),
)

#: SIXTE photon lists (``*phlist.fits``, extension PHOTONS): the event columns with true energies in ENERGY
#: instead of SIGNAL and exact positions (no sky pixels); COMPONENT and SRC_ID are mock truth
_PHOTON_OVERRIDES = {
    "RA": Column("RA", "deg", "D", "right ascension [deg]"),
    "DEC": Column("DEC", "deg", "D", "declination [deg]"),
    "SIGNAL": Column("ENERGY", "keV", "E", "photon energy [keV]"),
}
PHOTON_COLUMNS = tuple(_PHOTON_OVERRIDES.get(c.name, c) for c in EVENT_COLUMNS)

GALAXY_COLUMNS = (
    Column("cluster_id", "", "K", "cluster id the galaxy was observed around"),
    Column("x_proj", U_MPC_H, "D", "projected position east of the cluster centre, comoving [h^-1 Mpc]"),
    Column("y_proj", U_MPC_H, "D", "projected position north of the cluster centre, comoving [h^-1 Mpc]"),
    Column("v_los", "km / s", "D", "line-of-sight velocity relative to the cluster [km/s]"),
    Column("M_star", U_MSUN_H, "D", "stellar mass [h^-1 Msun]"),
)

COMPONENTS = ("ICM", "AGN", "BKG")

_H_UNITS = {"msun": "solMass", "solmass": "solMass", "m_sun": "solMass", "kpc": "kpc", "mpc": "Mpc"}
_H_BASE = r"(msun|solmass|m_sun|kpc|mpc)"
_H_INV = r"(h\^?-1|h\*\*-1|h\^\{-1\})"
#: h-scaled TUNIT spellings of other tools: Msun/h, h^-1 Msun, Msun h^-1, kpc/h, h^-1 kpc, Mpc/h, ...
_ALIASES = [
    re.compile(rf"^\s*{_H_INV}\s*{_H_BASE}\s*$", re.I),
    re.compile(rf"^\s*(?P<b>{_H_BASE})\s*(/|\s)\s*h\s*$", re.I),
    re.compile(rf"^\s*(?P<b>{_H_BASE})\s*\*?\s*{_H_INV}\s*$", re.I),
]


def _alias(text: str) -> str:
    for pat in _ALIASES:
        m = pat.match(text)
        if m:
            base = next(g for g in m.groups() if g and g.lower() in _H_UNITS)
            return f"{_H_UNITS[base.lower()]} / littleh"
    return text


_UNIT_CACHE: dict[str, Any] = {}


def parse_unit(text: str) -> Any:
    """An astropy unit from a TUNIT string (with ``littleh`` enabled and the h-aliases above)."""
    import astropy.units as u
    from astropy.cosmology import units as cu

    key = text.strip()
    if key in _UNIT_CACHE:
        return _UNIT_CACHE[key]
    s = _alias(key)
    with u.add_enabled_units(cu):
        try:
            unit = u.Unit(s, parse_strict="raise")
        except ValueError:
            unit = u.Unit(s, format="fits", parse_strict="raise")
    _UNIT_CACHE[key] = unit
    return unit


def convert_column(values: np.ndarray, unit_text: str, expected: str, where: str, column: str) -> np.ndarray:
    """Values of a column converted to the ``expected`` unit; DataError naming ``where`` and ``column`` if impossible."""
    values = np.asarray(values)
    if not expected or not unit_text or not unit_text.strip() or unit_text.strip() == expected:
        return values
    import astropy.units as u
    from astropy.cosmology import units as cu

    from .cosmology import WMAP7

    try:
        src = parse_unit(unit_text)
    except ValueError:
        raise DataError(
            f"{where}: column {column!r} has unit {unit_text!r}, which astropy cannot parse; expected {expected!r}"
        ) from None
    dst = parse_unit(expected)
    if src == dst:
        return values
    try:
        with u.add_enabled_units(cu):
            return (values * src).to_value(dst, equivalencies=cu.with_H0(WMAP7.H0))
    except u.UnitConversionError:
        raise DataError(
            f"{where}: column {column!r} has unit {unit_text!r}, which does not convert to "
            f"{expected!r}; fix the column or its TUNIT"
        ) from None


def fits_columns(columns: tuple[Column, ...], data: dict[str, np.ndarray]) -> list[Any]:
    """astropy ``fits.Column`` objects for ``data`` following the column specs."""
    from astropy.io import fits

    return [
        fits.Column(name=c.name, format=c.fits_format, unit=c.unit or None, array=data[c.name])
        for c in columns
        if c.name in data
    ]


def table_columns(hdu: Any) -> dict[str, tuple[str, str]]:
    """Map of upper-case column name -> (name as stored, TUNIT string) of a FITS table HDU."""
    return {c.name.upper(): (c.name, c.unit or "") for c in hdu.columns}


def write_table(
    path: Path,
    extname: str,
    columns: tuple[Column, ...],
    data: dict[str, np.ndarray],
    cards: dict[str, tuple[Any, str]] | None = None,
) -> None:
    """Write a FITS table with astropy-serialised units (``littleh`` round-trips through ``QTable``).

    Columns in FITS-standard units also get ``TUNITn``; a COMMENT spells out the h-scaled ones for
    readers without astropy.
    """
    import warnings

    import astropy.units as u
    from astropy.cosmology import units as cu
    from astropy.io import fits
    from astropy.table import QTable

    t = QTable()
    for c in columns:
        if c.name not in data:
            continue
        arr = np.asarray(data[c.name])
        t[c.name] = arr * parse_unit(c.unit) if c.unit else arr
    t.meta["EXTNAME"] = extname
    for k, (v, _) in (cards or {}).items():
        t.meta[k] = v
    h_cols = [c.name for c in columns if "littleh" in c.unit and c.name in data]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "unit ... lost to non-astropy readers": the COMMENT below says it
        with u.add_enabled_units(cu):
            t.write(path, overwrite=True, format="fits")
    with fits.open(path, mode="update") as hdul:
        hdr = hdul[1].header
        for k, (_, comment) in (cards or {}).items():
            hdr.comments[k] = comment
        if h_cols:
            hdr.add_comment(
                f"h-scaled units (astropy: enable astropy.cosmology.units): {', '.join(h_cols)} "
                f"in solMass / littleh or comoving Mpc / littleh",
                before="COMMENT",
            )


def read_table(
    path: Path, extname: str, columns: tuple[Column, ...], optional: tuple[Column, ...] = (), what: str = ""
) -> tuple[dict[str, np.ndarray], Any]:
    """Read a FITS table into arrays in the documented units, checking columns, units and NaNs.

    Units come from astropy's serialised column metadata or ``TUNITn``. Missing required columns,
    unreadable files, inconvertible units and non-finite values raise DataError naming the file
    (and for NaNs, the first affected ``cluster_id``).
    """
    import warnings

    import astropy.units as u
    from astropy.cosmology import units as cu
    from astropy.io import fits
    from astropy.table import QTable

    where = f"{path}" + (f" ({what})" if what else "")
    if not Path(path).is_file():
        raise DataError(f"{where}: file not found")
    try:
        with fits.open(path, memmap=False) as hdul:
            names = [h.name for h in hdul]
            if extname in names:
                hdu_index = names.index(extname)
            else:
                tables = [i for i, h in enumerate(hdul) if isinstance(h, fits.BinTableHDU)]
                if not tables:
                    raise DataError(f"{where}: no {extname} table extension")
                hdu_index = tables[0]
            header = hdul[hdu_index].header.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", u.UnitsWarning)
            with u.add_enabled_units(cu):
                table = QTable.read(path, hdu=hdu_index)
    except DataError:
        raise
    except Exception as exc:  # corrupt or unreadable FITS
        raise DataError(f"{where}: cannot read the FITS file ({type(exc).__name__}: {exc})") from None
    cols = {name.upper(): name for name in table.colnames}
    out: dict[str, np.ndarray] = {}
    for spec in columns + optional:
        key = spec.name.upper()
        if key not in cols:
            if spec in columns:
                raise DataError(f"{where}: missing column {spec.name!r} (has {sorted(table.colnames)})")
            continue
        col = table[cols[key]]
        unit = getattr(col, "unit", None)
        unit_text = "" if unit is None else (unit.name if isinstance(unit, u.UnrecognizedUnit) else unit.to_string())
        arr = np.array(getattr(col, "value", col))
        if arr.dtype.kind == "f":
            arr = convert_column(arr.astype(np.float64), unit_text, spec.unit, where, spec.name)
        elif arr.dtype.kind in "iu" and spec.unit:
            arr = convert_column(arr.astype(np.float64), unit_text, spec.unit, where, spec.name)
        out[spec.name] = arr
    ids = out.get("cluster_id")
    for spec in columns + optional:
        arr = out.get(spec.name)
        if arr is None or arr.dtype.kind != "f":
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            who = f"cluster {int(ids[first])}" if ids is not None else f"row {first}"
            raise DataError(
                f"{where}: column {spec.name!r} is NaN or infinite for {who} "
                f"({int(bad.sum())} rows); fix or remove those rows"
            )
    return out, header


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-1 of a file's bytes."""
    from massbench.cache import file_hash

    return file_hash(path, "sha1", chunk)


def default_workers(n: int) -> int:
    """Processes for ``n`` clusters: $MASSBENCH_WORKERS, else 2 for 150 clusters or more (1 in daemon processes)."""
    import multiprocessing as mp

    if mp.current_process().daemon:  # e.g. a Dask worker: daemons may not start children
        return 1
    env = os.environ.get("MASSBENCH_WORKERS")
    if env:
        return max(1, int(env))
    return 1 if n < 150 else max(1, min(2, os.cpu_count() or 1))
