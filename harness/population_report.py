"""How the natural-population metrics (:mod:`massbench.population`) appear in the outputs.

- leaderboard.md: a "Natural population" table under the leaderboard (flat and natural side by side);
- leaderboard.csv: ``natural_*`` columns;
- report.md: the same table and ``figures/bias_vs_mass_populations.png`` (bias against true and
  against predicted mass, flat and natural, per estimator);
- ``massbench leaderboard build``: rows of runs written before the natural metrics existed get
  them from the run's ``predictions.csv`` (:func:`add_natural_from_predictions`), so a published
  leaderboard is regenerated with both populations from stored results, without rerunning.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .escape import md_cell
from .fmt import cell, fixed, interval
from .records import LeaderboardRow

NATURAL_HEADING = "### Natural population (halo mass function)"
NATURAL_CSV_KEYS = [
    "natural_scatter_dex",
    "natural_scatter_ci95",
    "natural_bias_dex",
    "natural_bias_ci95",
    "natural_robust_scatter_dex",
    "natural_n_eff",
    "natural_prior_corrected_bias_dex",
]
NATURAL_CSV_PAIRS = ("natural_scatter_ci95", "natural_bias_ci95")
FIGURE = "bias_vs_mass_populations"
FIGURE_TITLE = "Bias against true and predicted mass, flat and natural populations"


def natural_csv(r: LeaderboardRow) -> dict[str, Any]:
    """The row's ``natural_*`` CSV values (empty without a natural block)."""
    n = r.natural
    if n is None:
        return {}
    return {
        "natural_scatter_dex": n.scatter_dex,
        "natural_scatter_ci95": n.scatter_ci95,
        "natural_bias_dex": n.bias_dex,
        "natural_bias_ci95": n.bias_ci95,
        "natural_robust_scatter_dex": n.robust_scatter_dex,
        "natural_n_eff": round(n.n_eff, 1),
        "natural_prior_corrected_bias_dex": n.prior_corrected_bias_dex,
    }


def natural_markdown(rows: Sequence[LeaderboardRow], population: str = "flat") -> str:
    """The flat and natural metrics side by side, rows in the given order ('' when no row has natural metrics)."""
    have = [r for r in rows if r.natural is not None]
    if not have:
        return ""
    first = have[0].natural
    assert first is not None
    corrected = any(r.natural is not None and r.natural.prior_corrected_bias_dex is not None for r in have)
    out = [
        f"\n{NATURAL_HEADING}\n",
        f"Test clusters importance-weighted to the {first.target} at each cluster's redshift, within the sample's "
        f"mass range (massbench.population); n_eff = {first.n_eff:.0f} of {first.n_test} clusters "
        + (
            "(ranks this leaderboard: `evaluation.population: natural`)."
            if population == "natural"
            else "(flat ranks)."
        )
        + " Bias in dex, 95 % lineage-bootstrap intervals.\n",
        "| label | flat scatter (dex) | natural scatter (dex) | 95% CI | flat bias (dex) | natural bias (dex) | "
        "95% CI | natural robust (dex) |" + (" natural bias, eq. 6 prior-corrected (dex) |" if corrected else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if corrected else ""),
    ]
    for r in have:
        n = r.natural
        assert n is not None
        out.append(
            f"| {md_cell(r.label)} | {fixed(r.scatter_dex)} | {fixed(n.scatter_dex)} | {cell(n.scatter_ci95)} | "
            f"{fixed(r.bias_dex, sign=True)} | {fixed(n.bias_dex, sign=True)} | {interval(n.bias_ci95)} | "
            f"{fixed(n.robust_scatter_dex)} |"
            + (f" {fixed(n.prior_corrected_bias_dex, sign=True)} |" if corrected else "")
        )
    if corrected:
        out.append(
            "\nPrior-corrected: each probabilistic row's predictive mean shifted by beta sigma^2 (eq. 6, in "
            "ln M), beta the local slope of the mass function at the predicted mass and redshift; empty for "
            "point estimators."
        )
    return "\n".join(out)


def add_natural_from_predictions(rows: Sequence[LeaderboardRow]) -> int:
    """Give finished rows of merged runs without a ``natural`` block one, from their run's predictions.csv.

    The sample whose density the weights divide by is every cluster of the run's predictions.csv
    (in a cross-validation every cluster of the catalogue is tested once, so that is the
    catalogue). Returns the number of rows completed.
    """
    from .population import PopulationWeights, natural_scores

    done = 0
    by_run: dict[str, Any] = {}
    for r in rows:
        if not r.ok or r.natural is not None or not r.run:
            continue
        if r.run not in by_run:
            path = Path(r.run) / "predictions.csv"
            if not path.is_file():
                by_run[r.run] = None
                continue
            table = _read(path)
            weights = (
                PopulationWeights.compute(table.sample_true, table.sample_z) if len(table.sample_true) > 1 else None
            )
            cv = (_run_json(Path(r.run)).get("config") or {}).get("cv") or {}
            by_run[r.run] = (table, weights, int(cv.get("seed") or 0))
        got = by_run[r.run]
        if got is None or got[1] is None or r.label not in got[0].pred:
            continue
        table, weights, seed = got
        idx, pred = table.matrix(r.label)
        r.natural = natural_scores(pred, table.sample_true[idx], weights, idx, table.sample_group[idx], seed)
        done += 1
    return done


def _run_json(run: Path) -> dict[str, Any]:
    """The run's run.json ({} when unreadable: merge_runs has read it already)."""
    try:
        data = json.loads((run / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class _Predictions:
    """predictions.csv as arrays: the run's clusters (sample) and each label's predictions per repeat."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.true: list[float] = []
        self.z: list[float] = []
        self.group: list[str] = []
        self.pred: dict[str, dict[int, dict[int, float]]] = {}

    @property
    def sample_true(self) -> np.ndarray:
        return np.asarray(self.true, dtype=float)

    @property
    def sample_z(self) -> np.ndarray:
        return np.asarray(self.z, dtype=float)

    @property
    def sample_group(self) -> np.ndarray:
        try:
            return np.unique(np.array(self.group, dtype=np.int64), return_inverse=True)[1]
        except ValueError:
            return np.unique(self.group, return_inverse=True)[1]

    def matrix(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        """(cluster indices, (repeats, n) predictions) of the clusters every repeat of ``label`` predicted."""
        reps = self.pred[label]
        common = set.intersection(*[set(v) for v in reps.values()])
        idx = np.asarray(sorted(common), dtype=np.int64)
        return idx, np.array([[reps[k][i] for i in idx.tolist()] for k in sorted(reps)])


def _read(path: Path) -> _Predictions:
    from .errors import DataError

    out = _Predictions()
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        name_col = "label" if "label" in (reader.fieldnames or []) else "estimator"
        for line, row in enumerate(reader, start=2):
            try:
                cid = str(row["cluster_id"])
                if cid not in out.index:
                    out.index[cid] = len(out.true)
                    out.true.append(float(row["log10_m500c_true"]))
                    out.z.append(float(row["redshift"]))
                    out.group.append(str(row.get("group") or cid))
                rep = int(row.get("repeat") or 0)
                out.pred.setdefault(row[name_col], {}).setdefault(rep, {})[out.index[cid]] = float(
                    row["log10_m500c_pred"]
                )
            except (KeyError, TypeError, ValueError):
                raise DataError(
                    f"{path}:{line}: not a massbench predictions row (re-run or --resume the run)"
                ) from None
    return out


def report_lines(rows: Sequence[LeaderboardRow], out: Path, population: str = "flat") -> list[str]:
    """report.md's section on the two populations: the table and the bias figure (when matplotlib is there)."""
    table = natural_markdown(rows, population)
    if not table:
        return []
    lines = ["\n## Flat and natural populations\n", table.replace(NATURAL_HEADING + "\n", "").lstrip("\n")]
    path = bias_figure(rows, Path(out) / "figures" / f"{FIGURE}.png")
    if path is not None:
        lines.append(f"\n### {FIGURE_TITLE}\n")
        lines.append(
            "Left of each pair: mean residual in 0.25 dex bins of true mass (flat: the sample as drawn; natural: "
            "weighted to the mass function). Right: in bins of predicted mass, where a survey analysis bins its "
            "clusters and the Eddington bias of a steep population shows.\n"
        )
        lines.append(f"![{FIGURE_TITLE}](figures/{FIGURE}.png)\n")
    return lines


def bias_figure(rows: Sequence[LeaderboardRow], path: Path) -> Path | None:
    """Per estimator: bias [dex] against true and against predicted log10 M500c, flat and natural; None without matplotlib."""
    from . import report_figures

    have = [r for r in rows if r.natural is not None and r.natural.mass_bins]
    if not have or not report_figures.have_matplotlib():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(2, len(have))
    nrows = (len(have) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, 2 * cols, figsize=(5.2 * cols, 2.4 * nrows), squeeze=False)
    flat_axes = list(axes.ravel())
    for ax in flat_axes[2 * len(have) :]:
        ax.set_visible(False)
    for i, r in enumerate(have):
        n = r.natural
        assert n is not None
        for j, (bins, what) in enumerate(((n.mass_bins, "true"), (n.predicted_mass_bins, "predicted"))):
            ax = flat_axes[2 * i + j]
            x = [0.5 * (b.log10_m_lo + b.log10_m_hi) for b in bins]
            ax.axhline(0.0, color="0.6", lw=0.8)
            ax.plot(x, [b.flat_bias_dex for b in bins], "o-", color="C0", ms=3, lw=1.2, label="flat")
            ax.plot(x, [b.bias_dex for b in bins], "s--", color="C3", ms=3, lw=1.2, label="natural")
            ax.set_title(f"{r.label}: by {what} mass", fontsize=8)
            ax.set_xlabel(rf"{what} $\log_{{10}} M_{{500c}}\ [h^{{-1}}M_\odot]$", fontsize=7)
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel("bias (dex)", fontsize=7)
        pair = flat_axes[2 * i : 2 * i + 2]  # one estimator's two panels share their bias axis
        lims = [ax.get_ylim() for ax in pair]
        for ax in pair:
            ax.set_ylim(min(lo for lo, _ in lims), max(hi for _, hi in lims))
        if i == 0:
            flat_axes[0].legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path
