"""Every run's report: the figures (paper Figure 4, residuals vs mass and redshift, scatter per fold) and
the benchmark file's `reference:` column (issue 21 item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from massbench.config import load_benchmark, parse_benchmark
from massbench.errors import ConfigError
from massbench.runner import RunOptions, run_benchmark

from .conftest import TOY_BENCH

REF = (
    TOY_BENCH
    + """\
  - name: toy-linear
    label: Quadratic
    params: {degree: 2}
reference:
  source: "Made-up paper, Table 9"
  scatter_dex:
    Linear: 0.0123
"""
)


def test_reference_is_checked_against_the_labels() -> None:
    b = parse_benchmark(REF, "b.yaml")
    assert b.reference is not None and b.reference.scatter_dex == {"Linear": 0.0123}
    assert b.as_dict()["reference"]["source"] == "Made-up paper, Table 9"
    assert "reference" not in parse_benchmark(TOY_BENCH, "b.yaml").as_dict()
    with pytest.raises(
        ConfigError, match=r"b.yaml:\d+: reference.scatter_dex: 'Linnear' is not an estimator label.*'Linear'"
    ):
        parse_benchmark(REF.replace("    Linear: 0.0123", "    Linnear: 0.0123"), "b.yaml")
    with pytest.raises(ConfigError, match="non-negative number of dex"):
        parse_benchmark(REF.replace("0.0123", "-1"), "b.yaml")
    with pytest.raises(ConfigError, match="missing key reference.source"):
        parse_benchmark(REF.replace('  source: "Made-up paper, Table 9"\n', ""), "b.yaml")


def test_erosita_yaml_carries_table_3() -> None:
    b = load_benchmark(Path(__file__).resolve().parents[1] / "benchmarks" / "erosita.yaml")
    assert b.reference is not None and "Table 3" in b.reference.source
    assert (
        b.reference.scatter_dex["CNN 0.5-10 keV"] == 0.0773 and b.reference.scatter_dex["proxy-n-phot-500c"] == 0.1479
    )
    assert len(b.reference.scatter_dex) == 14


def test_report_has_the_figures_and_the_reference_column(toy_registry, write_bench, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "res"
    b = load_benchmark(write_bench(REF), toy_registry)
    assert run_benchmark(b, toy_registry, RunOptions(out=out)) == 0
    report = (out / "report.md").read_text()
    for name in ("predicted_vs_true", "residuals_vs_mass", "residuals_vs_redshift", "scatter_per_fold"):
        png = out / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert f"](figures/{name}.png)" in report
    header = next(line for line in report.splitlines() if line.startswith("| #"))
    assert "reference (dex)" in header
    lin = next(line for line in report.splitlines() if "| Linear |" in line)
    quad = next(line for line in report.splitlines() if "| Quadratic |" in line)
    heads = [c.strip() for c in header.strip().strip("|").split("|")]
    cells = [c.strip() for c in lin.strip().strip("|").split("|")]
    assert cells[heads.index("reference (dex)")] == "0.0123"
    assert "0.0123" not in quad
    assert "Reference column: Made-up paper, Table 9" in report
    rows = json.loads((out / "leaderboard.json").read_text())
    by = {r["label"]: r for r in rows}
    assert by["Linear"]["reference_scatter_dex"] == 0.0123 and "reference_source" not in by["Quadratic"]

    from massbench.leaderboard import build_leaderboard

    page = build_leaderboard([out], tmp_path / "lb", html=True, figures=False) / "index.html"
    text = page.read_text()
    assert 'data-key="reference"' in text and 'title="Made-up paper, Table 9"' in text
    assert 'data-reference="0.0123"' in text and "published values, not measured here: Made-up paper" in text


def test_without_matplotlib_the_report_says_why(toy_registry, write_bench, tmp_path: Path, monkeypatch) -> None:
    import massbench.report_figures as rf

    monkeypatch.setattr(rf, "have_matplotlib", lambda: False)
    out = tmp_path / "res"
    b = load_benchmark(write_bench(), toy_registry)
    assert run_benchmark(b, toy_registry, RunOptions(out=out)) == 0
    report = (out / "report.md").read_text()
    assert "No figures: figures need matplotlib: pip install 'massbench[plot]'" in report
    assert not (out / "figures").exists()
