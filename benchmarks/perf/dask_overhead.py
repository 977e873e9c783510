"""Wall time of the dask executor against the local one, and the scheduling overhead per unit.

    python benchmarks/perf/dask_overhead.py [--noop-estimators 10] [--busy-estimators 2]
                                            [--busy-iterations 15000000] [--workers 1,2]
                                            [--bench benchmarks/smoke.yaml] [--json out.json]

Three measurements, each with the local executor and with local dask clusters of 1 and 2
worker processes (``--workers``):

1. no-op units: ``--noop-estimators`` copies of the tests' ``toy-linear`` (a least-squares fit
   on 160 clusters, well under a millisecond) plus ``baseline-mean``, 8 octant folds each. The
   overhead per unit is (dask wall - cluster start/stop - local wall) / units, with the cluster
   start/stop timed on its own (:func:`massbench.dask_executor.open_client` with no unit); it
   includes each worker's one-off start (imports, plugins, dataset load). The steady-state cost
   is the median gap between one unit's end and the next one's start (from the unit records),
   shown for the local executor and one dask worker.
2. CPU-bound units (``perf-busy``, a single-threaded pure-Python loop of
   ``--busy-iterations`` steps per unit), to see what a second worker buys on this machine.

Each wall time is the best of ``--repeat`` runs. The overhead per unit is meaningful for one
worker (units run one after the other, as in the local executor); with more workers the
same difference also contains what the parallelism saved.
3. ``--bench FILE``: a real benchmark (e.g. ``benchmarks/smoke.yaml``) on CPU.

This file is also the plugin that defines ``perf-busy``: the dask workers import it by its
module name (``dask_overhead``, from this directory, which the workers inherit on sys.path).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from massbench import Estimator, hookimpl


class Busy(Estimator):
    """Predicts the mean training mass after ``iterations`` steps of single-threaded pure-Python work."""

    name = "perf-busy"
    inputs: tuple[str, ...] = ()

    def __init__(self, iterations: int = 15_000_000):
        self.iterations = iterations

    def fit(self, train: Any, val: Any) -> None:
        acc = 0
        for i in range(self.iterations):
            acc += i & 7
        self.context.info["acc"] = acc
        self.mean = float(np.mean(train.log10_m500c))

    def predict(self, test: Any) -> np.ndarray:
        return np.full(len(test), self.mean)


@hookimpl
def massbench_estimators():
    return [Busy]


def toy_benchmark(n_noop: int, n_busy: int, busy_iterations: int) -> str:
    lines = [
        "benchmark: dask-perf",
        'version: "1.0"',
        "dataset:",
        "  name: toy",
        "  params: {n_clusters: 160, seed: 1}",
        "cv: {scheme: octants, val_fraction: 0.1, seed: 0}",
        "estimators:",
    ]
    for i in range(n_noop):
        lines.append(f"  - {{name: toy-linear, label: noop-{i}, params: {{degree: 1}}}}")
    for i in range(n_busy):
        lines.append(f"  - {{name: perf-busy, label: busy-{i}, params: {{iterations: {busy_iterations}}}}}")
    return "\n".join(lines) + "\n"


REPEAT = 2


def timed_run(bench: Any, registry: Any, out: Path, **options: Any) -> tuple[float, int]:
    """Best wall time of ``REPEAT`` fresh runs (the machine is shared) and the number of units."""
    from massbench.runner import RunOptions, run_benchmark

    best = float("inf")
    for _ in range(REPEAT):
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        code = run_benchmark(bench, registry, RunOptions(out=out, **options))
        best = min(best, time.perf_counter() - t)
        if code not in (0, 1):
            raise SystemExit(f"{out}: run failed with status {code}")
    return best, len(list(out.glob("units/*/fold*.json")))


def median_gap(out: Path) -> float:
    """Median time between one unit's end and the next unit's start (steady-state cost per unit, one worker)."""
    recs = sorted((json.loads(p.read_text()) for p in out.glob("units/*/fold*.json")), key=lambda r: r["started"])
    gaps = [b["started"] - a["finished"] for a, b in zip(recs, recs[1:])]
    return float(np.median(gaps)) if gaps else float("nan")


def cluster_start_stop(workers: int, repeat: int = 2) -> float:
    from massbench.dask_executor import open_client
    from massbench.runner import RunOptions

    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        with open_client(RunOptions(out=Path("."), executor="dask", workers=workers), message=lambda *_: None):
            pass
        best = min(best, time.perf_counter() - t)
    return best


def measure(
    name: str, bench: Any, registry: Any, tmp: Path, workers: list[int], startup: dict[int, float], device: str = "auto"
) -> list[dict[str, Any]]:
    rows = []
    local, n = timed_run(bench, registry, tmp / f"{name}-local", device=device)
    gap_local = median_gap(tmp / f"{name}-local")
    rows.append(
        {"case": name, "executor": "local", "workers": 0, "units": n, "wall_s": local, "median_gap_s": gap_local}
    )
    print(f"{name}: local {local:.2f} s for {n} units (median gap between units {1000 * gap_local:.1f} ms)", flush=True)
    for w in workers:
        wall, n = timed_run(bench, registry, tmp / f"{name}-dask{w}", device=device, executor="dask", workers=w)
        row = {
            "case": name,
            "executor": "dask",
            "workers": w,
            "units": n,
            "wall_s": wall,
            "cluster_start_stop_s": startup[w],
            "speedup_vs_local": local / wall,
        }
        extra = ""
        if w == 1 and n > 0:  # units one after the other, as locally: the difference is overhead
            row["overhead_per_unit_s"] = (wall - startup[w] - local) / n
            row["median_gap_s"] = median_gap(tmp / f"{name}-dask{w}")
            extra = (
                f", overhead {1000 * row['overhead_per_unit_s']:.1f} ms/unit, median gap between units "
                f"{1000 * row['median_gap_s']:.1f} ms"
            )
        rows.append(row)
        print(
            f"{name}: dask {w} worker(s) {wall:.2f} s (cluster start/stop {startup[w]:.2f} s{extra}, "
            f"speedup {local / wall:.2f}x)",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    global REPEAT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noop-estimators", type=int, default=10)
    ap.add_argument("--busy-estimators", type=int, default=2)
    ap.add_argument("--busy-iterations", type=int, default=15_000_000)
    ap.add_argument("--repeat", type=int, default=REPEAT, help="runs per measurement; the best wall time is kept")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts of the local dask cluster")
    ap.add_argument("--bench", type=Path, default=None, help="also time this benchmark file (on CPU)")
    ap.add_argument("--json", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    REPEAT = max(1, args.repeat)

    import dask_overhead as self_plugin  # this file, by the name the workers import it under

    from massbench.config import load_benchmark, parse_benchmark
    from massbench.registry import load_registry
    from tests import toyplugin

    toy_reg = load_registry(extra=[toyplugin, self_plugin], use_entry_points=False)
    startup = {w: cluster_start_stop(w, REPEAT) for w in workers}
    for w, s in startup.items():
        print(f"local cluster of {w} worker(s): start + stop {s:.2f} s", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="massbench-dask-perf-") as d:
        tmp = Path(d)
        noop = parse_benchmark(toy_benchmark(args.noop_estimators, 0, 0), "noop.yaml", toy_reg)
        rows += measure("noop", noop, toy_reg, tmp, workers, startup)
        if args.busy_estimators:
            busy = parse_benchmark(toy_benchmark(0, args.busy_estimators, args.busy_iterations), "busy.yaml", toy_reg)
            rows += measure("busy", busy, toy_reg, tmp, workers, startup)
        if args.bench:
            reg = load_registry()
            rows += measure(args.bench.stem, load_benchmark(args.bench, reg), reg, tmp, workers, startup, device="cpu")
    print(
        "\n| case | executor | workers | units | wall (s) | cluster start+stop (s) | overhead / unit (ms) | "
        "median gap (ms) | speedup |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        over = f"{1000 * r['overhead_per_unit_s']:.1f}" if "overhead_per_unit_s" in r else ""
        speed = f"{r['speedup_vs_local']:.2f}" if "speedup_vs_local" in r else ""
        start = f"{r['cluster_start_stop_s']:.2f}" if "cluster_start_stop_s" in r else ""
        gap = f"{1000 * r['median_gap_s']:.1f}" if "median_gap_s" in r else ""
        print(
            f"| {r['case']} | {r['executor']} | {r['workers'] or ''} | {r['units']} | {r['wall_s']:.2f} | {start} | "
            f"{over} | {gap} | {speed} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
