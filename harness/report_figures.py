"""The figures of every run's report (PNG, matplotlib Agg), drawn from ``predictions.csv`` and the rows.

Written to ``<run>/figures/`` and shown in ``report.md``:

- ``predicted_vs_true.png``: one panel per estimator, predicted against true log10 M500c
  [h^-1 Msun] of every test cluster, with the one-to-one line and the running median and 16-84 %
  band in 0.1 dex bins of true mass (the paper's Figure 4);
- ``residuals_vs_mass.png`` and ``residuals_vs_redshift.png``: one panel per estimator, the
  residual log10(M_pred / M_true) (eq. 9) of each cluster against true mass and against redshift,
  with the binned median and 16-84 % band;
- ``scatter_per_fold.png``: the scatter [dex] of each estimator on each test fold, with its pooled
  scatter as a line (how much the score depends on which part of the box is tested).

Without matplotlib (a core-only install) nothing is drawn and :func:`write_run_figures` says so.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

FIGURES = {
    "predicted_vs_true": "Predicted against true mass (paper Figure 4)",
    "residuals_vs_mass": "Residuals against true mass",
    "residuals_vs_redshift": "Residuals against redshift",
    "scatter_per_fold": "Scatter per test fold",
}


@dataclass
class EstimatorPredictions:
    """The pooled test predictions of one estimator (one row of predictions.csv per cluster)."""

    label: str
    fold: list[int] = field(default_factory=list)
    redshift: list[float] = field(default_factory=list)
    true: list[float] = field(default_factory=list)
    pred: list[float] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(fold, redshift, true log10 M500c, predicted log10 M500c) as arrays."""
        return (
            np.asarray(self.fold, dtype=int),
            np.asarray(self.redshift, dtype=float),
            np.asarray(self.true, dtype=float),
            np.asarray(self.pred, dtype=float),
        )


def read_run_predictions(path: Path) -> dict[str, EstimatorPredictions]:
    """``predictions.csv`` -> {label: predictions}; keyed by the ``label`` column, else ``estimator``."""
    out: dict[str, EstimatorPredictions] = {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        key = "label" if "label" in (reader.fieldnames or []) else "estimator"
        for row in reader:
            try:
                vals = (
                    int(row["fold"]),
                    float(row["redshift"]),
                    float(row["log10_m500c_true"]),
                    float(row["log10_m500c_pred"]),
                )
            except (KeyError, TypeError, ValueError):
                continue
            e = out.setdefault(row[key], EstimatorPredictions(row[key]))
            e.fold.append(vals[0])
            e.redshift.append(vals[1])
            e.true.append(vals[2])
            e.pred.append(vals[3])
    return out


def binned(x: np.ndarray, y: np.ndarray, edges: np.ndarray, min_count: int = 5) -> tuple[np.ndarray, ...]:
    """Bin centres and the 16th, 50th and 84th percentiles of ``y`` in bins of ``x`` (NaN when sparse)."""
    which = np.clip(np.digitize(x, edges) - 1, 0, len(edges) - 2)
    nb = len(edges) - 1
    p = np.full((3, nb), np.nan)
    for b in range(nb):
        sel = which == b
        if sel.sum() >= min_count:
            p[:, b] = np.percentile(y[sel], [16, 50, 84])
    return 0.5 * (edges[1:] + edges[:-1]), p[0], p[1], p[2]


def _grid(n: int) -> tuple[int, int]:
    cols = min(4, max(1, n))
    return math.ceil(n / cols), cols


def _panels(plt: Any, n: int, size: float = 3.0) -> tuple[Any, list[Any]]:
    rows, cols = _grid(n)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def save_figure(fig: Any, path: Path, plt: Any) -> Path:
    """Save ``fig`` as a PNG at ``path`` (parents created; no software stamp, so reruns are byte-stable) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def predicted_vs_true(preds: Sequence[EstimatorPredictions], path: Path) -> Path:
    """Paper Figure 4 for every estimator: predicted vs true log10 M500c with the binned median and band."""
    import matplotlib.pyplot as plt

    fig, axes = _panels(plt, len(preds))
    for ax, e in zip(axes, preds):
        _, _, t, p = e.arrays()
        lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=1, ls="--")
        ax.scatter(t, p, s=3, alpha=0.35, color="C0", lw=0)
        edges = np.arange(math.floor(t.min() * 10) / 10, t.max() + 0.1, 0.1)
        if len(edges) > 1:
            x, p16, p50, p84 = binned(t, p, edges)
            ax.fill_between(x, p16, p84, color="C1", alpha=0.3, lw=0)
            ax.plot(x, p50, color="C1", lw=1.5)
        r = p - t
        ax.set_title(f"{e.label}\nscatter {r.std():.4f} dex, bias {r.mean():+.4f}", fontsize=8)
        ax.set_xlabel(r"true $\log_{10} M_{500c}\ [h^{-1}M_\odot]$", fontsize=8)
        ax.set_ylabel(r"predicted $\log_{10} M_{500c}$", fontsize=8)
        ax.tick_params(labelsize=7)
    return save_figure(fig, path, plt)


def residuals_vs(preds: Sequence[EstimatorPredictions], path: Path, against: str) -> Path:
    """Residual log10(M_pred/M_true) of every cluster against true mass (``"mass"``) or ``"redshift"``."""
    import matplotlib.pyplot as plt

    fig, axes = _panels(plt, len(preds))
    for ax, e in zip(axes, preds):
        _, z, t, p = e.arrays()
        x = t if against == "mass" else z
        r = p - t
        ax.axhline(0.0, color="0.5", lw=1, ls="--")
        ax.scatter(x, r, s=3, alpha=0.35, color="C0", lw=0)
        step = 0.1 if against == "mass" else 0.05
        edges = np.arange(math.floor(x.min() / step) * step, x.max() + step, step)
        if len(edges) > 1:
            c, r16, r50, r84 = binned(x, r, edges)
            ax.fill_between(c, r16, r84, color="C1", alpha=0.3, lw=0)
            ax.plot(c, r50, color="C1", lw=1.5)
        lim = max(0.3, float(np.percentile(np.abs(r), 99)) * 1.2) if len(r) else 0.5
        ax.set_ylim(-lim, lim)
        ax.set_title(e.label, fontsize=8)
        ax.set_xlabel(r"true $\log_{10} M_{500c}\ [h^{-1}M_\odot]$" if against == "mass" else "redshift", fontsize=8)
        ax.set_ylabel(r"$\log_{10}(M_{\rm pred}/M_{\rm true})$", fontsize=8)
        ax.tick_params(labelsize=7)
    return save_figure(fig, path, plt)


def scatter_per_fold(rows: Sequence[Any], path: Path) -> Path:
    """Each estimator's scatter [dex] on each test fold (markers) and pooled over all folds (line)."""
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r.per_fold]
    folds = sorted({int(f["fold"]) for r in rows for f in r.per_fold})
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(rows) + 2.5), 4.0))
    width = 0.8 / max(1, len(folds))
    for j, r in enumerate(rows):
        by = {int(f["fold"]): f.get("scatter_dex") for f in r.per_fold}
        for k, fold in enumerate(folds):
            v = by.get(fold)
            if v is not None and math.isfinite(v):
                ax.plot(
                    j - 0.4 + width * (k + 0.5),
                    v,
                    "o",
                    ms=4,
                    color=f"C{k % 10}",
                    label=f"fold {fold}" if j == 0 else None,
                )
        if r.scatter_dex is not None:
            ax.hlines(r.scatter_dex, j - 0.42, j + 0.42, color="k", lw=1.5, label="pooled" if j == 0 else "_nolegend_")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([str(r.label) for r in rows], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("scatter (dex)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, ncol=3, frameon=False)
    return save_figure(fig, path, plt)


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_run_figures(out: Path, rows: Sequence[Any]) -> dict[str, Path] | str:
    """Draw the report's figures into ``out/figures/``: {name: path}, or a sentence saying why none."""
    if not have_matplotlib():
        return "figures need matplotlib: pip install 'massbench[plot]', then rerun with --resume"
    import matplotlib

    matplotlib.use("Agg")
    pred_path = Path(out) / "predictions.csv"
    if not pred_path.is_file():
        return "no predictions.csv"
    by_label = read_run_predictions(pred_path)
    order = [r.label for r in rows if r.ok and r.label in by_label]
    preds = [by_label[lab] for lab in order if by_label[lab].true]
    fig_dir = Path(out) / "figures"
    done: dict[str, Path] = {}
    if preds:
        done["predicted_vs_true"] = predicted_vs_true(preds, fig_dir / "predicted_vs_true.png")
        done["residuals_vs_mass"] = residuals_vs(preds, fig_dir / "residuals_vs_mass.png", "mass")
        done["residuals_vs_redshift"] = residuals_vs(preds, fig_dir / "residuals_vs_redshift.png", "redshift")
    if any(r.per_fold for r in rows if r.ok):
        done["scatter_per_fold"] = scatter_per_fold([r for r in rows if r.ok], fig_dir / "scatter_per_fold.png")
    return done or "no finished estimator has predictions to plot"
