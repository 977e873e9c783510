"""Sky positions to comoving projected coordinates, and photon maps (paper section 2.1).

Photons (and galaxies given as RA/DEC) are placed at the comoving distance of their cluster's
redshift (WMAP7) and projected on the plane perpendicular to the cluster direction, as the paper's
notebook does with one rotation per cluster:

    x = D_C(z) h (u . e_east),   y = D_C(z) h (u . e_north)     [comoving h^-1 Mpc]

with u the photon's unit vector and e_east, e_north the local unit vectors at the cluster centre.
Maps are 2D histograms over ``MAP_EDGES`` = linspace(-2.3, 2.3, 129) on each axis (axis 1 = x, axis 2
= y, as ``numpy.histogram2d(x, y)``), which zooms low-redshift clusters out and high-redshift ones in.
Energy bands are half-open, emin <= E < emax [keV].
"""

from __future__ import annotations

import numpy as np

from .cosmology import comoving_distance_hmpc

APERTURE_HMPC = 2.3  # half-width of the map and of the dynamical cylinder [comoving h^-1 Mpc]
MAP_PIXELS = 128
MAP_EDGES = np.linspace(-APERTURE_HMPC, APERTURE_HMPC, MAP_PIXELS + 1)
MAP_CENTRES = 0.5 * (MAP_EDGES[1:] + MAP_EDGES[:-1])

#: the full band of ``xray_map`` and the three eROSITA bands of ``xray_bands`` [keV]
FULL_BAND = (0.5, 10.0)
BANDS = ((0.5, 1.2), (1.2, 2.0), (2.0, 7.0))


def _basis(ra0_deg: float, dec0_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, d = np.radians(ra0_deg), np.radians(dec0_deg)
    los = np.array([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)])
    east = np.array([-np.sin(a), np.cos(a), 0.0])
    north = np.array([-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)])
    return los, east, north


def sky_to_projected(
    ra_deg: np.ndarray, dec_deg: np.ndarray, ra0_deg: float, dec0_deg: float, redshift: float
) -> tuple[np.ndarray, np.ndarray]:
    """Comoving projected coordinates (x east, y north) [h^-1 Mpc] of sky positions [deg] around a centre.

    Positions are placed at the comoving distance of ``redshift`` (WMAP7, :data:`.cosmology.WMAP7`).
    """
    ra = np.radians(np.asarray(ra_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    cd = np.cos(dec)
    u = (cd * np.cos(ra), cd * np.sin(ra), np.sin(dec))
    _, east, north = _basis(ra0_deg, dec0_deg)
    dist = comoving_distance_hmpc(redshift)
    x = dist * (u[0] * east[0] + u[1] * east[1] + u[2] * east[2])
    y = dist * (u[0] * north[0] + u[1] * north[1] + u[2] * north[2])
    return x, y


def tangent_to_sky(
    xi_rad: np.ndarray, eta_rad: np.ndarray, ra0_deg: float, dec0_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """RA, DEC [deg] of gnomonic (tangent-plane) offsets ``xi`` (east), ``eta`` (north) [rad] from a centre."""
    los, east, north = _basis(ra0_deg, dec0_deg)
    xi = np.asarray(xi_rad, dtype=float)
    eta = np.asarray(eta_rad, dtype=float)
    v = los[:, None] + xi[None, :] * east[:, None] + eta[None, :] * north[:, None]
    v /= np.linalg.norm(v, axis=0)
    ra = np.degrees(np.arctan2(v[1], v[0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(v[2], -1.0, 1.0)))
    return ra, dec


def projected_to_sky(
    x_hmpc: np.ndarray, y_hmpc: np.ndarray, ra0_deg: float, dec0_deg: float, redshift: float
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`sky_to_projected` (exact): RA, DEC [deg] of projected positions [comoving h^-1 Mpc]."""
    dist = comoving_distance_hmpc(redshift)
    sx = np.asarray(x_hmpc, dtype=float) / dist
    sy = np.asarray(y_hmpc, dtype=float) / dist
    cz = np.sqrt(np.clip(1.0 - sx**2 - sy**2, 0.0, None))
    return tangent_to_sky(sx / cz, sy / cz, ra0_deg, dec0_deg)


def pixel_index(x: np.ndarray, y: np.ndarray, edges: np.ndarray = MAP_EDGES) -> np.ndarray:
    """Flat map index (ix * n + iy) of each position, or -1 outside the map (numpy.histogram2d edge rules)."""
    n = len(edges) - 1
    ix = np.searchsorted(edges, x, side="right") - 1
    iy = np.searchsorted(edges, y, side="right") - 1
    ix = np.where(x == edges[-1], n - 1, ix)
    iy = np.where(y == edges[-1], n - 1, iy)
    ok = (ix >= 0) & (ix < n) & (iy >= 0) & (iy < n)
    return np.where(ok, ix * n + iy, -1)


def band_index(energy_kev: np.ndarray) -> np.ndarray:
    """0, 1, 2 for the soft, medium and hard bands; 3 for 7-10 keV; -1 outside 0.5-10 keV."""
    e = np.asarray(energy_kev)
    out = np.full(e.shape, -1, dtype=np.int64)
    for k, (lo, hi) in enumerate(BANDS):
        out[(e >= lo) & (e < hi)] = k
    out[(e >= BANDS[-1][1]) & (e < FULL_BAND[1])] = 3
    return out


def photon_maps(
    x: np.ndarray, y: np.ndarray, energy_kev: np.ndarray, component: np.ndarray | None = None, n_components: int = 3
) -> np.ndarray:
    """Counts per component, band and pixel: array (n_components, 4, 128, 128), float32.

    Bands: soft, medium, hard, 7-10 keV (so the 0.5-10 keV map is the sum over axis 1).
    ``component`` holds 0..n_components-1 per photon (all 0 when None).
    """
    pix = pixel_index(np.asarray(x), np.asarray(y))
    band = band_index(energy_kev)
    comp = np.zeros(len(pix), dtype=np.int64) if component is None else np.asarray(component, dtype=np.int64)
    ok = (pix >= 0) & (band >= 0) & (comp >= 0)
    npix = MAP_PIXELS * MAP_PIXELS
    flat = (comp[ok] * 4 + band[ok]) * npix + pix[ok]
    counts = np.bincount(flat, minlength=n_components * 4 * npix)
    return counts.reshape(n_components, 4, MAP_PIXELS, MAP_PIXELS).astype(np.float32)


def aperture_mask(radius_hmpc: float) -> np.ndarray:
    """Pixels of the 128 x 128 map whose centres lie within projected ``radius_hmpc`` of the cluster centre."""
    r2 = MAP_CENTRES[:, None] ** 2 + MAP_CENTRES[None, :] ** 2
    return r2 <= radius_hmpc**2
