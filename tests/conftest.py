"""Shared fixtures: a registry with the tests' toy plugin, benchmark files, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _cpu_without_bf16(tmp_path_factory):
    """``precision: auto`` reads the host's CPU flags (massbench.hardware); the suite pins a CPU without
    native bfloat16 so that its numbers do not depend on the machine running it. tests/test_precision.py
    sets the flags it needs explicitly."""
    path = tmp_path_factory.getbasetemp() / "cpuinfo-no-bf16"
    path.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    before = os.environ.get("MASSBENCH_CPUINFO")
    os.environ["MASSBENCH_CPUINFO"] = str(path)
    yield path
    if before is None:
        os.environ.pop("MASSBENCH_CPUINFO", None)
    else:
        os.environ["MASSBENCH_CPUINFO"] = before


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own dataset cache unless it sets one."""
    if "MASSBENCH_CACHE" not in os.environ:
        monkeypatch.setenv("MASSBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "massbench-cache"))


@pytest.fixture
def toy_registry():
    from massbench.registry import load_registry

    from . import toyplugin

    return load_registry(extra=[toyplugin], use_entry_points=False)


TOY_BENCH = """\
benchmark: toy
version: "1.0"
dataset:
  name: toy
  params: {n_clusters: 160, seed: 1}
cv:
  scheme: octants
  val_fraction: 0.1
  seed: 0
estimators:
  - name: toy-linear
    label: Linear
    params: {degree: 1}
"""


@pytest.fixture
def write_bench(tmp_path):
    def _write(text: str = TOY_BENCH, name: str = "bench.yaml") -> Path:
        p = tmp_path / name
        p.write_text(textwrap.dedent(text))
        return p

    return _write


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: int = 300):
    """Run the massbench CLI in a subprocess with the toy plugin registered."""
    e = dict(os.environ)
    e["MASSBENCH_PLUGINS"] = "tests.toyplugin"
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", "from massbench.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=e,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
