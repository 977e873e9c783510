"""The probabilistic columns of the leaderboard files: markdown table, CSV columns and HTML cells.

Rows of point estimators leave them empty; the point metrics stay the sort key (massbench.results).
What each metric means: :mod:`massbench.scoring`.
"""

from __future__ import annotations

from typing import Any, Sequence

from .escape import md_cell
from .fmt import fixed, interval
from .records import LeaderboardRow

#: (JSON field of ProbabilisticScores, its interval's field, markdown heading, decimals)
METRIC_COLUMNS: list[tuple[str, str, str, int]] = [
    ("nll", "nll_ci95", "NLL", 3),
    ("crps_dex", "crps_ci95", "CRPS (dex)", 4),
    ("coverage_68", "coverage_68_ci95", "68% coverage", 3),
    ("coverage_95", "coverage_95_ci95", "95% coverage", 3),
    ("pit_ks", "pit_ks_ci95", "PIT KS", 3),
    ("sigma_mean_dex", "sigma_mean_ci95", "mean sigma (dex)", 4),
    ("sigma_ratio", "sigma_ratio_ci95", "sigma / scatter", 3),
]

#: leaderboard.csv columns after the point ones (empty for point estimators).
CSV_COLUMNS: list[str] = ["prob_kind"] + [c for name, ci, _, _ in METRIC_COLUMNS for c in (name, ci)]


def has_probabilistic(rows: Sequence[LeaderboardRow]) -> bool:
    return any(r.probabilistic is not None for r in rows)


def markdown_section(rows: Sequence[LeaderboardRow]) -> list[str]:
    """leaderboard.md's probabilistic table (rows in the given order; empty list without such rows)."""
    prob = [r for r in rows if r.probabilistic is not None]
    if not prob:
        return []
    head = ["label", "form", *(h for _, _, h, _ in METRIC_COLUMNS)]
    out = [
        "\nProbabilistic estimators (predictive distributions of log10 M500c; 95 % lineage-bootstrap intervals "
        "in brackets; calibrated: coverage 0.68 / 0.95, PIT KS near 0, sigma / scatter near 1):\n",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in prob:
        s = r.probabilistic
        assert s is not None
        cells = [md_cell(r.label), md_cell(s.kind)]
        for name, ci, _, digits in METRIC_COLUMNS:
            v = getattr(s, name)
            cells.append(f"{fixed(v, digits)} {interval(getattr(s, ci), digits)}".strip() if v is not None else "")
        out.append("| " + " | ".join(cells) + " |")
    return out


def csv_values(row: LeaderboardRow) -> list[Any]:
    """The :data:`CSV_COLUMNS` values of one row (intervals as ``lo;hi``)."""
    s = row.probabilistic
    if s is None:
        return [""] * len(CSV_COLUMNS)
    out: list[Any] = [s.kind]
    for name, ci, _, _ in METRIC_COLUMNS:
        v, c = getattr(s, name), getattr(s, ci)
        out.append("" if v is None else v)
        out.append("" if not c else ";".join(f"{x:.6f}" for x in c))
    return out


#: (data-* key, HTML heading, ProbabilisticScores field, its interval, decimals) of the page's columns.
HTML_COLUMNS: list[tuple[str, str, str, str, int]] = [
    ("nll", "NLL [95% CI]", "nll", "nll_ci95", 3),
    ("crps", "CRPS (dex) [95% CI]", "crps_dex", "crps_ci95", 4),
    ("cov68", "68% coverage [95% CI]", "coverage_68", "coverage_68_ci95", 3),
    ("cov95", "95% coverage [95% CI]", "coverage_95", "coverage_95_ci95", 3),
    ("pit_ks", "PIT KS [95% CI]", "pit_ks", "pit_ks_ci95", 3),
    ("sigma_ratio", "Sigma / scatter [95% CI]", "sigma_ratio", "sigma_ratio_ci95", 3),
]
