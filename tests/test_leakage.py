"""massbench leakage: three fold schemes, one paired table (toy dataset, inline executor: seconds)."""

import json

import numpy as np
import pytest

from massbench.config import load_benchmark
from massbench.errors import UserError
from massbench.leakage import LEAKAGE_SCHEMES, run_leakage
from massbench.options import RunOptions

from .conftest import TOY_BENCH

TWO = TOY_BENCH + "  - name: toy-noisy\n    label: Noisy\n"


def test_leakage_runs_three_schemes_and_writes_the_table(tmp_path, write_bench, toy_registry):
    bench = load_benchmark(write_bench(TWO), toy_registry)
    out = tmp_path / "leak"
    opts = RunOptions(out=out, executor="inline", cache_dir=tmp_path / "cache")
    report, code = run_leakage(bench, toy_registry, opts, labels=["Linear"])
    assert code == 0
    for s in LEAKAGE_SCHEMES:
        prov = json.loads((out / s / "run.json").read_text())
        assert prov["config"]["cv"]["scheme"] == s
        assert (out / s / "predictions.csv").is_file()
    assert [r.label for r in report.rows] == ["baseline-mean", "Linear"]  # --estimators left Noisy out
    lin = report.rows[1]
    assert lin.n_clusters == 160 and set(lin.scatter) == set(LEAKAGE_SCHEMES)
    for s in ("random", "lineage"):
        d = lin.vs_octants[s]
        assert d.delta_dex == pytest.approx(lin.scatter[s] - lin.scatter["octants"])
        assert d.ci95[0] <= d.delta_dex <= d.ci95[1]
    data = json.loads((out / "leakage.json").read_text())
    assert data["schemes"] == list(LEAKAGE_SCHEMES) and data["rows"][1]["label"] == "Linear"
    assert np.isfinite(data["rows"][1]["vs_octants"]["random"]["delta_dex"])
    md = (out / "leakage.md").read_text()
    assert "| Linear |" in md and "random - octants" in md
    assert (out / "leakage.png").stat().st_size > 1000
    # a second call needs --resume (kept units) or --overwrite
    with pytest.raises(UserError, match="--resume"):
        run_leakage(bench, toy_registry, opts, labels=["Linear"])
    again, _ = run_leakage(bench, toy_registry, RunOptions(out=out, executor="inline", resume=True), ["Linear"])
    assert again.rows[1].scatter == lin.scatter


def test_leakage_unknown_estimator_is_a_user_error(tmp_path, write_bench, toy_registry):
    bench = load_benchmark(write_bench(TWO), toy_registry)
    with pytest.raises(UserError, match="did you mean 'Linear'"):
        run_leakage(bench, toy_registry, RunOptions(out=tmp_path / "x"), labels=["Linaer"])
    assert not (tmp_path / "x").exists()


def test_leakage_refuses_a_foreign_directory(tmp_path, write_bench, toy_registry):
    bench = load_benchmark(write_bench(TWO), toy_registry)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(UserError, match="not created by massbench"):
        run_leakage(bench, toy_registry, RunOptions(out=tmp_path / "mine", executor="inline"))


def test_estimator_patterns(write_bench, toy_registry):
    from massbench.leakage import check_estimators, selected

    bench = load_benchmark(write_bench(TWO), toy_registry)
    assert [e.label for e in selected(bench, ["toy-*"])] == ["Linear", "Noisy"]
    assert [e.label for e in selected(bench, ["Noisy"])] == ["Noisy"]
    check_estimators(bench, ["toy-*", "Linear"])
    with pytest.raises(UserError, match="matches no estimator"):
        check_estimators(bench, ["proxy-*"])


def test_leakage_cli_help_and_errors(cli, write_bench, tmp_path):
    r = cli("leakage", "--help")
    assert r.returncode == 0 and "massbench leakage" in r.stdout and "--estimators" in r.stdout
    bench = write_bench(TWO)
    r = cli("leakage", str(bench), "--estimators", "Linaer", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "matches no estimator label or name" in r.stderr and "Traceback" not in r.stderr
    r = cli("leakage", str(bench), "--resume", "--overwrite", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "not both" in r.stderr


def test_an_estimator_failed_under_one_scheme_is_left_out(tmp_path, write_bench, toy_registry):
    from massbench.leakage import leakage_table

    bench = load_benchmark(write_bench(TWO), toy_registry)
    out = tmp_path / "leak"
    report, _ = run_leakage(bench, toy_registry, RunOptions(out=out, executor="inline"))
    assert [r.label for r in report.rows] == ["baseline-mean", "Linear", "Noisy"]
    lb = out / "lineage" / "leaderboard.json"
    rows = json.loads(lb.read_text())
    for r in rows:
        if r["label"] == "Noisy":
            r["status"] = "failed"  # as if one of its folds had failed: its predictions cover only some folds
    lb.write_text(json.dumps(rows))
    again = leakage_table(report.runs, bench)
    assert [r.label for r in again.rows] == ["baseline-mean", "Linear"] and again.missing == ["Noisy"]
    assert "Left out" in again.markdown()
