"""The synthetic eROSITA catalogue: writes the raw layout of :mod:`.formats` for ``n_clusters`` clusters.

Pipeline (each step's physics is documented in its module):

1. :mod:`.halos` - lineages in the periodic box, progenitors at several snapshots, flattened selection;
2. :mod:`.scaling` - idealised observables (T, L_X, M_gas, M_star, sigma_v,true) and richness;
3. :mod:`.morphology` - cool cores, ellipticity, mergers;
4. per cluster (in a process pool for large catalogues): :mod:`.galaxies`, AGN hosts and field AGN,
   :mod:`.xray` photons through :mod:`.instrument`, written as ``events/<cluster_id>.fits``;
5. ``galaxies.fits`` and finally ``halos.fits`` (its presence marks a complete catalogue).

Free normalisations (:class:`MockConfig`): the member-galaxy richness normalisation, a common
multiplier of the AGN densities and the background rate are calibrated once to the medians of the paper's Table 1 (N_gal, N_AGN
and N_phot; docs/mock.md records the calibration run); everything else comes from the literature.
Never adjust them toward an estimator's result.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from massbench.errors import ConfigError, UserError

from .cosmology import BOX_SIZE_HMPC, OMEGA_B, OMEGA_M, comoving_distance_hmpc, r500c_hmpc
from .formats import default_workers as _default_workers
from .formats import EVENTS_DIR, GALAXIES_FILE, GALAXY_COLUMNS, HALOS_COLUMNS, HALOS_FILE, Column, write_table
from .instrument import EROSITA

GENERATOR_VERSION = "1"

#: fraction of members with M_star >= 10^10 h^-1 Msun hosting an AGN above 10^41 erg/s at 1e14 h^-1 Msun
#: (approx. Martini et al. 2009 at L > 10^42 erg/s, extended to 10^41 with the XLF faint-end slope)
MEMBER_AGN_FRACTION = 0.03
#: field AGN above 10^41 erg/s [(comoving h^-1 Mpc)^-3] (approx. the Hasinger et al. 2005 soft XLF at z ~ 0.2)
FIELD_AGN_DENSITY = 2e-3


@dataclass(frozen=True)
class MockConfig:
    """Generator settings. The three ``calibrated`` values are the free normalisations (docs/mock.md)."""

    #: expected members with M_star >= 10^9.5 h^-1 Msun inside R200c of a 1e14 h^-1 Msun halo (calibrated: N_gal)
    richness_norm: float = 60.2
    #: field galaxies above 10^9.5 h^-1 Msun [(comoving h^-1 Mpc)^-3] (approx. Li & White 2009 stellar mass function)
    field_galaxy_density: float = 0.01
    #: multiplier of the literature AGN densities (member fraction and field density) (calibrated: N_AGN)
    agn_scale: float = 1.48
    #: background rate over 0.2-12 keV [counts/s/deg^2] (calibrated: 85 background counts in the map, Table 1)
    bkg_rate: float = 0.273
    box_size: float = BOX_SIZE_HMPC

    def header_cards(self) -> dict[str, tuple[Any, str]]:
        return {
            "RICHNORM": (self.richness_norm, "members >=1e9.5 in R200c at 1e14 h-1 Msun"),
            "FLDGAL": (self.field_galaxy_density, "[(h-1 Mpc)^-3] field galaxies >= 1e9.5"),
            "AGNSCALE": (self.agn_scale, "multiplier of the literature AGN densities"),
            "BKGRATE": (self.bkg_rate, "[counts/s/deg2] background 0.2-12 keV"),
        }


HALOS_EXTRA = (
    Column("tree_id", "", "K", "lineage id: rows sharing it are one halo at several snapshots (mock truth)"),
    Column("cool_core", "", "L", "cool core (mock truth)"),
    Column("merger_ratio", "", "D", "mass ratio of a merging subcluster, 0 if none (mock truth)"),
)
GALAXY_EXTRA = (
    Column("RA", "deg", "D", "right ascension [deg]"),
    Column("DEC", "deg", "D", "declination [deg]"),
    Column("kind", "", "I", "0 interloper, 1 member, 2 subcluster member, 3 BCG (mock truth)"),
)


def simulate_cluster(task: dict[str, Any]) -> tuple[Any, Any]:
    """One cluster's galaxies (:class:`.galaxies.Galaxies`) and photons (:class:`.xray.Photons`), in memory."""
    from .galaxies import make_galaxies
    from .xray import draw_agn, make_photons

    cfg = MockConfig(**task["config"])
    rng = np.random.default_rng(np.random.SeedSequence([task["seed"], task["cluster_id"], 7]))
    z, m500, r500 = task["redshift"], task["M500c"], task["R500c"]
    morph = task["morph"]
    off = morph["sub_offset_frac"] * r500
    gal = make_galaxies(rng, z, m500, r500, task["sigma_v_true"], task["richness"], morph["merger_ratio"],
                        off * np.cos(morph["sub_angle"]), off * np.sin(morph["sub_angle"]),
                        morph["sub_dv_sigma"] * task["sigma_v_true"], cfg.field_galaxy_density)
    # AGN: massive members host them (fraction rising toward groups); field AGN of the whole box along the LOS
    frac = min(0.9, cfg.agn_scale * MEMBER_AGN_FRACTION * (m500 / 1e14) ** -0.3)
    hosts = np.flatnonzero((gal.kind > 0) & (gal.log_mstar >= 10.0) & (rng.random(len(gal)) < frac))
    fov_hmpc = np.radians(EROSITA.fov_radius_arcmin / 60.0) * comoving_distance_hmpc(z)
    n_field = rng.poisson(cfg.agn_scale * FIELD_AGN_DENSITY * np.pi * fov_hmpc**2 * cfg.box_size)
    rf = fov_hmpc * np.sqrt(rng.random(n_field))
    pf = rng.uniform(0, 2 * np.pi, n_field)
    los = np.concatenate([np.zeros(len(hosts)), rng.uniform(-0.5, 0.5, n_field) * cfg.box_size])
    agn = draw_agn(len(hosts) + n_field, np.concatenate([gal.x[hosts], rf * np.cos(pf)]),
                   np.concatenate([gal.y[hosts], rf * np.sin(pf)]), los, rng)
    ph = make_photons(rng, z, r500, task["T"], task["L_X"], morph, agn, cfg.bkg_rate)
    return gal, ph


def _cluster_task(task: dict[str, Any]) -> dict[str, np.ndarray]:
    """Generate one cluster's galaxies and photons, write its event file, return its galaxies."""
    from .events import write_event_file
    from .projection import projected_to_sky

    gal, ph = simulate_cluster(task)
    z = task["redshift"]
    write_event_file(Path(task["events_dir"]) / f"{task['cluster_id']}.fits", task["cluster_id"], z,
                     ph.time, ph.ra, ph.dec, ph.signal, ph.component, ph.src_id)
    ra, dec = projected_to_sky(gal.x, gal.y, EROSITA.ra_pointing_deg, EROSITA.dec_pointing_deg, z)
    return {"x_proj": gal.x, "y_proj": gal.y, "v_los": gal.v, "M_star": 10**gal.log_mstar, "kind": gal.kind,
            "RA": ra, "DEC": dec}


def cluster_tasks(n_clusters: int, seed: int, config: MockConfig, events_dir: str = "") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The halo sample and per-cluster task records of a catalogue (deterministic in ``n_clusters``, ``seed``)."""
    from .halos import build_halo_sample
    from .morphology import draw_morphology
    from .scaling import ScalingModel

    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
    halos = build_halo_sample(rng, int(n_clusters), box=config.box_size)
    n = len(halos)
    obs = ScalingModel(richness_norm=config.richness_norm).draw(halos.m500c, halos.redshift, rng)
    morph = draw_morphology(n, halos.accretion_factor, rng)
    r500 = r500c_hmpc(halos.m500c, halos.redshift)
    cluster_id = np.arange(1, n + 1, dtype=np.int64)
    tasks = [{
        "cluster_id": int(cluster_id[i]), "seed": int(seed), "redshift": float(halos.redshift[i]),
        "M500c": float(halos.m500c[i]), "R500c": float(r500[i]), "T": float(obs["T"][i]), "L_X": float(obs["L_X"][i]),
        "sigma_v_true": float(obs["sigma_v_true"][i]), "richness": float(obs["richness"][i]),
        "morph": morph.row(i), "config": asdict(config), "events_dir": events_dir,
    } for i in range(n)]
    table = {"cluster_id": cluster_id, "snapshot": halos.snapshot.astype(np.int32), "redshift": halos.redshift,
             "pos_x": halos.pos[:, 0], "pos_y": halos.pos[:, 1], "pos_z": halos.pos[:, 2], "M500c": halos.m500c,
             "R500c": r500, "T": obs["T"], "L_X": obs["L_X"], "M_gas": obs["M_gas"], "M_star": obs["M_star"],
             "sigma_v_true": obs["sigma_v_true"], "tree_id": halos.tree_id, "cool_core": morph.cool_core,
             "merger_ratio": morph.merger_ratio}
    return tasks, table


def generate_catalogue(directory: str | Path, n_clusters: int = 3285, seed: int = 0, workers: Optional[int] = None,
                       config: Optional[MockConfig] = None, overwrite: bool = False,
                       progress: Optional[Callable[[int, int], None]] = None) -> Path:
    """Generate a synthetic catalogue of ``n_clusters`` clusters into ``directory`` (layout of :mod:`.formats`).

    Deterministic for a given (``n_clusters``, ``seed``, ``config``), whatever ``workers``.
    ``progress(done, total)`` is called as clusters finish. Returns the directory. With more than one
    worker (the default from 150 clusters) processes are started with the "forkserver" method, so a
    script calling this needs the usual ``if __name__ == "__main__":`` guard (or ``workers=1``).
    """
    if not isinstance(n_clusters, (int, np.integer)) or isinstance(n_clusters, bool) or n_clusters < 1:
        raise ConfigError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    cfg = config or MockConfig()
    out = Path(directory)
    if (out / HALOS_FILE).exists() and not overwrite:
        raise UserError(f"{out} already holds a catalogue ({HALOS_FILE}); choose another directory or overwrite it")
    events_dir = out / EVENTS_DIR
    events_dir.mkdir(parents=True, exist_ok=True)
    if (out / HALOS_FILE).exists():
        (out / HALOS_FILE).unlink()

    tasks, hal = cluster_tasks(int(n_clusters), int(seed), cfg, str(events_dir))
    n = len(tasks)
    cluster_id = hal["cluster_id"]

    nw = _default_workers(n) if workers is None else max(1, int(workers))
    results: list[dict[str, np.ndarray]] = []
    if nw == 1:
        for k, t in enumerate(tasks):
            results.append(_cluster_task(t))
            if progress:
                progress(k + 1, n)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(max_workers=nw, mp_context=ctx) as pool:
            for k, res in enumerate(pool.map(_cluster_task, tasks, chunksize=8)):
                results.append(res)
                if progress:
                    progress(k + 1, n)

    counts = np.array([len(r["x_proj"]) for r in results])
    gal = {key: np.concatenate([r[key] for r in results]) for key in results[0]}
    gal["cluster_id"] = np.repeat(cluster_id, counts)
    write_table(out / GALAXIES_FILE, "GALAXIES", GALAXY_COLUMNS + GALAXY_EXTRA, gal, {
        "APERTURE": (2.6, "[h-1 Mpc] half-width of the written region"),
        "VMAX": (4500.0, "[km/s] written |v_los| range"),
        "MSTARMIN": (10**9.3, "[h-1 Msun] lowest stellar mass written")})
    cards = {
        "BOXSIZE": (cfg.box_size, "[h-1 Mpc] comoving side of the periodic box"),
        "H0": (70.4, "[km/s/Mpc] WMAP7"), "OM0": (OMEGA_M, "WMAP7"), "OB0": (OMEGA_B, "WMAP7"),
        "ORIGIN": ("massbench erosita-mock", "synthetic catalogue"),
        "GENVER": (GENERATOR_VERSION, "generator version"), "SEED": (int(seed), "generator seed"),
        "NCLUST": (int(n), "clusters"), **cfg.header_cards(),
    }
    tmp = out / (HALOS_FILE + ".tmp")
    write_table(tmp, "HALOS", HALOS_COLUMNS + HALOS_EXTRA, hal, cards)
    os.replace(tmp, out / HALOS_FILE)
    return out
