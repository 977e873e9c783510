"""Calibration of the generator's three free normalisations to the medians of the paper's Table 1.

Only these are calibrated, each against the count it controls (docs/mock.md records the run):

- ``richness_norm`` (member galaxies)       -> median N_gal in the dynamical cylinder = 112;
- ``agn_scale`` (AGN densities)             -> median N_AGN in the map = 225;
- ``gas_scale`` (gas-fraction normalisation) -> median N_ICM in the map = 762 (the emission scales as
  M_gas^2, so N_ICM as gas_scale^2);
- ``agn_log_lmin`` (faintest AGN drawn)      -> photons per AGN-dominated pixel over photons per
  ICM-dominated pixel = 13 (paper section 6: "> 13"; ratio of means over clusters,
  ``saliency.masks.photon_ratio``). Raising it removes faint AGN and keeps the bright ones, so
  AGN-dominated pixels hold more photons; ``agn_scale`` then restores the N_AGN median.

Calibration runs in the default ``photon-list`` mode (the paper's photon lists have no background, so
N_phot = N_ICM + N_AGN there). The scatters are not calibrated here: the gas-profile populations of
:mod:`.icm` were set from the literature's L-M scatters (docs/mock.md, calibration table). Nothing here
looks at any estimator's result. Samples pool several seeds (box realisations), because one box's mass
distribution moves the medians by ~20 %.

Run ``python -m massbench.plugins.mock.calibration [n_clusters] [seed]``; it prints the calibrated values
and the Table-1 medians they give, computed from in-memory clusters through the loader's own
projection and selection code (no files written).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import numpy as np

from massbench.plugins.saliency.masks import photon_means, summarise_photon_means

from .dynamics import dynamical_selection
from .generator import MockConfig, cluster_tasks, simulate_cluster
from .instrument import EROSITA
from .projection import photon_maps, sky_to_projected

TARGETS = {"n_gal": 112.0, "n_agn": 225.0, "n_phot": 1072.0, "n_icm": 762.0, "pixel_ratio": 13.0}
#: d ln(pixel ratio) / d agn_log_lmin, measured once (41.0 -> 6.0, 41.5 -> 12.2); the step of the iteration
PIXEL_RATIO_SLOPE = 1.4


def table1_counts(tasks: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Per-cluster N_phot, N_ICM, N_AGN (map, 0.5-10 keV) and N_gal (dynamical cylinder) of in-memory clusters."""
    out: dict[str, list[float]] = {
        "n_phot": [],
        "n_icm": [],
        "n_agn": [],
        "n_bkg": [],
        "n_gal": [],
        "n_interlopers": [],
        "agn_pixel_mean": [],
        "icm_pixel_mean": [],
    }
    for t in tasks:
        gal, ph = simulate_cluster(t)
        x, y = sky_to_projected(ph.ra, ph.dec, EROSITA.ra_pointing_deg, EROSITA.dec_pointing_deg, t["redshift"])
        maps = photon_maps(x, y, ph.signal, ph.component).sum(axis=1)
        full = maps.sum(axis=(1, 2))
        agn_mean, icm_mean = photon_means(maps[None, 0], maps[None, 1])
        out["agn_pixel_mean"].append(agn_mean[0]), out["icm_pixel_mean"].append(icm_mean[0])
        out["n_icm"].append(full[0]), out["n_agn"].append(full[1]), out["n_bkg"].append(full[2])
        out["n_phot"].append(full.sum())
        sel = dynamical_selection(gal.x, gal.y, gal.v, gal.log_mstar)
        out["n_gal"].append(sel.sum()), out["n_interlopers"].append((sel & (gal.kind == 0)).sum())
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def calibrate(
    n_clusters: int = 500, seeds: tuple[int, ...] = (1000, 1001, 1002), iterations: int = 5, verbose: bool = True
) -> MockConfig:
    """Fixed-point iterations of the four normalisations on in-memory samples pooled over ``seeds``."""
    cfg = MockConfig()
    for it in range(iterations):
        med = pooled_medians(n_clusters, seeds, cfg)
        if verbose:
            print(f"iteration {it}: {cfg}\n  medians: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()), flush=True)
        inter = med["n_interlopers"]
        richness = cfg.richness_norm * max(TARGETS["n_gal"] - inter, 1.0) / max(med["n_gal"] - inter, 1.0)
        agn = cfg.agn_scale * (TARGETS["n_agn"] / max(med["n_agn"], 1.0)) ** 0.8
        gas = cfg.gas_scale * (TARGETS["n_icm"] / max(med["n_icm"], 1.0)) ** 0.5
        lmin = cfg.agn_log_lmin + np.log(TARGETS["pixel_ratio"] / med["pixel_ratio"]) / PIXEL_RATIO_SLOPE
        cfg = replace(
            cfg,
            richness_norm=round(richness, 1),
            agn_scale=round(agn, 2),
            gas_scale=round(gas, 3),
            agn_log_lmin=round(float(lmin), 2),
        )
    return cfg


def pooled_medians(n_clusters: int, seeds: tuple[int, ...], cfg: MockConfig) -> dict[str, float]:
    """Medians of :func:`table1_counts` over catalogues of ``n_clusters`` for each seed, pooled, and the
    pooled AGN/ICM pixel ratio (``pixel_ratio``)."""
    parts = [table1_counts(cluster_tasks(n_clusters, s, cfg)[0]) for s in seeds]
    pooled = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ratio = summarise_photon_means(pooled.pop("agn_pixel_mean"), pooled.pop("icm_pixel_mean"))["ratio_of_means"]
    out = {k: float(np.median(v)) for k, v in pooled.items()}
    out["pixel_ratio"] = float(ratio) if ratio is not None else float("nan")
    return out


if __name__ == "__main__":  # pragma: no cover - manual calibration run
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    final = calibrate(n)
    print("calibrated:", final)
    print("medians, calibration seeds:", pooled_medians(n, (1000, 1001, 1002), final))
    print("medians, fresh seeds:", pooled_medians(n, (0, 1, 2), final))
