"""The residual-versus-mass figure of the paper's Figure 4, one PNG per estimator.

Three stacked panels against true log10 M500c [h^-1 Msun], binned in ``bin_width`` dex:

1. median and 16th-84th percentile band of the predicted log10 M500c, with the one-to-one line;
2. the same for the residual r = log10 M_pred - log10 M_true (eq. 9), with zero and the pooled
   scatter marked;
3. the histogram of the true masses of the test clusters.

Predictions come from a run's ``predictions.csv`` (pooled over every test fold).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError


@dataclass
class BinnedPredictions:
    """Per-bin percentiles of predictions and residuals (bins with fewer than ``min_count`` clusters are NaN)."""

    edges: np.ndarray
    count: np.ndarray
    pred_p16: np.ndarray
    pred_p50: np.ndarray
    pred_p84: np.ndarray
    res_p16: np.ndarray
    res_p50: np.ndarray
    res_p84: np.ndarray

    @property
    def centres(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])


def read_predictions(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``predictions.csv`` -> {estimator label: (true, predicted) log10 M500c arrays}, first training-seed repeat."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            # the row's label: column ``label`` (``estimator`` holds the plugin name); files written before
            # the label column existed kept the label in ``estimator``
            key = "label" if "label" in (reader.fieldnames or []) else "estimator"
            need = {key, "log10_m500c_true", "log10_m500c_pred"}
            if not need <= set(reader.fieldnames or []):
                raise DataError(f"{path}: needs columns {', '.join(sorted(need))}; has {reader.fieldnames}")
            for i, row in enumerate(reader, start=2):
                if row.get("repeat") not in (None, "", "0"):
                    continue
                try:
                    t, p = float(row["log10_m500c_true"]), float(row["log10_m500c_pred"])
                except (TypeError, ValueError):
                    raise DataError(f"{path}:{i}: log10_m500c_true/log10_m500c_pred are not numbers") from None
                lt = out.setdefault(row[key], ([], []))
                lt[0].append(t)
                lt[1].append(p)
    except FileNotFoundError:
        raise DataError(f"{path}: predictions.csv is missing; re-run or --resume the benchmark") from None
    return {k: (np.asarray(v[0]), np.asarray(v[1])) for k, v in out.items()}


def bin_predictions(
    true: np.ndarray, pred: np.ndarray, bin_width: float = 0.1, min_count: int = 3
) -> BinnedPredictions:
    """Median and 16th/84th percentiles of predictions and residuals in bins of true log10 M500c."""
    from .metrics import mass_bin_edges

    true = np.asarray(true, dtype=float)
    pred = np.asarray(pred, dtype=float)
    edges = mass_bin_edges(true, bin_width)
    which = np.clip(np.digitize(true, edges) - 1, 0, len(edges) - 2)
    nb = len(edges) - 1
    arrays = {k: np.full(nb, np.nan) for k in ("pp16", "pp50", "pp84", "rp16", "rp50", "rp84")}
    count = np.bincount(which, minlength=nb)
    res = pred - true
    for b in range(nb):
        sel = which == b
        if count[b] < min_count:
            continue
        arrays["pp16"][b], arrays["pp50"][b], arrays["pp84"][b] = np.percentile(pred[sel], [16, 50, 84])
        arrays["rp16"][b], arrays["rp50"][b], arrays["rp84"][b] = np.percentile(res[sel], [16, 50, 84])
    return BinnedPredictions(
        edges, count, arrays["pp16"], arrays["pp50"], arrays["pp84"], arrays["rp16"], arrays["rp50"], arrays["rp84"]
    )


def residual_figure(
    true: np.ndarray, pred: np.ndarray, path: Path, title: str = "", bin_width: float = 0.1, min_count: int = 3
) -> Path:
    """Write the three-panel Figure-4-style PNG for one estimator; return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = bin_predictions(true, pred, bin_width, min_count)
    x = b.centres
    lo, hi = float(b.edges[0]), float(b.edges[-1])
    fig, axes = plt.subplots(
        3, 1, figsize=(4.2, 7.0), sharex=True, gridspec_kw={"height_ratios": [3, 2, 1.2], "hspace": 0.06}
    )
    ax1, ax2, ax3 = axes
    ax1.plot([lo, hi], [lo, hi], color="0.5", lw=1, ls="--", label="one-to-one")
    ax1.fill_between(x, b.pred_p16, b.pred_p84, color="C0", alpha=0.3, lw=0, label="16-84 %")
    ax1.plot(x, b.pred_p50, color="C0", lw=1.8, label="median")
    ax1.set_ylabel(r"$\log_{10} M_{\rm pred}\ [h^{-1}M_\odot]$")
    ax1.legend(loc="upper left", fontsize=8, frameon=False)
    ax1.set_ylim(lo - 0.2, hi + 0.2)
    res = np.asarray(pred, float) - np.asarray(true, float)
    ax2.axhline(0.0, color="0.5", lw=1, ls="--")
    ax2.fill_between(x, b.res_p16, b.res_p84, color="C1", alpha=0.3, lw=0)
    ax2.plot(x, b.res_p50, color="C1", lw=1.8)
    sd = float(res.std()) if len(res) else float("nan")
    ax2.text(
        0.02,
        0.95,
        f"scatter {sd:.4f} dex, bias {float(res.mean()):+.4f} dex" if len(res) else "",
        transform=ax2.transAxes,
        va="top",
        fontsize=8,
    )
    lim = max(0.3, float(np.nanmax(np.abs([b.res_p16, b.res_p84]))) * 1.3) if np.isfinite(b.res_p16).any() else 0.5
    ax2.set_ylim(-lim, lim)
    ax2.set_ylabel(r"$\log_{10}(M_{\rm pred}/M_{\rm true})$")
    ax3.hist(np.asarray(true, float), bins=b.edges, color="0.4")
    ax3.set_ylabel("N test")
    ax3.set_xlabel(r"$\log_{10} M_{\rm true}\ [h^{-1}M_\odot]$ (M$_{500c}$)")
    ax3.set_xlim(lo, hi)
    if title:
        ax1.set_title(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path
