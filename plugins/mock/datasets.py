"""The dataset plugins: ``erosita-mock`` (synthetic, generated on demand) and ``magneticum-sixte`` (a directory).

Both read through :func:`.loader.load_catalogue`, so the synthetic catalogue always exercises the
loader that real Magneticum/SIXTE output goes through. Processed arrays are cached under the
``cache_dir`` parameter if given, else the run context's ``cache_dir``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Optional

from massbench.catalogue import Catalogue
from massbench.errors import ConfigError, DataError
from massbench.estimator import RunContext


def _cache_root(cache_dir: Optional[str], context: Any) -> Path:
    if cache_dir:
        return Path(cache_dir).expanduser()
    ctx_dir = getattr(context, "cache_dir", None)
    if ctx_dir is None:
        from massbench.estimator import default_cache_dir

        return default_cache_dir()
    return Path(ctx_dir)


#: The largest catalogue the generator supports: its box holds 16,099-16,783 halos in the selected mass
#: range (seeds 0-3 of halos.build_halo_catalogue), so this many leave a wide margin for any seed.
MAX_CLUSTERS = 12_000

#: values of the ``photons`` param: every photon, or the ICM's only
PHOTONS = ("all", "icm")

#: Disk use of one generated cluster's raw files, per mode (measured, README "Disk and cache").
RAW_BYTES_PER_CLUSTER = {"photon-list": 187_000, "events": 1_970_000}


class ErositaMock:
    """The synthetic eROSITA catalogue (generated once per (n_clusters, seed), then cached).

    Parameters
    ----------
    n_clusters : number of clusters (the paper has 3,285); smaller catalogues are random subsets of the
        same flattened parent selection, so they keep its mass and redshift distributions.
    seed : generator seed (box realisation, observables, photons).
    mode : "photon-list" (default; what the paper's notebook reads: SIXTE photon lists, no PSF,
        vignetting or background) or "events" (eROSITA PSF, vignetting, particle and sky background).
    selection : "flat" (default: the paper's sample, flattened in mass) or "natural" (clusters drawn
        uniformly from the box's halos, so following the halo mass function: a survey's population);
        a natural catalogue is another catalogue (its own raw directory and cache key).
    cache_dir : where raw files and processed arrays go (default: the run's cache directory).
    photons : "all" (default) or "icm": only the ICM photons reach the maps and counts (AGN, and in
        events mode the background, removed photon by photon with the mock's COMPONENT truth column).
        An ablation of the data, not an input: estimators still see only maps and counts.
    neighbours : true (default) or false: remove the photons of projected neighbouring halos (SRC_ID
        from 1,000,000).
    core_excision : radius in units of the true R500c within which every map pixel (and so N_phot and
        N_phot,500c) is set to zero; 0 (default) is none, 0.15 the usual core. Idealised: it uses the
        true R500c, so the X-ray inputs are marked idealised and every row reading them is flagged.
    The three ablation options change the processed arrays (and their cache key), not the raw files
    (docs/mock.md "Ablation options").
    """

    name = "erosita-mock"

    def __init__(
        self,
        n_clusters: int = 3285,
        seed: int = 0,
        mode: str = "photon-list",
        cache_dir: Optional[str] = None,
        photons: str = "all",
        neighbours: bool = True,
        core_excision: float = 0.0,
        selection: str = "flat",
    ) -> None:
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or not 1 <= n_clusters <= MAX_CLUSTERS:
            raise ConfigError(
                f"dataset {self.name!r}: param 'n_clusters' must be an integer from 1 to {MAX_CLUSTERS:,} (the "
                f"simulated box holds about 16,000 halos in the selected mass range), got {n_clusters!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"dataset {self.name!r}: param 'seed' must be a non-negative integer, got {seed!r}")
        if mode not in ("photon-list", "events"):
            raise ConfigError(f"dataset {self.name!r}: param 'mode' must be 'photon-list' or 'events', got {mode!r}")
        if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
            raise ConfigError(f"dataset {self.name!r}: param 'cache_dir' must be a path string, got {cache_dir!r}")
        if photons not in PHOTONS:
            raise ConfigError(
                f"dataset {self.name!r}: param 'photons' must be one of {', '.join(map(repr, PHOTONS))}, got {photons!r}"
            )
        if not isinstance(neighbours, bool):
            raise ConfigError(f"dataset {self.name!r}: param 'neighbours' must be true or false, got {neighbours!r}")
        if (
            isinstance(core_excision, bool)
            or not isinstance(core_excision, (int, float))
            or not 0.0 <= float(core_excision) < 1.0
        ):
            raise ConfigError(
                f"dataset {self.name!r}: param 'core_excision' must be a number in [0, 1) (a radius in units of "
                f"R500c; 0: none, 0.15: the core), got {core_excision!r}"
            )
        if selection not in ("flat", "natural"):
            raise ConfigError(
                f"dataset {self.name!r}: param 'selection' must be 'flat' (the paper's flattened sample) or "
                f"'natural' (the halo mass function), got {selection!r}"
            )
        self.selection = selection
        self.n_clusters = n_clusters
        self.seed = seed
        self.mode = mode
        self.cache_dir = cache_dir
        self.photons = photons
        self.neighbours = neighbours
        self.core_excision = float(core_excision)

    def raw_directory(self, context: Any = None) -> Path:
        """Where the raw catalogue of these params lives (generated there on first use)."""
        from .generator import GENERATOR_VERSION

        return (
            _cache_root(self.cache_dir, context)
            / self.name
            / "raw"
            / f"n{self.n_clusters}-seed{self.seed}-{self.mode}{self._selection_tag}-v{GENERATOR_VERSION}"
        )

    @property
    def _selection_tag(self) -> str:
        """'' for the flat selection (raw directories and cache keys as before the option), else '-<selection>'."""
        return "" if self.selection == "flat" else f"-{self.selection}"

    def ensure_raw(self, context: Any = None) -> Path:
        """Generate the raw catalogue if it is not there yet (atomically: a temporary directory is renamed)."""
        from massbench.cache import clean_stale_tmp, human_bytes, notice

        from .formats import HALOS_FILE
        from .generator import MockConfig, generate_catalogue
        from .loader import PROCESSED_BYTES_PER_CLUSTER, _lock, _progress_lines

        raw = self.raw_directory(context)
        if (raw / HALOS_FILE).is_file():
            return raw
        with _lock(raw.parent / f"{raw.name}.lock"):
            clean_stale_tmp(raw.parent)
            if (raw / HALOS_FILE).is_file():
                return raw
            tmp = raw.parent / f"{raw.name}.tmp-{os.getpid()}"
            if tmp.exists():
                shutil.rmtree(tmp)
            per = RAW_BYTES_PER_CLUSTER[self.mode]
            notice(
                f"massbench: generating the {self.name} catalogue ({self.n_clusters} clusters, seed {self.seed}, "
                f"{self.mode}{', natural selection' if self.selection != 'flat' else ''}) into {raw}; this is done once and takes about "
                f"{human_bytes(self.n_clusters * (per + PROCESSED_BYTES_PER_CLUSTER))} of disk "
                f"({human_bytes(self.n_clusters * per)} raw files, the rest processed arrays). "
                "See `massbench cache info`."
            )
            try:
                generate_catalogue(
                    tmp,
                    self.n_clusters,
                    self.seed,
                    config=MockConfig(mode=self.mode, selection=self.selection),
                    progress=_progress_lines(self.n_clusters, "generated"),
                )
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            if raw.exists():
                shutil.rmtree(raw)
            os.replace(tmp, raw)
        return raw

    def load(self, context: RunContext) -> Catalogue:
        """Generate if needed, then read and process through the loader (cached, memory-mapped)."""
        from .generator import GENERATOR_VERSION
        from .loader import ProcessingParams, load_catalogue

        raw = self.ensure_raw(context)

        meta = {
            "generator": {
                "n_clusters": self.n_clusters,
                "seed": self.seed,
                "mode": self.mode,
                "version": GENERATOR_VERSION,
                **({"selection": self.selection} if self.selection != "flat" else {}),
            },
            "raw_dir": str(raw),
        }
        params = ProcessingParams(photons=self.photons, neighbours=self.neighbours, core_excision=self.core_excision)
        return load_catalogue(
            raw, _cache_root(self.cache_dir, context), name=self.name, meta=meta, on_corrupt="rebuild", params=params
        )


class MagneticumSixte:
    """A Magneticum/SIXTE catalogue directory in the layout of docs/mock.md (halos.fits, events/, galaxies.fits).

    Parameters
    ----------
    path : the catalogue directory.
    cache_dir : where processed arrays go (default: the run's cache directory).
    """

    name = "magneticum-sixte"

    def __init__(self, path: str, cache_dir: Optional[str] = None) -> None:
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise ConfigError(f"dataset {self.name!r}: param 'path' must be a directory path, got {path!r}")
        if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
            raise ConfigError(f"dataset {self.name!r}: param 'cache_dir' must be a path string, got {cache_dir!r}")
        self.path = str(path)
        self.cache_dir = cache_dir

    def load(self, context: RunContext) -> Catalogue:
        from .loader import load_catalogue

        root = Path(self.path).expanduser()
        if not root.is_dir():
            raise DataError(f"dataset {self.name!r}: catalogue directory {root} does not exist (param 'path')")
        return load_catalogue(root, _cache_root(self.cache_dir, context), name=self.name)
