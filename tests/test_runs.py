"""Past runs (issue 21 items 4-6): run.json's history of calls, `massbench runs`, stale unit folders,
Ctrl-C's --resume command, an --only typo before the dataset loads, the final lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import massbench.runner as runner_mod
from massbench.config import load_benchmark
from massbench.errors import RunInterrupted, UserError
from massbench.runner import RunOptions, run_benchmark
from massbench.runs import find_runs

from .conftest import TOY_BENCH, run_cli

TWO = (
    TOY_BENCH
    + """\
  - name: toy-linear
    label: Quadratic
    params: {degree: 2}
"""
)


def _run(path: Path, reg, out: Path, **kw) -> int:
    return run_benchmark(load_benchmark(path, reg), reg, RunOptions(out=out, executor="inline", **kw))


def _prov(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


def test_run_json_accumulates_the_calls_behind_every_row(toy_registry, write_bench, tmp_path: Path) -> None:
    bench, out = write_bench(TWO), tmp_path / "res"
    assert _run(bench, toy_registry, out) == 0
    prov = _prov(out)
    assert [c["status"] for c in prov["calls"]] == ["finished"]
    assert len(prov["calls"][0]["units"]) == 3 * 8 and prov["calls"][0]["only"] is None
    assert {u["call"] for u in prov["units"].values()} == {0}

    assert _run(bench, toy_registry, out, only=["Linear"]) == 0
    prov = _prov(out)
    assert len(prov["calls"]) == 2 and prov["calls"][1]["only"] == ["Linear"]
    assert sorted({k.split("/")[0] for k in prov["calls"][1]["units"]}) == ["Linear", "baseline-mean"]
    assert prov["units"]["Linear/fold0"]["call"] == 1 and prov["units"]["Quadratic/fold0"]["call"] == 0
    assert len(prov["units"]) == 3 * 8  # every row is covered
    rows = json.loads((out / "leaderboard.json").read_text())
    assert sorted(r["label"] for r in rows) == ["Linear", "Quadratic", "baseline-mean"]

    assert _run(bench, toy_registry, out, resume=True) == 0
    prov = _prov(out)
    assert len(prov["calls"]) == 3 and prov["calls"][2]["resume"] and prov["calls"][2]["units"] == []
    assert prov["units"]["Quadratic/fold0"]["call"] == 0

    assert _run(bench, toy_registry, out, overwrite=True) == 0  # a new run starts a new history
    assert len(_prov(out)["calls"]) == 1


def test_a_plain_rerun_removes_unit_folders_of_estimators_no_longer_in_the_file(
    toy_registry, write_bench, tmp_path: Path
) -> None:
    out = tmp_path / "res"
    assert _run(write_bench(TWO), toy_registry, out) == 0
    assert (out / "units" / "Quadratic").is_dir()
    assert _run(write_bench(TOY_BENCH, "one.yaml"), toy_registry, out, only=["Linear"]) == 0
    assert (out / "units" / "Quadratic").is_dir()  # --only touches only its estimators
    assert _run(write_bench(TOY_BENCH, "one.yaml"), toy_registry, out, overwrite=True) == 0
    assert not (out / "units" / "Quadratic").exists() and (out / "units" / "Linear").is_dir()


def test_ctrl_c_prints_the_resume_command_and_records_the_interrupted_call(
    toy_registry, write_bench, tmp_path: Path, monkeypatch
) -> None:
    real = runner_mod.make_executor

    class OneThenCtrlC:
        def __init__(self, *a):
            self.ex = real(*a)

        def run(self, pending):
            for i, rec in enumerate(self.ex.run(pending)):
                yield rec
                if i == 2:
                    raise KeyboardInterrupt

    monkeypatch.setattr(runner_mod, "make_executor", OneThenCtrlC)
    bench, out = write_bench(TWO), tmp_path / "res"
    with pytest.raises(RunInterrupted) as e:
        _run(bench, toy_registry, out, only=["Quadratic"])
    msg = str(e.value)
    assert "3 of 16 units are saved" in msg
    assert f"massbench run {bench} --out {out} --resume --only Quadratic --executor inline" in msg
    call = _prov(out)["calls"][-1]
    assert call["status"] == "interrupted" and call["finished"]
    assert find_runs(tmp_path)[0].status == "interrupted"


def test_only_typo_is_reported_before_the_dataset_loads(toy_registry, write_bench, tmp_path: Path, monkeypatch) -> None:
    def boom(*a, **k):
        raise AssertionError("the dataset was loaded")

    monkeypatch.setattr(runner_mod, "prepare", boom)
    with pytest.raises(UserError, match="--only 'Linaer' is not an estimator.*did you mean 'Linear'"):
        _run(write_bench(), toy_registry, tmp_path / "res", only=["Linaer"])
    assert not (tmp_path / "res").exists()


def test_runs_command_and_final_lines(write_bench, tmp_path: Path) -> None:
    bench = write_bench(TWO)
    out = tmp_path / "results" / "toy@1.0"
    r = run_cli("run", str(bench), "--out", str(out), "--executor", "inline", env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert f"report (tables and figures): {out / 'report.md'}" in r.stdout
    assert f"leaderboard: {out / 'leaderboard.md'}" in r.stdout
    r = run_cli("runs", str(tmp_path / "results"), env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert "toy@1.0  toy@1.0" in r.stdout and "finished  (24/24 units)" in r.stdout
    assert "estimators: Linear, Quadratic" in r.stdout
    doc = json.loads(run_cli("runs", str(tmp_path / "results"), "--json").stdout)
    assert (
        doc[0]["benchmark"] == "toy"
        and doc[0]["status"] == "finished"
        and doc[0]["estimators"] == ["Linear", "Quadratic"]
    )
    r = run_cli("runs", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "no such directory" in r.stderr
