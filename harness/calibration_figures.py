"""report.md's calibration figures of each probabilistic estimator (PNG, matplotlib Agg), from its leaderboard row.

Written to ``<run>/figures/``:

- ``pit_<label>.png``: the PIT histogram (density in 10 bins of [0, 1]; 1 everywhere when the
  predictive distributions are calibrated, a U shape when overconfident, a hump when
  underconfident), with the band a calibrated estimator's histogram of that many clusters stays
  inside 95 % of the time (binomial, per bin);
- ``reliability_<label>.png``: the reliability diagram, empirical against nominal coverage of the
  central predictive intervals (:data:`massbench.scoring.RELIABILITY_LEVELS`) with the lineage
  bootstrap 95 % intervals; on the diagonal when calibrated, below it when overconfident.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .report_figures import save_figure


@dataclass
class CalibrationFigures:
    """The two PNGs of one probabilistic estimator."""

    label: str
    pit: Path
    reliability: Path


def pit_figure(row: Any, path: Path) -> Path:
    """The PIT histogram of one row's :class:`~massbench.scoring.ProbabilisticScores`."""
    import matplotlib.pyplot as plt
    from scipy.stats import binom

    s = row.probabilistic
    dens = np.asarray(s.pit_histogram, dtype=float)
    bins = len(dens)
    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    edges = np.linspace(0.0, 1.0, bins + 1)
    ax.bar(edges[:-1], dens, width=1.0 / bins, align="edge", color="C0", alpha=0.7, edgecolor="white")
    if s.n:
        lo, hi = binom.ppf([0.025, 0.975], s.n, 1.0 / bins) / s.n * bins
        ax.axhspan(lo, hi, color="0.5", alpha=0.2, lw=0, label="calibrated, 95 %")
    ax.axhline(1.0, color="0.3", lw=1, ls="--")
    ks = f", KS {s.pit_ks:.3f}" if s.pit_ks is not None else ""
    ax.set_title(f"{row.label}: PIT ({s.kind}{ks})", fontsize=8)
    ax.set_xlabel("PIT = predictive CDF at the true log10 M500c", fontsize=8)
    ax.set_ylabel("density", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False)
    return save_figure(fig, path, plt)


def reliability_figure(row: Any, path: Path) -> Path:
    """Empirical against nominal coverage of central predictive intervals, with 95 % lineage intervals."""
    import matplotlib.pyplot as plt

    s = row.probabilistic
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    ax.plot([0, 1], [0, 1], color="0.5", lw=1, ls="--", label="calibrated")
    if s.reliability:
        x = np.array([p.nominal for p in s.reliability])
        y = np.array([p.empirical for p in s.reliability])
        lo = np.array([p.ci95[0] for p in s.reliability])
        hi = np.array([p.ci95[1] for p in s.reliability])
        ax.fill_between(x, lo, hi, color="C1", alpha=0.25, lw=0, label="95 % interval")
        ax.plot(x, y, "o-", color="C1", ms=3, lw=1.2, label="empirical")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_title(f"{row.label}: reliability", fontsize=8)
    ax.set_xlabel("nominal coverage of the central interval", fontsize=8)
    ax.set_ylabel("empirical coverage", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    return save_figure(fig, path, plt)


def write_calibration_figures(out: Path, rows: Sequence[Any]) -> list[CalibrationFigures]:
    """Both figures of every finished row with probabilistic scores, into ``out/figures/`` (none without matplotlib)."""
    from .config import slugify
    from .report_figures import have_matplotlib

    prob = [r for r in rows if r.ok and r.probabilistic is not None]
    if not prob or not have_matplotlib():
        return []
    import matplotlib

    matplotlib.use("Agg")
    done, used = [], set()
    for r in prob:
        slug, base, k = slugify(r.label), slugify(r.label), 2
        while slug in used:
            slug, k = f"{base}-{k}", k + 1
        used.add(slug)
        d = Path(out) / "figures"
        done.append(
            CalibrationFigures(
                r.label, pit_figure(r, d / f"pit_{slug}.png"), reliability_figure(r, d / f"reliability_{slug}.png")
            )
        )
    return done
