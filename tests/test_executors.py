"""Executors: one protocol, the process executor's isolation and containment, resume past failed units,
typed records, the run section's timeout, and the harness's import graph."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from massbench.config import parse_benchmark
from massbench.errors import ConfigError
from massbench.records import LeaderboardRow, UnitRecord
from massbench.runner import RunOptions, run_benchmark

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "harness"

BENCH = """\
benchmark: exec
version: "1.0"
dataset:
  name: toy-cached
  params: {n_clusters: 120, seed: 3}
cv:
  scheme: random
  n_folds: 2
  seed: 0
run:
  timeout: 60
estimators:
  - name: toy-linear
    label: Linear
"""


@pytest.fixture
def registry():
    from massbench.registry import load_registry

    from . import executor_plugin, toyplugin

    return load_registry(extra=[toyplugin, executor_plugin], use_entry_points=False)


def _run(text: str, registry, out: Path, **kw) -> int:
    b = parse_benchmark(textwrap.dedent(text), str(out.parent / "bench.yaml"), registry)
    return run_benchmark(b, registry, RunOptions(out=out, **kw))


def _rows(out: Path) -> dict[str, dict]:
    return {r["label"]: r for r in json.loads((out / "leaderboard.json").read_text())}


# --------------------------------------------------------------------------- the shape of the core


def _imports(path: Path, package: str) -> set[str]:
    """Modules of ``massbench`` that ``path`` imports (at any depth of the file)."""
    mod_parts = [package] + list(path.relative_to(HARNESS).with_suffix("").parts)
    if mod_parts[-1] == "__init__":
        mod_parts = mod_parts[:-1]
        pkg = mod_parts
    else:
        pkg = mod_parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] + [f"{target}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            out.update(n for n in names if n.startswith(package))
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith(package))
    return out


def test_no_import_cycle_in_the_harness_and_a_short_runner():
    modules = {}
    for path in HARNESS.rglob("*.py"):
        parts = ["massbench"] + list(path.relative_to(HARNESS).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {m: {t for t in _imports(p, "massbench") if t in modules and t != m} for m, p in modules.items()}
    # importing a submodule imports its packages first; the package's own __init__ is not an edge of a cycle here
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in graph[m]:
            if t == "massbench":
                continue
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t) :] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert len((HARNESS / "runner.py").read_text().splitlines()) < 120


def test_the_harness_never_imports_a_framework():
    code = (
        "import sys, massbench.runner, massbench.worker, massbench.executors.process, massbench.cli; "
        "bad = [m for m in ('tensorflow', 'torch', 'dask', 'distributed') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_records_round_trip_the_json_layout(registry, tmp_path):
    out = tmp_path / "res"
    assert _run(BENCH, registry, out, executor="inline") == 0
    for path in (out / "units").rglob("fold*.json"):
        d = json.loads(path.read_text())
        assert list(UnitRecord.from_json(d).to_json()) == list(d)
        assert UnitRecord.from_json(d).to_json() == d
    for d in json.loads((out / "leaderboard.json").read_text()):
        assert LeaderboardRow.from_json(d).to_json() == d and list(LeaderboardRow.from_json(d).to_json()) == list(d)
    d = {"estimator": "x", "label": "x", "status": "failed", "error": "e", "something_new": 1}
    assert LeaderboardRow.from_json(d).to_json()["something_new"] == 1


# --------------------------------------------------------------------------- containment and isolation


def test_exits_crashes_timeouts_and_cheats_are_failed_or_harmless_units(registry, tmp_path):
    text = (
        BENCH
        + """\
  - name: bad-exit0
  - name: bad-osexit1
  - name: bad-segfault
  - name: bad-sleep
    timeout: 5
  - name: cheat-cache
  - name: cheat-gc
"""
    )
    out = tmp_path / "res"
    assert _run(text, registry, out) == 1  # the process executor is the default
    rows = _rows(out)
    assert rows["Linear"]["status"] == "ok" and rows["baseline-mean"]["status"] == "ok"
    assert "exited with code 0" in rows["bad-exit0"]["error"]
    assert "exited with code 1" in rows["bad-osexit1"]["error"] and "about to leave" in rows["bad-osexit1"]["error"]
    assert "SIGSEGV" in rows["bad-segfault"]["error"]
    assert "timed out after 5 s" in rows["bad-sleep"]["error"]
    for label in ("bad-exit0", "bad-osexit1", "bad-segfault", "bad-sleep"):
        assert rows[label]["status"] == "failed"
    rec = json.loads((out / "units/bad-osexit1/fold0.json").read_text())
    assert rec["exit_code"] == 1 and "about to leave" in rec["stderr_tail"]
    assert json.loads((out / "units/bad-segfault/fold0.json").read_text())["signal"] == "SIGSEGV"
    assert json.loads((out / "units/bad-sleep/fold1.json").read_text())["timeout"] == 5
    assert "about to leave" in (out / "units/bad-osexit1/fold0.traceback.txt").read_text()
    # the cheats find neither the cache nor a catalogue: they are scored like the honest fit
    for label in ("cheat-cache", "cheat-gc"):
        assert rows[label]["status"] == "ok"
        assert rows[label]["scatter_dex"] == pytest.approx(rows["Linear"]["scatter_dex"])
    # ... whereas in this process (inline) both would cheat: the test is not vacuous
    inline = tmp_path / "inline"
    only = BENCH + "  - name: cheat-cache\n  - name: cheat-gc\n"
    assert _run(only, registry, inline, executor="inline") == 0
    assert _rows(inline)["cheat-cache"]["scatter_dex"] == 0 and _rows(inline)["cheat-gc"]["scatter_dex"] == 0


@pytest.mark.parametrize("executor", ["process", "inline"])
def test_inputs_are_read_only_and_a_mutating_unit_cannot_affect_the_others(registry, tmp_path, executor):
    text = BENCH + "  - name: bad-mutate\n  - name: gal-reader\n"
    out = tmp_path / "res"
    assert _run(text, registry, out, executor=executor) == 1
    rows = _rows(out)
    assert rows["bad-mutate"]["status"] == "failed" and "read-only" in rows["bad-mutate"]["error"]
    assert rows["gal-reader"]["status"] == "ok"
    assert rows["gal-reader"]["scatter_dex"] == pytest.approx(rows["Linear"]["scatter_dex"])


def test_resume_moves_past_a_crashed_unit_and_retry_failed_runs_it_again(registry, tmp_path):
    text = BENCH + "  - name: bad-osexit1\n"
    out = tmp_path / "res"
    assert _run(text, registry, out) == 1
    stamps = {p: p.stat().st_mtime_ns for p in (out / "units").rglob("fold*.json")}
    assert len(stamps) == 6
    assert _run(text, registry, out, resume=True) == 1  # nothing to run: the crashed units stay failed
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert (out / "leaderboard.json").exists() and json.loads((out / "run.json").read_text())["finished"]
    assert _run(text, registry, out, resume=True, retry_failed=True) == 1
    changed = {p for p in stamps if p.stat().st_mtime_ns != stamps[p]}
    assert changed == set((out / "units/bad-osexit1").glob("fold*.json"))


def test_a_class_defined_in_a_test_function_fails_in_the_process_executor_with_a_clear_message(registry, tmp_path):
    from massbench.registry import PluginInfo

    from .toyplugin import LinearProxy

    local = type("Local", (LinearProxy,), {"name": "local-linear", "__qualname__": "f.<locals>.Local"})
    registry.estimators["local-linear"] = PluginInfo("local-linear", "estimator", local, "t", "local", "")
    out = tmp_path / "res"
    assert _run(BENCH + "  - name: local-linear\n", registry, out) == 1
    assert "--executor inline" in _rows(out)["local-linear"]["error"]


# --------------------------------------------------------------------------- the benchmark file's timeout


def test_timeout_in_the_benchmark_file():
    b = parse_benchmark(BENCH + "  - name: toy-nan\n    timeout: 2.5\n", "b.yaml")
    assert b.run.timeout == 60 and b.unit_timeout(b.estimators[0]) == 60 and b.unit_timeout(b.estimators[1]) == 2.5
    assert b.as_dict()["run"] == {"timeout": 60.0}
    assert parse_benchmark(yaml_dump(b.as_dict()), "again.yaml").as_dict() == b.as_dict()
    plain = parse_benchmark(BENCH.replace("run:\n  timeout: 60\n", ""), "b.yaml")
    assert "run" not in plain.as_dict() and "timeout" not in plain.as_dict()["estimators"][0]
    with pytest.raises(ConfigError, match=r"b.yaml:11: run.timeout must be a positive number of seconds, got -1"):
        parse_benchmark(BENCH.replace("timeout: 60", "timeout: -1"), "b.yaml")
    with pytest.raises(ConfigError, match=r"unknown key run.timout; did you mean 'timeout'\?"):
        parse_benchmark(BENCH.replace("timeout: 60", "timout: 60"), "b.yaml")
    with pytest.raises(ConfigError, match=r"estimators\[0\].timeout must be a positive number"):
        parse_benchmark(BENCH.replace("    label: Linear\n", "    label: Linear\n    timeout: soon\n"), "b.yaml")


def yaml_dump(d: dict) -> str:
    import yaml

    return yaml.safe_dump(d, sort_keys=False)


def test_cli_executor_choice(cli, tmp_path):
    bench = tmp_path / "b.yaml"
    bench.write_text(BENCH.replace("toy-cached", "toy"))
    r = cli("run", str(bench), "--out", str(tmp_path / "o"), "--executor", "proces")
    assert r.returncode == 2 and "did you mean 'process'?" in " ".join(r.stderr.split()), r.stderr
    r = cli("run", str(bench), "--out", str(tmp_path / "o"), "--executor", "inline", "--resume", "--retry-failed")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "o" / "run.json").read_text())["executor"] == "inline"
