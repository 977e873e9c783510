"""Figure 3 of the paper: the residual correlation matrix C_ij / (sigma_i sigma_j) of equation 4.

Observables are ordered as in Table 2 (idealised, then realistic, then any other columns) and
black lines separate the blocks. The matrix is that of one redshift bin (by default the bin
nearest z = 0.17, as in the paper) or the equal-weight mean over bins; the title says which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import observables as obs_names
from .model import ScalingModel

FIGURE_NAME = "proxies_residual_correlation.png"


def correlation_for(model: ScalingModel, at: str | float = 0.17) -> tuple[np.ndarray, str]:
    """(correlation matrix in ``model.observables`` order, description of the bin(s) used).

    ``at`` is a redshift (the nearest bin is used) or ``"mean"`` (mean over bins).
    """
    if isinstance(at, str) and at.strip().lower() == "mean":
        corr = np.mean([f.correlation() for f in model.fits], axis=0)
        return corr, f"mean over {len(model.fits)} redshift bins"
    z = float(at)
    b = int(np.argmin(np.abs(model.bins.redshift - z)))
    f = model.fits[b]
    return f.correlation(), f"redshift bin z={f.redshift:.4f} ({f.n_clusters} clusters)"


def plot_residual_correlation(
    model: ScalingModel, out_dir: Path, at: str | float = 0.17, name: str = FIGURE_NAME
) -> Path:
    """Write the Figure 3 heatmap as PNG into ``out_dir``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corr, where = correlation_for(model, at)
    order = obs_names.table2_order(list(model.observables))
    idx = np.array([model.observables.index(n) for n in order], dtype=np.int64)
    corr = corr[np.ix_(idx, idx)]
    p = len(order)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * max(p, 3), 0.6 + 0.75 * max(p, 3)))
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    for i in range(p):
        for j in range(p):
            ax.text(
                j,
                i,
                f"{corr[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if abs(corr[i, j]) > 0.6 else "black",
            )
    labels = [obs_names.label(n) for n in order]
    ax.set_xticks(range(p), labels, rotation=45, ha="right")
    ax.set_yticks(range(p), labels)
    kinds = [obs_names.kind(n) for n in order]
    for k in range(1, p):
        if kinds[k] != kinds[k - 1]:
            ax.axhline(k - 0.5, color="black", lw=2)
            ax.axvline(k - 0.5, color="black", lw=2)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=r"$C_{ij}/(\sigma_{s_i|\mu}\,\sigma_{s_j|\mu})$")
    ax.set_title(f"Residual correlation (eq. 4), {where}", fontsize=9)
    fig.tight_layout()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
