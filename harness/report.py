"""The run's markdown report: leaderboard, per-fold figures, explainer summaries in plain words."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .escape import md_cell, one_line
from .fmt import fixed, interval
from .records import LeaderboardRow, as_rows
from .results import atomic_write_text, leaderboard_markdown, read_json, sort_rows


def _explainer_text(registry: Any, name: str, summary: dict[str, Any]) -> str:
    info = registry.table("explainer").get(name)
    if info is None:
        return ""
    fn = getattr(info.cls, "plain_language_summary", None)
    if fn is None:
        mod = importlib.import_module(info.cls.__module__)
        fn = getattr(mod, "plain_language_summary", None)
        if fn is None and "." in info.cls.__module__:
            pkg = importlib.import_module(info.cls.__module__.rsplit(".", 1)[0])
            fn = getattr(pkg, "plain_language_summary", None)
    if fn is None:
        return ""
    try:
        return str(fn(summary))
    except Exception as exc:
        return f"(could not summarise: {exc})"


def vs_best_lines(rows: list[LeaderboardRow]) -> list[str]:
    """report.md's paired comparison of every scored row with the best one (empty without one)."""
    compared = [r for r in sort_rows(rows) if r.vs_best]
    if not compared:
        return []
    best = compared[0].vs_best["label"] if compared[0].vs_best else ""
    out = [
        f"\n## Against the best realistic row ({best})\n",
        "Scatter minus the best realistic row's scatter on the same clusters (idealised rows use "
        "information no observer has), with a paired lineage bootstrap "
        "95 % interval (plus both rows' seed spread); *significant* when the interval excludes 0 "
        "(`massbench compare RESULT_DIR A B` for any other pair).\n",
        "| label | scatter (dex) | vs best (dex) | 95% CI | significant |",
        "|---|---|---|---|---|",
    ]
    for r in compared:
        v = r.vs_best or {}
        out.append(
            f"| {r.label} | {fixed(r.scatter_dex)} | {fixed(v.get('delta_dex'), sign=True)} | "
            f"{interval(v.get('ci95'))} | {'yes' if v.get('significant') else 'no'} |"
        )
    return out


def calibration_lines(out: Path, rows: list[LeaderboardRow]) -> list[str]:
    """report.md's calibration section: a PIT histogram and a reliability diagram per probabilistic estimator."""
    prob = [r for r in sort_rows(rows) if r.ok and r.probabilistic is not None]
    if not prob:
        return []
    from .calibration_figures import write_calibration_figures

    out_lines = [
        "\n## Calibration of the probabilistic estimators\n",
        "PIT is the predictive CDF at the true mass: flat when the predictive distributions are calibrated, "
        "U-shaped when overconfident (too narrow), humped when underconfident. The reliability diagram shows "
        "the fraction of true masses inside each central predictive interval against its nominal level "
        "(on the diagonal when calibrated, below it when overconfident), with lineage-bootstrap 95 % intervals.\n",
    ]
    figs = write_calibration_figures(out, prob)
    if not figs:
        return out_lines + ["No figures: they need matplotlib (pip install 'massbench[plot]').\n"]
    for f in figs:
        out_lines.append(f"### {one_line(f.label)}\n")
        for path, what in ((f.pit, "PIT histogram"), (f.reliability, "reliability diagram")):
            out_lines.append(f"![{what} of {md_cell(f.label)}]({path.relative_to(out).as_posix()})\n")
    return out_lines


def write_report(p: Any, out: Path, rows: list[LeaderboardRow]) -> None:
    bench = p.bench
    rows = as_rows(rows)
    lines = [
        f"# {bench.key}: {len(p.catalogue)} clusters of `{bench.dataset.name}`, {len(p.folds)} "
        f"{bench.cv.scheme} folds\n",
        "Scatter is the standard deviation of log10(M_pred / M_true) over all test predictions "
        "(paper eq. 9); % = 100 ln(10) x dex. Intervals are 95 %: a bootstrap that resamples whole "
        "lineages (clusters of one halo together), widened by the training-seed spread where an "
        "estimator has `repeats`; seed sd is the standard deviation of the scatter over those repeats.\n",
        leaderboard_markdown(rows, population=bench.evaluation.population, natural=False),  # own section below
    ]
    lines += vs_best_lines(rows)
    from .population_report import report_lines

    lines += report_lines(sort_rows(rows, bench.evaluation.population), Path(out), bench.evaluation.population)
    per_fold = [r for r in rows if r.per_fold]
    if per_fold:
        folds = sorted({f["fold"] for r in per_fold for f in r.per_fold or []})
        lines.append("\n## Scatter per fold (dex)\n")
        lines.append("| label | " + " | ".join(f"fold {k}" for k in folds) + " |")
        lines.append("|---|" + "---|" * len(folds))
        for r in per_fold:
            by = {f["fold"]: f["scatter_dex"] for f in r.per_fold or []}
            lines.append(
                f"| {md_cell(r.label)} | " + " | ".join(f"{by.get(k, float('nan')):.4f}" for k in folds) + " |"
            )
    from .report_figures import FIGURES, write_run_figures

    figs = write_run_figures(Path(out), rows)
    lines.append("\n## Figures\n")
    if isinstance(figs, str):
        lines.append(f"No figures: {figs}.\n")
    else:
        for name, path in figs.items():
            lines.append(f"### {FIGURES[name]}\n")
            lines.append(f"![{FIGURES[name]}]({path.relative_to(Path(out)).as_posix()})\n")
    lines += calibration_lines(Path(out), rows)
    summary_path = Path(out) / "explanations" / "summary.json"
    if summary_path.exists():
        lines.append("\n## Explanations\n")
        summary = read_json(summary_path)
        for xname, per_label in summary.items():
            for label, s in per_label.items():
                lines.append(f"### {one_line(xname)} on {one_line(label)}\n")
                if s.get("status") != "ok":
                    lines.append(f"{one_line(s.get('status'))}: {one_line(s.get('error'))}\n")
                    continue
                text = _explainer_text(p.registry, xname, s)
                lines.append((text or "See explanations/summary.json.") + "\n")
    atomic_write_text(Path(out) / "report.md", "\n".join(lines) + "\n")
