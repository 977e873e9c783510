"""``fusion-xray-dyn`` through the harness: benchmark file, folds, units, saved models, leaderboard."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

pytest.importorskip("torch")

from massbench import hookimpl
from massbench.config import parse_benchmark
from massbench.registry import load_registry
from massbench.runner import RunOptions, run_benchmark

pytestmark = pytest.mark.torch

BENCH = """
benchmark: fusion-tiny
version: "0"
dataset: {name: tiny-fusion-data}
cv: {scheme: random, n_folds: 2, val_fraction: 0.2, seed: 3}
estimators:
  - name: fusion-xray-dyn
    label: fusion
    params: {epochs: 2, batch_size: 8, xray_filters: [4, 4, 4, 4], dyn_filters: [4, 4, 4], xray_dense: 8,
             dyn_dense: 8, head_dense: [8], num_threads: 1}
  - name: fusion-xray-dyn
    label: fusion half spec-z
    params: {completeness: 0.5, epochs: 1, batch_size: 8, xray_filters: [4, 4, 4, 4], dyn_filters: [4, 4, 4],
             xray_dense: 8, dyn_dense: 8, head_dense: [8], num_threads: 1}
"""


def dataset_module() -> types.ModuleType:
    """A dataset plugin serving the tiny catalogue of test_fusion_estimator."""
    from test_fusion_estimator import tiny_catalogue

    class TinyFusionData:
        name = "tiny-fusion-data"

        def __init__(self) -> None:
            pass

        def load(self, context):
            return tiny_catalogue(n=24, seed=1)

    mod = types.ModuleType("tiny_fusion_dataset_plugin")

    @hookimpl
    def massbench_datasets():
        return [TinyFusionData]

    mod.massbench_datasets = massbench_datasets
    return mod


def test_fusion_runs_through_the_harness(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parent))
    registry = load_registry(extra=[dataset_module()])
    path = tmp_path / "bench.yaml"
    path.write_text(BENCH)
    bench = parse_benchmark(BENCH, str(path), registry)
    out = tmp_path / "out"
    status = run_benchmark(bench, registry, RunOptions(out=out, cache_dir=tmp_path / "cache", device="cpu"))
    assert status == 0, (out / "leaderboard.json").read_text()
    rows = {r["label"]: r for r in json.loads((out / "leaderboard.json").read_text())}
    for label in ("fusion", "fusion half spec-z"):
        assert rows[label]["status"] == "ok" and rows[label]["n_test"] == 24
        assert rows[label]["framework"] == "torch"
        assert np.isfinite(rows[label]["scatter_dex"])
    unit = json.loads((out / "units" / "fusion" / "fold0.json").read_text())
    assert unit["device_used"] == "cpu" and unit["info"]["fusion_epochs_run"] == 2
    assert (out / "models" / "fusion" / "fold1" / "model.pt").exists()
    # fold 0 builds every cluster's cube once (train, val, then test); fold 1 reuses them
    built = [
        json.loads((out / "units" / "fusion-half-spec-z" / f"fold{k}.json").read_text())["info"]["fusion_cubes_built"]
        for k in (0, 1)
    ]
    assert built == [24, 0]
