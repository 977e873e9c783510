"""A core-only install (`pip install -e .`, no tf/torch/plot extras) fails with messages naming the
extra, and a failed `massbench explain` keeps the good results and exits non-zero (issue 21 items 4, 5)."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest

from massbench.config import parse_benchmark
from massbench.errors import UserError
from massbench.runner import RunOptions, run_benchmark
from massbench.unit import error_message

from .conftest import TOY_BENCH, run_cli

NETS = textwrap.dedent(
    """\
    benchmark: nets
    version: "1"
    dataset: {name: erosita-mock, params: {n_clusters: 160}}
    cv: {scheme: octants}
    estimators:
      - name: proxy-n-phot
      - name: cnn-single-band
      - name: fusion-xray-dyn
    """
)


def test_run_without_tensorflow_or_torch_names_the_extras_before_loading(tmp_path: Path, monkeypatch) -> None:
    import massbench.runner as runner_mod
    from massbench.registry import shared_registry

    reg = shared_registry()
    b = parse_benchmark(NETS, str(tmp_path / "nets.yaml"), reg)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n in ("tensorflow", "torch") else real(n, *a)
    )
    monkeypatch.setattr(runner_mod, "prepare", lambda *a, **k: pytest.fail("the dataset was loaded"))
    with pytest.raises(UserError) as e:
        run_benchmark(b, reg, RunOptions(out=tmp_path / "o"))
    msg = str(e.value)
    assert "cnn-single-band needs tensorflow, which is not installed" in msg
    assert "fusion-xray-dyn needs torch" in msg and "pip install 'massbench[tf,torch]'" in msg
    # --only the proxy: no framework needed, so no complaint (prepare is reached)
    with pytest.raises(BaseException, match="the dataset was loaded"):
        run_benchmark(b, reg, RunOptions(out=tmp_path / "o", only=["proxy-n-phot"]))


def test_a_unit_failing_on_a_missing_framework_names_the_extra() -> None:
    exc = ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")
    assert error_message(exc) == "No module named 'tensorflow': install it with pip install 'massbench[tf]'"


def test_mock_figures_without_matplotlib_are_a_user_error(monkeypatch) -> None:
    from massbench.plugins.mock import describe

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UserError, match=r"need matplotlib, which is not installed: pip install 'massbench\[plot\]'"):
        describe._setup_matplotlib()


def test_failed_explain_keeps_the_good_summary_and_exits_1(write_bench, tmp_path: Path) -> None:
    bench = write_bench(TOY_BENCH + "explainers:\n  - name: toy-explainer\n    estimators: [Linear]\n")
    out = tmp_path / "out"
    assert run_cli("run", str(bench), "--out", str(out), "--executor", "inline").returncode == 0
    summary = out / "explanations" / "summary.json"
    good = json.loads(summary.read_text())
    assert good["toy-explainer"]["Linear"]["status"] == "ok"
    report = (out / "report.md").read_text()
    r = run_cli("explain", str(out), env={"TOY_EXPLAINER_NO_MATPLOTLIB": "1", "COLUMNS": "250"})
    assert r.returncode == 1
    assert (
        "explainer toy-explainer on Linear failed: ModuleNotFoundError: No module named 'matplotlib': install it with"
        in r.stdout
    )
    assert "earlier successful explanations were kept" in r.stdout
    assert json.loads(summary.read_text()) == good
    assert (out / "report.md").read_text() == report
    r = run_cli("explain", str(out))
    assert r.returncode == 0 and "(1 ok, 0 failed now)" in r.stdout
