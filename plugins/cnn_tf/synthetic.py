"""Small synthetic photon-map catalogues: for the CNN tests and the throughput script.

Not a physical mock (that is the ``erosita-mock`` dataset): Poisson maps of a beta profile
whose total counts scale as M^1.3 and dim with redshift, so that a CNN has something quick
to learn. Masses log10 M500c [h^-1 Msun] uniform in [13.5, 15], redshifts in [0.07, 0.47].
"""

from __future__ import annotations

import numpy as np

from massbench import Catalogue, CatalogueView, InputArray


def synthetic_catalogue(
    n: int = 160, size: int = 16, bands: int = 1, seed: int = 0, name: str = "synthetic", counts_at_1e14: float = 400.0
) -> Catalogue:
    """Clusters whose Poisson photon maps follow a beta profile with counts ~ M^1.3, dimmed with z.

    ``bands == 1`` gives ``xray_map`` (n, size, size); ``bands == 3`` gives ``xray_bands``
    (n, size, size, 3), whose hard-band fraction grows with mass, and the summed ``xray_map``.
    ``counts_at_1e14`` is the mean photon count of a 10^14 h^-1 Msun cluster at z = 0.25.
    Maps are float32 raw counts, generated in chunks to keep memory low.
    """
    if bands not in (1, 3):
        raise ValueError("bands must be 1 or 3")
    rng = np.random.default_rng(seed)
    logm = rng.uniform(13.5, 15.0, n)
    z = rng.uniform(0.07, 0.47, n)
    centre = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size]
    r2 = (((xx - centre) ** 2 + (yy - centre) ** 2) / (size / 8.0) ** 2)[None].astype(np.float32)
    total = counts_at_1e14 * 10 ** (1.3 * (logm - 14.0)) * 10 ** (-1.5 * (z - 0.25))
    core = 10 ** (0.3 * (logm - 14.0))
    hard = np.clip(0.15 + 0.2 * (logm - 13.5) / 1.5, 0.05, 0.6)
    frac = np.stack([0.6 - hard / 2, 0.4 - hard / 2, hard], axis=-1)
    shape = (n, size, size) if bands == 1 else (n, size, size, 3)
    maps = np.empty(shape, dtype=np.float32)
    for a in range(0, n, 256):
        b = min(a + 256, n)
        profile = (1.0 + r2 / (core[a:b, None, None] ** 2).astype(np.float32)) ** -1.5
        profile /= profile.sum(axis=(1, 2), keepdims=True)
        lam = total[a:b, None, None].astype(np.float32) * profile + np.float32(0.02)
        if bands == 1:
            maps[a:b] = rng.poisson(lam)
        else:
            maps[a:b] = rng.poisson(lam[..., None] * frac[a:b, None, None, :].astype(np.float32))
    if bands == 1:
        inputs = {"xray_map": InputArray(maps, "count", "raw counts")}
    else:
        inputs = {
            "xray_bands": InputArray(maps, "count", "raw counts per band"),
            "xray_map": InputArray(maps.sum(axis=-1), "count", "raw counts"),
        }
    return Catalogue(
        name=name,
        cluster_id=np.arange(n) + 1000,
        positions=rng.uniform(0, 100.0, (n, 3)),
        box_size=100.0,
        redshift=z,
        log10_m500c=logm,
        inputs=inputs,
    )


def split_views(
    cat: Catalogue, input_name: str, n_val: int = 20, n_test: int = 20
) -> tuple[CatalogueView, CatalogueView, CatalogueView]:
    """Train/val/test views in catalogue order: the last ``n_test`` clusters test, the ``n_val`` before val."""
    n = len(cat)
    idx = np.arange(n)
    test = idx[n - n_test :]
    val = idx[n - n_test - n_val : n - n_test]
    train = idx[: n - n_test - n_val]
    return (
        cat.view(train, inputs=[input_name], role="train"),
        cat.view(val, inputs=[input_name], role="val"),
        cat.view(test, inputs=[input_name], role="test"),
    )
