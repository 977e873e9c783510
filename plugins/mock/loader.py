"""Read a Magneticum/SIXTE-style catalogue directory, process it once, cache it, return a Catalogue.

Processing (paper section 2; inputs and units in docs/inputs.md) for each cluster:

- photons -> comoving projected coordinates (:func:`.projection.sky_to_projected`, WMAP7) -> 128 x 128
  maps over +-2.3 h^-1 Mpc: ``xray_map`` (0.5-10 keV), ``xray_bands`` (0.5-1.2, 1.2-2.0, 2.0-7.0 keV),
  and, where the files carry COMPONENT, the truth-only ICM and AGN maps;
- ``n_phot`` (pixels with centres at R_proj <= 2.3 h^-1 Mpc) and ``n_phot_500c`` (R_proj <= R500c);
- galaxies: the dynamical cylinder (:func:`.dynamics.dynamical_selection`), the ``dyn_cube`` KDE
  (:func:`.kde.dynamical_cube`), ``n_gal`` and ``sigma_v`` (:func:`.dynamics.richness_and_dispersion`);
- idealised observables from halos.fits.

The result is cached under ``<cache_dir>/<dataset>/<key>/`` as ``.npy`` files opened memory-mapped, with
``key`` a hash of the raw files' bytes and of the processing parameters; a file of stat fingerprints
lets a repeated load skip re-hashing, so loading a processed catalogue takes well under a second.
Clusters are processed in a pool of (by default) two processes for large catalogues; each worker
writes its rows straight into the preallocated ``.npy`` files, so no process holds all the cubes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

from massbench.cache import file_manifest, human_bytes
from massbench.catalogue import Catalogue, InputArray
from massbench.errors import DataError

from .dynamics import (
    CLIP_NSIGMA,
    LOG_MSTAR_MIN,
    RICH_RADIUS_HMPC,
    RICH_VCUT_KMS,
    V_CUT_KMS,
    dynamical_selection,
    richness_and_dispersion,
)
from .formats import (
    EVENTS_DIR,
    GALAXIES_FILE,
    GALAXY_COLUMNS,
    HALOS_COLUMNS,
    HALOS_FILE,
    HALOS_OPTIONAL,
    Column,
    file_digest,
    read_table,
)
from .formats import default_workers as _default_workers
from .kde import BW_FACTOR, CUBE_BINS, dynamical_cube
from .projection import APERTURE_HMPC, BANDS, FULL_BAND, MAP_PIXELS, aperture_mask, photon_maps, sky_to_projected

PROCESSING_VERSION = "3"  # 3: sparse arrays, integer counts, SHA-256 of every file
CUBE_DTYPE = np.float32


@dataclass(frozen=True)
class ProcessingParams:
    """Everything that changes the processed arrays (part of the cache key)."""

    aperture_hmpc: float = APERTURE_HMPC
    map_pixels: int = MAP_PIXELS
    full_band: tuple[float, float] = FULL_BAND
    bands: tuple[tuple[float, float], ...] = BANDS
    cube_bins: int = CUBE_BINS
    vcut_kms: float = V_CUT_KMS
    bw_factor: float = BW_FACTOR
    log_mstar_min: float = LOG_MSTAR_MIN
    rich_radius_hmpc: float = RICH_RADIUS_HMPC
    rich_vcut_kms: float = RICH_VCUT_KMS
    clip_nsigma: float = CLIP_NSIGMA
    cosmology: str = "WMAP7 H0=70.4 Om0=0.272 Ob0=0.0456"
    version: str = PROCESSING_VERSION
    # Ablation options (docs/mock.md "Ablation options"); part of the cache key only when not the default,
    # so that caches processed before they existed keep their keys.
    #: "all" photons, or "icm": only the ICM photons (COMPONENT == ICM) reach every map and count
    photons: str = "all"
    #: False removes the photons of projected neighbouring halos (SRC_ID >= 1,000,000, mock truth)
    neighbours: bool = True
    #: radius in units of the true R500c within which map pixels are set to zero (0: none); idealised
    core_excision: float = 0.0

    def key_fields(self) -> dict[str, Any]:
        """The fields hashed into the cache key: the ablation options only where they differ from the default."""
        d = asdict(self)
        for name, default in ABLATION_DEFAULTS.items():
            if d[name] == default:
                del d[name]
        return d

    @property
    def idealised_xray(self) -> bool:
        """Whether the X-ray inputs use the truth (core excision at the true R500c)."""
        return self.core_excision > 0


#: the ablation options of :class:`ProcessingParams` and their defaults (the realistic, paper setting)
ABLATION_DEFAULTS: dict[str, Any] = {"photons": "all", "neighbours": True, "core_excision": 0.0}
#: the X-ray inputs computed from the photon maps (marked idealised under core excision)
XRAY_INPUTS = ("xray_map", "xray_bands", "n_phot", "n_phot_500c")


#: per-cluster arrays written by the workers: name -> (row shape, dtype estimators see, dtype stored)
#: All are stored sparsely (:mod:`massbench.sparse`): photon maps as uint32 counts (about 2 % of their
#: pixels are non-zero), the cubes as their float32 non-zero cells (about 25 %), bit for bit.
def _array_specs(p: ProcessingParams) -> dict[str, tuple[tuple[int, ...], Any, Any]]:
    m, c, nb = p.map_pixels, p.cube_bins, len(p.bands)
    return {
        "xray_map": ((m, m), np.float32, np.uint32),
        "xray_bands": ((m, m, nb), np.float32, np.uint32),
        "xray_icm_map": ((m, m), np.float32, np.uint32),
        "xray_agn_map": ((m, m), np.float32, np.uint32),
        "xray_icm_bands": ((m, m, nb), np.float32, np.uint32),
        "xray_agn_bands": ((m, m, nb), np.float32, np.uint32),
        "dyn_cube": ((c, c, c), CUBE_DTYPE, CUBE_DTYPE),
    }


SCALARS = ("n_phot", "n_phot_500c", "n_icm", "n_agn", "n_gal", "sigma_v", "n_dyn", "has_component", "photon_list")

INPUT_DOCS: dict[str, tuple[str, str, bool, bool]] = {
    # name: (unit, description, truth_only, idealised)
    "xray_map": ("count", "raw photon counts, 0.5-10 keV", False, False),
    "xray_bands": (
        "count",
        "raw counts in soft 0.5-1.2, medium 1.2-2.0, hard 2.0-7.0 keV (channels last)",
        False,
        False,
    ),
    "dyn_cube": (
        "1 (sums to 1)",
        "Gaussian KDE (bandwidth factor 0.15) of galaxies with M_star >= 10^9.5 h^-1 Msun in phase space (x, y, v_los)",
        False,
        False,
    ),
    "galaxies": (
        "h^-1 Mpc, h^-1 Mpc, km/s, log10 h^-1 Msun",
        "the galaxies inside the cube's selection cut: x_proj, y_proj, v_los, log10 M_star",
        False,
        False,
    ),
    "n_phot": ("count", "photons in R_proj <= 2.3 h^-1 Mpc, 0.5-10 keV", False, False),
    "n_phot_500c": ("count", "photons in R_proj <= R500c", False, False),
    "n_gal": (
        "1",
        "richness: galaxies in R_proj <= 1.25 h^-1 Mpc, |v| <= 2000 km/s after 3-sigma clipping",
        False,
        False,
    ),
    "sigma_v": ("km/s", "gapper velocity dispersion of those galaxies", False, False),
    "T": ("keV", "temperature within R500c", False, True),
    "L_X": ("erg/s", "bolometric X-ray luminosity within R500c", False, True),
    "M_gas": ("h^-1 Msun", "gas mass within R500c", False, True),
    "M_star": ("h^-1 Msun", "stellar mass within R500c", False, True),
    "sigma_v_true": ("km/s", "1D velocity dispersion within R500c", False, True),
    "xray_icm_map": ("count", "ICM-only photon map, 0.5-10 keV", True, False),
    "xray_agn_map": ("count", "AGN-only photon map, 0.5-10 keV", True, False),
    "xray_icm_bands": ("count", "ICM-only counts per band (soft, medium, hard)", True, False),
    "xray_agn_bands": ("count", "AGN-only counts per band (soft, medium, hard)", True, False),
    "r500c": ("comoving h^-1 Mpc", "R500c", True, False),
    "n_icm": ("count", "ICM photons in the map, 0.5-10 keV", True, False),
    "n_agn": ("count", "AGN photons in the map, 0.5-10 keV", True, False),
}
TRUTH_COMPONENT_INPUTS = ("xray_icm_map", "xray_agn_map", "xray_icm_bands", "xray_agn_bands", "n_icm", "n_agn")


# ------------------------------------------------------------------------------------------ raw reading


@dataclass
class RawCatalogue:
    """The parsed halos.fits and the location of every cluster's files."""

    path: Path
    halos: dict[str, np.ndarray]
    header: dict[str, Any]
    event_files: list[Path]
    centres: np.ndarray | None  # (n, 2) RA, DEC [deg] from halos.fits, if given

    @property
    def cluster_id(self) -> np.ndarray:
        return self.halos["cluster_id"]


def read_raw(path: str | Path) -> RawCatalogue:
    """Check the layout and read halos.fits; every problem is a DataError naming the file or cluster."""
    from .events import find_event_file

    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"catalogue directory {root} does not exist")
    halos, header = read_table(root / HALOS_FILE, "HALOS", HALOS_COLUMNS, HALOS_OPTIONAL, what="halos")
    ids = np.asarray(halos["cluster_id"])
    if ids.dtype.kind not in "iu":
        raise DataError(f"{root / HALOS_FILE}: column 'cluster_id' must hold integers (has {ids.dtype})")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"{root / HALOS_FILE}: cluster_id {int(uniq[counts > 1][0])} appears more than once")
    for key in ("M500c", "R500c", "T", "L_X", "M_gas", "M_star", "sigma_v_true"):
        bad = np.asarray(halos[key]) <= 0
        if bad.any():
            raise DataError(f"{root / HALOS_FILE}: column {key!r} is not positive for cluster {int(ids[bad][0])}")
    if not (root / GALAXIES_FILE).is_file():
        raise DataError(f"{root}: missing {GALAXIES_FILE}")
    if not (root / EVENTS_DIR).is_dir():
        raise DataError(f"{root}: missing the {EVENTS_DIR}/ directory of event files")
    files = [find_event_file(root, int(c)) for c in ids]
    centres = None
    if "RA" in halos and "DEC" in halos:
        centres = np.stack([halos["RA"], halos["DEC"]], axis=1)
    structural = (
        "XTENSION",
        "BITPIX",
        "NAXIS",
        "PCOUNT",
        "GCOUNT",
        "TFIELDS",
        "TTYPE",
        "TFORM",
        "TUNIT",
        "TDIM",
        "TNULL",
        "TSCAL",
        "TZERO",
        "TDISP",
        "EXTNAME",
        "COMMENT",
        "HISTORY",
    )
    hdr = {k: header[k] for k in header if k and not k.startswith(structural)}
    return RawCatalogue(root, halos, hdr, files, centres)


def read_galaxies(raw: RawCatalogue) -> tuple[np.ndarray, np.ndarray]:
    """All galaxies as an (n_gal, 4) array [x, y, v, log10 M_star] sorted by cluster, and row offsets per cluster.

    Galaxies given by RA/DEC instead of x_proj/y_proj are projected around each cluster's centre.
    A galaxy whose cluster_id is not in halos.fits is an error (nothing is dropped silently).
    """
    from .events import read_event_file

    path = raw.path / GALAXIES_FILE
    optional = (
        Column("RA", "deg", "D", ""),
        Column("DEC", "deg", "D", ""),
        Column("x_proj", GALAXY_COLUMNS[1].unit, "D", ""),
        Column("y_proj", GALAXY_COLUMNS[2].unit, "D", ""),
    )
    required = tuple(c for c in GALAXY_COLUMNS if c.name not in ("x_proj", "y_proj"))
    gal, _ = read_table(path, "GALAXIES", required, optional, what="galaxies")
    gid = np.asarray(gal["cluster_id"])
    ids = raw.cluster_id
    order_ids = np.argsort(ids)
    pos = np.searchsorted(ids[order_ids], gid)
    pos = np.clip(pos, 0, len(ids) - 1)
    unknown = ids[order_ids][pos] != gid
    if unknown.any():
        raise DataError(
            f"{path}: galaxies of cluster_id {int(gid[unknown][0])}, which is not in {HALOS_FILE} "
            f"({int(unknown.sum())} galaxies); remove them or add the cluster"
        )
    row = order_ids[pos]  # row of each galaxy's cluster in halos.fits
    if "x_proj" in gal and "y_proj" in gal:
        x, y = np.asarray(gal["x_proj"], float), np.asarray(gal["y_proj"], float)
    elif "RA" in gal and "DEC" in gal:
        x = np.empty(len(gid))
        y = np.empty(len(gid))
        for r in np.unique(row):
            sel = row == r
            if raw.centres is not None:
                ra0, dec0 = raw.centres[r]
            else:
                ev = read_event_file(raw.event_files[r], int(ids[r]))
                if ev.centre is None:
                    raise DataError(
                        f"{path}: galaxies of cluster {int(ids[r])} are given by RA/DEC but neither "
                        f"{HALOS_FILE} (RA, DEC columns) nor {ev.path} (RA_OBJ/DEC_OBJ or RA_PNT/DEC_PNT) "
                        f"gives the cluster centre"
                    )
                ra0, dec0 = ev.centre
            x[sel], y[sel] = sky_to_projected(gal["RA"][sel], gal["DEC"][sel], ra0, dec0, raw.halos["redshift"][r])
    else:
        raise DataError(f"{path}: needs either columns x_proj, y_proj [h^-1 Mpc] or RA, DEC [deg]")
    mstar = np.asarray(gal["M_star"], float)
    if (mstar <= 0).any():
        bad = int(gid[mstar <= 0][0])
        raise DataError(f"{path}: column 'M_star' is not positive for a galaxy of cluster {bad}")
    arr = np.stack([x, y, np.asarray(gal["v_los"], float), np.log10(mstar)], axis=1)
    order = np.argsort(row, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=len(ids)))])
    return arr[order], offsets


# ------------------------------------------------------------------------------------------ cache keys


def _raw_files(raw: RawCatalogue) -> list[Path]:
    from .events import event_file_group

    return [raw.path / HALOS_FILE, raw.path / GALAXIES_FILE, *(q for p in raw.event_files for q in event_file_group(p))]


def _stat_signature(raw: RawCatalogue, params: ProcessingParams) -> str:
    h = hashlib.sha1()
    for p in _raw_files(raw):
        st = p.stat()
        h.update(f"{p.relative_to(raw.path)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    h.update(json.dumps(params.key_fields(), sort_keys=True).encode())
    return h.hexdigest()


def _content_key(raw: RawCatalogue, params: ProcessingParams) -> str:
    h = hashlib.sha1()
    for p in _raw_files(raw):
        h.update(f"{p.relative_to(raw.path)}:{file_digest(p)}\n".encode())
    h.update(json.dumps(params.key_fields(), sort_keys=True).encode())
    return h.hexdigest()[:20]


def cache_key(raw: RawCatalogue, params: ProcessingParams, cache_root: Path) -> str:
    """Hash of the raw files' bytes and the processing parameters (memoised by stat fingerprint)."""
    memo_dir = cache_root / "fingerprints"
    sig = _stat_signature(raw, params)
    memo = memo_dir / f"{sig}.json"
    if memo.is_file():
        try:
            return str(json.loads(memo.read_text())["key"])
        except (ValueError, KeyError, OSError):
            pass
    key = _content_key(raw, params)
    memo_dir.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "path": str(raw.path)}))
    os.replace(tmp, memo)
    return key


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------ processing


@dataclass
class _Task:
    rows: list[int]
    cluster_ids: list[int]
    files: list[str]
    redshift: list[float]
    r500c: list[float]
    centres: list[tuple[float, float] | None]
    galaxies: list[np.ndarray]
    out_dir: str
    n: int
    params: ProcessingParams = field(default_factory=ProcessingParams)


def _ev_where(ev: Any) -> str:
    paths = getattr(ev, "paths", ()) or (ev.path,)
    return str(ev.path) + (f" (+ {len(paths) - 1} more per-telescope files)" if len(paths) > 1 else "")


def process_cluster(
    ev: Any,
    z: float,
    r500c: float,
    centre: tuple[float, float] | None,
    gal: np.ndarray,
    params: ProcessingParams = ProcessingParams(),
) -> tuple[dict[str, np.ndarray], dict[str, float], np.ndarray]:
    """Process one cluster: (arrays, scalars, selected galaxies). ``ev`` is an :class:`.events.EventList`."""
    if centre is None:
        centre = ev.centre
    if centre is None:
        raise DataError(
            f"{ev.path}: no cluster centre; add RA/DEC columns to {HALOS_FILE} or the header keywords "
            f"RA_OBJ/DEC_OBJ (or DE_OBJ, or RA_PNT/DEC_PNT) to the event file"
            + (f" (skipped: {'; '.join(ev.centre_skipped)})" if getattr(ev, "centre_skipped", ()) else "")
        )
    keep = photon_selection(ev, params)
    ra, dec, energy = ev.ra[keep], ev.dec[keep], ev.energy[keep]
    component = None if ev.component is None else ev.component[keep]
    x, y = sky_to_projected(ra, dec, centre[0], centre[1], z)
    maps = photon_maps(x, y, energy, component)  # (3, 4, m, m)
    if params.core_excision > 0:
        maps[..., aperture_mask(params.core_excision * r500c)] = 0.0
    full = maps.sum(axis=1)  # per component, 0.5-10 keV
    if not full.sum() > 0:
        raise DataError(
            f"{_ev_where(ev)}: no photon of the {len(ev.ra)} read lands in the 0.5-10 keV map around the centre "
            f"({centre[0]:.6g}, {centre[1]:.6g}) deg (from {getattr(ev, 'centre_keys', '') or HALOS_FILE}); check "
            f"the centre, the RA/DEC units and the energy unit (run `massbench data check`)"
        )
    bands = np.moveaxis(maps[:, :3], 1, -1)  # (3, m, m, 3)
    arrays = {
        "xray_map": full.sum(axis=0),
        "xray_bands": bands.sum(axis=0),
        "xray_icm_map": full[0],
        "xray_agn_map": full[1],
        "xray_icm_bands": bands[0],
        "xray_agn_bands": bands[1],
    }
    total = arrays["xray_map"]
    sel = dynamical_selection(
        gal[:, 0], gal[:, 1], gal[:, 2], gal[:, 3], params.aperture_hmpc, params.vcut_kms, params.log_mstar_min
    )
    g = gal[sel]
    arrays["dyn_cube"] = dynamical_cube(
        g, params.cube_bins, params.aperture_hmpc, params.vcut_kms, params.bw_factor, dtype=CUBE_DTYPE
    )
    rich = richness_and_dispersion(
        g[:, 0], g[:, 1], g[:, 2], params.rich_radius_hmpc, params.rich_vcut_kms, params.clip_nsigma
    )
    scalars = {
        "n_phot": float(total[aperture_mask(params.aperture_hmpc)].sum()),
        "n_phot_500c": float(total[aperture_mask(r500c)].sum()),
        "n_icm": float(full[0].sum()),
        "n_agn": float(full[1].sum()),
        "n_gal": float(rich.n_gal),
        "sigma_v": float(rich.sigma_v),
        "n_dyn": float(len(g)),
        "has_component": float(ev.component is not None),
        "photon_list": float(ev.kind == "photons"),
    }
    return arrays, scalars, g


def photon_selection(ev: Any, params: ProcessingParams) -> np.ndarray:
    """Which photons of ``ev`` reach the maps under the ablation options ``photons`` and ``neighbours``
    (a boolean mask; all True by default). Needs the mock truth columns COMPONENT / SRC_ID."""
    keep = np.ones(len(ev.ra), dtype=bool)
    if params.photons == "icm":
        if ev.component is None:
            raise DataError(
                f"{_ev_where(ev)}: dataset param photons: icm needs the COMPONENT column (ICM/AGN/BKG) in the "
                "event file; use photons: all"
            )
        keep &= ev.component == 0
    if not params.neighbours:
        src = getattr(ev, "src_id", None)
        if src is None:
            raise DataError(
                f"{_ev_where(ev)}: dataset param neighbours: false needs the SRC_ID column (neighbouring halos "
                "from 1,000,000) in the event file; use neighbours: true"
            )
        keep &= src < NEIGHBOUR_SRC0
    return keep


#: SRC_ID of the first neighbouring halo's photons (mock truth; :data:`.xray.NBR_SRC0`)
NEIGHBOUR_SRC0 = 1_000_000


def _run_task(task: _Task) -> list[tuple[int, dict[str, float], np.ndarray]]:
    """Process the task's clusters; their sparse rows go to ``parts/<array>-<first row>.npz``."""
    from massbench.sparse import sparsify

    from .events import read_event_file

    specs = _array_specs(task.params)
    acc: dict[str, tuple[list[np.ndarray], list[np.ndarray], list[int]]] = {k: ([], [], []) for k in specs}
    out = []
    for j, i in enumerate(task.rows):
        ev = read_event_file(Path(task.files[j]), task.cluster_ids[j])
        arrays, scalars, g = process_cluster(
            ev, task.redshift[j], task.r500c[j], task.centres[j], task.galaxies[j], task.params
        )
        for k, arr in arrays.items():
            shape, dense, store = specs[k]
            v, ix = sparsify(np.asarray(arr, dtype=dense).reshape(shape), store)
            acc[k][0].append(v)
            acc[k][1].append(ix)
            acc[k][2].append(len(v))
        out.append((i, scalars, g))
    parts = Path(task.out_dir) / "parts"
    for k, (vs, ixs, counts) in acc.items():
        tmp = parts / f".{k}-{task.rows[0]:08d}.npz"
        np.savez(tmp, values=np.concatenate(vs), index=np.concatenate(ixs), counts=np.asarray(counts, np.int64))
        os.replace(tmp, parts / f"{k}-{task.rows[0]:08d}.npz")
    return out


def _process_all(
    raw: RawCatalogue,
    out_dir: Path,
    params: ProcessingParams,
    workers: int | None,
    progress: Optional[Callable[[int, int], None]],
) -> dict[str, Any]:
    n = len(raw.cluster_id)
    (out_dir / "parts").mkdir()
    gal, offsets = read_galaxies(raw)
    chunk = 16
    tasks = []
    for a in range(0, n, chunk):
        rows = list(range(a, min(n, a + chunk)))
        tasks.append(
            _Task(
                rows=rows,
                cluster_ids=[int(raw.cluster_id[i]) for i in rows],
                files=[str(raw.event_files[i]) for i in rows],
                redshift=[float(raw.halos["redshift"][i]) for i in rows],
                r500c=[float(raw.halos["R500c"][i]) for i in rows],
                centres=[
                    None if raw.centres is None else (float(raw.centres[i, 0]), float(raw.centres[i, 1])) for i in rows
                ],
                galaxies=[gal[offsets[i] : offsets[i + 1]] for i in rows],
                out_dir=str(out_dir),
                n=n,
                params=params,
            )
        )
    nw = _default_workers(n) if workers is None else max(1, int(workers))
    scal = {k: np.zeros(n) for k in SCALARS}
    selected: list[np.ndarray | None] = [None] * n
    done = 0

    def collect(res: list[tuple[int, dict[str, float], np.ndarray]]) -> None:
        nonlocal done
        for i, s, g in res:
            for k, v in s.items():
                scal[k][i] = v
            selected[i] = g
        done += len(res)
        if progress:
            progress(done, n)

    if nw == 1:
        for t in tasks:
            collect(_run_task(t))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(max_workers=nw, mp_context=ctx) as pool:
            for res in pool.map(_run_task, tasks):
                collect(res)
    from massbench.sparse import write_sparse

    for k, (shape, _dense, store) in _array_specs(params).items():
        write_sparse(out_dir, k, [out_dir / "parts" / f"{k}-{t.rows[0]:08d}.npz" for t in tasks], store, shape)
    shutil.rmtree(out_dir / "parts")
    sel_counts = np.array([len(g) for g in selected])  # type: ignore[arg-type]
    flat = np.concatenate([g for g in selected]) if n else np.zeros((0, 4))  # type: ignore[misc]
    np.save(out_dir / "galaxies_flat.npy", flat.astype(np.float64))
    np.save(out_dir / "galaxies_offsets.npy", np.concatenate([[0], np.cumsum(sel_counts)]).astype(np.int64))
    for k, v in scal.items():
        np.save(out_dir / f"{k}.npy", v)
    h = raw.halos
    np.save(out_dir / "cluster_id.npy", np.asarray(h["cluster_id"], dtype=np.int64))
    np.save(out_dir / "positions.npy", np.stack([h["pos_x"], h["pos_y"], h["pos_z"]], axis=1).astype(np.float64))
    np.save(out_dir / "redshift.npy", np.asarray(h["redshift"], float))
    np.save(out_dir / "log10_m500c.npy", np.log10(np.asarray(h["M500c"], float)))
    np.save(out_dir / "snapshot.npy", np.asarray(h["snapshot"]).astype(np.int64))
    for k in ("T", "L_X", "M_gas", "M_star", "sigma_v_true"):
        np.save(out_dir / f"{k}.npy", np.asarray(h[k], float))
    np.save(out_dir / "r500c.npy", np.asarray(h["R500c"], float))
    has_comp = bool(np.all(scal["has_component"] > 0))
    kinds = sorted({"photons" if v > 0 else "events" for v in scal["photon_list"]})
    return {
        "has_component": has_comp,
        "n_without_component": int(np.sum(scal["has_component"] == 0)),
        "file_kinds": kinds,
    }


# ------------------------------------------------------------------------------------------ public API


def load_catalogue(
    path: str | Path,
    cache_dir: str | Path,
    name: str = "magneticum-sixte",
    workers: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    params: ProcessingParams = ProcessingParams(),
    meta: Optional[dict[str, Any]] = None,
    on_corrupt: str = "error",
) -> Catalogue:
    """Load (processing and caching on first use) the catalogue in directory ``path``.

    ``cache_dir`` is the shared dataset cache; arrays land in ``<cache_dir>/<name>/<key>/``. Processing
    uses ``workers`` processes (default: 2 from 150 clusters, "forkserver" start method, so scripts need
    the ``if __name__ == "__main__":`` guard); reloading a processed catalogue starts none.

    A cached entry is checked against the sizes and SHA-256 in its ``complete.json``
    (:func:`massbench.cache.verify_entry`). When it is corrupt, ``on_corrupt="rebuild"`` (a generated
    mock) removes and reprocesses it; ``"error"`` (a user's catalogue) raises a :class:`DataError`
    naming the bad file. Stale ``*.tmp-PID`` folders of killed processes are removed first.
    """
    from massbench.cache import CacheCorrupt, clean_stale_tmp, notice, touch_last_used

    raw = read_raw(path)
    root = Path(cache_dir).expanduser() / name
    key = cache_key(raw, params, root)
    final = root / key
    info = _checked_info(final, name, on_corrupt, remove=False)
    if info is None:
        with _lock(root / f"{key}.lock"):
            clean_stale_tmp(root)
            info = _checked_info(final, name, on_corrupt, remove=True)
            if info is None:
                tmp = root / f"{key}.tmp-{os.getpid()}"
                if tmp.exists():
                    shutil.rmtree(tmp)
                tmp.mkdir(parents=True)
                n = int(len(raw.cluster_id))
                notice(
                    f"massbench: processing {n} clusters of {raw.path} into {final} "
                    f"(once; up to {human_bytes(n * PROCESSED_BYTES_PER_CLUSTER)} on disk)"
                )
                if progress is None:
                    progress = _progress_lines(n)
                t0 = time.time()
                try:
                    info = _process_all(raw, tmp, params, workers, progress)
                    info.update(
                        {
                            "key": key,
                            "source": str(raw.path),
                            "params": asdict(params),
                            "processing_seconds": round(time.time() - t0, 2),
                            "header": _jsonable(raw.header),
                            "n_clusters": n,
                            "arrays": file_manifest(tmp),
                        }
                    )
                    (tmp / "complete.json").write_text(json.dumps(info, indent=2))
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
                if final.exists():
                    shutil.rmtree(final)
                os.replace(tmp, final)
    touch_last_used(final)
    try:
        cat = open_processed(final, name, extra_meta=meta, info=info)
    except CacheCorrupt as exc:  # pragma: no cover - verified just above; a race with `cache clean`
        raise DataError(f"{exc}; run the command again") from None
    tree = raw.halos.get("tree_id")
    if tree is not None:
        row_of = {int(c): i for i, c in enumerate(np.asarray(raw.cluster_id).tolist())}
        cat.group = np.asarray(tree, dtype=np.int64)[[row_of[int(c)] for c in cat.cluster_id.tolist()]]
        cat.meta["group"] = "tree_id (halos.fits): clusters of one lineage are resampled together"
    return cat


#: Disk use of one processed cluster, at most (sparse maps and cube; measured: 307 kB photon-list, 385 kB events
#: with components; README "Disk and cache").
PROCESSED_BYTES_PER_CLUSTER = 390_000


def _progress_lines(n: int, verb: str = "processed") -> Callable[[int, int], None]:
    """A progress callback printing a line at most every 10 s (and at the end) to stderr."""
    from massbench.cache import notice

    state = {"t": time.time(), "t0": time.time()}

    def cb(done: int, total: int) -> None:
        now = time.time()
        if done == total or now - state["t"] >= 10:
            state["t"] = now
            rate = done / max(now - state["t0"], 1e-9)
            left = (total - done) / rate if rate > 0 else 0.0
            notice(
                f"massbench:   {verb} {done}/{total} clusters"
                + (f", about {left:.0f} s left" if total > done >= total // 10 else "")
            )

    return cb


def _checked_info(final: Path, name: str, on_corrupt: str, remove: bool) -> Optional[dict[str, Any]]:
    """``complete.json`` of a verified entry, or None when there is none or it is corrupt.

    A corrupt entry is an error (``on_corrupt="error"``) or, with ``"rebuild"``, None; it is removed
    only with ``remove`` (the caller holds the entry's lock).
    """
    from massbench.cache import CacheCorrupt, notice, read_complete, verify_entry

    if not (final / "complete.json").is_file():
        return None
    try:
        info = read_complete(final)
        arrays = info.get("arrays")
        if not isinstance(arrays, dict) or not arrays:
            raise CacheCorrupt(final / "complete.json", "lists no array sizes and SHA-256 (an unfinished or old entry)")
        verify_entry(final, arrays)
        for k in ("n_clusters", "key", "source", "params", "has_component"):
            if k not in info:
                raise CacheCorrupt(final / "complete.json", f"has no {k!r}")
        return info
    except CacheCorrupt as exc:
        if on_corrupt == "rebuild":
            if remove:
                notice(f"massbench: the cached {name!r} catalogue is corrupt ({exc}); removing it and processing again")
                shutil.rmtree(final, ignore_errors=True)
            return None
        raise DataError(
            f"{exc}. The processed cache of dataset {name!r} is damaged: remove it with "
            f"`massbench cache clean --dataset {name}` (or delete {final}) and run again"
        ) from None


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, (bool, int, float, str)):
            out[k] = v
        else:
            out[k] = str(v)
    return out


def open_processed(
    directory: Path, name: str, extra_meta: Optional[dict[str, Any]] = None, info: Optional[dict[str, Any]] = None
) -> Catalogue:
    """A Catalogue over a processed cache directory (memory-mapped arrays; sparse ones as SparseRows)."""
    from massbench.sparse import SparseRows, is_sparse

    d = Path(directory)
    if info is None:
        from massbench.cache import read_complete

        info = read_complete(d)
    pp = info.get("params", {})
    specs = _array_specs(
        ProcessingParams(
            map_pixels=int(pp.get("map_pixels", MAP_PIXELS)),
            cube_bins=int(pp.get("cube_bins", CUBE_BINS)),
            bands=tuple(tuple(b) for b in pp.get("bands", BANDS)),
        )
    )

    def mm(k: str) -> Any:
        if k in specs and is_sparse(d, k):
            return SparseRows.open(d, k, specs[k][0], specs[k][1])
        return np.load(d / f"{k}.npy", mmap_mode="r")

    n = int(info["n_clusters"])
    flat = mm("galaxies_flat")
    off = np.load(d / "galaxies_offsets.npy")
    galaxies = np.empty(n, dtype=object)
    for i in range(n):
        galaxies[i] = flat[off[i] : off[i + 1]]
    inputs: dict[str, InputArray] = {}
    names = [
        "xray_map",
        "xray_bands",
        "dyn_cube",
        "galaxies",
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
    ]
    notes = []
    if info["has_component"]:
        names += list(TRUTH_COMPONENT_INPUTS)
    else:
        notes.append(
            f"{info['n_without_component']} event files have no COMPONENT column (e.g. SIXTE photon lists): "
            f"the truth-only ICM/AGN maps (xray_icm_*, xray_agn_*, n_icm, n_agn) are unavailable"
        )
        warnings.warn(f"dataset {name!r}: " + notes[-1], stacklevel=2)
    ablation = {k: pp.get(k, v) for k, v in ABLATION_DEFAULTS.items()}
    excised = float(ablation["core_excision"]) > 0
    for k in names:
        unit, desc, truth, ideal = INPUT_DOCS[k]
        if excised and k in XRAY_INPUTS:
            desc += f" (idealised: pixels within {ablation['core_excision']:g} of the true R500c set to zero)"
            ideal = True
        data = galaxies if k == "galaxies" else mm(k)
        inputs[k] = InputArray(data, unit, desc, truth, ideal)
    header = info.get("header", {})
    meta: dict[str, Any] = {
        "cache_key": info["key"],
        "cache_dir": str(d),
        "source": info["source"],
        "processing": info["params"],
        "processing_seconds": info.get("processing_seconds"),
        "raw_header": header,
        "notes": notes,
        "ablation": ablation,
    }
    meta.update(extra_meta or {})
    return Catalogue(
        name=name,
        cluster_id=np.asarray(mm("cluster_id")),
        positions=np.asarray(mm("positions")),
        box_size=float(header.get("BOXSIZE", 352.0)),
        redshift=np.asarray(mm("redshift")),
        log10_m500c=np.asarray(mm("log10_m500c")),
        inputs=inputs,
        meta=meta,
    )
