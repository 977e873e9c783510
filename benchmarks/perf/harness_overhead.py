"""Harness overhead per unit: a run of no-op estimators, wall time minus the estimators' own time.

    python benchmarks/perf/harness_overhead.py [--clusters 3285] [--estimators 4] [--executor process|inline|dask]

Prints the per-unit overhead (view building, validation, atomic writes, scoring, leaderboards;
with the process executor also the worker process per unit and the read-only input copies)
next to the total, for a synthetic catalogue of the paper's size with a 128x128 map input.
The estimators' own time is their fit + predict seconds from the unit records.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

from massbench import Catalogue, Estimator, InputArray, hookimpl
from massbench.config import parse_benchmark
from massbench.registry import load_registry
from massbench.runner import RunOptions, run_benchmark


class SynthDataset:
    name = "perf-synth"

    def __init__(self, n_clusters: int = 3285):
        self.n_clusters = n_clusters

    load_seconds = 0.0

    def load(self, context):
        t = time.perf_counter()
        rng = np.random.default_rng(0)
        n = self.n_clusters
        cat = Catalogue(
            self.name,
            np.arange(n),
            rng.uniform(0, 352, (n, 3)),
            352.0,
            rng.uniform(0.07, 0.47, n),
            rng.uniform(13.5, 15.07, n),
            {"xray_map": InputArray(rng.poisson(0.1, (n, 128, 128)).astype(np.float32), "count")},
        )
        SynthDataset.load_seconds += time.perf_counter() - t
        return cat


class NoOp(Estimator):
    """Reads its input (as a real estimator would) and predicts a constant."""

    name = "perf-noop"
    inputs = ("xray_map",)

    def __init__(self, tag: int = 0):
        self.tag = tag

    def fit(self, train, val):
        t = time.perf_counter()
        train["xray_map"], val["xray_map"]
        self.m = float(np.mean(train.log10_m500c))
        NoOp.own += time.perf_counter() - t

    def predict(self, test):
        t = time.perf_counter()
        test["xray_map"]
        out = np.full(len(test), self.m)
        NoOp.own += time.perf_counter() - t
        return out


NoOp.own = 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", type=int, default=3285)
    ap.add_argument("--estimators", type=int, default=4)
    ap.add_argument("--executor", default="process", choices=["process", "inline", "dask"])
    args = ap.parse_args()
    # the plugin classes must be importable by name in worker processes: use this file as the module harness_overhead
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    mod = importlib.import_module("harness_overhead")
    plugin = types.ModuleType("perf_plugin")
    plugin.massbench_datasets = hookimpl(lambda: [mod.SynthDataset])
    plugin.massbench_estimators = hookimpl(lambda: [mod.NoOp])
    reg = load_registry(extra=[plugin], use_entry_points=False)
    ests = "\n".join(
        f"  - name: perf-noop\n    label: noop{i}\n    params: {{tag: {i}}}" for i in range(args.estimators)
    )
    text = (
        f'benchmark: perf\nversion: "1"\ndataset:\n  name: perf-synth\n  params: {{n_clusters: {args.clusters}}}\n'
        f"cv: {{scheme: octants, val_fraction: 0.1, seed: 0}}\nestimators:\n{ests}\n"
    )
    bench = parse_benchmark(text, "<perf>", reg)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_benchmark(bench, reg, RunOptions(out=Path(tmp) / "out", executor=args.executor, device="cpu"))
        wall = time.perf_counter() - t0
        recs = [json.loads(p.read_text()) for p in (Path(tmp) / "out" / "units").rglob("fold*.json")]
    own = sum((r.get("train_seconds") or 0.0) + (r.get("predict_seconds") or 0.0) for r in recs)
    units = len(recs)
    loaded = mod.SynthDataset.load_seconds
    overhead = wall - own - loaded
    print(
        f"executor {args.executor}, clusters {args.clusters}, units {units}: wall {wall:.2f} s, estimators' own "
        f"time {own:.2f} s (reading their inputs), synthetic dataset {loaded:.2f} s"
    )
    print(
        f"harness overhead: {overhead:.2f} s in all, {1000 * overhead / units:.1f} ms per unit "
        "(views, checks, atomic writes, bootstrap scoring, leaderboards; process: worker start, input copies)"
    )


if __name__ == "__main__":
    sys.exit(main())
