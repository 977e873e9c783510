"""Speed and accuracy of the dynamical-cube KDE: scipy's gaussian_kde against massbench's fast version.

Galaxy sets come from the synthetic catalogue's own galaxy model (members, a merging subcluster where
drawn, interlopers) for clusters of a small generated sample, selected with the paper's dynamical
cylinder. For each cluster both cubes are built (64^3, bandwidth factor 0.15, normalised to sum 1);
the script prints per-cluster timings, the median times, their ratio and the largest
|fast - scipy| / max(scipy).

    python benchmarks/perf/kde_speed.py [--clusters 40] [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from massbench.plugins.mock.dynamics import dynamical_selection
from massbench.plugins.mock.galaxies import make_galaxies
from massbench.plugins.mock.generator import MockConfig, cluster_tasks
from massbench.plugins.mock.kde import dynamical_cube, dynamical_cube_scipy


def galaxy_sets(n: int, seed: int) -> list[np.ndarray]:
    tasks, _ = cluster_tasks(n, seed, MockConfig())
    out = []
    for t in tasks:
        rng = np.random.default_rng([seed, t["cluster_id"]])
        m = t["morph"]
        off = m["sub_offset_frac"] * t["R500c"]
        g = make_galaxies(
            rng,
            t["redshift"],
            t["M500c"],
            t["R500c"],
            t["sigma_v_true"],
            t["richness"],
            m["merger_ratio"],
            off * np.cos(m["sub_angle"]),
            off * np.sin(m["sub_angle"]),
            m["sub_dv_sigma"] * t["sigma_v_true"],
            MockConfig().field_galaxy_density,
        )
        sel = dynamical_selection(g.x, g.y, g.v, g.log_mstar)
        out.append(np.column_stack([g.x[sel], g.y[sel], g.v[sel]]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=str, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    sets = galaxy_sets(args.clusters, args.seed)
    dynamical_cube(sets[0])  # warm-up
    t_fast, t_scipy, err, n_gal = [], [], [], []
    for g in sets:
        t0 = time.perf_counter()
        ref = dynamical_cube_scipy(g)
        t1 = time.perf_counter()
        fast = dynamical_cube(g)
        t2 = time.perf_counter()
        t_scipy.append(t1 - t0)
        t_fast.append(t2 - t1)
        err.append(float(np.abs(fast - ref).max() / ref.max()))
        n_gal.append(len(g))
        print(
            f"N_gal {len(g):4d}  scipy {1e3 * (t1 - t0):8.1f} ms  fast {1e3 * (t2 - t1):7.2f} ms  "
            f"ratio {(t1 - t0) / (t2 - t1):6.1f}  max|diff|/max {err[-1]:.1e}",
            flush=True,
        )
    ms, mf = float(np.median(t_scipy)), float(np.median(t_fast))
    summary = {
        "clusters": len(sets),
        "median_n_gal": float(np.median(n_gal)),
        "max_n_gal": int(max(n_gal)),
        "scipy_median_s": ms,
        "fast_median_s": mf,
        "ratio_of_medians": ms / mf,
        "ratio_of_totals": float(sum(t_scipy) / sum(t_fast)),
        "min_ratio": float(min(np.array(t_scipy) / np.array(t_fast))),
        "max_abs_diff_over_max": float(max(err)),
    }
    print(f"scipy gaussian_kde: median {1e3 * ms:.1f} ms per cluster")
    print(f"fast dynamical_cube: median {1e3 * mf:.2f} ms per cluster")
    print(
        f"ratio (medians) {ms / mf:.1f}x, (totals) {summary['ratio_of_totals']:.1f}x, "
        f"(worst cluster) {summary['min_ratio']:.1f}x; max |fast - scipy| / max = {max(err):.1e}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
