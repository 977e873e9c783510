"""Halo population of the synthetic catalogue: lineages in a periodic box, progenitors, selection.

The paper's sample (section 2; Table 1) holds 3,285 Magneticum Box2/hr halos from the 11 snapshots
between z = 0.07 and 0.47, chosen "roughly uniform" in redshift and mass between 10^13.5 and
10^15.07 h^-1 Msun (median log10 M500c 13.94, median z 0.21). The same halo appears at several
snapshots, so its progenitors sit near the same box position.

Built here, step by step:

1. Lineages: the halos of the last snapshot (z = 0.066) above 10^13 h^-1 Msun (those below 10^13.5
   never enter the sample but are painted as projected neighbours), a Poisson
   realisation of the Tinker et al. (2008) M500c mass function in the periodic 352 h^-1 Mpc box.
2. Mass histories back to each snapshot from the mean accretion rate of Fakhouri, Ma &
   Boylan-Kolchin (2010, eq. 2), dM/dt = 46.1 Msun/yr (M / 1e12 Msun)^1.1 (1 + 1.11 z) E(z), integrated
   analytically, times a log-normal rate factor per lineage (sigma_ln = 0.5) for the diversity of
   assembly histories.
3. Positions: clustered through a biased log-normal density field (Coles & Jones 1991) on a 64^3
   grid from the linear power spectrum, halo bias of Tinker et al. (2010) capped at 3; progenitors
   are displaced along a Zel'dovich displacement psi: x(z) = x(z0) + (D(z) - D(z0)) psi, psi drawn
   with the linear 1D rms displacement (about 6 h^-1 Mpc).
4. The flattened selection: per 0.1 dex mass bin, at most ``cap`` halos are drawn at random from
   all snapshots together, with ``cap`` the smallest value that gives the paper's 3,285 clusters.
   Bins with fewer halos than the cap (the massive end) keep them all, which makes the distribution
   flat at low mass and mass-function shaped at high mass; drawing from every snapshot's halos
   together tilts the redshift distribution toward low z as the halos' abundance does. Both Table 1
   medians (log10 M 13.94, z 0.21) come out of this rule without adjustment (docs/mock.md). A catalogue with fewer clusters is a uniform random
   subset of this parent sample, so it keeps the paper's distributions.
   ``selection="natural"`` (the dataset param ``selection: natural``) instead draws the clusters
   uniformly at random from every (lineage, snapshot) halo in the mass range: the population of
   the box volume at the 11 snapshots, following the mass function at each (a survey's
   population, volume-limited, without its flux limit), for "train natural, test natural".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cosmology import BOX_SIZE_HMPC, SNAPSHOT_REDSHIFTS, H
from .halo_model import displacement_rms_1d, growth_factor, linear_power, mass_function_500c, tinker10_bias

LOG_M_MIN = 13.5
#: lower mass limit of the lineages kept as projected neighbours (their ICM is painted into the maps)
LOG_M_MIN_NEIGHBOUR = 13.0
LOG_M_MAX = 15.1  # upper edge of the last 0.1 dex bin; the paper's most massive halo is 10^15.07
PARENT_SIZE = 3285
MAH_SCATTER = 0.5
BIAS_CAP = 3.0
FIELD_CELLS = 64


@dataclass
class HaloSample:
    """Selected halos, one row per (lineage, snapshot). Masses h^-1 Msun, positions comoving h^-1 Mpc."""

    tree_id: np.ndarray
    snapshot: np.ndarray
    redshift: np.ndarray
    m500c: np.ndarray
    pos: np.ndarray  # (n, 3), wrapped into [0, box)
    accretion_factor: np.ndarray  # the lineage's accretion-rate factor (merger activity)
    box_size: float = BOX_SIZE_HMPC

    def __len__(self) -> int:
        return len(self.tree_id)

    def take(self, idx: np.ndarray) -> "HaloSample":
        return HaloSample(
            self.tree_id[idx],
            self.snapshot[idx],
            self.redshift[idx],
            self.m500c[idx],
            self.pos[idx],
            self.accretion_factor[idx],
            self.box_size,
        )


def sample_masses(
    rng: np.random.Generator, z: float, volume: float, log_m_min: float = LOG_M_MIN, log_m_max: float = 15.8
) -> np.ndarray:
    """A Poisson realisation of the Tinker et al. (2008) M500c mass function in ``volume`` [(h^-1 Mpc)^3]."""
    lnm = np.linspace(log_m_min * np.log(10), log_m_max * np.log(10), 600)
    dn = mass_function_500c(np.exp(lnm), z)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (dn[1:] + dn[:-1]) * np.diff(lnm))])
    n = rng.poisson(cum[-1] * volume)
    return np.exp(np.interp(rng.random(n) * cum[-1], cum, lnm))


def mass_histories(m0: np.ndarray, z0: float, redshifts: np.ndarray, rate_factor: np.ndarray) -> np.ndarray:
    """M500c [h^-1 Msun] at each redshift for lineages of mass ``m0`` at ``z0``.

    Integrates Fakhouri et al. (2010, eq. 2) backwards: with m = M / 1e12 Msun,
    d(m^-0.1)/dz = 0.1 x 46.1 yr^-1 x (1/H0) x 1e-12... = 0.06403 (1 + 1.11 z) / (1 + z) per lineage rate factor.
    """
    t_hubble_yr = 977.792221 / (100.0 * H) * 1e9
    k = 0.1 * 46.1 * t_hubble_yr / 1e12
    zs = np.asarray(redshifts, dtype=float)
    # int_{z0}^{z} (1 + 1.11 z') / (1 + z') dz' = 1.11 (z - z0) - 0.11 ln((1 + z) / (1 + z0))
    integral = 1.11 * (zs - z0) - 0.11 * np.log((1.0 + zs) / (1.0 + z0))
    m_sun0 = np.asarray(m0)[:, None] / H / 1e12
    inv = m_sun0**-0.1 + k * np.asarray(rate_factor)[:, None] * integral[None, :]
    return inv**-10.0 * 1e12 * H


def lognormal_field(
    rng: np.random.Generator, box: float, z: float, cells: int = FIELD_CELLS, smoothing: float = 8.0
) -> tuple[np.ndarray, float]:
    """Gaussian linear density field delta_G on a ``cells``^3 grid, Gaussian-smoothed on ``smoothing`` h^-1 Mpc.

    Returns (delta_G, its variance). Used as a log-normal (Coles & Jones 1991) halo density field.
    """
    kf = 2 * np.pi / box
    k1 = np.fft.fftfreq(cells, d=1.0 / cells) * kf
    kz = np.fft.rfftfreq(cells, d=1.0 / cells) * kf
    kk = np.sqrt(k1[:, None, None] ** 2 + k1[None, :, None] ** 2 + kz[None, None, :] ** 2)
    pk = np.zeros_like(kk)
    nz = kk > 0
    pk[nz] = linear_power(kk[nz], z) * np.exp(-((kk[nz] * smoothing) ** 2))
    amp = np.sqrt(pk * cells**6 / box**3 / 2.0)
    field_k = amp * (rng.standard_normal(kk.shape) + 1j * rng.standard_normal(kk.shape))
    delta = np.fft.irfftn(field_k, s=(cells, cells, cells), axes=(0, 1, 2))
    return delta, float(delta.var())


def clustered_positions(rng: np.random.Generator, bias: np.ndarray, box: float, z: float) -> np.ndarray:
    """Positions [h^-1 Mpc] drawn from exp(b delta_G - b^2 var / 2) on the grid, uniform inside cells."""
    delta, var = lognormal_field(rng, box, z)
    cells = delta.shape[0]
    flat = delta.ravel()
    b = np.minimum(bias, BIAS_CAP)
    pos = np.empty((len(b), 3))
    edges = np.quantile(b, np.linspace(0, 1, 9)) if len(b) else np.zeros(9)
    group = np.clip(np.searchsorted(edges, b, side="right") - 1, 0, 7)
    for g in range(8):
        sel = np.flatnonzero(group == g)
        if not len(sel):
            continue
        bg = float(np.mean(b[sel]))
        w = np.exp(bg * flat - 0.5 * bg**2 * var)
        cell = rng.choice(len(flat), size=len(sel), p=w / w.sum())
        ijk = np.stack(np.unravel_index(cell, delta.shape), axis=1)
        pos[sel] = (ijk + rng.random((len(sel), 3))) * (box / cells)
    return pos


def flattened_selection(
    masses: np.ndarray,
    rng: np.random.Generator,
    n_target: int,
    log_m_min: float = LOG_M_MIN,
    log_m_max: float = LOG_M_MAX,
    dlogm: float = 0.1,
) -> list[tuple[int, int]]:
    """Choose (lineage, snapshot) pairs flat in mass: at most ``cap`` per 0.1 dex bin over all snapshots.

    ``masses`` is (n_lineages, n_snapshots). Within a bin the halos are drawn at random from every
    snapshot's halos together, so the redshift distribution follows the halos' availability
    (more at low z); ``cap`` is the smallest value giving ``n_target`` pairs, and the bins at the cap
    give up random members to make the total exact.
    """
    lm = np.log10(np.maximum(masses, 1.0))
    nbins = int(round((log_m_max - log_m_min) / dlogm))
    ok = (lm >= log_m_min) & (lm < log_m_max)
    pairs = np.argwhere(ok)
    b = np.floor((lm[pairs[:, 0], pairs[:, 1]] - log_m_min) / dlogm).astype(int)
    pools = [rng.permutation(np.flatnonzero(b == k)) for k in range(nbins)]
    counts = np.array([len(p) for p in pools])
    if n_target > counts.sum():
        raise ValueError(f"the box holds only {counts.sum()} halos in the mass range; asked for {n_target}")
    cap = 1
    while np.minimum(counts, cap).sum() < n_target:
        cap += 1
    chosen = [p[:cap] for p in pools]
    excess = int(sum(len(c) for c in chosen)) - n_target
    if excess:
        full = [k for k in range(nbins) if counts[k] >= cap]
        drop = rng.choice(len(full), size=excess, replace=False)
        for j in drop:
            chosen[full[j]] = chosen[full[j]][:-1]
    sel = np.sort(np.concatenate(chosen))
    return [(int(pairs[i, 0]), int(pairs[i, 1])) for i in sel]


def natural_selection(
    masses: np.ndarray,
    rng: np.random.Generator,
    n_target: int,
    log_m_min: float = LOG_M_MIN,
    log_m_max: float = LOG_M_MAX,
) -> list[tuple[int, int]]:
    """Choose ``n_target`` (lineage, snapshot) pairs uniformly from every halo in the mass range, all snapshots together.

    Every halo of the box at every snapshot is equally likely, so the sample follows the halo
    mass function at each snapshot (and the snapshots' equal volumes in redshift).
    """
    lm = np.log10(np.maximum(masses, 1.0))
    pairs = np.argwhere((lm >= log_m_min) & (lm < log_m_max))
    if n_target > len(pairs):
        raise ValueError(f"the box holds only {len(pairs)} halos in the mass range; asked for {n_target}")
    sel = np.sort(rng.choice(len(pairs), size=n_target, replace=False))
    return [(int(pairs[i, 0]), int(pairs[i, 1])) for i in sel]


#: The dataset param ``selection``: how the catalogue's clusters are chosen among the box's halos.
SELECTIONS = ("flat", "natural")


@dataclass
class Lineages:
    """Every lineage of the box (z = 0.066 mass >= 10^13 h^-1 Msun): masses and positions at each snapshot.

    ``masses`` (n_lineages, n_snapshots) M500c [h^-1 Msun]; ``snapshots``/``redshifts`` the columns'
    snapshots (z = 0.066 first); positions follow :meth:`positions`.
    """

    masses: np.ndarray
    snapshots: np.ndarray
    redshifts: np.ndarray
    pos0: np.ndarray  # (n_lineages, 3) at the first snapshot
    psi: np.ndarray  # (n_lineages, 3) Zel'dovich displacement per unit growth
    growth: np.ndarray  # D(z) - D(z0) per snapshot
    box_size: float = BOX_SIZE_HMPC

    def positions(self, snapshot_index: int) -> np.ndarray:
        """Comoving positions [h^-1 Mpc] of every lineage at the snapshot of column ``snapshot_index``."""
        return np.mod(self.pos0 + self.growth[snapshot_index] * self.psi, self.box_size)


def build_halo_catalogue(
    rng: np.random.Generator,
    n_clusters: int,
    box: float = BOX_SIZE_HMPC,
    parent_size: int = PARENT_SIZE,
    selection: str = "flat",
) -> tuple[HaloSample, Lineages]:
    """The selected halos of a catalogue of ``n_clusters`` and every lineage of the box (for neighbours).

    ``selection``: "flat" (the paper's flattened selection, step 4 above) or "natural" (uniform
    over the box's halos: the mass function).
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be 'flat' or 'natural', got {selection!r}")
    snaps = np.array(sorted(SNAPSHOT_REDSHIFTS, reverse=True))  # 136 (z = 0.066) first
    zs = np.array([SNAPSHOT_REDSHIFTS[s] for s in snaps])
    z0 = float(zs[0])
    m0 = sample_masses(rng, z0, box**3, log_m_min=LOG_M_MIN_NEIGHBOUR)
    rate = np.exp(rng.normal(-0.5 * MAH_SCATTER**2, MAH_SCATTER, len(m0)))
    masses = mass_histories(m0, z0, zs, rate)
    pos0 = clustered_positions(rng, tinker10_bias(m0, z0), box, z0)
    psi = rng.normal(0.0, displacement_rms_1d(0.0), (len(m0), 3))
    d0 = growth_factor(z0)
    dz = np.array([growth_factor(float(z)) for z in zs]) - d0
    lineages = Lineages(masses, snaps, zs, pos0, psi, dz, box)
    if selection == "natural":
        chosen = natural_selection(masses, rng, n_clusters)
    else:
        chosen = flattened_selection(masses, rng, max(parent_size, n_clusters))
    if n_clusters < len(chosen):
        keep = np.sort(rng.choice(len(chosen), size=n_clusters, replace=False))
        chosen = [chosen[i] for i in keep]
    lin = np.array([c[0] for c in chosen], dtype=np.int64)
    si = np.array([c[1] for c in chosen], dtype=np.int64)
    pos = np.mod(pos0[lin] + dz[si][:, None] * psi[lin], box)
    order = np.lexsort((-masses[lin, si], si))
    sample = HaloSample(
        tree_id=lin[order],
        snapshot=snaps[si][order],
        redshift=zs[si][order],
        m500c=masses[lin, si][order],
        pos=pos[order],
        accretion_factor=rate[lin][order],
        box_size=box,
    )
    return sample, lineages


def build_halo_sample(
    rng: np.random.Generator, n_clusters: int, box: float = BOX_SIZE_HMPC, parent_size: int = PARENT_SIZE
) -> HaloSample:
    """The selected halos of a catalogue of ``n_clusters`` (a random subset of the flattened parent sample)."""
    return build_halo_catalogue(rng, n_clusters, box, parent_size)[0]
