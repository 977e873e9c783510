"""The dask executor: same leaderboard as the local executor, resume across executors, dead workers, GPUs.

This module is also a plugin (estimators that kill their own worker process, a GPU probe):
the tests register it next to ``tests.toyplugin`` and the dask workers import it by name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from massbench import Estimator, hookimpl
from massbench.config import load_benchmark, parse_benchmark
from massbench.errors import UserError
from massbench.runner import RunOptions, run_benchmark

from .conftest import ROOT, TOY_BENCH

pytest.importorskip("distributed")


# --------------------------------------------------------------------------- plugin used by the workers


class _Linear(Estimator):
    inputs = ("obs",)

    def _fit(self, train) -> None:
        self.coef = np.polyfit(np.log10(train["obs"]), train.log10_m500c, 1)

    def fit(self, train, val) -> None:
        self._fit(train)

    def predict(self, test):
        return np.polyval(self.coef, np.log10(test["obs"]))


def _dask_worker_pid() -> int:
    """The dask worker process's pid: units run in a worker process of their own, started by the dask worker."""
    return os.getppid() if os.environ.get("MASSBENCH_WORKER") else os.getpid()


class KillOnce(_Linear):
    """toy-linear's fit, but the first unit to start kills its own worker process (once per marker file)."""

    name = "dask-kill-once"

    def __init__(self, marker: str = ""):
        self.marker = marker

    def fit(self, train, val) -> None:
        if self.marker:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass
            else:
                os.kill(_dask_worker_pid(), signal.SIGKILL)
        self._fit(train)


class KillAlways(_Linear):
    """The first unit to start becomes the victim and kills its worker on every attempt; other units fit."""

    name = "dask-kill-always"

    def __init__(self, victim: str = ""):
        self.victim = victim

    def fit(self, train, val) -> None:
        me = str(self.context.seed)
        try:
            fd = os.open(self.victim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, me.encode())
            os.close(fd)
        except FileExistsError:
            pass
        if Path(self.victim).read_text() == me:
            os.kill(_dask_worker_pid(), signal.SIGKILL)
        self._fit(train)


class GPUProbe(_Linear):
    """Needs a GPU; records the CUDA_VISIBLE_DEVICES its worker saw."""

    name = "dask-gpu-probe"
    needs_gpu = True

    def fit(self, train, val) -> None:
        self.context.info["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
        self.context.info["pid"] = _dask_worker_pid()
        self._fit(train)


class CountedToy:
    """The tests' toy dataset, appending the loading process's pid to ``log`` at every load."""

    name = "dask-counted-toy"

    def __init__(self, log: str = "", n_clusters: int = 160, seed: int = 1):
        from .toyplugin import ToyDataset

        self.log = log
        self.toy = ToyDataset(n_clusters=n_clusters, seed=seed)

    def load(self, context):
        with open(self.log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return self.toy.load(context)


@hookimpl
def massbench_estimators():
    return [KillOnce, KillAlways, GPUProbe]


@hookimpl
def massbench_datasets():
    return [CountedToy]


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def dask_registry():
    from massbench.registry import load_registry

    from . import toyplugin

    return load_registry(extra=[toyplugin, sys.modules[__name__]], use_entry_points=False)


def _run(text: str, registry, out: Path, **kw) -> int:
    b = parse_benchmark(textwrap.dedent(text), str(out.parent / "bench.yaml"), registry)
    return run_benchmark(b, registry, RunOptions(out=out, **kw))


def _rows(out: Path) -> dict[str, dict]:
    return {r["label"]: r for r in json.loads((out / "leaderboard.json").read_text())}


SCORE_KEYS = [
    "scatter_dex",
    "scatter_percent",
    "bias_dex",
    "robust_scatter_dex",
    "scatter_ci95",
    "bias_ci95",
    "per_fold",
    "mass_bins",
    "n_test",
    "status",
    "error",
]


def _same_leaderboard(a: Path, b: Path) -> None:
    ra, rb = _rows(a), _rows(b)
    assert list(ra) == list(rb)
    for label in ra:
        for k in SCORE_KEYS:
            assert ra[label].get(k) == rb[label].get(k), (label, k)
    assert (a / "predictions.csv").read_text() == (b / "predictions.csv").read_text()


def _started(out: Path) -> dict[str, float]:
    return {
        str(p.relative_to(out)): json.loads(p.read_text())["started"] for p in sorted(out.glob("units/*/fold*.json"))
    }


# --------------------------------------------------------------------------- pure helpers


def test_visible_gpus_from_environment_and_nvidia_smi():
    from massbench.dask_executor import visible_gpus

    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "0,2"}) == ["0", "2"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "1,-1,3"}) == ["1"]
    smi = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aa)\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bb)\n"
    assert visible_gpus({}, nvidia_smi=smi) == ["0", "1"]
    mig = (
        "GPU 0: NVIDIA A100 (UUID: GPU-aa)\n  MIG 3g.20gb     Device  0: (UUID: MIG-11)\n"
        "  MIG 3g.20gb     Device  1: (UUID: MIG-22)\n"
    )
    assert visible_gpus({}, nvidia_smi=mig) == ["MIG-11", "MIG-22"]
    assert visible_gpus({}, nvidia_smi="") == []


def test_local_worker_specs_share_cores_and_pin_one_gpu_each():
    from massbench.dask_executor import local_worker_specs

    specs = local_worker_specs(3, ["0", "1"], cpu_count=16)
    assert [s.resources for s in specs] == [{"GPU": 1}, {"GPU": 1}, {}]
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in specs] == ["0", "1", ""]
    assert {s.env["OMP_NUM_THREADS"] for s in specs} == {"5"}
    cpu_only = local_worker_specs(4, [], cpu_count=2)
    assert all(s.resources == {} and "CUDA_VISIBLE_DEVICES" not in s.env for s in cpu_only)
    assert {s.env["OMP_NUM_THREADS"] for s in cpu_only} == {"1"}
    with pytest.raises(UserError, match="--workers"):
        local_worker_specs(0, [], 2)


def test_local_run_does_not_import_dask(tmp_path):
    bench = tmp_path / "bench.yaml"
    bench.write_text(TOY_BENCH)
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from massbench.cli import registry
        from massbench.config import load_benchmark
        from massbench.runner import RunOptions, run_benchmark
        reg = registry()
        b = load_benchmark({str(bench)!r}, reg)
        assert run_benchmark(b, reg, RunOptions(out=Path({str(tmp_path / "out")!r}))) == 0
        bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))
        assert not bad, bad
        print('no dask')
    """)
    env = dict(os.environ, MASSBENCH_PLUGINS="tests.toyplugin", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "no dask" in r.stdout


def test_bad_scheduler_address_is_a_user_error(dask_registry, tmp_path):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(UserError, match="--scheduler tcp://127.0.0.1:9: cannot connect"):
            _run(TOY_BENCH, dask_registry, tmp_path / "res", executor="dask", scheduler="tcp://127.0.0.1:9")


# --------------------------------------------------------------------------- clusters


def test_external_scheduler_gives_the_local_leaderboard(dask_registry, tmp_path):
    """A running scheduler (here a 2-worker LocalCluster without GPU resources) and the local executor agree."""
    from distributed import LocalCluster

    text = TOY_BENCH + "  - name: dask-gpu-probe\n    label: probe\n"
    assert _run(text, dask_registry, tmp_path / "local") == 0
    from rich.console import Console

    log = io.StringIO()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        b = parse_benchmark(text, str(tmp_path / "bench.yaml"), dask_registry)
        code = run_benchmark(
            b,
            dask_registry,
            RunOptions(out=tmp_path / "dask", executor="dask", scheduler=cluster.scheduler_address),
            Console(file=log, width=400),
        )
    assert code == 0, log.getvalue()
    _same_leaderboard(tmp_path / "local", tmp_path / "dask")
    assert "8 unit(s) need a GPU but no worker advertises a GPU resource" in log.getvalue()
    assert json.loads((tmp_path / "dask" / "run.json").read_text())["executor"] == "dask"
    # every unit ran once, on a worker process, not in this one
    for p in (tmp_path / "dask" / "units").glob("*/*.attempts.jsonl"):
        lines = p.read_text().splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["pid"] != os.getpid()


def test_cli_dask_resumes_a_local_run(tmp_path, write_bench, cli):
    """--resume with the dask executor (2-worker LocalCluster) redoes only the missing units of a local run."""
    bench = write_bench()
    local, mixed = tmp_path / "local", tmp_path / "mixed"
    r = cli("run", str(bench), "--out", str(local))
    assert r.returncode == 0, r.stderr
    r = cli("run", str(bench), "--out", str(mixed), "--only", "Linear")
    assert r.returncode == 0, r.stderr
    for k in (2, 5):
        (mixed / f"units/Linear/fold{k}.json").unlink()
    before = _started(mixed)
    r = cli("run", str(bench), "--out", str(mixed), "--resume", "--executor", "dask", "--workers", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "16 units, 14 already done" in r.stdout
    assert "dask: 2 units on 2 worker(s)" in r.stdout
    after = _started(mixed)
    assert set(after) == set(before) | {"units/Linear/fold2.json", "units/Linear/fold5.json"}
    assert all(after[k] == v for k, v in before.items())  # nothing already written was redone
    assert sorted(p.name for p in (mixed / "units/Linear").glob("*.attempts.jsonl")) == [
        "fold2.attempts.jsonl",
        "fold5.attempts.jsonl",
    ]
    _same_leaderboard(local, mixed)


def test_killed_worker_unit_is_retried_and_the_leaderboard_is_complete(dask_registry, tmp_path):
    marker = tmp_path / "killed-once"
    text = TOY_BENCH + f"  - name: dask-kill-once\n    label: killer\n    params: {{marker: '{marker}'}}\n"
    out = tmp_path / "res"
    assert _run(text, dask_registry, out, executor="dask", workers=2, unit_retries=2) == 0
    assert marker.exists()
    rows = _rows(out)
    assert set(rows) == {"Linear", "killer", "baseline-mean"}
    assert all(r["status"] == "ok" and r["n_test"] == 160 for r in rows.values())
    # the same fit as toy-linear: the retried unit produced the same predictions
    assert rows["killer"]["scatter_dex"] == rows["Linear"]["scatter_dex"]
    attempts = {
        p.name: [json.loads(x) for x in p.read_text().splitlines()]
        for p in (out / "units/killer").glob("*.attempts.jsonl")
    }
    retried = [a for a in attempts.values() if len(a) > 1]
    assert len(retried) == 1 and len(retried[0]) == 2
    assert retried[0][0]["pid"] != retried[0][1]["pid"]  # the second attempt ran in another worker process
    preds = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(preds) == 3 * 160  # no prediction lost or duplicated
    assert len({(p["label"], p["cluster_id"]) for p in preds}) == 3 * 160


@pytest.mark.parametrize("retries", [0, 1])
def test_unit_that_always_kills_its_worker_fails_after_the_retries(dask_registry, tmp_path, retries):
    """The victim fails after retries + 1 deaths; units queued on or finished by the dead worker are not charged
    or run twice (with retries=0 the scheduler gives up on every task that was on the dead worker)."""
    victim = tmp_path / "victim"
    text = TOY_BENCH + f"  - name: dask-kill-always\n    label: doomed\n    params: {{victim: '{victim}'}}\n"
    out = tmp_path / "res"
    assert _run(text, dask_registry, out, executor="dask", workers=2, unit_retries=retries) == 1
    rows = _rows(out)
    assert rows["Linear"]["status"] == "ok" and rows["baseline-mean"]["status"] == "ok"
    assert rows["doomed"]["status"] == "failed"
    assert f"worker process died while running this unit, {retries + 1} time(s)" in rows["doomed"]["error"]
    recs = [json.loads(p.read_text()) for p in (out / "units/doomed").glob("fold*.json")]
    assert sorted(r["status"] for r in recs) == ["failed"] + ["ok"] * 7
    bad = next(r for r in recs if r["status"] == "failed")
    assert len(bad["attempts"]) == retries + 1 and len({a["pid"] for a in bad["attempts"]}) == retries + 1
    assert f"unit_retries={retries}" in (out / bad["traceback_file"]).read_text()
    bad_log = out / f"units/doomed/fold{bad['fold']}.attempts.jsonl"
    for log in out.glob("units/*/*.attempts.jsonl"):
        if log != bad_log:
            assert len(log.read_text().splitlines()) == 1, log


def test_worker_without_a_plugin_records_failed_units_after_the_retries(tmp_path):
    """A task that raises on the worker (here: a plugin module the workers cannot import) is retried, then failed."""
    import types

    from massbench.registry import load_registry

    from . import toyplugin

    ghost = types.ModuleType("massbench_ghost_plugin")  # exists only in this process
    ghost.massbench_estimators = hookimpl(lambda: [type("Ghost", (_Linear,), {"name": "ghost-linear"})])
    reg = load_registry(extra=[toyplugin, ghost], use_entry_points=False)
    text = TOY_BENCH.replace("scheme: octants", "scheme: random\n  n_folds: 2") + "  - name: ghost-linear\n"
    out = tmp_path / "res"
    assert _run(text, reg, out, executor="dask", workers=1, unit_retries=1) == 1
    rows = _rows(out)
    assert set(rows) == {"Linear", "ghost-linear", "baseline-mean"}
    for r in rows.values():
        assert r["status"] == "failed"
        assert "cannot import plugin module 'massbench_ghost_plugin'" in r["error"]
        assert "on every one of 2 attempt(s)" in r["error"]
    for log in out.glob("units/*/*.attempts.jsonl"):
        assert len(log.read_text().splitlines()) == 2
    assert "UserError" in (out / "units/Linear/fold0.traceback.txt").read_text()


def test_gpu_units_go_to_the_gpu_worker_of_a_local_cluster(dask_registry, tmp_path, monkeypatch):
    """With one (pretend) visible GPU and 2 workers, only worker 0 has GPU: 1 and it runs every GPU unit."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    text = TOY_BENCH + "  - name: dask-gpu-probe\n    label: probe\n"
    out = tmp_path / "res"
    assert _run(text, dask_registry, out, executor="dask", workers=2, device="auto") == 0
    probes = [json.loads(p.read_text()) for p in (out / "units/probe").glob("fold*.json")]
    assert len(probes) == 8
    assert {r["info"]["cuda_visible_devices"] for r in probes} == {"0"}
    assert len({r["info"]["pid"] for r in probes}) == 1
    assert _rows(out)["probe"]["status"] == "ok"


def test_workers_load_the_dataset_once_and_leave_this_process_environment_alone(dask_registry, tmp_path):
    log = tmp_path / "loads.txt"
    text = TOY_BENCH.replace(
        "name: toy\n  params: {n_clusters: 160, seed: 1}", f"name: dask-counted-toy\n  params: {{log: '{log}'}}"
    )
    before = dict(os.environ)
    assert _run(text, dask_registry, tmp_path / "res", executor="dask", workers=1) == 0
    assert dict(os.environ) == before  # the nanny's OMP_NUM_THREADS etc. did not leak into the client
    pids = log.read_text().split()
    assert len(pids) == 2 and pids[0] == str(os.getpid()) and pids[1] != pids[0]  # client once, worker once
    assert len(_rows(tmp_path / "res")["Linear"]["per_fold"]) == 8


def test_tasks_carry_no_arrays(dask_registry, tmp_path):
    import pickle

    from massbench.dask_executor import make_task
    from massbench.runner import plan_units, prepare

    b = parse_benchmark(TOY_BENCH.replace("n_clusters: 160", "n_clusters: 5000"), "bench.yaml", dask_registry)
    p = prepare(b, dask_registry)
    units = plan_units(p)
    first = make_task(p, units[0], tmp_path, RunOptions(out=tmp_path))
    task = make_task(p, units[-1], tmp_path, RunOptions(out=tmp_path), like=first)
    assert (task.label, task.fold, task.config_hash) == (units[-1].spec.label, units[-1].fold, units[-1].config_hash)
    assert task.bench_text == first.bench_text and "tests.toyplugin" in task.plugin_modules
    assert len(pickle.dumps(task)) < 4000  # 5000 clusters, yet only the configuration travels


@pytest.mark.slow
def test_smoke_benchmark_dask_matches_local(tmp_path):
    """benchmarks/smoke.yaml: the process executor (default), inline and a 2-worker LocalCluster give one leaderboard."""
    smoke = ROOT / "benchmarks" / "smoke.yaml"
    if not smoke.exists():
        pytest.skip("benchmarks/smoke.yaml is not there yet")
    from massbench.registry import load_registry

    reg = load_registry()
    b = load_benchmark(smoke, reg)
    assert run_benchmark(b, reg, RunOptions(out=tmp_path / "local", device="cpu")) in (0, 1)
    assert run_benchmark(b, reg, RunOptions(out=tmp_path / "dask", device="cpu", executor="dask", workers=2)) in (0, 1)
    assert run_benchmark(b, reg, RunOptions(out=tmp_path / "inline", device="cpu", executor="inline")) in (0, 1)
    ra = _rows(tmp_path / "local")
    for other in ("dask", "inline"):
        _close_leaderboard(ra, _rows(tmp_path / other))


def _close_leaderboard(ra: dict, rb: dict) -> None:
    """Same rows and scores: deterministic rows exactly (and in the same order); trained networks within
    tolerance, so two networks whose scatters lie close together may swap places."""
    assert set(ra) == set(rb)
    exact = [label for label, a in ra.items() if a.get("framework") in ("numpy", "")]
    assert exact == [label for label in rb if label in exact]
    for label, a in ra.items():
        d = rb[label]
        assert a["status"] == d["status"], label
        if a["status"] != "ok":
            continue
        if a.get("framework") in ("numpy", ""):  # deterministic: exactly the same
            assert (a["scatter_dex"], a["bias_dex"]) == (d["scatter_dex"], d["bias_dex"]), label
        else:  # network training: thread counts differ between executors
            assert d["scatter_dex"] == pytest.approx(a["scatter_dex"], rel=0.1), label
            assert d["bias_dex"] == pytest.approx(a["bias_dex"], abs=0.1 * a["scatter_dex"] + 0.01), label
