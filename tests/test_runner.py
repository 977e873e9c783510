import csv
import json

import numpy as np
import pytest

from massbench.config import load_benchmark
from massbench.runner import RunOptions, run_benchmark

from .conftest import TOY_BENCH

MULTI = (
    TOY_BENCH
    + """\
  - name: toy-peeker
  - name: toy-sneaky
  - name: toy-subview
  - name: toy-quiet-undeclared
  - name: toy-nan
  - name: toy-short
  - name: toy-undeclared
  - name: toy-crash
  - name: toy-truth
"""
)


def run(bench_path, registry, out, **kw):
    b = load_benchmark(bench_path, registry)
    return run_benchmark(b, registry, RunOptions(out=out, **kw))


def test_run_writes_outputs(toy_registry, write_bench, tmp_path):
    out = tmp_path / "res"
    assert run(write_bench(), toy_registry, out) == 0
    rows = json.loads((out / "leaderboard.json").read_text())
    assert [r["label"] for r in rows] == ["Linear", "baseline-mean"]  # sorted by scatter, floor included
    lin, base = rows
    for key in [
        "estimator",
        "label",
        "inputs",
        "scatter_dex",
        "scatter_percent",
        "bias_dex",
        "robust_scatter_dex",
        "scatter_ci95",
        "n_test",
        "status",
        "error",
    ]:
        assert key in lin
    assert lin["status"] == "ok" and lin["n_test"] == 160 and lin["scatter_dex"] < 0.1 < base["scatter_dex"]
    assert len(lin["per_fold"]) == 8
    preds = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(preds) == 2 * 160
    assert list(preds[0]) == [
        "cluster_id",
        "fold",
        "label",
        "estimator",
        "redshift",
        "log10_m500c_true",
        "log10_m500c_pred",
        "repeat",
        "group",
        # the distribution of a probabilistic estimator (tests/test_probabilistic.py); empty for point ones
        "pred_kind",
        "log10_m500c_sigma",
        "log10_m500c_q16",
        "log10_m500c_q84",
        "pit",
    ]
    assert {p["pit"] for p in preds} == {""}
    assert {p["repeat"] for p in preds} == {"0"}
    assert {(p["label"], p["estimator"]) for p in preds} == {
        ("Linear", "toy-linear"),
        ("baseline-mean", "baseline-mean"),
    }
    # predictions reproduce the scatter
    r = np.array([float(p["log10_m500c_pred"]) - float(p["log10_m500c_true"]) for p in preds if p["label"] == "Linear"])
    assert np.isclose(r.std(), lin["scatter_dex"])
    prov = json.loads((out / "run.json").read_text())
    for key in [
        "massbench",
        "plugins",
        "libraries",
        "python",
        "device_requested",
        "seeds",
        "benchmark_sha256",
        "started",
        "finished",
    ]:
        assert key in prov
    assert prov["massbench"]["version"] and prov["finished"]
    main_table, natural_table = (out / "leaderboard.md").read_text().split("### Natural population")
    assert main_table.count("| Linear |") == 1 and natural_table.count("| Linear |") == 1
    assert lin["natural"]["n_test"] == 160 and lin["natural"]["scatter_dex"] > 0
    assert (out / "models" / "Linear" / "fold0" / "coef.npy").exists()
    assert (out / "report.md").exists()


def test_cheating_and_broken_estimators_fail_their_units(toy_registry, write_bench, tmp_path):
    out = tmp_path / "res"
    assert run(write_bench(MULTI), toy_registry, out) == 1
    rows = {r["label"]: r for r in json.loads((out / "leaderboard.json").read_text())}
    assert rows["Linear"]["status"] == "ok"
    assert "test clusters' masses" in rows["toy-peeker"]["error"]
    assert "test clusters' masses" in rows["toy-sneaky"]["error"]
    assert "test clusters' masses" in rows["toy-subview"]["error"]
    assert "did not declare" in rows["toy-quiet-undeclared"]["error"]
    assert "NaN" in rows["toy-nan"]["error"]
    assert "shape" in rows["toy-short"]["error"]
    assert "did not declare" in rows["toy-undeclared"]["error"]
    assert "boom in fit" in rows["toy-crash"]["error"]
    assert "truth-only" in rows["toy-truth"]["error"]
    assert (out / "units" / "toy-crash" / "fold0.traceback.txt").read_text().count("boom in fit")
    labels = [r["label"] for r in json.loads((out / "leaderboard.json").read_text())]
    assert labels[:2] == ["Linear", "baseline-mean"]  # failed rows last


def test_resume_after_interruption(toy_registry, write_bench, tmp_path, monkeypatch):
    out = tmp_path / "res"
    bench = write_bench()
    # interrupt on the 4th Linear fold: the first three units are saved atomically
    calls = {"n": 0}
    from tests import toyplugin

    orig = toyplugin.LinearProxy.fit

    def flaky(self, train, val):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return orig(self, train, val)

    monkeypatch.setattr(toyplugin.LinearProxy, "fit", flaky)
    with pytest.raises(KeyboardInterrupt):  # inline: the monkeypatched fit runs in this process
        run(bench, toy_registry, out, executor="inline")
    done = sorted(p.name for p in (out / "units" / "Linear").glob("fold*.json"))
    assert done == ["fold0.json", "fold1.json", "fold2.json"]
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "units" / "Linear").glob("fold*.json")}
    calls["n"] = 100
    assert run(bench, toy_registry, out, resume=True, executor="inline") == 0
    assert calls["n"] == 105  # only the five missing folds ran
    for name, t in stamps.items():
        assert (out / "units" / "Linear" / name).stat().st_mtime_ns == t
    # a changed configuration invalidates finished units
    changed = write_bench(TOY_BENCH.replace("{degree: 1}", "{degree: 2}"), "b2.yaml")
    assert run(changed, toy_registry, out, resume=True, executor="inline") == 0
    assert calls["n"] == 113


def test_only_runs_selected(toy_registry, write_bench, tmp_path):
    out = tmp_path / "res"
    assert run(write_bench(MULTI), toy_registry, out, only=["Linear"]) == 0
    assert {r["label"] for r in json.loads((out / "leaderboard.json").read_text())} == {"Linear", "baseline-mean"}


def test_random_folds_and_explainers(toy_registry, write_bench, tmp_path):
    text = (
        TOY_BENCH.replace("scheme: octants", "scheme: random\n  n_folds: 4")
        + "explainers:\n  - name: toy-explainer\n    estimators: [Linear]\n    params: {scale: 2.0}\n"
    )
    out = tmp_path / "res"
    assert run(write_bench(text), toy_registry, out) == 0
    s = json.loads((out / "explanations" / "summary.json").read_text())
    assert s["toy-explainer"]["Linear"]["status"] == "ok" and s["toy-explainer"]["Linear"]["n"] == 160
    assert len(list((out / "explanations" / "toy-explainer" / "Linear").glob("fold*.npz"))) == 4
    assert len(json.loads((out / "leaderboard.json").read_text())[0]["per_fold"]) == 4
