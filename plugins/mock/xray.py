"""Mock eROSITA photons of one cluster field: ICM, AGN and background (paper section 2.1).

- ICM: 3D positions drawn by inverse-CDF sampling of r^2 epsilon(r) for the emissivity profile of
  :mod:`.morphology` out to 4 R500c (the PHOX light cone's 10 Mpc depth spans several R500c), then
  projected and stretched by the axis ratio. The profile is normalised so the emission inside the
  R500c sphere equals the cluster's own bolometric L_X; spectra are bremsstrahlung at the cluster's T
  (0.6 T in a cool core's compact component; the subcluster at its own T), redshifted.
- AGN: point sources with absorbed power-law spectra (:func:`.spectra.powerlaw_count_rates`). Cluster
  members host AGN with a fraction that rises toward group scales (f proportional to M500c^-0.3;
  Martini et al. 2009 and Arnold et al. 2009 find higher AGN fractions in groups); field AGN of the
  whole simulation volume are projected into the field ("light from AGN sources simulated in the
  Magneticum volume", paper section 2.1): uniform density within +-box/2 along the line of sight,
  each at its own distance. Luminosities (intrinsic 0.5-2 keV) follow the
  double power-law soft X-ray luminosity function shape of Hasinger, Miyaji & Schmidt (2005):
  slopes 0.87 and 2.57 around L* = 10^43.5 erg/s, between 10^41 and 10^45.5 erg/s; photon index
  N(1.9, 0.2) (Nandra & Pounds 1994); 30 % absorbed with log N_H uniform in 21.5-23 (Ueda et al. 2014).
- Background: uniform over the field, half instrumental (flat in energy), half unresolved cosmic
  background (Gamma = 1.4 through the effective area); only its total rate is free.
- Instrument (:mod:`.instrument`): counts from the effective area and Galactic absorption, Poisson
  numbers, King PSF, energies drawn per photon then smeared by the CCD response (so bands are
  consistent by construction), positions snapped to 9.6 arcsec sky-pixel centres (the paper assumes
  photons at pixel centres), 31 arcmin field radius, uniform arrival times over 2 ks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cosmology import H, MPC_CM, comoving_distance_hmpc, luminosity_distance_cm, redshift_at_comoving_distance
from .instrument import EROSITA, ErositaSetup, observed_signal, psf_offsets_arcsec
from .projection import tangent_to_sky
from .spectra import (cxb_count_shape, particle_count_shape, powerlaw_count_rates, sample_energies,
                      thermal_count_rates)

ARCSEC = np.pi / (180.0 * 3600.0)
RMAX_R500 = 4.0
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


def _xlf_table() -> tuple[np.ndarray, np.ndarray]:
    ll = np.linspace(XLF_LOG_LMIN, XLF_LOG_LMAX, 400)
    t = 10 ** (ll - XLF_LOG_LSTAR)
    dn = 1.0 / (t**XLF_GAMMA1 + t**XLF_GAMMA2)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dn[1:] + dn[:-1]) * np.diff(ll))])
    return ll, cdf / cdf[-1]


_XLF = _xlf_table()


def draw_agn(n: int, x: np.ndarray, y: np.ndarray, los_offset: np.ndarray, rng: np.random.Generator) -> AGNSources:
    """AGN properties for ``n`` sources at the given positions (``los_offset`` comoving h^-1 Mpc behind the cluster)."""
    lum = 10 ** np.interp(rng.random(n), _XLF[1], _XLF[0])
    gamma = np.clip(rng.normal(1.9, 0.2, n), 1.3, 2.6)
    absorbed = rng.random(n) < 0.3
    nh = np.where(absorbed, 10 ** rng.uniform(21.5, 23.0, n), 1e20)
    return AGNSources(np.asarray(x, float), np.asarray(y, float), lum, gamma, nh, np.asarray(los_offset, float))


def _emissivity_cdf(r_frac: np.ndarray, beta: float, rc: float, alpha: float, rs: float, eps: float) -> np.ndarray:
    x = r_frac / rc
    em = x ** (-alpha) / (1 + x**2) ** (3 * beta - alpha / 2) / (1 + (r_frac / rs) ** 3) ** (eps / 3)
    integrand = r_frac**2 * em
    return np.concatenate([[0.0], np.cumsum(0.5 * (integrand[1:] + integrand[:-1]) * np.diff(r_frac))])


_RGRID = np.concatenate([[0.0], np.logspace(-4, np.log10(RMAX_R500), 600)])


def _radial_sampler(beta: float, rc: float, alpha: float, rs: float, eps: float) -> tuple[np.ndarray, float]:
    cdf = _emissivity_cdf(np.maximum(_RGRID, 1e-6), beta, rc, alpha, rs, eps)
    frac500 = float(np.interp(1.0, _RGRID, cdf) / cdf[-1])
    return cdf / cdf[-1], frac500


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
class Photons:
    """Photons of one field: sky position [deg], true and measured energy [keV], time [s], component, source id."""

    ra: np.ndarray
    dec: np.ndarray
    energy: np.ndarray
    signal: np.ndarray
    time: np.ndarray
    component: np.ndarray
    src_id: np.ndarray


def make_photons(rng: np.random.Generator, z: float, r500c: float, kt: float, lx: float, morph: dict[str, float],
                 agn: AGNSources, bkg_rate: float, setup: ErositaSetup = EROSITA) -> Photons:
    """All photons of one cluster field.

    ``r500c`` [comoving h^-1 Mpc], ``kt`` [keV], ``lx`` bolometric L_X within R500c [erg/s], ``morph`` one row
    of :class:`.morphology.Morphology`, ``bkg_rate`` background [counts/s/deg^2] over 0.2-12 keV.
    """
    texp = setup.exposure_s
    d_l = luminosity_distance_cm(z)
    d_c = comoving_distance_hmpc(z)
    xs, ys, es, comps, srcs = [], [], [], [], []

    def emit(kt_c: float, lum: float, sampler: tuple[np.ndarray, float], r500: float, cx: float, cy: float,
             q: float, ang: float, comp_l: float) -> None:
        cdf, frac500 = sampler
        rates = thermal_count_rates(kt_c, lum / frac500 * comp_l, z, d_l)
        n = rng.poisson(rates.sum() * texp)
        r = np.interp(rng.random(n), cdf, _RGRID) * r500
        x, y = _project_3d(n, r, rng)
        if q < 1.0:
            x, y = _stretch(x, y, q, ang)
        xs.append(x + cx), ys.append(y + cy), es.append(sample_energies(rates, n, rng))
        comps.append(np.full(n, ICM, np.int8)), srcs.append(np.ones(n, np.int32))

    m = morph
    main = _radial_sampler(m["beta"], m["rc_frac"], m["alpha"], m["rs_frac"], m["eps"])
    emit(kt, lx, main, r500c, 0.0, 0.0, m["axis_ratio"], m["angle"], 1.0 - m["cc_frac"])
    if m["cool_core"] and m["cc_frac"] > 0:
        core = _radial_sampler(0.8, m["cc_rc_frac"], 0.0, 10.0, 0.0)
        emit(0.6 * kt, lx, core, r500c, 0.0, 0.0, m["axis_ratio"], m["angle"], m["cc_frac"])
    xi = m["merger_ratio"]
    if xi > 0:
        from .scaling import fitted_relations

        rel = fitted_relations()
        r500s = r500c * xi ** (1.0 / 3.0)
        off = m["sub_offset_frac"] * r500c
        sub = _radial_sampler(0.666, 0.2, 0.0, 1.0, 2.0)
        emit(kt * xi ** rel["T"].alpha, lx * xi ** rel["L_X"].alpha, sub, r500s, off * np.cos(m["sub_angle"]),
             off * np.sin(m["sub_angle"]), 1.0, 0.0, 1.0)
    if len(agn):
        z_src = redshift_at_comoving_distance(np.maximum(d_c + agn.los_offset, 1.0))
        d_src = (1.0 + z_src) * np.maximum(d_c + agn.los_offset, 1.0) / H * MPC_CM
        rates = powerlaw_count_rates(agn.gamma, agn.nh, agn.lum, z_src, d_src)
        counts = rng.poisson(rates.sum(axis=1) * texp)
        for k in np.flatnonzero(counts):
            n = int(counts[k])
            xs.append(np.full(n, agn.x[k])), ys.append(np.full(n, agn.y[k]))
            es.append(sample_energies(rates[k], n, rng))
            comps.append(np.full(n, AGN, np.int8)), srcs.append(np.full(n, 2 + k, np.int32))
    # sources: comoving offsets -> gnomonic offsets [rad], PSF
    x = np.concatenate(xs) if xs else np.zeros(0)
    y = np.concatenate(ys) if ys else np.zeros(0)
    sx, sy = x / d_c, y / d_c
    cz = np.sqrt(np.clip(1 - sx**2 - sy**2, 1e-12, None))
    px, py = psf_offsets_arcsec(len(x), rng, setup)
    xi_t = sx / cz + px * ARCSEC
    eta_t = sy / cz + py * ARCSEC
    energy = np.concatenate(es) if es else np.zeros(0)
    comp = np.concatenate(comps) if comps else np.zeros(0, np.int8)
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int32)
    # background: uniform over the field of view
    fov = setup.fov_radius_arcmin * 60 * ARCSEC
    area_deg2 = np.pi * (setup.fov_radius_arcmin / 60.0) ** 2
    nb = rng.poisson(bkg_rate * texp * area_deg2)
    rb = fov * np.sqrt(rng.random(nb))
    pb = rng.uniform(0, 2 * np.pi, nb)
    shape = 0.5 * particle_count_shape() + 0.5 * cxb_count_shape()
    xi_t = np.concatenate([xi_t, rb * np.cos(pb)])
    eta_t = np.concatenate([eta_t, rb * np.sin(pb)])
    energy = np.concatenate([energy, sample_energies(shape, nb, rng)])
    comp = np.concatenate([comp, np.full(nb, BKG, np.int8)])
    src = np.concatenate([src, np.zeros(nb, np.int32)])
    # sky pixels (centred on the pointing) and the field of view
    pix = setup.pixel_arcsec * ARCSEC
    xi_q = np.round(xi_t / pix) * pix
    eta_q = np.round(eta_t / pix) * pix
    keep = xi_q**2 + eta_q**2 <= fov**2
    xi_q, eta_q, energy, comp, src = xi_q[keep], eta_q[keep], energy[keep], comp[keep], src[keep]
    ra, dec = tangent_to_sky(xi_q, eta_q, setup.ra_pointing_deg, setup.dec_pointing_deg)
    signal = observed_signal(energy, rng)
    time = rng.uniform(0.0, texp, len(ra))
    return Photons(ra, dec, energy, signal, time, comp, src)
