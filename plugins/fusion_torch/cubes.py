"""Dynamical phase-space cubes at partial spectroscopic completeness (paper section 2.2 and 5.2).

The paper's fusion network sees a Gaussian KDE (bandwidth factor 0.15) of *all* galaxies with
M_star >= 10^9.5 h^-1 Msun inside the dynamical cylinder (R_proj <= 2.3 h^-1 Mpc,
|v_los| <= 3785 km/s), sampled on a 64^3 grid and normalised to sum 1. Section 5.2 notes that a
real follow-up measures only some of those redshifts. This module rebuilds the cubes from a
seeded random subset of each cluster's galaxies:

- spectroscopic completeness ``c`` keeps ``k = floor(c * n_gal + 1/2)`` galaxies of a cluster with
  ``n_gal`` galaxies (round half up), chosen as the first ``k`` of a random permutation drawn
  from ``numpy.random.default_rng([seed, cluster_id])``. The subsets are therefore nested
  (the galaxies kept at c = 0.25 are among those kept at c = 0.5) and a cluster's subset does
  not depend on which fold or view it appears in.
- cubes are built with the mock package's fast KDE (the function that made the dataset's own
  ``dyn_cube``; :func:`scipy_kde_cube` is the slow reference). A cluster left with fewer than 2
  galaxies (the KDE is undefined) gets an all-zero cube; for 2 or 3 galaxies (a singular
  covariance) the mock's KDE adds one cell width to the kernel's diagonal.
- rebuilt cubes are written into one memory-mapped ``.npy`` per (catalogue, completeness, seed,
  grid) under ``<cache_dir>/fusion-cubes/``, one row per catalogue row, so that the folds of a
  benchmark (and parallel workers on the same file system) share them. A per-row fingerprint of
  the cluster id and its galaxy table marks which rows are built and invalidates stale rows if
  the catalogue changes. At no point are all cubes held in RAM.

Cube axes are (x_proj, y_proj, v_los), the same orientation as the dataset's ``dyn_cube``
(see docs/inputs.md): x, y over -2.3..+2.3 comoving h^-1 Mpc, v over -3785..+3785 km/s.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from massbench.catalogue import RowAccessor
from massbench.errors import DataError

log = logging.getLogger(__name__)

#: sky half-width of the cube [comoving h^-1 Mpc] and velocity half-width [km/s] (paper section 2.2)
CUBE_HALF_WIDTH_MPC = 2.3
CUBE_HALF_WIDTH_KMS = 3785.0
#: Gaussian KDE bandwidth factor (scipy ``bw_method``), paper section 2.2
KDE_BANDWIDTH = 0.15


@dataclass(frozen=True)
class CubeGrid:
    """The phase-space grid: ``n`` cells per axis over +-``half_width_mpc`` h^-1 Mpc (x, y) and
    +-``half_width_kms`` km/s (v), KDE bandwidth factor ``bandwidth``."""

    n: int = 64
    half_width_mpc: float = CUBE_HALF_WIDTH_MPC
    half_width_kms: float = CUBE_HALF_WIDTH_KMS
    bandwidth: float = KDE_BANDWIDTH

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell centres on a sky axis [h^-1 Mpc] and on the velocity axis [km/s]."""
        e = np.linspace(-self.half_width_mpc, self.half_width_mpc, self.n + 1)
        ev = np.linspace(-self.half_width_kms, self.half_width_kms, self.n + 1)
        return 0.5 * (e[1:] + e[:-1]), 0.5 * (ev[1:] + ev[:-1])


def kept_count(n_gal: int, completeness: float) -> int:
    """Galaxies kept at spectroscopic completeness ``completeness`` out of ``n_gal``: round half up."""
    return int(np.floor(completeness * n_gal + 0.5))


def subsample_galaxies(galaxies: np.ndarray, completeness: float, seed: int, cluster_id: int) -> np.ndarray:
    """The seeded random subset of one cluster's galaxies measured at completeness ``completeness``.

    ``galaxies`` is the cluster's (n_gal, 4) table [x_proj h^-1 Mpc, y_proj h^-1 Mpc, v_los km/s,
    log10 M_star]; rows keep their original order. The draw depends only on (seed, cluster_id), and
    the subsets are nested in ``completeness``.
    """
    if not 0.0 < completeness <= 1.0:
        raise ValueError(f"spectroscopic completeness must be in (0, 1], got {completeness}")
    gal = np.asarray(galaxies, dtype=np.float64).reshape(-1, 4) if np.size(galaxies) else np.zeros((0, 4))
    n = len(gal)
    k = kept_count(n, completeness)
    if k >= n:
        return gal
    rng = np.random.default_rng([int(seed) % 2**63, int(cluster_id) % 2**63])
    keep = np.sort(rng.permutation(n)[:k])
    return gal[keep]


def scipy_kde_cube(galaxies: np.ndarray, grid: CubeGrid = CubeGrid()) -> np.ndarray:
    """The paper's cube: scipy ``gaussian_kde(bw_method=0.15)`` of (x, y, v) at the grid's cell centres,
    normalised to sum 1; float32 (n, n, n) with axes (x, y, v). All zeros for < 2 galaxies or a
    singular galaxy covariance. About 0.4 s per 64^3 cube of ~100 galaxies."""
    from scipy.stats import gaussian_kde

    pts = np.asarray(galaxies, dtype=np.float64).reshape(-1, 4)[:, :3]
    cube = np.zeros((grid.n,) * 3, dtype=np.float32)
    if len(pts) < 2:
        return cube
    try:
        kde = gaussian_kde(pts.T, bw_method=grid.bandwidth)
    except (np.linalg.LinAlgError, ValueError):
        return cube
    c, cv = grid.centres()
    X, Y, V = np.meshgrid(c, c, cv, indexing="ij")
    dens = kde(np.vstack([X.ravel(), Y.ravel(), V.ravel()])).reshape(cube.shape)
    total = dens.sum()
    if not np.isfinite(total) or total <= 0:
        return cube
    return (dens / total).astype(np.float32)


def default_cube_builder() -> Callable[[np.ndarray, CubeGrid], np.ndarray]:
    """The cube builder for rebuilt cubes: the mock package's fast KDE
    (:func:`massbench.plugins.mock.kde.dynamical_cube`, the function that builds the dataset's own
    ``dyn_cube``, equal to scipy's to ~1e-6 of the maximum), with fewer than 2 galaxies giving an
    all-zero cube."""
    from massbench.plugins.mock.kde import dynamical_cube

    def build(galaxies: np.ndarray, grid: CubeGrid) -> np.ndarray:
        return mock_kde_cube(dynamical_cube, galaxies, grid)

    build.__name__ = "massbench.plugins.mock.kde.dynamical_cube"
    return build


def mock_kde_cube(dynamical_cube: Callable[..., np.ndarray], galaxies: np.ndarray, grid: CubeGrid) -> np.ndarray:
    """One cluster's cube with the mock package's ``dynamical_cube`` (all zeros for < 2 galaxies; the
    mock adds a one-cell floor to a singular galaxy covariance, e.g. 2 or 3 galaxies)."""
    pts = np.asarray(galaxies, dtype=np.float64).reshape(-1, 4)
    if len(pts) < 2:
        return np.zeros((grid.n,) * 3, dtype=np.float32)
    cube = dynamical_cube(
        pts[:, :3], bins=grid.n, aperture=grid.half_width_mpc, vcut=grid.half_width_kms, bw_factor=grid.bandwidth
    )
    return np.asarray(cube, dtype=np.float32)


def galaxy_fingerprint(cluster_id: int, galaxies: np.ndarray) -> int:
    """A non-zero 63-bit fingerprint of a cluster id and its galaxy table (0 marks 'not built')."""
    h = hashlib.blake2b(digest_size=8)
    h.update(np.int64(int(cluster_id) % 2**63).tobytes())
    h.update(np.ascontiguousarray(np.asarray(galaxies, dtype=np.float64)).tobytes())
    return (int.from_bytes(h.digest(), "little") & (2**63 - 1)) or 1


@dataclass(frozen=True)
class CubeStoreKey:
    """What identifies one store of rebuilt cubes."""

    dataset: str
    n_rows: int
    completeness: float
    seed: int
    grid: CubeGrid

    def digest(self) -> str:
        text = json.dumps({**asdict(self), "grid": asdict(self.grid)}, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class CompletenessCubeStore:
    """Memory-mapped store of cubes rebuilt at one spectroscopic completeness.

    ``store.rows(view)`` builds any missing rows of the view's clusters and returns a
    :class:`massbench.RowAccessor` over the view's rows of the memory map (read per batch).
    Files: ``cubes.npy`` (n_rows, n, n, n) float32, ``fingerprints.npy`` (n_rows,) int64 and
    ``key.json``, in ``<cache_dir>/fusion-cubes/<dataset>-c<completeness>-s<seed>-<digest>/``.
    """

    def __init__(
        self, cache_dir: Path, key: CubeStoreKey, builder: Callable[[np.ndarray, CubeGrid], np.ndarray] | None = None
    ):
        self.key = key
        self.builder = builder or default_cube_builder()
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in key.dataset)
        self.directory = (
            Path(cache_dir)
            / "fusion-cubes"
            / (f"{safe}-c{key.completeness:g}-s{key.seed}-n{key.grid.n}-{key.digest()}")
        )
        self.last_built = 0
        self.last_build_seconds = 0.0

    # -- files --------------------------------------------------------------------------------
    def _open(self) -> tuple[np.memmap, np.memmap]:
        d = self.directory
        cubes_path, fp_path = d / "cubes.npy", d / "fingerprints.npy"
        if not (cubes_path.exists() and fp_path.exists()):
            d.mkdir(parents=True, exist_ok=True)
            n, g = self.key.n_rows, self.key.grid.n
            tag = f".tmp{os.getpid()}-{time.monotonic_ns()}"
            tmp_c, tmp_f = d / ("cubes" + tag + ".npy"), d / ("fingerprints" + tag + ".npy")
            np.lib.format.open_memmap(tmp_c, mode="w+", dtype=np.float32, shape=(n, g, g, g)).flush()
            np.lib.format.open_memmap(tmp_f, mode="w+", dtype=np.int64, shape=(n,)).flush()
            (d / "key.json").write_text(json.dumps({**asdict(self.key), "grid": asdict(self.key.grid)}, indent=2))
            # first writer wins; a concurrent creator's files are identical in shape and empty
            if not cubes_path.exists():
                os.replace(tmp_c, cubes_path)
            else:
                tmp_c.unlink()
            if not fp_path.exists():
                os.replace(tmp_f, fp_path)
            else:
                tmp_f.unlink()
        cubes = np.load(cubes_path, mmap_mode="r+")
        fps = np.load(fp_path, mmap_mode="r+")
        g = self.key.grid.n
        if cubes.shape != (self.key.n_rows, g, g, g) or fps.shape != (self.key.n_rows,):
            raise DataError(
                f"cube cache {cubes_path} has shape {cubes.shape}, expected "
                f"{(self.key.n_rows, g, g, g)}: delete {self.directory} and rerun"
            )
        return cubes, fps

    # -- building -----------------------------------------------------------------------------
    def rows(self, view: Any) -> RowAccessor:
        """Build the view's missing cubes (seeded subsample + KDE) and return their rows, lazily."""
        cubes, fps = self._open()
        rows = np.asarray(view.indices, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.key.n_rows):
            raise DataError(
                f"view rows {rows.min()}..{rows.max()} exceed the catalogue's "
                f"{self.key.n_rows} rows in the cube cache {self.directory}"
            )
        galaxies = view.lazy("galaxies")
        t0, built = time.perf_counter(), 0
        for pos, row in enumerate(rows):
            gal = galaxies[pos]
            cid = int(view.cluster_id[pos])
            fp = galaxy_fingerprint(cid, gal)
            if int(fps[row]) == fp:
                continue
            sub = subsample_galaxies(gal, self.key.completeness, self.key.seed, cid)
            cube = self.builder(sub, self.key.grid)
            if cube.shape != (self.key.grid.n,) * 3:
                raise DataError(f"cube builder returned shape {cube.shape} for cluster {cid}")
            cubes[row] = cube
            cubes.flush()
            fps[row] = fp
            built += 1
            if built % 200 == 0:
                fps.flush()
                log.info("fusion cubes at completeness %g: %d built", self.key.completeness, built)
        fps.flush()
        self.last_built = built
        self.last_build_seconds = time.perf_counter() - t0
        if built:
            log.info(
                "built %d cubes at completeness %g in %.1f s (%s)",
                built,
                self.key.completeness,
                self.last_build_seconds,
                getattr(self.builder, "__name__", "builder"),
            )
        return RowAccessor(np.load(self.directory / "cubes.npy", mmap_mode="r"), rows)
