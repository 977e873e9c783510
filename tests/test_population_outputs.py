"""Natural-population metrics in a run's outputs and in `leaderboard build` (toy dataset: seconds)."""

import csv
import json

import pytest

from massbench.config import load_benchmark
from massbench.leaderboard import build_leaderboard
from massbench.runner import RunOptions, run_benchmark

from .conftest import TOY_BENCH

TWO = TOY_BENCH + "  - name: toy-noisy\n    label: Noisy\n"


def _run(tmp_path, toy_registry, write_bench, text=TWO, name="res"):
    bench = load_benchmark(write_bench(text), toy_registry)
    out = tmp_path / name
    assert run_benchmark(bench, toy_registry, RunOptions(out=out, executor="inline")) == 0
    return out


def test_run_reports_both_populations(tmp_path, toy_registry, write_bench):
    out = _run(tmp_path, toy_registry, write_bench)
    rows = json.loads((out / "leaderboard.json").read_text())
    for r in rows:
        n = r["natural"]
        assert n["population"] == "natural" and "Tinker" in n["target"] and n["n_test"] == 160
        assert 0 < n["n_eff"] < 160  # the toy sample is flat in mass: the mass function reweights it
        assert n["scatter_ci95"][0] <= n["scatter_dex"] <= n["scatter_ci95"][1]
        assert sum(b["share"] for b in n["mass_bins"]) == pytest.approx(1.0)
    base = next(r for r in rows if r["label"] == "baseline-mean")
    # the mean training mass overestimates the (low-mass dominated) natural population
    assert base["natural"]["bias_dex"] > base["bias_dex"] + 0.1
    with open(out / "leaderboard.csv", newline="") as fh:
        got = {r["label"]: r for r in csv.DictReader(fh)}
    assert float(got["Linear"]["natural_scatter_dex"]) == pytest.approx(
        next(r for r in rows if r["label"] == "Linear")["natural"]["scatter_dex"], abs=1e-9
    )
    report = (out / "report.md").read_text()
    assert "## Flat and natural populations" in report
    assert report.count("| Linear |") == 3  # leaderboard, natural and per-fold tables: the natural one once
    assert "figures/bias_vs_mass_populations.png" in report
    assert (out / "figures" / "bias_vs_mass_populations.png").stat().st_size > 1000


def test_natural_population_ranks_when_the_file_says_so(tmp_path, toy_registry, write_bench):
    out = _run(tmp_path, toy_registry, write_bench, TWO + "evaluation: {population: natural}\n")
    rows = json.loads((out / "leaderboard.json").read_text())
    nat = [r["natural"]["scatter_dex"] for r in rows]
    assert nat == sorted(nat)
    assert "ranks this leaderboard" in (out / "leaderboard.md").read_text()
    assert json.loads((out / "run.json").read_text())["config"]["evaluation"] == {"population": "natural"}


def test_leaderboard_build_computes_natural_metrics_of_older_runs(tmp_path, toy_registry, write_bench):
    out = _run(tmp_path, toy_registry, write_bench)
    rows = json.loads((out / "leaderboard.json").read_text())
    want = {r["label"]: r.pop("natural") for r in rows}  # as a run written before the natural block existed
    (out / "leaderboard.json").write_text(json.dumps(rows))
    lb = build_leaderboard([out], tmp_path / "lb", html=True, figures=False)
    got = {r["label"]: r["natural"] for r in json.loads((lb / "leaderboard.json").read_text())}
    for label, n in want.items():
        # from predictions.csv (6 decimals): the run's own values
        assert got[label]["scatter_dex"] == pytest.approx(n["scatter_dex"], abs=2e-6)
        assert got[label]["bias_dex"] == pytest.approx(n["bias_dex"], abs=2e-6)
        assert got[label]["n_eff"] == pytest.approx(n["n_eff"], rel=1e-3)
    md = (lb / "leaderboard.md").read_text()
    assert "### Natural population" in md and "Natural scatter" in (lb / "index.html").read_text()
    from massbench.leaderboard import check_published, publish_leaderboard

    target = publish_leaderboard([out], tmp_path / "pub", figures=False)
    assert "### Natural population" in (target / "leaderboard.md").read_text()
    assert check_published(tmp_path / "pub") == []  # the natural table does not confuse the hand-edit check


def test_runs_of_different_selections_are_never_merged(tmp_path, toy_registry, write_bench):
    from massbench.errors import UserError

    a = _run(tmp_path, toy_registry, write_bench, TOY_BENCH, "a")
    b = _run(tmp_path, toy_registry, write_bench, TOY_BENCH.replace("label: Linear", "label: Linear2"), "b")
    prov = json.loads((b / "run.json").read_text())
    prov["dataset"]["params"]["selection"] = "natural"  # as a run of `selection: natural`
    (b / "run.json").write_text(json.dumps(prov))
    with pytest.raises(UserError, match="different selections are never mixed"):
        build_leaderboard([a, b], tmp_path / "lb", figures=False)
    prov["dataset"]["params"]["selection"] = "flat"  # flat said out loud is the default
    (b / "run.json").write_text(json.dumps(prov))
    build_leaderboard([a, b], tmp_path / "lb", figures=False)


def test_mock_selection_param():
    import numpy as np

    from massbench.errors import ConfigError
    from massbench.plugins.mock.datasets import ErositaMock
    from massbench.plugins.mock.generator import MockConfig
    from massbench.plugins.mock.halos import build_halo_catalogue

    flat, natural = ErositaMock(800, 0), ErositaMock(800, 0, selection="natural")
    assert flat.raw_directory().name == "n800-seed0-photon-list-v2"  # flat caches keep their keys
    assert natural.raw_directory().name == "n800-seed0-photon-list-natural-v2"
    assert "SELECT" not in MockConfig().header_cards() and MockConfig(selection="natural").header_cards()["SELECT"]
    with pytest.raises(ConfigError, match="'selection' must be 'flat'"):
        ErositaMock(800, 0, selection="nat")
    med = {}
    for sel in ("flat", "natural"):
        s, _ = build_halo_catalogue(np.random.default_rng(0), 400, selection=sel)
        lm = np.log10(s.m500c)
        assert len(s) == 400 and lm.min() >= 13.5 and lm.max() < 15.1
        med[sel] = float(np.median(lm))
    assert med["natural"] < med["flat"] - 0.15  # the mass function is steep: most halos are near the limit
