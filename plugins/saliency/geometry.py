"""Pixel geometry of the photon maps and radial binning in units of R500c.

Maps span -2.3 to +2.3 comoving h^-1 Mpc on each sky axis in 128 pixels (edges
``linspace(-2.3, 2.3, 129)``, docs/inputs.md), with the cluster at the centre. Axis 1 of a
map runs along projected x, axis 2 along projected y. Masks, saliency maps and radii all
live on this one grid: nothing is rotated or transposed (the paper's notebook rotated its
photon maps by 90 degrees relative to the masks; massbench does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

MAP_HALF_WIDTH = 2.3  # comoving h^-1 Mpc
MAP_PIXELS = 128


def pixel_centres(n_pixels: int = MAP_PIXELS, half_width: float = MAP_HALF_WIDTH) -> np.ndarray:
    """Pixel-centre coordinates [comoving h^-1 Mpc]: midpoints of ``linspace(-hw, hw, n + 1)``."""
    edges = np.linspace(-half_width, half_width, n_pixels + 1)
    return 0.5 * (edges[:-1] + edges[1:])


def pixel_radii(shape: tuple[int, int] = (MAP_PIXELS, MAP_PIXELS), half_width: float = MAP_HALF_WIDTH) -> np.ndarray:
    """Projected distance of every pixel centre from the map centre [comoving h^-1 Mpc], shape ``shape``."""
    cx = pixel_centres(shape[0], half_width)
    cy = pixel_centres(shape[1], half_width)
    return np.sqrt(cx[:, None] ** 2 + cy[None, :] ** 2)


def aperture_mask(
    radius: float = MAP_HALF_WIDTH,
    shape: tuple[int, int] = (MAP_PIXELS, MAP_PIXELS),
    half_width: float = MAP_HALF_WIDTH,
) -> np.ndarray:
    """Boolean map of the pixels whose centres lie within ``radius`` [comoving h^-1 Mpc] of the centre."""
    return pixel_radii(shape, half_width) <= radius


@dataclass(frozen=True)
class RadialBins:
    """Bins in r / R500c for the radial saliency profiles (Figure 7).

    ``spacing="linear"``: ``n_bins`` equal bins from 0 to ``r_max`` (the paper's notebook: 100 bins
    to 3 R500c). ``spacing="log"``: ``n_bins`` logarithmic bins from ``r_min`` to ``r_max``.
    """

    n_bins: int = 100
    r_max: float = 3.0
    spacing: Literal["linear", "log"] = "linear"
    r_min: float = 0.01

    @property
    def edges(self) -> np.ndarray:
        if self.spacing == "log":
            return np.geomspace(self.r_min, self.r_max, self.n_bins + 1)
        return np.linspace(0.0, self.r_max, self.n_bins + 1)

    @property
    def centres(self) -> np.ndarray:
        e = self.edges
        return np.sqrt(e[:-1] * e[1:]) if self.spacing == "log" else 0.5 * (e[:-1] + e[1:])

    def index(self, r_scaled: np.ndarray) -> np.ndarray:
        """Bin index of each scaled radius r / R500c; -1 outside the binned range. int16."""
        e = self.edges
        idx = np.searchsorted(e, r_scaled, side="right") - 1
        idx[(r_scaled < e[0]) | (r_scaled >= e[-1])] = -1
        return idx.astype(np.int16)


def scaled_radii(
    r500c: np.ndarray, shape: tuple[int, int] = (MAP_PIXELS, MAP_PIXELS), half_width: float = MAP_HALF_WIDTH
) -> np.ndarray:
    """r / R500c of every pixel of every cluster, shape (n, *shape), float32.

    ``r500c`` [comoving h^-1 Mpc], one per cluster.
    """
    r = pixel_radii(shape, half_width).astype(np.float32)
    r500 = np.asarray(r500c, dtype=np.float32).reshape(-1, 1, 1)
    return r[None, :, :] / r500
