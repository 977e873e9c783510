"""The synthetic eROSITA catalogue: writes the raw layout of :mod:`.formats` for ``n_clusters`` clusters.

Pipeline (each step's physics is documented in its module):

1. :mod:`.halos` - lineages in the periodic box, progenitors at several snapshots, flattened selection;
2. :mod:`.scaling` - idealised observables (T, L_X, M_gas, M_star, sigma_v,true) and richness;
3. :mod:`.morphology` - cool cores, ellipticity, mergers;
4. per cluster (in a process pool for large catalogues): :mod:`.galaxies`, AGN hosts and field AGN,
   :mod:`.xray` photons through :mod:`.instrument`, written as ``events/<cluster_id>.fits``;
5. ``galaxies.fits`` and finally ``halos.fits`` (its presence marks a complete catalogue).

Free normalisations (:class:`MockConfig`): the member-galaxy richness normalisation, a common
multiplier of the AGN densities, the faintest AGN luminosity and a multiplier of the gas-mass relation
are calibrated once to properties of the paper's data (the medians of N_gal, N_AGN and N_ICM in Table 1
and the photons per AGN-dominated pixel of section 6; docs/mock.md records the calibration run);
everything else comes from the literature. Never adjust them toward an estimator's result.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from massbench.errors import ConfigError, UserError

from .cosmology import BOX_SIZE_HMPC, OMEGA_B, OMEGA_M, comoving_distance_hmpc, r500c_hmpc
from .formats import EVENTS_DIR, GALAXIES_FILE, GALAXY_COLUMNS, HALOS_COLUMNS, HALOS_FILE, Column, write_table
from .formats import default_workers as _default_workers
from .instrument import EROSITA

GENERATOR_VERSION = "2"

#: fraction of members with M_star >= 10^10 h^-1 Msun hosting an AGN above 10^41 erg/s at 1e14 h^-1 Msun
#: (approx. Martini et al. 2009 at L > 10^42 erg/s, extended to 10^41 with the XLF faint-end slope)
MEMBER_AGN_FRACTION = 0.03
#: field AGN above 10^41 erg/s [(comoving h^-1 Mpc)^-3] (approx. the Hasinger et al. 2005 soft XLF at z ~ 0.2)
FIELD_AGN_DENSITY = 2e-3


@dataclass(frozen=True)
class MockConfig:
    """Generator settings. The four ``calibrated`` values are the free normalisations (docs/mock.md)."""

    #: expected members with M_star >= 10^9.5 h^-1 Msun inside R200c of a 1e14 h^-1 Msun halo (calibrated: N_gal)
    richness_norm: float = 62.8
    #: field galaxies above 10^9.5 h^-1 Msun [(comoving h^-1 Mpc)^-3] (approx. Li & White 2009 stellar mass function)
    field_galaxy_density: float = 0.01
    #: multiplier of the literature AGN densities (member fraction and field density) (calibrated: N_AGN)
    agn_scale: float = 1.95
    #: log10 of the faintest AGN luminosity drawn [erg/s, intrinsic 0.5-2 keV] (calibrated: photons per
    #: AGN-dominated over ICM-dominated pixel, paper section 6)
    agn_log_lmin: float = 41.48
    #: multiplier of the literature gas-mass relation (Lovisari et al. 2015 slope, f_gas 0.09 at 1e14 h^-1 Msun)
    #: (calibrated: N_ICM); scales M_gas and therefore the emission as its square
    gas_scale: float = 0.713
    #: observation mode, one of xray.MODES: "photon-list" (the paper's SIXTE photon lists) or "events"
    mode: str = "photon-list"
    box_size: float = BOX_SIZE_HMPC
    #: how clusters are chosen among the box's halos (halos.SELECTIONS): "flat" (the paper's flattened
    #: selection) or "natural" (the mass function); written to the header only when natural, so that
    #: flat catalogues stay byte-identical to those written before the option existed
    selection: str = "flat"

    def header_cards(self) -> dict[str, tuple[Any, str]]:
        return {
            "RICHNORM": (self.richness_norm, "members >=1e9.5 in R200c at 1e14 h-1 Msun"),
            "FLDGAL": (self.field_galaxy_density, "[(h-1 Mpc)^-3] field galaxies >= 1e9.5"),
            "AGNSCALE": (self.agn_scale, "multiplier of the literature AGN densities"),
            "AGNLMIN": (self.agn_log_lmin, "log10 faintest AGN L(0.5-2 keV) [erg/s]"),
            "GASSCALE": (self.gas_scale, "multiplier of the literature M_gas relation"),
            "MODE": (self.mode, "photon-list (no PSF/vignetting/bkg) or events"),
        } | (
            {"SELECT": (self.selection, "cluster selection: flat or natural (HMF)")} if self.selection != "flat" else {}
        )


HALOS_EXTRA = (
    Column("tree_id", "", "K", "lineage id: rows sharing it are one halo at several snapshots (mock truth)"),
    Column("cool_core", "", "L", "cool core (mock truth)"),
    Column("merger_ratio", "", "D", "mass ratio of a merging subcluster, 0 if none (mock truth)"),
    Column("n_nbr", "", "D", "neighbouring halos' ICM photons in the 0.5-10 keV map (mock truth)"),
)
GALAXY_EXTRA = (
    Column("RA", "deg", "D", "right ascension [deg]"),
    Column("DEC", "deg", "D", "declination [deg]"),
    Column("kind", "", "I", "0 interloper, 1 member, 2 subcluster member, 3 BCG (mock truth)"),
)


def simulate_cluster(task: dict[str, Any]) -> tuple[Any, Any]:
    """One cluster's galaxies (:class:`.galaxies.Galaxies`) and photons (:class:`.xray.Photons`), in memory."""
    from .galaxies import make_galaxies
    from .icm import draw_gas_profiles
    from .morphology import gas_row
    from .scaling import ScalingModel
    from .xray import NBR_SRC0, SRC_SUB, GasSource, draw_agn, draw_field_agn, make_photons, xlf_fraction_above

    cfg = MockConfig(**task["config"])
    rng = np.random.default_rng(np.random.SeedSequence([task["seed"], task["cluster_id"], 7]))
    z, m500, r500 = task["redshift"], task["M500c"], task["R500c"]
    morph = task["morph"]
    off = morph["sub_offset_frac"] * r500
    sub_x, sub_y = off * np.cos(morph["sub_angle"]), off * np.sin(morph["sub_angle"])
    gal = make_galaxies(
        rng,
        z,
        m500,
        r500,
        task["sigma_v_true"],
        task["richness"],
        morph["merger_ratio"],
        sub_x,
        sub_y,
        morph["sub_dv_sigma"] * task["sigma_v_true"],
        cfg.field_galaxy_density,
    )
    # AGN: massive members host them (fraction rising toward groups); field AGN in the cone of the field
    above = xlf_fraction_above(cfg.agn_log_lmin)  # the literature densities count AGN above 10^41 erg/s
    frac = min(0.9, cfg.agn_scale * MEMBER_AGN_FRACTION * above * (m500 / 1e14) ** -0.3)
    hosts = np.flatnonzero((gal.kind > 0) & (gal.log_mstar >= 10.0) & (rng.random(len(gal)) < frac))
    fx, fy, flos = draw_field_agn(rng, z, cfg.agn_scale * FIELD_AGN_DENSITY * above, cfg.box_size)
    agn = draw_agn(
        len(hosts) + len(fx),
        np.concatenate([gal.x[hosts], fx]),
        np.concatenate([gal.y[hosts], fy]),
        np.concatenate([np.zeros(len(hosts)), flos]),
        rng,
        log_lmin=cfg.agn_log_lmin,
    )
    # gas: the cluster (its share of the budget), a merging subcluster, projected neighbours
    sources = [
        GasSource(0.0, 0.0, r500, task["M_gas_main"], task["T"], gas_row(morph), morph["axis_ratio"], morph["angle"])
    ]
    if morph["merger_ratio"] > 0:
        sub = task["sub"]
        sources.append(GasSource(sub_x, sub_y, sub["R500c"], sub["M_gas"], sub["T"], sub["gas"], src_id=SRC_SUB))
    nb = task["neighbours"]
    if len(nb["M500c"]):
        m_n, n = np.asarray(nb["M500c"]), len(nb["M500c"])
        obs = ScalingModel().draw(m_n, np.full(n, z), rng)
        obs["M_gas"] = obs["M_gas"] * cfg.gas_scale
        gas = draw_gas_profiles(rng.random(n) < 0.42, np.zeros(n, bool), rng)
        q = np.clip(rng.normal(0.85, 0.1, n), 0.5, 1.0)
        ang = rng.uniform(0, np.pi, n)
        for k in range(n):
            sources.append(
                GasSource(
                    nb["dx"][k],
                    nb["dy"][k],
                    nb["R500c"][k],
                    float(obs["M_gas"][k]),
                    float(obs["T"][k]),
                    gas.row(k),
                    float(q[k]),
                    float(ang[k]),
                    nb["dz"][k],
                    NBR_SRC0 + k,
                )
            )
    ph = make_photons(rng, z, sources, agn, cfg.mode)
    return gal, ph


def _cluster_task(task: dict[str, Any]) -> dict[str, np.ndarray]:
    """Generate one cluster's galaxies and photons, write its event file, return its galaxies."""
    from .events import write_event_file
    from .projection import projected_to_sky

    gal, ph = simulate_cluster(task)
    z = task["redshift"]
    write_event_file(
        Path(task["events_dir"]) / f"{task['cluster_id']}.fits",
        task["cluster_id"],
        z,
        ph.time,
        ph.ra,
        ph.dec,
        ph.signal,
        ph.component,
        ph.src_id,
        photon_list=task["config"]["mode"] == "photon-list",
    )
    ra, dec = projected_to_sky(gal.x, gal.y, EROSITA.ra_pointing_deg, EROSITA.dec_pointing_deg, z)
    return {
        "x_proj": gal.x,
        "y_proj": gal.y,
        "v_los": gal.v,
        "M_star": 10**gal.log_mstar,
        "kind": gal.kind,
        "RA": ra,
        "DEC": dec,
        "n_nbr": np.array([ph.n_nbr]),
    }


def cluster_tasks(
    n_clusters: int, seed: int, config: MockConfig, events_dir: str = ""
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The halo sample and per-cluster task records of a catalogue (deterministic in ``n_clusters``, ``seed``).

    L_X (bolometric, within R500c) is the emission integral of the gas-budget model (:mod:`.icm`): the
    main halo's share of M_gas plus a merging subcluster's (within its own R500c), not a draw.
    """
    from .halos import build_halo_catalogue
    from .icm import draw_gas_profiles, emission
    from .morphology import draw_morphology
    from .scaling import ScalingModel, fitted_relations

    if config.mode not in ("photon-list", "events"):
        raise ConfigError(f"mode must be 'photon-list' or 'events', got {config.mode!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
    halos, lineages = build_halo_catalogue(rng, int(n_clusters), box=config.box_size, selection=config.selection)
    n = len(halos)
    obs = ScalingModel(richness_norm=config.richness_norm).draw(halos.m500c, halos.redshift, rng, lineage=halos.tree_id)
    obs["M_gas"] = obs["M_gas"] * config.gas_scale
    morph = draw_morphology(n, halos.accretion_factor, rng, lineage=halos.tree_id)
    r500 = r500c_hmpc(halos.m500c, halos.redshift)
    # the gas budget: a merging subcluster of mass ratio xi holds its M_gas-relation share of the system's gas,
    # xi^a / (1 + xi^a) with a the M_gas slope (1.2: smaller halos hold relatively less gas)
    xi = morph.merger_ratio
    a_gas = fitted_relations()["M_gas"].alpha
    f_sub = xi**a_gas / (1.0 + xi**a_gas)
    m_gas_main = obs["M_gas"] * (1.0 - f_sub)
    xi_safe = np.maximum(xi, 1e-3)
    sub_r500 = r500 * xi_safe ** (1.0 / 3.0)
    sub_t = obs["T"] * xi_safe ** fitted_relations()["T"].alpha
    sub_gas = draw_gas_profiles(np.zeros(n, bool), np.zeros(n, bool), rng)
    em_main = emission(m_gas_main, obs["T"], r500, halos.redshift, morph.gas)
    em_sub = emission(np.maximum(obs["M_gas"] * f_sub, 1.0), sub_t, sub_r500, halos.redshift, sub_gas)
    l_x = em_main.within_r500c + np.where(xi > 0, em_sub.within_r500c, 0.0)
    neighbours = find_neighbours(halos, lineages, r500)
    cluster_id = np.arange(1, n + 1, dtype=np.int64)
    tasks = [
        {
            "cluster_id": int(cluster_id[i]),
            "seed": int(seed),
            "redshift": float(halos.redshift[i]),
            "M500c": float(halos.m500c[i]),
            "R500c": float(r500[i]),
            "T": float(obs["T"][i]),
            "M_gas_main": float(m_gas_main[i]),
            "sigma_v_true": float(obs["sigma_v_true"][i]),
            "richness": float(obs["richness"][i]),
            "morph": morph.row(i),
            "sub": {
                "R500c": float(sub_r500[i]),
                "M_gas": float(obs["M_gas"][i] * f_sub[i]),
                "T": float(sub_t[i]),
                "gas": sub_gas.row(i),
            },
            "neighbours": neighbours[i],
            "config": asdict(config),
            "events_dir": events_dir,
        }
        for i in range(n)
    ]
    table = {
        "cluster_id": cluster_id,
        "snapshot": halos.snapshot.astype(np.int32),
        "redshift": halos.redshift,
        "pos_x": halos.pos[:, 0],
        "pos_y": halos.pos[:, 1],
        "pos_z": halos.pos[:, 2],
        "M500c": halos.m500c,
        "R500c": r500,
        "T": obs["T"],
        "L_X": l_x,
        "M_gas": obs["M_gas"],
        "M_star": obs["M_star"],
        "sigma_v_true": obs["sigma_v_true"],
        "tree_id": halos.tree_id,
        "cool_core": morph.cool_core,
        "merger_ratio": morph.merger_ratio,
    }
    return tasks, table


#: neighbours are halos of the box above this M500c [h^-1 Msun] at the cluster's snapshot
NEIGHBOUR_MIN_MASS = 1e13


def find_neighbours(halos: Any, lineages: Any, r500: np.ndarray) -> list[dict[str, list[float]]]:
    """For each selected cluster, the other halos whose gas can reach its field (the box projection).

    Every lineage at the cluster's snapshot with M500c >= :data:`NEIGHBOUR_MIN_MASS`, at its periodic
    offset (dx, dy, dz) [comoving h^-1 Mpc] (dz along the line of sight, the box z axis, within +-box/2),
    kept when its projected centre lies within the field (the smaller of the 31' field radius and the
    map's corner) plus 3 of its R500c, seen at its own distance d_c + dz. Returns per cluster the lists
    ``dx``, ``dy`` (transverse, at the neighbour's own distance), ``dz``, ``M500c``, ``R500c``.
    """
    from .projection import APERTURE_HMPC

    box = lineages.box_size
    theta_fov = np.radians(EROSITA.fov_radius_arcmin / 60.0)
    column = {int(s): k for k, s in enumerate(lineages.snapshots)}
    out: list[dict[str, list[float]]] = []
    # per snapshot, once: every lineage's position and R500c (a snapshot has one redshift)
    per_snapshot: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i in range(len(halos)):
        k = column[int(halos.snapshot[i])]
        z = float(halos.redshift[i])
        m = lineages.masses[:, k]
        if k not in per_snapshot:
            per_snapshot[k] = (lineages.positions(k), r500c_hmpc(np.maximum(m, 1.0), z))
        pos, r500_n = per_snapshot[k]
        d_c = comoving_distance_hmpc(z)
        dpos = np.mod(pos - halos.pos[i] + 0.5 * box, box) - 0.5 * box
        d = d_c + dpos[:, 2]
        theta_max = min(theta_fov, np.sqrt(2.0) * APERTURE_HMPC / d_c)
        ok = (
            (m >= NEIGHBOUR_MIN_MASS)
            & (np.arange(len(m)) != halos.tree_id[i])
            & (d > 1.0)
            & (np.hypot(dpos[:, 0], dpos[:, 1]) < theta_max * d + 3.0 * r500_n)
        )
        sel = np.flatnonzero(ok)
        out.append(
            {
                "dx": dpos[sel, 0].tolist(),
                "dy": dpos[sel, 1].tolist(),
                "dz": dpos[sel, 2].tolist(),
                "M500c": m[sel].tolist(),
                "R500c": r500_n[sel].tolist(),
            }
        )
    return out


def generate_catalogue(
    directory: str | Path,
    n_clusters: int = 3285,
    seed: int = 0,
    workers: Optional[int] = None,
    config: Optional[MockConfig] = None,
    overwrite: bool = False,
    progress: Optional[Callable[[int, int], None]] = None,
) -> Path:
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
        raise UserError(
            f"{out} already holds a catalogue ({HALOS_FILE}); choose another directory or replace it with "
            "--overwrite (massbench mock generate) / overwrite=True (generate_catalogue)"
        )
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

    hal["n_nbr"] = np.array([float(r.pop("n_nbr")[0]) for r in results])
    counts = np.array([len(r["x_proj"]) for r in results])
    gal = {key: np.concatenate([r[key] for r in results]) for key in results[0]}
    gal["cluster_id"] = np.repeat(cluster_id, counts)
    write_table(
        out / GALAXIES_FILE,
        "GALAXIES",
        GALAXY_COLUMNS + GALAXY_EXTRA,
        gal,
        {
            "APERTURE": (2.6, "[h-1 Mpc] half-width of the written region"),
            "VMAX": (4500.0, "[km/s] written |v_los| range"),
            "MSTARMIN": (10**9.3, "[h-1 Msun] lowest stellar mass written"),
        },
    )
    cards = {
        "BOXSIZE": (cfg.box_size, "[h-1 Mpc] comoving side of the periodic box"),
        "H0": (70.4, "[km/s/Mpc] WMAP7"),
        "OM0": (OMEGA_M, "WMAP7"),
        "OB0": (OMEGA_B, "WMAP7"),
        "ORIGIN": ("massbench erosita-mock", "synthetic catalogue"),
        "GENVER": (GENERATOR_VERSION, "generator version"),
        "SEED": (int(seed), "generator seed"),
        "NCLUST": (int(n), "clusters"),
        **cfg.header_cards(),
    }
    tmp = out / (HALOS_FILE + ".tmp")
    write_table(tmp, "HALOS", HALOS_COLUMNS + HALOS_EXTRA, hal, cards)
    os.replace(tmp, out / HALOS_FILE)
    return out
