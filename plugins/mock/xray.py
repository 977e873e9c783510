"""Mock eROSITA photons of one cluster field: ICM (cluster, subcluster, neighbours), AGN, background.

Paper section 2.1; mock v2 (docs/mock.md).

- ICM (:mod:`.icm`): the gas-budget model. Photon radii are drawn by inverse-CDF sampling of the
  emission measure out to 4 R500c in two zones, the core (r < 0.15 R500c, at T_core) and the rest (at
  T), projected and stretched by the axis ratio; each zone's luminosity is Lambda(T) EM, spectra are a
  thermal plasma with lines (:mod:`.spectra`), redshifted. A merging subcluster takes its share of the
  gas budget at its own offset. **Neighbouring halos** (every lineage of the box above 10^13 h^-1 Msun
  at the cluster's snapshot, within the cone of the field and +-box/2 along the line of sight, the
  paper's box projection) are painted with the same model at their own distances.
- AGN: point sources with absorbed power-law spectra (:func:`.spectra.powerlaw_count_rates`). Cluster
  members host AGN with a fraction that rises toward group scales (f proportional to M500c^-0.3;
  Martini et al. 2009, Koulouridis et al. 2018). Field AGN fill the same cone as the neighbours:
  uniform comoving density within +-box/2 along the line of sight, so the number at distance d grows as
  d^2 (N(>S) keeps the Euclidean slope of a uniform population instead of the S^-1/2 of a cylinder);
  each at its own distance and redshift. Luminosities (intrinsic 0.5-2 keV) follow the double
  power-law soft X-ray luminosity function shape of Hasinger, Miyaji & Schmidt (2005): slopes 0.87 and
  2.57 around L* = 10^43.5 erg/s, between 10^41 and 10^45.5 erg/s; photon index N(1.9, 0.2) (Nandra &
  Pounds 1994); 30 % absorbed with log N_H uniform in 21.5-23 (Ueda et al. 2014).
- Two observation modes (:data:`MODES`):
  ``photon-list`` (default): what the paper's notebook reads (SIXTE ``*phlist.fits``): photons at their
  sky positions and true energies, no PSF, no vignetting, no background.
  ``events``: the eROSITA King PSF, vignetting (:mod:`.background`), particle and sky background at
  published levels, positions at 9.6 arcsec sky-pixel centres, CCD energy resolution.
  Both: counts from the on-axis effective area and Galactic absorption, Poisson numbers, 31 arcmin
  field radius, uniform arrival times over 2 ks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import icm
from .cosmology import MPC_CM, H, comoving_distance_hmpc, redshift_at_comoving_distance
from .instrument import EROSITA, ErositaSetup, observed_signal, psf_offsets_arcsec
from .projection import photon_maps, sky_to_projected, tangent_to_sky
from .spectra import powerlaw_count_rates, sample_energies, thermal_count_rates

ARCSEC = np.pi / (180.0 * 3600.0)
#: observation modes: the paper's SIXTE photon lists, or instrument-level event lists
MODES = ("photon-list", "events")
#: SRC_ID of the cluster's own gas, the subcluster's, AGN (2 + k) and neighbours (NBR_SRC0 + k)
SRC_CLUSTER, SRC_SUB, NBR_SRC0 = 1, 1, 1_000_000
XLF_GAMMA1, XLF_GAMMA2, XLF_LOG_LSTAR = 0.87, 2.57, 43.5
XLF_LOG_LMIN, XLF_LOG_LMAX = 41.0, 45.5
ICM, AGN, BKG = 0, 1, 2


@dataclass
class AGNSources:
    """Point sources: comoving projected x, y [h^-1 Mpc], intrinsic L(0.5-2 keV) [erg/s], Gamma, N_H [cm^-2],
    and line-of-sight comoving offset from the cluster [h^-1 Mpc] (0 for members)."""

    x: np.ndarray
    y: np.ndarray
    lum: np.ndarray
    gamma: np.ndarray
    nh: np.ndarray
    los_offset: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


@lru_cache(maxsize=8)
def _xlf_table(log_lmin: float = XLF_LOG_LMIN) -> tuple[np.ndarray, np.ndarray, float]:
    """(log10 L grid, normalised CDF, share of the 10^41-10^45.5 population above ``log_lmin``)."""
    ll = np.linspace(XLF_LOG_LMIN, XLF_LOG_LMAX, 800)
    t = 10 ** (ll - XLF_LOG_LSTAR)
    dn = 1.0 / (t**XLF_GAMMA1 + t**XLF_GAMMA2)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dn[1:] + dn[:-1]) * np.diff(ll))])
    cdf /= cdf[-1]
    above = 1.0 - float(np.interp(log_lmin, ll, cdf))
    keep = ll >= log_lmin
    ll_k = np.concatenate([[log_lmin], ll[keep]])
    cdf_k = np.concatenate([[np.interp(log_lmin, ll, cdf)], cdf[keep]])
    return ll_k, (cdf_k - cdf_k[0]) / (cdf_k[-1] - cdf_k[0]), above


def xlf_fraction_above(log_lmin: float) -> float:
    """Share of the AGN above 10^41 erg/s (the literature densities' limit) that are brighter than 10^log_lmin."""
    return _xlf_table(float(log_lmin))[2]


def draw_agn(
    n: int,
    x: np.ndarray,
    y: np.ndarray,
    los_offset: np.ndarray,
    rng: np.random.Generator,
    log_lmin: float = XLF_LOG_LMIN,
) -> AGNSources:
    """AGN properties for ``n`` sources at the given positions (``los_offset`` comoving h^-1 Mpc behind the cluster);
    luminosities from the XLF above 10^log_lmin erg/s."""
    ll, cdf, _ = _xlf_table(float(log_lmin))
    lum = 10 ** np.interp(rng.random(n), cdf, ll)
    gamma = np.clip(rng.normal(1.9, 0.2, n), 1.3, 2.6)
    absorbed = rng.random(n) < 0.3
    nh = np.where(absorbed, 10 ** rng.uniform(21.5, 23.0, n), 1e20)
    return AGNSources(np.asarray(x, float), np.asarray(y, float), lum, gamma, nh, np.asarray(los_offset, float))


def _project_3d(n: int, r: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    cos_t = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    rp = r * np.sqrt(1 - cos_t**2)
    return rp * np.cos(phi), rp * np.sin(phi)


def _stretch(x: np.ndarray, y: np.ndarray, q: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(angle), np.sin(angle)
    u = (x * c + y * s) / np.sqrt(q)
    w = (-x * s + y * c) * np.sqrt(q)
    return u * c - w * s, u * s + w * c


@dataclass
class GasSource:
    """One halo's gas as seen from the cluster field.

    ``x``, ``y``: centre [comoving h^-1 Mpc] transverse to the line of sight, at the source's own distance
    (scaled to the cluster plane by d_c / (d_c + los_offset) when painted);
    ``r500c`` [comoving h^-1 Mpc]; ``m_gas`` [h^-1 Msun] within R500c; ``t_kev``; ``gas`` its profile (one
    row of :class:`.icm.GasProfiles`); ``los_offset`` [comoving h^-1 Mpc] behind the cluster (0 for the
    cluster's own gas); ``src_id`` written to the event file.
    """

    x: float
    y: float
    r500c: float
    m_gas: float
    t_kev: float
    gas: dict[str, float]
    axis_ratio: float = 1.0
    angle: float = 0.0
    los_offset: float = 0.0
    src_id: int = SRC_CLUSTER


def _source_distance(d_c: float, los_offset: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(comoving distance [h^-1 Mpc], redshift, luminosity distance [cm]) of sources ``los_offset`` behind."""
    d = np.maximum(d_c + np.asarray(los_offset, float), 1.0)
    z = redshift_at_comoving_distance(d)
    return d, z, (1.0 + z) * d / H * MPC_CM


def gas_photons(
    rng: np.random.Generator, src: GasSource, z_snap: float, d_c: float, texp: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, icm.Emission]:
    """Photons of one gas source: cluster-plane x, y [comoving h^-1 Mpc], true energies [keV], its emission.

    The halo's physical state is that of the snapshot (``z_snap``, the paper's box projection); its flux
    and spectrum follow its own distance (``src.los_offset`` behind the cluster at ``d_c``).
    """
    prof = icm.GasProfiles.of(src.gas)
    integ = icm.profile_integrals(prof)
    em = icm.emission(
        np.array([src.m_gas]), np.array([src.t_kev]), np.array([src.r500c]), np.array([z_snap]), prof, integ
    )
    d, z_src, d_l = (float(v) for v in _source_distance(d_c, src.los_offset))
    scale = d_c / d  # comoving lengths at the source -> the cluster plane
    xs, ys, es = [], [], []
    for lo, hi, kt, lum in (
        (0.0, icm.CORE_RADIUS, src.t_kev * src.gas["t_core"], float(em.core[0])),
        (icm.CORE_RADIUS, icm.RMAX, src.t_kev, float(em.r015_1[0] + em.outer[0])),
    ):
        rates = thermal_count_rates(kt, lum, z_src, d_l)
        n = rng.poisson(rates.sum() * texp)
        if n == 0:
            continue
        r = icm.sample_radii(icm.radial_sampler(integ, 0, lo, hi), n, rng) * src.r500c
        x, y = _project_3d(n, r, rng)
        if src.axis_ratio < 1.0:
            x, y = _stretch(x, y, src.axis_ratio, src.angle)
        xs.append((x + src.x) * scale), ys.append((y + src.y) * scale), es.append(sample_energies(rates, n, rng))
    cat = lambda a: np.concatenate(a) if a else np.zeros(0)  # noqa: E731
    return cat(xs), cat(ys), cat(es), em


def draw_field_agn(
    rng: np.random.Generator, z: float, density: float, box: float, setup: ErositaSetup = EROSITA
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Field AGN in the cone of the field: cluster-plane x, y [comoving h^-1 Mpc] and line-of-sight offsets.

    Uniform comoving ``density`` [(h^-1 Mpc)^-3] within +-box/2 of the cluster along the line of sight and
    within the field radius on the sky: the count at distance d grows as d^2 (a cone, not a cylinder).
    """
    d_c = comoving_distance_hmpc(z)
    theta = np.radians(setup.fov_radius_arcmin / 60.0)
    a, b = max(d_c - 0.5 * box, 1.0), d_c + 0.5 * box
    volume = np.pi * theta**2 * (b**3 - a**3) / 3.0
    n = rng.poisson(density * volume)
    d = (a**3 + rng.random(n) * (b**3 - a**3)) ** (1.0 / 3.0)
    rt = theta * np.sqrt(rng.random(n)) * d_c
    phi = rng.uniform(0, 2 * np.pi, n)
    return rt * np.cos(phi), rt * np.sin(phi), d - d_c


@dataclass
class Photons:
    """Photons of one field: sky position [deg], true and measured energy [keV], time [s], component, source id.

    ``n_nbr``: photons of neighbouring halos in the 0.5-10 keV map (as the loader counts them);
    ``emission``: the cluster's own gas luminosities (:class:`.icm.Emission`, main halo plus subcluster).
    """

    ra: np.ndarray
    dec: np.ndarray
    energy: np.ndarray
    signal: np.ndarray
    time: np.ndarray
    component: np.ndarray
    src_id: np.ndarray
    n_nbr: float = 0.0


def make_photons(
    rng: np.random.Generator,
    z: float,
    gas_sources: list[GasSource],
    agn: AGNSources,
    mode: str = "photon-list",
    setup: ErositaSetup = EROSITA,
) -> Photons:
    """All photons of one cluster field at snapshot redshift ``z`` (see the module docstring).

    ``gas_sources``: the cluster's own gas first, then a subcluster and neighbours; ``agn``: members
    and field AGN; ``mode``: one of :data:`MODES`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    texp = setup.exposure_s
    d_c = comoving_distance_hmpc(z)
    xs, ys, es, comps, srcs = [], [], [], [], []
    for src in gas_sources:
        x, y, e, _ = gas_photons(rng, src, z, d_c, texp)
        xs.append(x), ys.append(y), es.append(e)
        comps.append(np.full(len(x), ICM, np.int8)), srcs.append(np.full(len(x), src.src_id, np.int32))
    if len(agn):
        _, z_src, d_l = _source_distance(d_c, agn.los_offset)
        rates = powerlaw_count_rates(agn.gamma, agn.nh, agn.lum, z_src, d_l)
        counts = rng.poisson(rates.sum(axis=1) * texp)
        for k in np.flatnonzero(counts):
            n = int(counts[k])
            xs.append(np.full(n, agn.x[k])), ys.append(np.full(n, agn.y[k]))
            es.append(sample_energies(rates[k], n, rng))
            comps.append(np.full(n, AGN, np.int8)), srcs.append(np.full(n, 2 + k, np.int32))
    x = np.concatenate(xs) if xs else np.zeros(0)
    y = np.concatenate(ys) if ys else np.zeros(0)
    energy = np.concatenate(es) if es else np.zeros(0)
    comp = np.concatenate(comps) if comps else np.zeros(0, np.int8)
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int32)
    # cluster-plane comoving offsets -> gnomonic offsets [rad]
    sx, sy = x / d_c, y / d_c
    cz = np.sqrt(np.clip(1 - sx**2 - sy**2, 1e-12, None))
    xi_t, eta_t = sx / cz, sy / cz
    fov = setup.fov_radius_arcmin * 60 * ARCSEC
    if mode == "events":
        from .background import sample_background, vignetting

        keep = rng.random(len(energy)) < vignetting(np.hypot(xi_t, eta_t) / ARCSEC / 60.0, energy)
        xi_t, eta_t, energy, comp, src = xi_t[keep], eta_t[keep], energy[keep], comp[keep], src[keep]
        px, py = psf_offsets_arcsec(len(xi_t), rng, setup)
        xi_t, eta_t = xi_t + px * ARCSEC, eta_t + py * ARCSEC
        signal = observed_signal(energy, rng)
        bx, by, be, bkind = sample_background(rng, texp, setup.fov_radius_arcmin)
        # sky photons are true energies through the CCD response; particle events are measured already
        bsig = np.where(bkind == 0, be, observed_signal(be, rng))
        xi_t, eta_t = np.concatenate([xi_t, bx]), np.concatenate([eta_t, by])
        energy, signal = np.concatenate([energy, be]), np.concatenate([signal, bsig])
        comp = np.concatenate([comp, np.full(len(be), BKG, np.int8)])
        src = np.concatenate([src, np.zeros(len(be), np.int32)])
        pix = setup.pixel_arcsec * ARCSEC  # sky pixels centred on the pointing
        xi_t, eta_t = np.round(xi_t / pix) * pix, np.round(eta_t / pix) * pix
    else:
        signal = energy
    keep = xi_t**2 + eta_t**2 <= fov**2
    xi_t, eta_t, energy, signal, comp, src = xi_t[keep], eta_t[keep], energy[keep], signal[keep], comp[keep], src[keep]
    ra, dec = tangent_to_sky(xi_t, eta_t, setup.ra_pointing_deg, setup.dec_pointing_deg)
    time = rng.uniform(0.0, texp, len(ra))
    nbr = src >= NBR_SRC0
    n_nbr = 0.0
    if nbr.any():
        px_, py_ = sky_to_projected(ra[nbr], dec[nbr], setup.ra_pointing_deg, setup.dec_pointing_deg, z)
        n_nbr = float(photon_maps(px_, py_, signal[nbr], None, 1).sum())
    return Photons(ra, dec, energy, signal, time, comp, src, n_nbr)
