"""Honest numbers (issue 15): lineage bootstrap, training-seed repeats, paired comparisons,
label-independent seeds and the proxies' unbiased beta."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from massbench.config import load_benchmark
from massbench.errors import ConfigError
from massbench.metrics import bootstrap_ci, paired_difference, score, seed_halfwidth
from massbench.plan import unit_seed
from massbench.runner import RunOptions, run_benchmark

from .conftest import TOY_BENCH

# ------------------------------------------------------------------------------ lineage bootstrap


def _grouped_residuals(rng: np.random.Generator, n_groups: int, per_group: int, sigma: float, rho: float):
    """Residuals of n_groups lineages of per_group clusters each; correlation rho within a lineage."""
    shared = rng.normal(0.0, sigma * np.sqrt(rho), n_groups)
    own = rng.normal(0.0, sigma * np.sqrt(1.0 - rho), (n_groups, per_group))
    return (shared[:, None] + own).ravel(), np.repeat(np.arange(n_groups), per_group)


def test_lineage_bootstrap_covers_the_mean_where_the_per_cluster_one_does_not():
    """Bias intervals over 200 simulated samples: strongly correlated lineages make the per-cluster
    bootstrap far too narrow (coverage well below 95 %); resampling lineages restores it."""
    rng = np.random.default_rng(1)
    hit_lineage = hit_cluster = 0
    trials = 200
    for t in range(trials):
        r, g = _grouped_residuals(rng, 60, 5, 0.1, 0.8)
        lin = bootstrap_ci(r, n_boot=400, seed=t, groups=g)["bias"]
        per = bootstrap_ci(r, n_boot=400, seed=t)["bias"]
        hit_lineage += lin[0] <= 0.0 <= lin[1]
        hit_cluster += per[0] <= 0.0 <= per[1]
    assert hit_lineage / trials >= 0.88
    assert hit_cluster / trials <= 0.75


def test_lineage_bootstrap_of_duplicated_clusters_equals_that_of_the_lineages():
    """Four exact copies of each cluster carry no more information than one: same interval width."""
    rng = np.random.default_rng(2)
    r = rng.normal(0, 0.1, 300)
    once = bootstrap_ci(r, n_boot=2000, seed=0)
    copies = bootstrap_ci(np.repeat(r, 4), n_boot=2000, seed=0, groups=np.repeat(np.arange(300), 4))
    naive = bootstrap_ci(np.repeat(r, 4), n_boot=2000, seed=0)
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(copies["scatter"]) == pytest.approx(width(once["scatter"]), rel=0.1)
    assert width(naive["scatter"]) < 0.65 * width(once["scatter"])  # ~1/2: four times the clusters


def test_score_with_repeats_reports_mean_seed_spread_and_a_wider_interval():
    rng = np.random.default_rng(3)
    true = rng.uniform(13.5, 15, 400)
    base = true + rng.normal(0, 0.1, 400)
    preds = np.stack([base + rng.normal(0, 0.03, 400) for _ in range(3)])
    s = score(preds, true, fold=np.arange(400) % 8, groups=np.arange(400) // 2)
    per_repeat = (preds - true).std(axis=1)
    assert s.repeats == 3 and s.n_groups == 200
    assert s.scatter_dex == pytest.approx(per_repeat.mean())
    assert s.scatter_seed_std == pytest.approx(per_repeat.std(ddof=1))
    half = seed_halfwidth(per_repeat)
    assert half > 0
    lo, hi = s.scatter_ci95
    slo, shi = s.scatter_ci95_sampling
    assert lo < slo < s.scatter_dex < shi < hi
    assert s.scatter_dex - lo == pytest.approx(np.hypot(s.scatter_dex - slo, half))
    assert len(s.per_fold) == 8 and all(f["n"] == 50 for f in s.per_fold)
    one = score(preds[0], true)
    assert one.repeats == 1 and one.scatter_seed_std is None and one.scatter_ci95 == one.scatter_ci95_sampling


def test_paired_difference_detects_a_small_real_gap_that_unpaired_intervals_cannot():
    """A and B share most of their error (same clusters): their 95 % intervals overlap, yet the
    paired difference is significant; an estimator against itself differs by exactly 0."""
    rng = np.random.default_rng(4)
    common = rng.normal(0, 0.1, 1000)
    ra = common + rng.normal(0, 0.02, 1000)
    rb = common + rng.normal(0, 0.035, 1000)
    ca, cb = bootstrap_ci(ra)["scatter"], bootstrap_ci(rb)["scatter"]
    assert ca[1] > cb[0]  # unpaired intervals overlap
    d = paired_difference(ra, rb, a="A", b="B")
    assert d.delta_dex < 0 and d.significant and d.ci95[1] < 0
    same = paired_difference(ra, ra)
    assert same.delta_dex == 0 and same.ci95 == [0.0, 0.0] and not same.significant


# ------------------------------------------------------------------------------ seeds


def test_unit_seed_ignores_the_label_and_depends_on_name_params_fold_and_repeat():
    s = unit_seed(0, "cnn-single-band", 3, {"epochs": 20})
    assert s == unit_seed(0, "cnn-single-band", 3, {"epochs": 20})
    others = {
        unit_seed(1, "cnn-single-band", 3, {"epochs": 20}),
        unit_seed(0, "cnn-multi-band", 3, {"epochs": 20}),
        unit_seed(0, "cnn-single-band", 4, {"epochs": 20}),
        unit_seed(0, "cnn-single-band", 3, {"epochs": 21}),
        unit_seed(0, "cnn-single-band", 3, {"epochs": 20}, repeat=1),
    }
    assert s not in others and len(others) == 5
    assert 0 <= s < 2**31


NOISY = (
    TOY_BENCH
    + """\
  - name: toy-noisy
    label: Noisy
    repeats: 3
"""
)


def test_repeats_run_every_fold_n_times_and_relabelling_keeps_results(toy_registry, write_bench, tmp_path):
    out = tmp_path / "res"
    bench = load_benchmark(write_bench(NOISY), toy_registry)
    assert run_benchmark(bench, toy_registry, RunOptions(out=out, executor="inline")) == 0
    assert sorted(p.name for p in (out / "units" / "Noisy").glob("fold0*.json")) == [
        "fold0-r1.json",
        "fold0-r2.json",
        "fold0.json",
    ]
    seeds = {json.loads((out / "units" / "Noisy" / f"fold0{t}.json").read_text())["seed"] for t in ("", "-r1", "-r2")}
    assert len(seeds) == 3
    rows = {r["label"]: r for r in json.loads((out / "leaderboard.json").read_text())}
    noisy, lin = rows["Noisy"], rows["Linear"]
    assert noisy["repeats"] == 3 and noisy["scatter_seed_std"] > 0
    assert lin["repeats"] == 1 and lin["scatter_seed_std"] is None
    assert noisy["scatter_ci95"][0] < noisy["scatter_ci95_sampling"][0]
    assert noisy["vs_best"]["label"] == "Linear" and noisy["vs_best"]["delta_dex"] > 0
    preds = list(csv.DictReader((out / "predictions.csv").open()))
    assert {p["repeat"] for p in preds if p["label"] == "Noisy"} == {"0", "1", "2"}
    run_json = json.loads((out / "run.json").read_text())
    assert "Noisy/fold0-r2" in run_json["units"]
    report = (out / "report.md").read_text()
    assert "Against the best realistic row (Linear)" in report and "| Noisy |" in report

    # the same estimator under another label: same seeds, same predictions
    out2 = tmp_path / "res2"
    bench2 = load_benchmark(write_bench(NOISY.replace("label: Noisy", "label: Renamed"), "b2.yaml"), toy_registry)
    assert run_benchmark(bench2, toy_registry, RunOptions(out=out2, executor="inline")) == 0
    rows2 = {r["label"]: r for r in json.loads((out2 / "leaderboard.json").read_text())}
    assert rows2["Renamed"]["scatter_dex"] == noisy["scatter_dex"]


def test_compare_command_and_its_errors(toy_registry, write_bench, tmp_path, cli):
    out = tmp_path / "res"
    bench = load_benchmark(write_bench(NOISY), toy_registry)
    assert run_benchmark(bench, toy_registry, RunOptions(out=out, executor="inline")) == 0
    r = cli("compare", str(out), "Noisy", "Linear", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["repeats_a"] == 3 and d["repeats_b"] == 1 and d["delta_dex"] > 0
    assert d["ci95"][0] <= d["ci95_sampling"][0] and d["n_clusters"] == 160
    rows = {x["label"]: x for x in json.loads((out / "leaderboard.json").read_text())}
    # predictions.csv holds 6 decimals: the same figures to that precision
    assert d["delta_dex"] == pytest.approx(rows["Noisy"]["vs_best"]["delta_dex"], abs=1e-5)
    assert d["ci95"] == pytest.approx(rows["Noisy"]["vs_best"]["ci95"], abs=1e-5)
    text = cli("compare", str(out), "Noisy", "Linear")
    assert text.returncode == 0 and "scatter(Noisy) - scatter(Linear) = +" in text.stdout
    bad = cli("compare", str(out), "Noisy", "Lnear")
    assert bad.returncode == 2 and "did you mean 'Linear'" in bad.stderr and "Traceback" not in bad.stderr
    missing = cli("compare", str(tmp_path / "nope"), "A", "B")
    assert missing.returncode == 2 and "no such result directory" in " ".join(missing.stderr.split())


@pytest.mark.parametrize("value", [0, -1, 1.5, "three", True, 51])
def test_repeats_must_be_a_small_positive_integer(toy_registry, write_bench, value):
    text = NOISY.replace("repeats: 3", f"repeats: {value}")
    with pytest.raises(ConfigError, match="repeats must be an integer from 1 to 50"):
        load_benchmark(write_bench(text), toy_registry)


# ------------------------------------------------------------------------------ proxies' beta


def test_proxy_default_beta_is_unbiased_on_a_flat_sample_where_fitted_beta_is_not():
    """A sample selected flat in mass within a window with a soft upper edge, as the benchmark's:
    eq. 6 with beta = 0 gives no bias; beta fitted as a truncated exponential picks up the edges of
    the selection and shifts every prediction low."""
    from types import SimpleNamespace

    from massbench import Catalogue, InputArray
    from massbench.plugins.proxies.estimators import ProxyNPhot

    rng = np.random.default_rng(5)
    mu = rng.uniform(-1.0, 3.5, 40000)
    mu = mu[(mu < 2.0) | (rng.random(len(mu)) < np.exp(-4 * (mu - 2.0)))][:8000]
    n = len(mu)
    obs = np.exp(1.2 * mu + 5 + rng.normal(0, 0.35, n))
    log10_m = (mu + np.log(1e14)) / np.log(10)
    cat = Catalogue(
        "flat", np.arange(n), rng.uniform(0, 100, (n, 3)), 100.0, np.full(n, 0.1), log10_m, {"n_phot": InputArray(obs)}
    )
    half = np.arange(n // 2)
    biases = {}
    for beta in (0.0, "fitted"):
        est = ProxyNPhot(redshift_bins="none", beta=beta)
        est.context = SimpleNamespace(info={}, progress=lambda **k: None)
        est.fit(cat.view(half, ["n_phot"]), cat.view(half[:0], ["n_phot"], role="val"))
        test = half + n // 2
        pred = est.predict(cat.view(test, ["n_phot"], role="test")).mean  # the Gaussian's mean: eq. 6
        biases[beta] = float(np.mean(pred - log10_m[test]))
    assert abs(biases[0.0]) < 0.005
    assert biases["fitted"] < -0.01
