"""Small synthetic photon-map catalogues for the saliency tests and the speed benchmark.

Not a mock of eROSITA (that is the ``erosita-mock`` dataset): a beta-model ICM whose photon
count grows with mass plus a few point-like AGN, Poisson-sampled on the harness's 128 x 128
grid over +-2.3 comoving h^-1 Mpc, so that masks, radial profiles and the N_phot reference have
realistic structure. Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np

from massbench.catalogue import Catalogue, InputArray

from .geometry import MAP_PIXELS, pixel_centres

# soft / medium / hard photon fractions of the two components (AGN harder than the ICM)
ICM_BAND_FRACTIONS = (0.70, 0.22, 0.08)
AGN_BAND_FRACTIONS = (0.45, 0.30, 0.25)


def synthetic_catalogue(
    n: int = 64,
    seed: int = 0,
    n_pixels: int = MAP_PIXELS,
    with_cube: bool = False,
    redshifts: tuple[float, ...] = (0.1, 0.2, 0.3),
    with_bands: bool = True,
) -> Catalogue:
    """A :class:`~massbench.Catalogue` with ``xray_map``, ``xray_bands`` (unless ``with_bands`` is
    False), their truth-only ICM/AGN components, ``r500c`` [comoving h^-1 Mpc], ``n_phot`` [counts]
    and (optionally) a 64^3 ``dyn_cube``.
    """
    rng = np.random.default_rng(seed)
    logm = rng.uniform(13.5, 15.0, n)
    z = rng.choice(np.asarray(redshifts), n)
    r500 = 0.72 * (10.0 ** (logm - 14.0)) ** (1.0 / 3.0) * (1.0 + z)  # comoving h^-1 Mpc (toy scaling)
    c = pixel_centres(n_pixels)
    xx, yy = np.meshgrid(c, c, indexing="ij")
    rc = 0.15 * r500
    beta = rng.normal(0.67, 0.05, n)
    n_icm_mean = 800.0 * (10.0 ** (logm - 14.0)) ** 1.2 / (1.0 + 4.0 * z)
    r2 = (xx**2 + yy**2)[None]
    icm_exp = np.empty((n, n_pixels, n_pixels), dtype=np.float32)
    for a in range(0, n, 256):  # beta-model surface brightness, chunked to bound memory
        b = min(n, a + 256)
        prof = (1.0 + r2 / rc[a:b, None, None] ** 2) ** (0.5 - 3.0 * beta[a:b, None, None])
        prof *= (n_icm_mean[a:b] / prof.reshape(b - a, -1).sum(axis=1))[:, None, None]
        icm_exp[a:b] = prof
    agn_exp = np.zeros_like(icm_exp)
    sigma = 0.05  # h^-1 Mpc: PSF-like width of a point source
    for i in range(n):
        k = rng.poisson(3)
        if k == 0:
            continue
        pos = rng.uniform(-2.0, 2.0, (k, 2))
        flux = rng.lognormal(np.log(60.0), 1.0, k)
        g = np.exp(
            -((xx[None] - pos[:, 0, None, None]) ** 2 + (yy[None] - pos[:, 1, None, None]) ** 2) / (2 * sigma**2)
        )
        g /= g.reshape(k, -1).sum(axis=1)[:, None, None]
        agn_exp[i] = (flux[:, None, None] * g).sum(axis=0)
    inputs: dict[str, InputArray] = {}
    if with_bands:
        fi = np.asarray(ICM_BAND_FRACTIONS, dtype=float)
        fa = np.asarray(AGN_BAND_FRACTIONS, dtype=float)
        icm_b = rng.poisson(icm_exp[..., None] * fi).astype(np.float32)
        agn_b = rng.poisson(agn_exp[..., None] * fa).astype(np.float32)
        icm = icm_b.sum(axis=-1)
        agn = agn_b.sum(axis=-1)
        inputs["xray_bands"] = InputArray(icm_b + agn_b, "count", "raw counts per band")
        inputs["xray_icm_bands"] = InputArray(icm_b, "count", "ICM-only photons per band", truth_only=True)
        inputs["xray_agn_bands"] = InputArray(agn_b, "count", "AGN-only photons per band", truth_only=True)
    else:
        icm = rng.poisson(icm_exp).astype(np.float32)
        agn = rng.poisson(agn_exp).astype(np.float32)
    total = icm + agn
    inputs.update(
        {
            "xray_map": InputArray(total, "count", "raw photon counts"),
            "xray_icm_map": InputArray(icm, "count", "ICM-only photons", truth_only=True),
            "xray_agn_map": InputArray(agn, "count", "AGN-only photons", truth_only=True),
            "r500c": InputArray(r500, "comoving h^-1 Mpc", "R500c", truth_only=True),
            "n_phot": InputArray(total.reshape(n, -1).sum(axis=1).astype(np.float64), "count", "photons in the map"),
        }
    )
    if with_cube:
        cube = rng.random((n, 64, 64, 64), dtype=np.float32)
        cube /= cube.reshape(n, -1).sum(axis=1)[:, None, None, None]
        inputs["dyn_cube"] = InputArray(cube, "1", "toy phase-space density")
    return Catalogue(
        name="synthetic-saliency",
        cluster_id=np.arange(n),
        positions=rng.uniform(0, 352.0, (n, 3)),
        box_size=352.0,
        redshift=z,
        log10_m500c=logm,
        inputs=inputs,
        meta={"seed": seed},
    )
