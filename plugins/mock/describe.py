"""Table-1 summary and a gallery like the paper's Figures 1 and 2 for a processed catalogue.

Table 1 (min, median, max): log10 M500c [h^-1 Msun], z, and photon counts within the 2.3 h^-1 Mpc map
(0.5-10 keV, before the redshift normalisation of eq. 1): N_phot (all), N_ICM and N_AGN (truth maps;
None when the event files carry no COMPONENT), and N_gal, the galaxies in the dynamical cylinder.

Physics statistics (:func:`physics_summary`): ICM-count scatters at fixed mass in three apertures, cool-core
fractions, the AGN/ICM pixel photon ratio of the paper's section 6, photon shares of AGN, neighbouring halos
and background, and the correlation of fixed-mass residuals between snapshots of one halo.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from massbench.catalogue import Catalogue
from massbench.errors import DataError
from massbench.plugins.saliency.masks import photon_means, summarise_photon_means

from .cosmology import H
from .formats import HALOS_COLUMNS, HALOS_FILE, Column, read_table
from .projection import MAP_CENTRES

TABLE1_KEYS = ("log10_m500c", "redshift", "n_phot", "n_icm", "n_agn", "n_gal")
PAPER_TABLE1 = {
    "log10_m500c": (13.50, 13.94, 15.07),
    "redshift": (0.07, 0.21, 0.47),
    "n_phot": (17, 1072, 2.37e5),
    "n_icm": (9, 762, 2.00e5),
    "n_agn": (0, 225, 2.03e5),
    "n_gal": (28, 112, 520),
}


def _map_totals(data: Any) -> np.ndarray:
    out = []
    for a in range(0, len(data), 256):
        out.append(np.asarray(data[a : a + 256], dtype=np.float64).reshape(min(256, len(data) - a), -1).sum(axis=1))
    return np.concatenate(out) if out else np.zeros(0)


def table1_values(cat: Catalogue) -> dict[str, np.ndarray | None]:
    """Per-cluster values of Table 1's quantities (None where unavailable)."""
    vals: dict[str, np.ndarray | None] = {
        "log10_m500c": np.asarray(cat.log10_m500c),
        "redshift": np.asarray(cat.redshift),
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
    try:
        import matplotlib
    except ImportError:
        from massbench.errors import UserError

        raise UserError(
            "the gallery figures need matplotlib, which is not installed: pip install 'massbench[plot]' "
            "(or pass --no-figures where the command offers it)"
        ) from None

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
    axes[3].imshow(
        cube.sum(axis=2).T, origin="lower", extent=[ex[0], ex[-1], ey[0], ey[-1]], cmap="viridis", aspect="auto"
    )
    axes[3].set_title("cube: sum over v_los", fontsize=9)
    axes[3].set_xlabel("x [h^-1 Mpc]"), axes[3].set_ylabel("y [h^-1 Mpc]")
    axes[4].imshow(
        cube.sum(axis=1).T, origin="lower", extent=[ex[0], ex[-1], ev[0], ev[-1]], cmap="viridis", aspect="auto"
    )
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


# ------------------------------------------------------------------------------------------ physics statistics
#
# Every statistic below is computed from the truth-only ICM/AGN maps (counts, 0.5-10 keV, 128 x 128 pixels over
# edges linspace(-2.3, 2.3, 129) comoving h^-1 Mpc) with the pixel-centre rule of ``projection.aperture_mask``:
# a pixel belongs to the aperture of radius R when its centre lies at R_proj <= R.

CORE_FRACTION = 0.15  # core aperture radius [R500c]
CC_INNER_KPC = 40.0  # c_SB inner radius [physical kpc] (Santos et al. 2008)
CC_OUTER_KPC = 400.0  # c_SB outer radius [physical kpc]
CC_THRESHOLD = 0.075  # c_SB above which a cluster is a (moderate) cool core (Santos et al. 2008)
CC_STRONG_THRESHOLD = 0.155  # c_SB above which a cluster is a strong cool core (Santos et al. 2008)
_AREA_HALF = 24  # area-weighted apertures: central window of 2 x 24 pixels (+-0.8625 h^-1 Mpc) a side
_AREA_SUB = 32  # sub-samples per pixel side for the area fractions
MAP_CHUNK = 256  # clusters per chunk of memory-mapped maps (256 x 128 x 128 float64 = 34 MB; peak ~150 MB)

#: mock-truth columns of halos.fits read by :func:`read_halo_truth` (absent ones are skipped)
HALO_TRUTH_COLUMNS = (
    Column("tree_id", "", "K", "lineage id: rows sharing it are one halo at several snapshots"),
    Column("cool_core", "", "L", "cool core"),
    Column("n_nbr", "", "D", "photons (0.5-10 keV) in the map from neighbouring halos' ICM"),
)

_PIXEL_R2 = (MAP_CENTRES[:, None] ** 2 + MAP_CENTRES[None, :] ** 2).ravel()  # as projection.aperture_mask
_PIXEL_ORDER = np.argsort(_PIXEL_R2, kind="stable")
_PIXEL_R2_SORTED = _PIXEL_R2[_PIXEL_ORDER]

Stat = Optional[dict[str, Optional[float]]]


@dataclass
class PhysicsSummary:
    """Physics statistics of a catalogue (see :func:`physics_summary`); ``None`` where not computable.

    - ``n_clusters``: clusters in the catalogue
    - ``mode``: halos.fits header keyword ``MODE`` (e.g. ``"photon-list"``, ``"events"``), else None
    - ``icm_scatter_dex``: ``{"r500c", "r015_1", "core_015", "ratio_excised_to_total"}`` [dex]
    - ``cool_core_fraction``: ``{"truth", "c_sb", "c_sb_strong"}``
    - ``agn_icm_pixel_ratio``: ``{"ratio_of_means", "median_ratio", "n_clusters"}``
    - ``n_phot_shares``: ``{"agn", "agn_median", "neighbours", "neighbours_median", "background",
      "background_median"}``
    - ``lineage_correlation``: ``{"n_icm_500c", "l_x", "n_pairs"}``
    """

    n_clusters: int
    mode: Optional[str]
    icm_scatter_dex: Stat
    cool_core_fraction: Stat
    agn_icm_pixel_ratio: Optional[dict[str, Optional[float | int]]]
    n_phot_shares: Stat
    lineage_correlation: Optional[dict[str, Optional[float | int]]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, keys in the order of the fields."""
        return asdict(self)


def _number(x: float) -> Optional[float]:
    """``float(x)``, or None for NaN and infinities."""
    return float(x) if np.isfinite(x) else None


def physical_kpc_to_hmpc(kpc: float, redshift: np.ndarray) -> np.ndarray:
    """Physical kpc at ``redshift`` as a comoving h^-1 Mpc radius: 1e-3 kpc h (1 + z), h = 0.704."""
    return 1e-3 * kpc * H * (1.0 + np.asarray(redshift, dtype=np.float64))


def aperture_counts(maps: np.ndarray, radii_hmpc: np.ndarray) -> np.ndarray:
    """Counts of each map inside circular apertures centred on the map, by the pixel-centre rule.

    ``maps``: (m, 128, 128) counts; ``radii_hmpc``: (m, k) radii [comoving h^-1 Mpc]. Returns (m, k)
    float64: the sum over pixels whose centres lie at R_proj <= radius (0 when no centre does), equal to
    ``maps[i][projection.aperture_mask(radii_hmpc[i, j])].sum()``. Pixels are sorted by radius once, so
    each aperture is one look-up in the per-map cumulative sum.
    """
    flat = np.asarray(maps).reshape(len(maps), -1)[:, _PIXEL_ORDER]
    cum = np.zeros((len(flat), flat.shape[1] + 1))
    np.cumsum(flat, axis=1, dtype=np.float64, out=cum[:, 1:])
    n_inside = np.searchsorted(_PIXEL_R2_SORTED, np.asarray(radii_hmpc, dtype=np.float64) ** 2, side="right")
    return np.take_along_axis(cum, n_inside, axis=1)


@lru_cache(maxsize=1)
def _area_table() -> tuple[np.ndarray, np.ndarray]:
    """Fractions of each pixel of the central window inside circles of radii ``radii`` (table, then interpolated)."""
    pix = MAP_CENTRES[1] - MAP_CENTRES[0]
    lo = len(MAP_CENTRES) // 2 - _AREA_HALF
    centres = MAP_CENTRES[lo : lo + 2 * _AREA_HALF]
    offs = (np.arange(_AREA_SUB) + 0.5) / _AREA_SUB * pix - 0.5 * pix
    sx = (centres[:, None] + offs[None, :]).ravel()
    sub_r = np.sqrt(sx[:, None] ** 2 + sx[None, :] ** 2).reshape(len(centres), _AREA_SUB, len(centres), _AREA_SUB)
    sub_r = np.sort(sub_r.transpose(0, 2, 1, 3).reshape(len(centres), len(centres), -1), axis=2)
    radii = np.linspace(0.0, _AREA_HALF * pix, 1201)
    frac = np.empty((len(radii), len(centres), len(centres)))
    for i in range(len(centres)):
        for j in range(len(centres)):
            frac[:, i, j] = np.searchsorted(sub_r[i, j], radii, side="right") / sub_r.shape[2]
    return radii, frac


def aperture_counts_area(maps: np.ndarray, radii_hmpc: np.ndarray) -> np.ndarray:
    """Counts inside circular apertures with each pixel weighted by its area inside the circle.

    For apertures of a few pixels (the 40 kpc of c_SB), where the pixel-centre rule is coarse: counts
    are taken as uniform within a pixel. ``maps`` (m, 128, 128), ``radii_hmpc`` (m, k) [comoving
    h^-1 Mpc], at most 0.86 h^-1 Mpc (the central window); returns (m, k).
    """
    table_r, frac = _area_table()
    lo = len(MAP_CENTRES) // 2 - _AREA_HALF
    win = np.asarray(maps, dtype=np.float64)[:, lo : lo + 2 * _AREA_HALF, lo : lo + 2 * _AREA_HALF]
    radii = np.asarray(radii_hmpc, dtype=np.float64)
    if radii.size and radii.max() > table_r[-1]:
        raise ValueError(f"area-weighted apertures reach at most {table_r[-1]:.3f} h^-1 Mpc")
    pos = np.interp(radii, table_r, np.arange(len(table_r)))
    i0 = np.minimum(pos.astype(int), len(table_r) - 2)
    t = pos - i0
    w = frac[i0] * (1 - t)[..., None, None] + frac[i0 + 1] * t[..., None, None]  # (m, k, h, h)
    return np.einsum("mkij,mij->mk", w, win)


def fixed_mass_residuals(y: np.ndarray, log10_m: np.ndarray, redshift: np.ndarray) -> Optional[np.ndarray]:
    """Residuals of ``y`` at fixed mass: ordinary least squares y = a_z + b log10 M500c.

    One intercept a_z per redshift (snapshot), one common slope b; fitted by removing the snapshot means
    of y and log10 M (the within-snapshot estimator, identical to least squares with snapshot dummies).
    None when log10 M does not vary within any snapshot.
    """
    _, group = np.unique(redshift, return_inverse=True)
    size = np.bincount(group)

    def centred(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        return v - (np.bincount(group, v) / size)[group]

    dx, dy = centred(log10_m), centred(y)
    sxx = float(dx @ dx)
    if sxx <= 1e-12 * len(dx):
        return None
    return dy - (float(dx @ dy) / sxx) * dx


def _scatter(residuals: Optional[np.ndarray]) -> Optional[float]:
    """Standard deviation (ddof = 0, as ``massbench.metrics``) of residuals [dex]; None without a fit."""
    return None if residuals is None else float(np.std(residuals))


def lineage_pairs(tree_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (i, j), i != j, of rows sharing a ``tree_id``: two index arrays (each pair twice)."""
    tree_id = np.asarray(tree_id)
    order = np.argsort(tree_id, kind="stable")
    _, start, size = np.unique(tree_id[order], return_index=True, return_counts=True)
    block = np.repeat(size, size)  # size of the lineage of each sorted row
    left = np.repeat(np.arange(len(order)), block)
    offset = np.arange(len(left)) - np.repeat(np.cumsum(block) - block, block)
    right = np.repeat(np.repeat(start, size), block) + offset
    keep = left != right
    return order[left[keep]], order[right[keep]]


def _pair_correlation(residuals: Optional[np.ndarray], left: np.ndarray, right: np.ndarray) -> Optional[float]:
    """Pearson correlation of (res_i, res_j) over the ordered pairs; None without residuals or variance."""
    if residuals is None or len(left) < 2:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        return _number(np.corrcoef(residuals[left], residuals[right])[0, 1])


def _fraction(flags: np.ndarray) -> Optional[float]:
    """Mean of booleans; None for none."""
    return float(np.mean(flags)) if len(flags) else None


def _shares(part: Optional[np.ndarray], n_phot: np.ndarray) -> tuple[Optional[float], Optional[float]]:
    """(sum(part) / sum(n_phot), median over clusters with n_phot > 0 of part / n_phot)."""
    if part is None:
        return None, None
    part = np.asarray(part, dtype=np.float64)
    seen = n_phot > 0
    total = float(n_phot.sum())
    return (
        float(part.sum()) / total if total > 0 else None,
        float(np.median(part[seen] / n_phot[seen])) if seen.any() else None,
    )


def _align_halos(halos: Mapping[str, np.ndarray], cluster_id: np.ndarray) -> dict[str, np.ndarray]:
    """halos.fits columns reordered to the catalogue's rows by ``cluster_id`` (DataError if one is missing)."""
    ids = np.asarray(halos["cluster_id"])
    order = np.argsort(ids, kind="stable")
    pos = np.searchsorted(ids[order], cluster_id)
    found = (pos < len(ids)) & (ids[order][np.minimum(pos, len(ids) - 1)] == cluster_id)
    if not found.all():
        raise DataError(f"halos.fits has no row for cluster {int(cluster_id[~found][0])}")
    rows = order[pos]
    return {k: np.asarray(v)[rows] for k, v in halos.items()}


@dataclass
class _MapPass:
    """Per-cluster quantities of one chunked pass over the ICM (and AGN) truth maps."""

    n_500: np.ndarray  # ICM counts in R_proj <= R500c
    n_core: np.ndarray  # ICM counts in R_proj <= 0.15 R500c
    n_40: np.ndarray  # ICM counts in R_proj <= 40 physical kpc (area-weighted)
    n_400: np.ndarray  # ICM counts in R_proj <= 400 physical kpc (area-weighted)
    agn_pixel_mean: Optional[np.ndarray]  # mean total counts over AGN-dominated pixels (NaN if none)
    icm_pixel_mean: Optional[np.ndarray]  # mean total counts over ICM-dominated pixels (NaN if none)


def _map_pass(icm: Any, agn: Any, r500c: np.ndarray, redshift: np.ndarray, chunk: int) -> _MapPass:
    """Read the (memory-mapped) maps ``chunk`` clusters at a time; aperture counts and pixel means."""
    radii = np.stack([r500c, CORE_FRACTION * r500c], axis=1)
    cc_radii = np.stack(
        [physical_kpc_to_hmpc(CC_INNER_KPC, redshift), physical_kpc_to_hmpc(CC_OUTER_KPC, redshift)], axis=1
    )
    counts = np.zeros((len(r500c), 4))
    means = np.full((2, len(r500c)), np.nan)
    for a in range(0, len(r500c), chunk):
        rows = slice(a, a + chunk)
        icm_rows = np.asarray(icm[rows])
        counts[rows, :2] = aperture_counts(icm_rows, radii[rows])
        counts[rows, 2:] = aperture_counts_area(icm_rows, cc_radii[rows])
        if agn is not None:
            means[:, rows] = photon_means(icm_rows, np.asarray(agn[rows]))
    has_agn = agn is not None
    return _MapPass(*counts.T, means[0] if has_agn else None, means[1] if has_agn else None)


def physics_summary(
    cat: Catalogue, halos: Optional[Mapping[str, np.ndarray]] = None, chunk: int = MAP_CHUNK
) -> PhysicsSummary:
    """Physics statistics of a processed catalogue, from its truth maps and (optionally) halos.fits truth.

    ``cat``: a :class:`massbench.Catalogue` (``load_catalogue``); uses ``xray_map``, ``xray_icm_map``,
    ``xray_agn_map``, ``r500c`` [comoving h^-1 Mpc], ``n_icm``, ``n_agn``, ``L_X`` [erg/s] where present,
    and ``meta["raw_header"]["MODE"]``. ``halos``: columns of halos.fits including ``cluster_id`` (rows are
    matched to the catalogue by it) and any of ``tree_id``, ``cool_core``, ``n_nbr``; statistics needing an
    absent input are None. Maps are read ``chunk`` clusters at a time.

    **Scatter at fixed mass** of a quantity y: the standard deviation (ddof 0) of the residuals of the
    ordinary least-squares fit y = a_z + b log10 M500c, one intercept per redshift (snapshot), one
    common slope (:func:`fixed_mass_residuals`).

    1. ``icm_scatter_dex`` [dex]: scatter at fixed mass of log10(N_ICM + 1), N_ICM the ICM truth-map
       counts (0.5-10 keV) in R_proj <= R500c (``r500c``), in 0.15 R500c < R_proj <= R500c (``r015_1``)
       and in R_proj <= 0.15 R500c (``core_015``; an aperture holding no pixel centre has 0 counts);
       ``ratio_excised_to_total`` = r015_1 / r500c.
    2. ``cool_core_fraction``: ``truth``, the fraction of halos.fits ``cool_core``; ``c_sb``, the fraction
       with c_SB = N_ICM(< 40 kpc) / N_ICM(< 400 kpc) > 0.075 (Santos et al. 2008, moderate and strong cool
       cores; physical kpc, i.e. comoving 0.040 h (1 + z) h^-1 Mpc), ``c_sb_strong`` with c_SB > 0.155;
       clusters with N_ICM(< 400 kpc) = 0 left out. The 40 kpc aperture spans only a few 0.036 h^-1 Mpc
       pixels, so these apertures weight each pixel by its area inside the circle
       (:func:`aperture_counts_area`) instead of the pixel-centre rule.
    3. ``agn_icm_pixel_ratio``: ``saliency.masks.photon_ratio`` of the ICM and AGN maps (paper section 6:
       mean total counts of AGN-dominated over ICM-dominated pixels, the paper reports > 13):
       ``ratio_of_means``, ``median_ratio``, ``n_clusters`` (clusters with both kinds of pixel).
    4. ``n_phot_shares``: shares of the map's photons N_phot (0.5-10 keV, Table 1's n_phot): ``agn``
       (n_agn), ``neighbours`` (halos.fits ``n_nbr``, neighbouring halos' ICM, also inside n_icm) and
       ``background`` (N_phot - n_icm - n_agn), each as sum(part) / sum(N_phot) and as ``*_median``,
       the median over clusters with N_phot > 0 of part / N_phot.
    5. ``lineage_correlation``: over all ordered pairs (i, j), i != j, of clusters sharing ``tree_id``
       (one halo at two snapshots), the Pearson correlation of (res_i, res_j) for the residuals of the
       R500c fit of item 1 (``n_icm_500c``) and of the same fit of log10 L_X (``l_x``); ``n_pairs``, the
       number of unordered pairs. None without ``tree_id``.
    """
    lm, z = np.asarray(cat.log10_m500c), np.asarray(cat.redshift)
    truth = _align_halos(halos, np.asarray(cat.cluster_id)) if halos is not None else {}
    mode = cat.meta.get("raw_header", {}).get("MODE")
    maps = None
    if "xray_icm_map" in cat.inputs and "r500c" in cat.inputs:
        agn = cat.inputs["xray_agn_map"].data if "xray_agn_map" in cat.inputs else None
        maps = _map_pass(
            cat.inputs["xray_icm_map"].data, agn, np.asarray(cat.inputs["r500c"].data, dtype=np.float64), z, chunk
        )
    res_500 = fixed_mass_residuals(np.log10(maps.n_500 + 1), lm, z) if maps is not None else None
    return PhysicsSummary(
        n_clusters=len(cat),
        mode=None if mode is None else str(mode),
        icm_scatter_dex=_icm_scatter(maps, res_500, lm, z) if maps is not None else None,
        cool_core_fraction=_cool_core_fraction(maps, truth),
        agn_icm_pixel_ratio=_pixel_ratio(maps),
        n_phot_shares=_phot_shares(cat, truth),
        lineage_correlation=_lineage_correlation(cat, truth, res_500, lm, z),
    )


def _icm_scatter(maps: _MapPass, res_500: Optional[np.ndarray], lm: np.ndarray, z: np.ndarray) -> Stat:
    """Item 1 of :func:`physics_summary`: scatters at fixed mass of log10(N_ICM + 1) in three apertures."""
    s_total = _scatter(res_500)
    s_excised = _scatter(fixed_mass_residuals(np.log10(maps.n_500 - maps.n_core + 1), lm, z))
    return {
        "r500c": s_total,
        "r015_1": s_excised,
        "core_015": _scatter(fixed_mass_residuals(np.log10(maps.n_core + 1), lm, z)),
        "ratio_excised_to_total": s_excised / s_total if s_excised is not None and s_total else None,
    }


def _cool_core_fraction(maps: Optional[_MapPass], truth: Mapping[str, np.ndarray]) -> Stat:
    """Item 2 of :func:`physics_summary`: the true cool-core fraction and the c_SB > 0.075 and > 0.155 fractions."""
    c_sb = c_sb_strong = None
    if maps is not None:
        seen = maps.n_400 > 0
        ratio = maps.n_40[seen] / maps.n_400[seen]
        c_sb, c_sb_strong = _fraction(ratio > CC_THRESHOLD), _fraction(ratio > CC_STRONG_THRESHOLD)
    cool = truth.get("cool_core")
    return {
        "truth": None if cool is None else _fraction(np.asarray(cool, dtype=bool)),
        "c_sb": c_sb,
        "c_sb_strong": c_sb_strong,
    }


def _pixel_ratio(maps: Optional[_MapPass]) -> Optional[dict[str, Optional[float | int]]]:
    """Item 3 of :func:`physics_summary`: ``saliency.masks.photon_ratio`` from the chunked pixel means."""
    if maps is None or maps.agn_pixel_mean is None:
        return None
    return summarise_photon_means(maps.agn_pixel_mean, maps.icm_pixel_mean)


def _phot_shares(cat: Catalogue, truth: Mapping[str, np.ndarray]) -> dict[str, Optional[float]]:
    """Item 4 of :func:`physics_summary`: AGN, neighbour and background shares of the map's photons."""
    n_phot = _map_totals(cat.inputs["xray_map"].data)
    n_icm, n_agn = (
        np.asarray(cat.inputs[k].data, dtype=np.float64) if k in cat.inputs else None for k in ("n_icm", "n_agn")
    )
    background = n_phot - n_icm - n_agn if n_icm is not None and n_agn is not None else None
    shares: dict[str, Optional[float]] = {}
    for key, part in (("agn", n_agn), ("neighbours", truth.get("n_nbr")), ("background", background)):
        shares[key], shares[f"{key}_median"] = _shares(part, n_phot)
    return shares


def _lineage_correlation(
    cat: Catalogue, truth: Mapping[str, np.ndarray], res_500: Optional[np.ndarray], lm: np.ndarray, z: np.ndarray
) -> Optional[dict[str, Optional[float | int]]]:
    """Item 5 of :func:`physics_summary`: correlation of fixed-mass residuals between snapshots of one halo."""
    if "tree_id" not in truth:
        return None
    left, right = lineage_pairs(truth["tree_id"])
    res_lx = None
    if "L_X" in cat.inputs:
        res_lx = fixed_mass_residuals(np.log10(np.asarray(cat.inputs["L_X"].data, dtype=np.float64)), lm, z)
    return {
        "n_icm_500c": _pair_correlation(res_500, left, right),
        "l_x": _pair_correlation(res_lx, left, right),
        "n_pairs": len(left) // 2,
    }


def read_halo_truth(directory: str | Path) -> dict[str, np.ndarray]:
    """``cluster_id`` and the mock-truth columns of ``HALO_TRUTH_COLUMNS`` present in ``directory``/halos.fits."""
    cluster_id = next(c for c in HALOS_COLUMNS if c.name == "cluster_id")
    columns, _ = read_table(Path(directory) / HALOS_FILE, "HALOS", (cluster_id,), HALO_TRUTH_COLUMNS, what="halos")
    return columns


def _fmt(value: Optional[float | int | str], spec: str = ".4g") -> str:
    """A table cell: ``n/a`` for None."""
    if value is None:
        return "n/a"
    return value if isinstance(value, str) else format(value, spec)


def physics_rows(summary: PhysicsSummary) -> list[tuple[str, str, str]]:
    """(statistic, value, definition) rows of a :class:`PhysicsSummary` for the ``describe`` table."""
    d = summary.to_dict()
    scat = d["icm_scatter_dex"] or {}
    cc = d["cool_core_fraction"]
    ratio = d["agn_icm_pixel_ratio"] or {}
    share = d["n_phot_shares"]
    lin = d["lineage_correlation"] or {}
    fixed = "std of residuals of log10(N_ICM+1) = a_z + b log10 M500c (OLS), N_ICM in "
    return [
        ("n_clusters", _fmt(d["n_clusters"], "d"), "clusters in the catalogue"),
        ("mode", _fmt(d["mode"]), "halos.fits header MODE (photon-list or events)"),
        ("icm_scatter_dex.r500c", _fmt(scat.get("r500c")), fixed + "R_proj <= R500c [dex]"),
        ("icm_scatter_dex.r015_1", _fmt(scat.get("r015_1")), fixed + "0.15 R500c < R_proj <= R500c [dex]"),
        ("icm_scatter_dex.core_015", _fmt(scat.get("core_015")), fixed + "R_proj <= 0.15 R500c [dex]"),
        (
            "icm_scatter_dex.ratio_excised_to_total",
            _fmt(scat.get("ratio_excised_to_total")),
            "scatter in 0.15-1 R500c / scatter in R500c",
        ),
        ("cool_core_fraction.truth", _fmt(cc["truth"]), "fraction of halos.fits cool_core (mock truth)"),
        (
            "cool_core_fraction.c_sb",
            _fmt(cc["c_sb"]),
            "fraction with c_SB = N_ICM(<40 kpc) / N_ICM(<400 kpc) > 0.075, area-weighted apertures "
            "(Santos et al. 2008: moderate and strong cool cores)",
        ),
        ("cool_core_fraction.c_sb_strong", _fmt(cc["c_sb_strong"]), "fraction with c_SB > 0.155 (strong cool cores)"),
        (
            "agn_icm_pixel_ratio.ratio_of_means",
            _fmt(ratio.get("ratio_of_means")),
            "mean counts of AGN- over ICM-dominated pixels, means over clusters (paper: > 13)",
        ),
        ("agn_icm_pixel_ratio.median_ratio", _fmt(ratio.get("median_ratio")), "median over clusters of that ratio"),
        ("n_phot_shares.agn", _fmt(share["agn"]), "sum n_agn / sum N_phot (map, 0.5-10 keV)"),
        ("n_phot_shares.agn_median", _fmt(share["agn_median"]), "median over clusters of n_agn / N_phot"),
        (
            "n_phot_shares.neighbours",
            _fmt(share["neighbours"]),
            "sum n_nbr / sum N_phot: neighbouring halos' ICM (inside n_icm)",
        ),
        ("n_phot_shares.neighbours_median", _fmt(share["neighbours_median"]), "median of n_nbr / N_phot"),
        ("n_phot_shares.background", _fmt(share["background"]), "sum (N_phot - n_icm - n_agn) / sum N_phot"),
        (
            "n_phot_shares.background_median",
            _fmt(share["background_median"]),
            "median of (N_phot - n_icm - n_agn) / N_phot",
        ),
        (
            "lineage_correlation.n_icm_500c",
            _fmt(lin.get("n_icm_500c")),
            "Pearson r of R500c-count residuals between snapshots of one halo (tree_id)",
        ),
        ("lineage_correlation.l_x", _fmt(lin.get("l_x")), "the same for log10 L_X (idealised) residuals"),
        ("lineage_correlation.n_pairs", _fmt(lin.get("n_pairs"), "d"), "pairs of clusters sharing a tree_id"),
    ]
