"""benchmarks/erosita-lite-probabilistic.yaml: valid, and the lite benchmark's dataset and folds (issue 19)."""

from __future__ import annotations

from pathlib import Path

from massbench.config import load_benchmark
from massbench.registry import load_registry

ROOT = Path(__file__).resolve().parents[1] / "benchmarks"


def test_probabilistic_lite_benchmark_matches_lite_and_lists_only_probabilistic_estimators():
    reg = load_registry()
    prob = load_benchmark(ROOT / "erosita-lite-probabilistic.yaml", reg)
    lite = load_benchmark(ROOT / "erosita-lite.yaml", reg)
    assert (prob.dataset.name, prob.dataset.params) == (lite.dataset.name, lite.dataset.params)
    assert prob.cv == lite.cv and prob.version == lite.version
    names = [e.name for e in prob.estimators]
    proxies = [n for n in names if n.startswith("proxy")]
    assert len(proxies) == 11  # every fixed proxy of the lite benchmark: all give eq. 6-7's Gaussian
    nets = [e for e in prob.estimators if not e.name.startswith("proxy")]
    assert {e.name for e in nets} >= {"cnn-multi-band", "fusion-xray-dyn"}
    for e in nets:  # each network entry is probabilistic
        assert e.params.get("loss") == "gaussian_nll" or e.params.get("ensemble", 1) > 1, e.label
    assert any(e.params.get("ensemble", 1) > 1 for e in nets)
