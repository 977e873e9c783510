"""PNG figures in the style of the paper's Figures 6 to 9 (matplotlib, Agg backend).

Axes of maps are labelled in comoving h^-1 Mpc; the map extent is -2.3..+2.3 on both axes,
axis 1 of an array along x (horizontal) and axis 2 along y (vertical), so arrays are drawn
transposed with ``origin="lower"``. Images and saliency maps use the same orientation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .geometry import MAP_HALF_WIDTH

EXTENT = (-MAP_HALF_WIDTH, MAP_HALF_WIDTH, -MAP_HALF_WIDTH, MAP_HALF_WIDTH)
BAND_LABELS = ("soft 0.5-1.2 keV", "medium 1.2-2.0 keV", "hard 2.0-7.0 keV")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _show_map(ax, img: np.ndarray, *, log: bool, cmap: str, vmax: float | None = None):
    from matplotlib.colors import LogNorm

    arr = np.asarray(img, dtype=float).T
    if log:
        pos = arr[arr > 0]
        top = float(pos.max()) if pos.size else 1.0
        im = ax.imshow(
            np.where(arr > 0, arr, np.nan),
            origin="lower",
            extent=EXTENT,
            cmap=cmap,
            norm=LogNorm(vmin=min(1.0, top), vmax=max(top, 1.0 + 1e-9)),
            interpolation="none",
        )
    else:
        im = ax.imshow(arr, origin="lower", extent=EXTENT, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="none")
    ax.set_xlabel(r"$x$ [$h^{-1}$ Mpc]")
    ax.set_ylabel(r"$y$ [$h^{-1}$ Mpc]")
    return im


def _circle(ax, r500: float | None) -> None:
    if r500 is not None and np.isfinite(r500):
        from matplotlib.patches import Circle

        ax.add_patch(Circle((0.0, 0.0), float(r500), fill=False, color="red", lw=1.0))


def _save(fig, out_dir: Path, name: str) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / name, dpi=110)
    _plt().close(fig)
    return name


def saliency_examples(
    out_dir: Path, label: str, counts: np.ndarray | None, sal: np.ndarray, r500: np.ndarray | None
) -> str:
    """Figure 6: photon map beside its saliency map, red circle at R500c, one row per cluster."""
    plt = _plt()
    k = len(sal)
    fig, axes = plt.subplots(k, 2, figsize=(7.0, 3.2 * k), squeeze=False, layout="constrained")
    for i in range(k):
        s = sal[i].mean(axis=-1) if sal[i].ndim == 3 else sal[i]
        if counts is not None:
            c = counts[i].sum(axis=-1) if counts[i].ndim == 3 else counts[i]
            im = _show_map(axes[i, 0], c, log=True, cmap="magma")
            fig.colorbar(im, ax=axes[i, 0], label="photon counts")
        _circle(axes[i, 0], None if r500 is None else r500[i])
        vmax = float(np.percentile(s, 99.5)) or None
        im = _show_map(axes[i, 1], s, log=False, cmap="viridis", vmax=vmax)
        fig.colorbar(im, ax=axes[i, 1], label=r"saliency $|\partial \log_{10} M / \partial x|$")
        _circle(axes[i, 1], None if r500 is None else r500[i])
    axes[0, 0].set_title("X-ray photon map")
    axes[0, 1].set_title(f"saliency ({label})")
    return _save(fig, out_dir, "fig6_saliency_maps.png")


def _band(ax, x, prof: dict[str, Any], colour: str, name: str) -> None:
    med = np.asarray(prof["median"], dtype=float)
    lo = np.asarray(prof["p16"], dtype=float)
    hi = np.asarray(prof["p84"], dtype=float)
    ok = np.isfinite(med) & (med > 0)
    ax.plot(x[ok], med[ok], color=colour, label=f"{name} median")
    okb = ok & np.isfinite(lo) & np.isfinite(hi)
    ax.fill_between(
        x[okb], np.clip(lo[okb], med[ok].min() * 1e-3, None), hi[okb], color=colour, alpha=0.25, label=f"{name} 16-84 %"
    )


def radial_profiles(out_dir: Path, label: str, radial: dict[str, Any]) -> str:
    """Figure 7: median and 16-84 % saliency against r / R500c, model (blue) and N_phot proxy (red)."""
    plt = _plt()
    x = np.asarray(radial["r_over_r500c"], dtype=float)
    units = radial.get("units") or {}
    raw_title = "raw"
    if "cnn" in units:
        raw_title += (
            " (model: " + ("d/dz, standardised input" if "d z" in units["cnn"] else "d/dx") + "; N_phot: eq. 13)"
        )
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), layout="constrained")
    for ax, block, title in (
        (axes[0], radial, raw_title),
        (axes[1], radial.get("normalised", {}), "each map / its sum"),
    ):
        if "cnn" in block:
            _band(ax, x, block["cnn"], "tab:blue", "CNN")
        if "nphot" in block:
            _band(ax, x, block["nphot"], "tab:red", r"$N_{\rm phot}$ (eq. 13)")
        ax.set_yscale("log")
        ax.axvline(1.0, color="grey", lw=0.8, ls=":")
        ax.axvline(0.07, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(r"$r / R_{500c}$")
        ax.set_ylabel("saliency per pixel")
        ax.set_title(f"{label}: {title}")
        ax.legend(fontsize=8)
    return _save(fig, out_dir, "fig7_radial_profiles.png")


def source_mask_example(
    out_dir: Path, label: str, icm: np.ndarray, agn: np.ndarray, sal: np.ndarray, r500: float | None
) -> str:
    """Figure 8: ICM emission, AGN emission, the ICM/AGN masks (eq. 14) and the saliency map."""
    from matplotlib.colors import ListedColormap

    plt = _plt()
    if icm.ndim == 3:
        icm, agn = icm.sum(axis=-1), agn.sum(axis=-1)
    s = sal.mean(axis=-1) if sal.ndim == 3 else sal
    fig, axes = plt.subplots(2, 2, figsize=(8.5, 7.5), layout="constrained")
    for ax, img, title in ((axes[0, 0], icm, "ICM emission"), (axes[0, 1], agn, "AGN emission")):
        im = _show_map(ax, img, log=True, cmap="magma")
        fig.colorbar(im, ax=ax, label="photon counts")
        ax.set_title(title)
    mask = np.zeros(icm.shape)
    mask[icm > agn] = 1
    mask[agn > icm] = 2
    cmap = ListedColormap(["white", "tab:blue", "tab:orange"])
    axes[1, 0].imshow(mask.T, origin="lower", extent=EXTENT, cmap=cmap, vmin=-0.5, vmax=2.5, interpolation="none")
    axes[1, 0].set_title("masks: ICM (blue), AGN (orange)")
    axes[1, 0].set_xlabel(r"$x$ [$h^{-1}$ Mpc]")
    axes[1, 0].set_ylabel(r"$y$ [$h^{-1}$ Mpc]")
    im = _show_map(axes[1, 1], s, log=False, cmap="viridis", vmax=float(np.percentile(s, 99.5)) or None)
    fig.colorbar(im, ax=axes[1, 1], label="saliency")
    axes[1, 1].set_title(f"saliency ({label})")
    for ax in axes.ravel():
        _circle(ax, r500)
    return _save(fig, out_dir, "fig8_source_masks.png")


def mask_distributions(out_dir: Path, label: str, mm: dict[str, np.ndarray]) -> str:
    """Distributions of the per-cluster mask saliency (eq. 14) for AGN and ICM masks, with the N_phot reference."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 4.2), layout="constrained")
    series = [
        ("agn", "AGN mask", "tab:orange", "-"),
        ("icm", "ICM mask", "tab:blue", "-"),
        ("ref_agn", r"AGN mask, $N_{\rm phot}$", "tab:orange", "--"),
        ("ref_icm", r"ICM mask, $N_{\rm phot}$", "tab:blue", "--"),
    ]
    vals = {k: mm[k][np.isfinite(mm[k]) & (mm[k] > 0)] for k, *_ in series}
    allv = (
        np.concatenate([np.log10(v) for v in vals.values() if v.size])
        if any(v.size for v in vals.values())
        else np.zeros(1)
    )
    bins = np.linspace(allv.min() - 0.1, allv.max() + 0.1, 40)
    for key, name, colour, ls in series:
        if vals[key].size:
            ax.hist(np.log10(vals[key]), bins=bins, histtype="step", color=colour, ls=ls, label=name, density=True)
    ax.set_xlabel(r"$\log_{10}\, \mathbb{S}_{\rm mask}$ (eq. 14)")
    ax.set_ylabel("density of clusters")
    ax.set_title(label)
    ax.legend(fontsize=8)
    return _save(fig, out_dir, "fig8_mask_distributions.png")


def band_maps(out_dir: Path, label: str, counts: np.ndarray, sal: np.ndarray, r500: float | None) -> str:
    """Figure 9: per-band photon maps and saliency maps of one cluster (multi-band input)."""
    plt = _plt()
    nb = sal.shape[-1]
    fig, axes = plt.subplots(nb, 2, figsize=(7.0, 3.2 * nb), squeeze=False, layout="constrained")
    vmax = float(np.percentile(sal, 99.5)) or None
    for j in range(nb):
        im = _show_map(axes[j, 0], counts[..., j], log=True, cmap="magma")
        fig.colorbar(im, ax=axes[j, 0], label="photon counts")
        axes[j, 0].set_title(BAND_LABELS[j] if j < len(BAND_LABELS) else f"band {j}")
        im = _show_map(axes[j, 1], sal[..., j], log=False, cmap="viridis", vmax=vmax)
        fig.colorbar(im, ax=axes[j, 1], label="saliency")
        for ax in axes[j]:
            _circle(ax, r500)
    axes[0, 1].set_title(f"saliency ({label})")
    return _save(fig, out_dir, "fig9_band_maps.png")


def fusion_split(
    out_dir: Path, label: str, arrays: dict[str, np.ndarray], x_in: str | None, cube: str, fusion: dict[str, Any] | None
) -> str:
    """Fusion net: median X-ray saliency map, median cube saliency (sky and velocity projections), shares."""
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(17.0, 3.8), layout="constrained")
    if x_in is not None and f"saliency_{x_in}" in arrays:
        s = arrays[f"saliency_{x_in}"]
        s = s.mean(axis=-1) if s.ndim == 4 else s
        im = _show_map(axes[0], np.median(s, axis=0), log=False, cmap="viridis")
        fig.colorbar(im, ax=axes[0], label="median saliency")
        axes[0].set_title(f"X-ray input ({x_in})")
    sky = np.median(arrays[f"saliency_{cube}_sky"], axis=0)
    im = _show_map(axes[1], sky, log=False, cmap="viridis")
    fig.colorbar(im, ax=axes[1], label="median saliency, summed over v")
    axes[1].set_title(f"{cube}: sky")
    v = arrays[f"saliency_{cube}_vlos"]
    vgrid = np.linspace(-3785.0, 3785.0, v.shape[1] + 1)
    vc = 0.5 * (vgrid[:-1] + vgrid[1:])
    axes[2].plot(vc, np.median(v, axis=0), color="tab:green")
    axes[2].fill_between(vc, np.percentile(v, 16, axis=0), np.percentile(v, 84, axis=0), color="tab:green", alpha=0.3)
    axes[2].set_xlabel(r"$v_{\rm los}$ [km/s]")
    axes[2].set_ylabel("saliency summed over sky")
    axes[2].set_title(f"{cube}: velocity")
    if fusion and fusion.get("share"):
        names = list(fusion["share"])
        pos = np.arange(len(names))
        raw = [fusion["share"][k] or 0.0 for k in names]
        gxi = [(fusion.get("share_grad_times_input") or {}).get(k) or 0.0 for k in names]
        axes[3].bar(pos - 0.2, raw, width=0.4, color="tab:purple", label=r"$|\partial \log_{10} M / \partial x|$")
        axes[3].bar(pos + 0.2, gxi, width=0.4, color="tab:green", label=r"$|x\, \partial \log_{10} M / \partial x|$")
        axes[3].set_xticks(pos, names)
        axes[3].set_ylim(0, 1)
        axes[3].set_ylabel("share of the sum over inputs")
        axes[3].set_title("saliency split")
        axes[3].legend(fontsize=8)
    fig.suptitle(label)
    return _save(fig, out_dir, "fusion_split.png")
