"""The run's markdown report: leaderboard, per-fold figures, explainer summaries in plain words."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .escape import md_cell, one_line
from .records import LeaderboardRow, as_rows
from .results import atomic_write_text, leaderboard_markdown, read_json


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


def write_report(p: Any, out: Path, rows: list[LeaderboardRow]) -> None:
    bench = p.bench
    rows = as_rows(rows)
    lines = [
        f"# {bench.key}: {len(p.catalogue)} clusters of `{bench.dataset.name}`, {len(p.folds)} "
        f"{bench.cv.scheme} folds\n",
        "Scatter is the standard deviation of log10(M_pred / M_true) over all test predictions "
        "(paper eq. 9); % = 100 ln(10) x dex. Intervals are bootstrap 95 %.\n",
        leaderboard_markdown(rows),
    ]
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
