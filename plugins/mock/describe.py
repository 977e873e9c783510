"""Table-1 summary and a gallery like the paper's Figures 1 and 2 for a processed catalogue.

Table 1 (min, median, max): log10 M500c [h^-1 Msun], z, and photon counts within the 2.3 h^-1 Mpc map
(0.5-10 keV, before the redshift normalisation of eq. 1): N_phot (all), N_ICM and N_AGN (truth maps;
None when the event files carry no COMPONENT), and N_gal, the galaxies in the dynamical cylinder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from massbench.catalogue import Catalogue

TABLE1_KEYS = ("log10_m500c", "redshift", "n_phot", "n_icm", "n_agn", "n_gal")
PAPER_TABLE1 = {
    "log10_m500c": (13.50, 13.94, 15.07), "redshift": (0.07, 0.21, 0.47), "n_phot": (17, 1072, 2.37e5),
    "n_icm": (9, 762, 2.00e5), "n_agn": (0, 225, 2.03e5), "n_gal": (28, 112, 520),
}


def _map_totals(data: Any) -> np.ndarray:
    out = []
    for a in range(0, len(data), 256):
        out.append(np.asarray(data[a:a + 256], dtype=np.float64).reshape(min(256, len(data) - a), -1).sum(axis=1))
    return np.concatenate(out) if out else np.zeros(0)


def table1_values(cat: Catalogue) -> dict[str, np.ndarray | None]:
    """Per-cluster values of Table 1's quantities (None where unavailable)."""
    vals: dict[str, np.ndarray | None] = {
        "log10_m500c": np.asarray(cat.log10_m500c), "redshift": np.asarray(cat.redshift),
        "n_phot": _map_totals(cat.inputs["xray_map"].data),
        "n_icm": np.asarray(cat.inputs["n_icm"].data) if "n_icm" in cat.inputs else None,
        "n_agn": np.asarray(cat.inputs["n_agn"].data) if "n_agn" in cat.inputs else None,
        "n_gal": np.array([len(g) for g in cat.inputs["galaxies"].data], dtype=float),
    }
    return vals


def table1_summary(cat: Catalogue) -> dict[str, dict[str, float] | None]:
    """``{"log10_m500c": {"min", "median", "max"}, "redshift": ..., "n_phot", "n_icm", "n_agn", "n_gal"}``."""
    out: dict[str, dict[str, float] | None] = {}
    for k, v in table1_values(cat).items():
        if v is None or len(v) == 0:
            out[k] = None
        else:
            out[k] = {"min": float(np.min(v)), "median": float(np.median(v)), "max": float(np.max(v))}
    return out


def _setup_matplotlib() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def gallery(cat: Catalogue, out_dir: str | Path, n_rows: int = 3, n_cols: int = 4) -> list[Path]:
    """Write the PNG gallery into ``out_dir``; returns the files written."""
    from .kde import cube_edges
    from .projection import BANDS, MAP_EDGES

    plt = _setup_matplotlib()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    z = np.asarray(cat.redshift)
    lm = np.asarray(cat.log10_m500c)
    r500 = np.asarray(cat.inputs["r500c"].data) if "r500c" in cat.inputs else None
    ext = [MAP_EDGES[0], MAP_EDGES[-1], MAP_EDGES[0], MAP_EDGES[-1]]

    # Figure 1: photon maps by snapshot (rows) and mass (columns)
    zs = np.unique(z)
    rows = zs[np.unique(np.linspace(0, len(zs) - 1, min(n_rows, len(zs))).round().astype(int))]
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(2.6 * n_cols, 2.6 * len(rows)), squeeze=False)
    for r, zr in enumerate(rows):
        idx = np.flatnonzero(z == zr)
        idx = idx[np.argsort(lm[idx])]
        pick = idx[np.unique(np.linspace(0, len(idx) - 1, n_cols).round().astype(int))]
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            if c >= len(pick):
                ax.axis("off")
                continue
            i = int(pick[c])
            img = np.asarray(cat.inputs["xray_map"].data[i], dtype=float)
            ax.imshow(np.log10(img.T + 1), origin="lower", extent=ext, cmap="magma")
            if r500 is not None:
                ax.add_patch(plt.Circle((0, 0), r500[i], fill=False, color="red", lw=1))
            ax.set_title(f"z={zr:.2f}  M={10 ** lm[i]:.2g}", fontsize=8)
    fig.suptitle("Photon maps, log10(counts + 1), 0.5-10 keV, +-2.3 h^-1 Mpc; red: R500c", fontsize=9)
    fig.tight_layout()
    files.append(out / "fig1_photon_maps.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)

    # Figure 2: multi-band map and the dynamical cube of one cluster near the paper's example
    target = np.argmin(np.abs(z - 0.47) * 10 + np.abs(lm - np.log10(1.7e14)))
    i = int(target)
    bands = np.asarray(cat.inputs["xray_bands"].data[i], dtype=float)
    cube = np.asarray(cat.inputs["dyn_cube"].data[i], dtype=float)
    ex, ey, ev = cube_edges()
    fig, axes = plt.subplots(1, 5, figsize=(17, 3.4))
    for b, (lo, hi) in enumerate(BANDS):
        axes[b].imshow(np.log10(bands[..., b].T + 1), origin="lower", extent=ext, cmap="magma")
        axes[b].set_title(f"{lo}-{hi} keV", fontsize=9)
        axes[b].set_xlabel("x [h^-1 Mpc]")
    axes[3].imshow(cube.sum(axis=2).T, origin="lower", extent=[ex[0], ex[-1], ey[0], ey[-1]], cmap="viridis",
                   aspect="auto")
    axes[3].set_title("cube: sum over v_los", fontsize=9)
    axes[3].set_xlabel("x [h^-1 Mpc]"), axes[3].set_ylabel("y [h^-1 Mpc]")
    axes[4].imshow(cube.sum(axis=1).T, origin="lower", extent=[ex[0], ex[-1], ev[0], ev[-1]], cmap="viridis",
                   aspect="auto")
    gal = np.asarray(cat.inputs["galaxies"].data[i])
    if len(gal):
        axes[4].scatter(gal[:, 0], gal[:, 2], s=3, c="w")
    axes[4].set_title("cube: sum over y, galaxies", fontsize=9)
    axes[4].set_xlabel("x [h^-1 Mpc]"), axes[4].set_ylabel("v_los [km/s]")
    fig.suptitle(f"cluster {int(cat.cluster_id[i])}: z = {z[i]:.2f}, M500c = {10 ** lm[i]:.2g} h^-1 Msun", fontsize=10)
    fig.tight_layout()
    files.append(out / "fig2_multiband_and_cube.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)

    # Distributions (Table 1)
    vals = table1_values(cat)
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    axes[0].hist(lm, bins=30)
    axes[0].set_xlabel("log10 M500c [h^-1 Msun]")
    axes[1].hist(z, bins=np.concatenate([zs - 0.015, [zs[-1] + 0.015]]) if len(zs) > 1 else 10)
    axes[1].set_xlabel("z")
    axes[2].scatter(lm, np.log10(vals["n_phot"] + 1), s=3, c=z, cmap="viridis")
    axes[2].set_xlabel("log10 M500c"), axes[2].set_ylabel("log10 (N_phot + 1), map")
    axes[3].scatter(lm, np.log10(vals["n_gal"] + 1), s=3, c=z, cmap="viridis")
    axes[3].set_xlabel("log10 M500c"), axes[3].set_ylabel("log10 (N_gal + 1), cylinder")
    fig.tight_layout()
    files.append(out / "distributions.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    return files
